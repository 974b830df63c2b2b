//! Carries out the state machine's actions, in order. Every action is absolute and checked
//! against the cache first, so re-running a decision (after a crash or a conflict) writes
//! nothing that is already so.

use std::collections::{BTreeMap, BTreeSet};

use fledge_api::{Canary, CanaryPhase, HookType};
use fledge_core::{Action, Alert, Event, Routes};
use fledge_hooks::alerts::{AlertMessage, AlertRoute, AlertTarget, ReleaseDetails};
use fledge_hooks::payload::{CanaryEvent, CanaryRef};
use fledge_routers::{Router, TargetWorkload};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::Context;
use super::observe::Observation;
use super::reconcile::ReconcileError;
use super::workload::configs::{self, ConfigKind};
use super::workload::{hpa, managed_by, primary};

pub use fledge_api::names::FINALIZER;

/// Everything one reconcile's actions need.
pub struct Actor<'a> {
    pub ctx: &'a Context,
    pub canary: &'a Canary,
    pub obs: &'a Observation,
    pub router: Box<dyn Router>,
    /// Checksum of the tracked configs, for the primary's pod-template annotation.
    pub tracked_checksum: String,
    /// Checksum of the whole revision, for webhook payloads.
    pub payload_checksum: String,
}

impl Actor<'_> {
    pub async fn apply(&self, actions: &[Action]) -> Result<(), ReconcileError> {
        for action in actions {
            tracing::debug!(?action, "acting");
            self.one(action).await?;
        }
        Ok(())
    }

    async fn one(&self, action: &Action) -> Result<(), ReconcileError> {
        match action {
            Action::AddFinalizer => self.set_finalizer(true).await,
            Action::RemoveFinalizer => self.set_finalizer(false).await,
            Action::InitializePrimary => self.initialize_primary().await,
            Action::ReconcileRouting => {
                let target = self.target()?;
                let workload = self.workload(&target)?;
                let writes = self.router.reconcile(self.canary, &workload).await?;
                self.count_router_writes(&writes);
                Ok(())
            }
            Action::ScaleTargetToZero => self.scale_target(0).await,
            Action::ScaleTargetFromZero => {
                let replicas = self.scale_up_replicas().await;
                self.scale_target(replicas).await
            }
            Action::SetRoutes(routes) => self.set_routes(*routes).await,
            Action::PromoteToPrimary => self.promote().await,
            Action::CallHooks {
                hook_type,
                phase,
                event,
            } => {
                self.call_hooks(*hook_type, *phase, event.as_ref());
                Ok(())
            }
            Action::Event(event) => {
                self.event(event).await;
                Ok(())
            }
            Action::Alert(alert) => {
                self.alert(alert);
                Ok(())
            }
            Action::RestoreTarget => {
                let replicas = self
                    .obs
                    .primary
                    .as_ref()
                    .and_then(|p| p.spec.as_ref())
                    .and_then(|s| s.replicas)
                    .filter(|r| *r > 0)
                    .unwrap_or(1);
                self.scale_target(replicas).await
            }
            Action::RevertRouting => {
                let target = self.target()?;
                let workload = self.workload(&target)?;
                let writes = self.router.finalize(self.canary, &workload).await?;
                self.count_router_writes(&writes);
                Ok(())
            }
        }
    }

    fn ns(&self) -> String {
        self.canary.namespace().unwrap_or_default()
    }

    fn target(&self) -> Result<std::sync::Arc<Deployment>, ReconcileError> {
        self.obs
            .target
            .clone()
            .ok_or_else(|| ReconcileError::TargetMissing {
                canary: format!("{}/{}", self.ns(), self.canary.name_any()),
                target: self.canary.spec.target_ref.name.clone(),
            })
    }

    fn workload<'d>(&self, target: &'d Deployment) -> Result<TargetWorkload<'d>, ReconcileError> {
        let labels: Vec<&str> = self
            .ctx
            .config
            .selector_labels
            .iter()
            .map(String::as_str)
            .collect();
        Ok(TargetWorkload::from_deployment(target, &labels)?)
    }

    fn owner(&self) -> OwnerReference {
        self.canary
            .controller_owner_ref(&())
            .unwrap_or_else(|| OwnerReference {
                api_version: fledge_api::API_VERSION.into(),
                kind: "Canary".into(),
                name: self.canary.name_any(),
                uid: self.canary.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            })
    }

    fn count_router_writes(&self, writes: &[fledge_routers::Write]) {
        for w in writes {
            tracing::info!(write = %w, "routing");
            self.ctx.metrics.count_write("write", w.kind);
        }
    }

    async fn set_finalizer(&self, present: bool) -> Result<(), ReconcileError> {
        let mut finalizers: Vec<String> = self.canary.finalizers().to_vec();
        let has = finalizers.iter().any(|f| f == FINALIZER);
        if has == present {
            return Ok(());
        }
        if present {
            finalizers.push(FINALIZER.into());
        } else {
            finalizers.retain(|f| f != FINALIZER);
        }
        let patch = serde_json::json!({
            "metadata": {"finalizers": finalizers, "resourceVersion": self.canary.resource_version()}
        });
        patch_canary(
            self.ctx,
            self.canary,
            &patch,
            "updating the Canary's finalizers",
        )
        .await?;
        Ok(())
    }

    async fn scale_target(&self, replicas: i32) -> Result<(), ReconcileError> {
        let target = self.target()?;
        if target.spec.as_ref().and_then(|s| s.replicas) == Some(replicas) {
            return Ok(());
        }
        let patch = serde_json::json!({"spec": {"replicas": replicas}});
        self.ctx.metrics.count_write("patch", "Deployment");
        Api::<Deployment>::namespaced(self.ctx.client.clone(), &self.ns())
            .patch(
                &target.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|source| ReconcileError::Kube {
                what: format!("scaling deployment {} to {replicas}", target.name_any()),
                source,
            })?;
        Ok(())
    }

    /// Flagger's ScaleFromZero: the target's own count if set, else the primary's when no
    /// autoscaler decides, else the autoscaler's minimum (at least 1).
    async fn scale_up_replicas(&self) -> i32 {
        if let Some(r) = self
            .obs
            .target
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.replicas)
            .filter(|r| *r > 0)
        {
            return r;
        }
        match &self.canary.spec.autoscaler_ref {
            None => self
                .obs
                .primary
                .as_ref()
                .and_then(|p| p.spec.as_ref())
                .and_then(|s| s.replicas)
                .filter(|r| *r > 0)
                .unwrap_or(1),
            Some(scaler) => {
                Api::<HorizontalPodAutoscaler>::namespaced(self.ctx.client.clone(), &self.ns())
                    .get_opt(&scaler.name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|h| h.spec.and_then(|s| s.min_replicas))
                    .unwrap_or(1)
                    .max(1)
            }
        }
    }

    async fn set_routes(&self, routes: Routes) -> Result<(), ReconcileError> {
        let writes = self.router.set_routes(self.canary, routes).await?;
        self.count_router_writes(&writes);
        let labels = super::telemetry::CanaryLabels {
            namespace: self.ns(),
            name: self.canary.name_any(),
        };
        self.ctx
            .metrics
            .canary_weight
            .get_or_create(&labels)
            .set(i64::from(routes.canary));
        Ok(())
    }

    /// Creates the primary (and its config copies and HPA) if missing. Until the first
    /// initialization finished, an existing primary is brought up to date with the target.
    async fn initialize_primary(&self) -> Result<(), ReconcileError> {
        let initialized = self
            .canary
            .status
            .as_ref()
            .and_then(|s| s.last_promoted_spec.as_ref())
            .is_some();
        if self.obs.primary.is_some() && initialized {
            return Ok(());
        }
        self.sync_primary().await
    }

    async fn promote(&self) -> Result<(), ReconcileError> {
        self.sync_primary().await
    }

    /// Copies configs, the pod spec and the autoscaler to the primary side.
    async fn sync_primary(&self) -> Result<(), ReconcileError> {
        let target = self.target()?;
        self.copy_configs(&self.obs.tracked).await?;
        let desired = primary::build_primary(
            &target,
            self.obs.primary.as_deref(),
            &self.owner(),
            &managed_by(&self.canary.name_any()),
            &self.obs.tracked,
            &self.tracked_checksum,
            self.canary.spec.autoscaler_ref.is_some(),
            &self.ctx.primary_options,
        )?;
        let api = Api::<Deployment>::namespaced(self.ctx.client.clone(), &self.ns());
        upsert(
            self.ctx,
            &api,
            desired,
            self.obs.primary.as_deref(),
            "Deployment",
        )
        .await?;
        if let Some(scaler) = &self.canary.spec.autoscaler_ref {
            let hpas =
                Api::<HorizontalPodAutoscaler>::namespaced(self.ctx.client.clone(), &self.ns());
            let source =
                hpas.get_opt(&scaler.name)
                    .await
                    .map_err(|source| ReconcileError::Kube {
                        what: format!("reading horizontalpodautoscaler {}", scaler.name),
                        source,
                    })?;
            let Some(source) = source else {
                return Err(ReconcileError::AutoscalerMissing {
                    canary: format!("{}/{}", self.ns(), self.canary.name_any()),
                    name: scaler.name.clone(),
                });
            };
            let existing = hpas
                .get_opt(&configs::primary_name(&scaler.name))
                .await
                .ok()
                .flatten();
            let desired = hpa::primary_hpa(
                &source,
                existing.as_ref(),
                &target.name_any(),
                &self.owner(),
                &managed_by(&self.canary.name_any()),
            );
            upsert(
                self.ctx,
                &hpas,
                desired,
                existing.as_ref(),
                "HorizontalPodAutoscaler",
            )
            .await?;
        }
        Ok(())
    }

    async fn copy_configs(
        &self,
        tracked: &BTreeSet<(ConfigKind, String)>,
    ) -> Result<(), ReconcileError> {
        let owner = self.owner();
        let labels = managed_by(&self.canary.name_any());
        let prefixes = &self.ctx.config.include_label_prefixes;
        for (kind, name) in tracked {
            match kind {
                ConfigKind::ConfigMap => {
                    self.copy_config::<ConfigMap>(name, "ConfigMap", |src, old| {
                        configs::primary_configmap(src, old, &owner, &labels, prefixes)
                    })
                    .await?
                }
                ConfigKind::Secret => {
                    self.copy_config::<Secret>(name, "Secret", |src, old| {
                        configs::primary_secret(src, old, &owner, &labels, prefixes)
                    })
                    .await?
                }
            }
        }
        Ok(())
    }

    /// Upserts `<name>-primary` from `<name>`; a source that is gone is skipped (an optional
    /// reference, or one removed since the last observation).
    async fn copy_config<K>(
        &self,
        name: &str,
        kind: &str,
        build: impl Fn(&K, Option<&K>) -> K,
    ) -> Result<(), ReconcileError>
    where
        K: Clone
            + Serialize
            + DeserializeOwned
            + std::fmt::Debug
            + Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        let api = Api::<K>::namespaced(self.ctx.client.clone(), &self.ns());
        let Some(source) = get_opt(&api, name).await? else {
            return Ok(());
        };
        let existing = get_opt(&api, &configs::primary_name(name)).await?;
        let copy = build(&source, existing.as_ref());
        upsert(self.ctx, &api, copy, existing.as_ref(), kind).await
    }

    fn canary_ref(&self, phase: CanaryPhase) -> CanaryRef {
        CanaryRef {
            name: self.canary.name_any(),
            namespace: self.ns(),
            phase: phase.to_string(),
            checksum: self.payload_checksum.clone(),
        }
    }

    /// Fire and forget: post-rollout and event hooks are logged, never judged.
    fn call_hooks(&self, hook_type: HookType, phase: CanaryPhase, event: Option<&Event>) {
        let hooks: Vec<_> = self
            .canary
            .spec
            .analysis()
            .map(|a| {
                a.webhooks
                    .iter()
                    .filter(|h| h.type_ == hook_type)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if hooks.is_empty() {
            return;
        }
        let client = self.ctx.webhooks.clone();
        let canary_ref = self.canary_ref(phase);
        let event = event.map(to_hook_event);
        tokio::spawn(async move {
            let outcomes = match &event {
                Some(e) => client.send_event(&hooks, &canary_ref, e).await,
                None => client.run_concurrently(&hooks, &canary_ref).await,
            };
            for outcome in outcomes.iter().filter(|o| !o.succeeded()) {
                tracing::warn!(outcome = %outcome, "webhook failed");
            }
        });
    }

    async fn event(&self, event: &Event) {
        self.ctx
            .recorder
            .publish(
                self.canary,
                event.event_type.as_str(),
                event.reason,
                &event.message,
            )
            .await;
        match event.event_type {
            fledge_core::EventType::Normal => tracing::info!(message = %event.message, "event"),
            fledge_core::EventType::Warning => tracing::warn!(message = %event.message, "event"),
        }
        // The global event webhook gets what a canary without its own event hooks records.
        let own = self
            .canary
            .spec
            .analysis()
            .is_some_and(|a| a.webhooks.iter().any(|h| h.type_ == HookType::Event));
        if !own && let Some(url) = self.ctx.config.event_webhook.clone() {
            let hooks = fledge_hooks::webhook::event_hooks(&[], Some(&url));
            let client = self.ctx.webhooks.clone();
            let phase = self
                .canary
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .unwrap_or(CanaryPhase::Initializing);
            let canary_ref = self.canary_ref(phase);
            let e = to_hook_event(event);
            tokio::spawn(async move {
                for outcome in client.send_event(&hooks, &canary_ref, &e).await {
                    if !outcome.succeeded() {
                        tracing::warn!(outcome = %outcome, "global event webhook failed");
                    }
                }
            });
        }
    }

    fn alert(&self, alert: &Alert) {
        let alerts = self
            .canary
            .spec
            .analysis()
            .map(|a| a.alerts.clone())
            .unwrap_or_default();
        let ns = self.ns();
        let mut targets: Vec<Result<AlertTarget, String>> = Vec::new();
        let mut pending_secrets = Vec::new();
        match fledge_hooks::alerts::route(&alerts, alert.severity) {
            AlertRoute::Global => {
                if let Some(url) = &self.ctx.config.slack_url {
                    targets.push(Ok(AlertTarget::new(
                        fledge_api::AlertProviderType::Slack,
                        url.as_str().into(),
                    )));
                }
                if let Some(url) = &self.ctx.config.msteams_url {
                    targets.push(Ok(AlertTarget::new(
                        fledge_api::AlertProviderType::Msteams,
                        url.as_str().into(),
                    )));
                }
            }
            AlertRoute::Providers(chosen) => {
                for a in chosen {
                    let provider_ns = a
                        .provider_ref
                        .namespace
                        .clone()
                        .unwrap_or_else(|| ns.clone());
                    match self
                        .ctx
                        .caches
                        .alert_providers
                        .get(&ObjectRef::new(&a.provider_ref.name).within(&provider_ns))
                    {
                        None => targets.push(Err(format!(
                            "alert {:?}: AlertProvider {provider_ns}/{} not found",
                            a.name, a.provider_ref.name
                        ))),
                        Some(p) => pending_secrets.push((provider_ns, p)),
                    }
                }
            }
        }
        let analysis = self.canary.spec.analysis();
        let message = AlertMessage {
            name: self.canary.name_any(),
            namespace: ns.clone(),
            message: alert.message.clone(),
            severity: alert.severity,
            fields: fledge_hooks::alerts::alert_fields(
                Some(self.ctx.config.cluster_name.as_str()),
                Some(&ReleaseDetails {
                    target: format!(
                        "{}/{}.{}",
                        self.canary.spec.target_ref.kind, self.canary.spec.target_ref.name, ns
                    ),
                    failed_checks_threshold: analysis.map(|a| a.threshold()).unwrap_or(1),
                    progress_deadline: self.canary.spec.progress_deadline(),
                    routing: analysis.and_then(fledge_hooks::alerts::routing_summary),
                }),
            ),
        };
        let sender = self.ctx.alerts.clone();
        let client = self.ctx.client.clone();
        tokio::spawn(async move {
            for (provider_ns, provider) in pending_secrets {
                let address = match &provider.spec.secret_ref {
                    None => None,
                    Some(secret_ref) => {
                        match Api::<Secret>::namespaced(client.clone(), &provider_ns)
                            .get_opt(&secret_ref.name)
                            .await
                        {
                            Ok(Some(s)) => s
                                .data
                                .and_then(|d| d.get("address").cloned())
                                .and_then(|v| String::from_utf8(v.0).ok())
                                .map(|a| fledge_hooks::Secret::new(a.trim())),
                            _ => None,
                        }
                    }
                };
                targets.push(
                    AlertTarget::from_spec(&provider.spec, address).map_err(|e| {
                        format!("AlertProvider {provider_ns}/{}: {e}", provider.name_any())
                    }),
                );
            }
            for target in targets {
                match target {
                    Ok(t) => {
                        if let Err(err) = sender.send(&t, &message).await {
                            tracing::warn!(error = %err, "alert not delivered");
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "alert not delivered"),
                }
            }
        });
    }
}

fn to_hook_event(event: &Event) -> CanaryEvent {
    CanaryEvent {
        message: event.message.clone(),
        event_type: event.event_type,
        timestamp: jiff::Timestamp::now(),
    }
}

async fn get_opt<K>(api: &Api<K>, name: &str) -> Result<Option<K>, ReconcileError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    api.get_opt(name)
        .await
        .map_err(|source| ReconcileError::Kube {
            what: format!("reading {} {name}", K::kind(&()).to_lowercase()),
            source,
        })
}

/// Creates `desired`, or replaces `existing` when what we manage differs. Comparison ignores
/// server-filled fields by comparing the serialized desired object with the same fields of
/// the existing one.
async fn upsert<K>(
    ctx: &Context,
    api: &Api<K>,
    desired: K,
    existing: Option<&K>,
    kind: &str,
) -> Result<(), ReconcileError>
where
    K: Clone + Serialize + DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    match existing {
        None => {
            ctx.metrics.count_write("create", kind);
            match api.create(&PostParams::default(), &desired).await {
                Ok(_) => Ok(()),
                // Created meanwhile (e.g. our cache lagged): converge on the next reconcile.
                Err(kube::Error::Api(s)) if s.code == 409 => Err(ReconcileError::Retry(format!(
                    "{kind} {name} already exists"
                ))),
                Err(source) => Err(ReconcileError::Kube {
                    what: format!("creating {kind} {name}"),
                    source,
                }),
            }
        }
        Some(current) => {
            if covers(current, &desired) {
                return Ok(());
            }
            ctx.metrics.count_write("replace", kind);
            api.replace(&name, &PostParams::default(), &desired)
                .await
                .map(|_| ())
                .map_err(|source| ReconcileError::Kube {
                    what: format!("updating {kind} {name}"),
                    source,
                })
        }
    }
}

/// True when every field `desired` sets has the same value in `current` (server defaults and
/// status in `current` don't count as differences).
fn covers<K: Serialize>(current: &K, desired: &K) -> bool {
    let (Ok(current), Ok(mut desired)) =
        (serde_json::to_value(current), serde_json::to_value(desired))
    else {
        return false;
    };
    if let Some(meta) = desired.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("resourceVersion");
    }
    subset(&desired, &current)
}

fn subset(want: &serde_json::Value, have: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| match h.get(k) {
            Some(hv) => subset(v, hv),
            None => {
                v.is_null()
                    || v.as_object().is_some_and(|o| o.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
            }
        }),
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| subset(a, b))
        }
        (w, h) => w == h,
    }
}

/// The webhook payload's `checksum`: the revision under analysis, pod template and tracked
/// configs together (as Flagger's), so two image-only releases never share one.
pub fn payload_checksum(revision: &fledge_core::Revision) -> String {
    let mut all = revision.configs.clone();
    all.insert("spec".into(), revision.spec.clone());
    tracked_checksum(&all)
}

/// A JSON merge patch of the Canary itself (not its status), remembering the resourceVersion it
/// produced so the next reconcile waits for the cache to catch up (see `Context::is_stale`).
pub async fn patch_canary(
    ctx: &Context,
    canary: &Canary,
    patch: &serde_json::Value,
    what: &str,
) -> Result<(), ReconcileError> {
    ctx.metrics.count_write("patch", "Canary");
    let updated =
        Api::<Canary>::namespaced(ctx.client.clone(), &canary.namespace().unwrap_or_default())
            .patch(
                &canary.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map_err(|source| ReconcileError::Kube {
                what: what.to_string(),
                source,
            })?;
    ctx.wrote(canary, updated.resource_version());
    Ok(())
}

/// A deterministic checksum of the tracked configs, for the primary's pod-template annotation
/// (only a config change must restart the primary's pods through it).
pub fn tracked_checksum(configs: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    if configs.is_empty() {
        return String::new();
    }
    let mut hasher = Sha256::new();
    for (k, v) in configs {
        hasher.update(k.as_bytes());
        hasher.update([0]);
        hasher.update(v.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_ignores_server_fields() {
        let want = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 2, "list": [{"a": 1}]}});
        let have = json!({"metadata": {"name": "a", "uid": "u", "labels": {"x": "1"}}, "spec": {"replicas": 2, "list": [{"a": 1, "b": 2}]}, "status": {}});
        assert!(subset(&want, &have));
        let changed = json!({"metadata": {"name": "a", "labels": {"x": "2"}}});
        assert!(!subset(&changed, &have));
        let longer = json!({"spec": {"list": [{"a": 1}, {"a": 2}]}});
        assert!(!subset(&longer, &have));
    }

    #[test]
    fn payload_checksum_changes_with_the_spec() {
        let rev = |spec: &str| fledge_core::Revision {
            spec: spec.into(),
            configs: BTreeMap::new(),
        };
        assert_ne!(payload_checksum(&rev("a")), payload_checksum(&rev("b")));
        assert_eq!(payload_checksum(&rev("a")), payload_checksum(&rev("a")));
    }

    #[test]
    fn tracked_checksum_is_stable_and_sensitive() {
        let a: BTreeMap<String, String> = [("configmap/a".to_string(), "1".to_string())].into();
        let b: BTreeMap<String, String> = [("configmap/a".to_string(), "2".to_string())].into();
        assert_eq!(tracked_checksum(&a), tracked_checksum(&a.clone()));
        assert_ne!(tracked_checksum(&a), tracked_checksum(&b));
        assert_eq!(tracked_checksum(&BTreeMap::new()), "");
    }
}
