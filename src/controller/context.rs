//! What every reconcile shares: the client, the caches, settings, health and metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use backon::BackoffBuilder;
use fledge_api::{AlertProvider, Canary, MetricTemplate};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

use super::config::ControllerConfig;
use super::error::RunError;
use super::http::Health;
use super::prometheus_clients::PrometheusClients;
use super::recorder::Recorder;
use super::telemetry::Metrics;
use super::workload::primary::PrimaryOptions;

/// Reflector caches. Reads during a reconcile come from here, never from the API server.
#[derive(Clone)]
pub struct Caches {
    pub canaries: Store<Canary>,
    pub deployments: Store<Deployment>,
    pub configmaps: Store<PartialObjectMeta<ConfigMap>>,
    pub secrets: Store<PartialObjectMeta<Secret>>,
    pub templates: Store<MetricTemplate>,
    pub alert_providers: Store<AlertProvider>,
}

/// A config's checksum as of one resourceVersion: the data is read once per change.
#[derive(Clone, Debug)]
pub struct CachedChecksum {
    pub resource_version: String,
    pub checksum: String,
    /// Not tracked (opted out, or a Secret type that isn't configuration).
    pub ignored: bool,
}

/// `(kind, namespace, name)` of a ConfigMap or Secret.
pub type ConfigKey = (String, String, String);

/// Config checksums by object, each valid for one resourceVersion. Entries for objects that no
/// longer exist are dropped whenever a new entry is added, so the memo holds at most the
/// configs that exist (kustomize's hash-suffixed ConfigMaps would otherwise make it grow with
/// every release).
#[derive(Default)]
pub struct ChecksumMemo {
    entries: Mutex<HashMap<ConfigKey, CachedChecksum>>,
}

impl ChecksumMemo {
    /// The memoized checksum of `key`, if it was taken at `resource_version`.
    pub fn get(&self, key: &ConfigKey, resource_version: &str) -> Option<CachedChecksum> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|c| c.resource_version == resource_version)
            .cloned()
    }

    /// Remembers `value` for `key`, forgetting every entry whose object `exists` says is gone.
    pub fn insert(
        &self,
        key: ConfigKey,
        value: CachedChecksum,
        exists: impl Fn(&ConfigKey) -> bool,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|k, _| exists(k));
        entries.insert(key, value);
    }
}

#[cfg(test)]
impl ChecksumMemo {
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

pub struct Context {
    pub client: Client,
    pub config: ControllerConfig,
    pub core: fledge_core::Config,
    pub caches: Caches,
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub primary_options: PrimaryOptions,
    pub checksums: ChecksumMemo,
    pub prometheus: PrometheusClients,
    pub webhooks: fledge_hooks::webhook::WebhookClient,
    pub alerts: fledge_hooks::alerts::AlertSender,
    /// Generated Services and HTTPRoutes, for the routers.
    pub router_cache: Arc<dyn fledge_routers::ObjectCache>,
    pub router_options: fledge_routers::RouterOptions,
    /// Consecutive failed reconciles per Canary, for the error backoff.
    failures: Mutex<HashMap<ObjectRef<Canary>, usize>>,
    /// The resourceVersion of our last write to each Canary. A reconcile that sees an older
    /// version in the cache would decide on stale status (and, say, count a failed check
    /// twice), so it waits for the watch to catch up instead.
    written: Mutex<HashMap<ObjectRef<Canary>, u64>>,
}

impl Context {
    pub fn new(
        client: Client,
        config: ControllerConfig,
        core: fledge_core::Config,
        caches: Caches,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
        router_cache: Arc<dyn fledge_routers::ObjectCache>,
    ) -> Result<Self, RunError> {
        let primary_options = PrimaryOptions {
            selector_labels: config.selector_labels.clone(),
            include_label_prefixes: config.include_label_prefixes.clone(),
        };
        let router_options = fledge_routers::RouterOptions {
            ingress_annotations_prefix: config.ingress_annotations_prefix.clone(),
            ingress_class: config.ingress_class.clone(),
        };
        Ok(Context {
            router_options,
            webhooks: fledge_hooks::webhook::WebhookClient::new()
                .map_err(|e| RunError::other("building the webhook client", e))?,
            alerts: fledge_hooks::alerts::AlertSender::new()
                .map_err(|e| RunError::other("building the alert client", e))?,
            failures: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            router_cache,
            recorder: Recorder::new(client.clone(), metrics.clone()),
            client,
            config,
            core,
            caches,
            health,
            metrics,
            primary_options,
            checksums: ChecksumMemo::default(),
            prometheus: PrometheusClients::default(),
        })
    }

    /// Writes are allowed only while this replica leads (always, without leader election).
    pub fn may_write(&self) -> bool {
        self.health.is_leader()
    }

    /// The delay before retrying a failed reconcile of `canary`: 1s, doubling, at most 5 min.
    pub fn next_backoff(&self, canary: &Canary) -> std::time::Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(ObjectRef::from_obj(canary)).or_insert(0);
        *n += 1;
        backon::ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_secs(1))
            .with_max_delay(std::time::Duration::from_secs(300))
            .without_max_times()
            .build()
            .nth(*n - 1)
            .unwrap_or(std::time::Duration::from_secs(300))
    }

    /// Remembers the resourceVersion a write of ours gave `canary`.
    pub fn wrote(&self, canary: &Canary, resource_version: Option<String>) {
        if let Some(rv) = resource_version.and_then(|v| v.parse::<u64>().ok()) {
            self.written
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(ObjectRef::from_obj(canary), rv);
        }
    }

    /// True when the cached `canary` predates our last write to it. resourceVersions are
    /// opaque to clients in general; when they aren't integers we can't tell and say no.
    pub fn is_stale(&self, canary: &Canary) -> bool {
        let key = ObjectRef::from_obj(canary);
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let Some(&ours) = written.get(&key) else {
            return false;
        };
        match canary
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(seen) if seen < ours => true,
            _ => {
                written.remove(&key);
                false
            }
        }
    }

    /// Drops the failure counts and remembered writes of Canaries not in `live` (deleted).
    pub fn forget_all_but(&self, live: &std::collections::HashSet<ObjectRef<Canary>>) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c, _| live.contains(c));
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c, _| live.contains(c));
    }

    pub fn forget_failures(&self, canary: &Canary) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ObjectRef::from_obj(canary));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ConfigKey {
        ("configmap".into(), "test".into(), name.into())
    }

    fn sum(rv: &str) -> CachedChecksum {
        CachedChecksum {
            resource_version: rv.into(),
            checksum: format!("sum-{rv}"),
            ignored: false,
        }
    }

    #[test]
    fn the_checksum_memo_forgets_configs_that_are_gone() {
        let memo = ChecksumMemo::default();
        // kustomize renames the ConfigMap every release: app-1, app-2, app-3 ...
        for release in 1..=5 {
            let name = format!("app-{release}");
            // Only the newest one still exists when it is first hashed.
            memo.insert(key(&name), sum("1"), |k| *k == key(&name));
        }
        assert_eq!(memo.len(), 1, "only the live ConfigMap is remembered");
        assert_eq!(
            memo.get(&key("app-5"), "1").map(|c| c.checksum),
            Some("sum-1".into())
        );
        assert!(
            memo.get(&key("app-5"), "2").is_none(),
            "another resourceVersion misses"
        );
        assert!(memo.get(&key("app-4"), "1").is_none());
    }
}
