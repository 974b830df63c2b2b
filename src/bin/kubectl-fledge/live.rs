//! Watched caches of Canaries, Deployments, Services and Events, shared by `get -w` and the
//! dashboard: one watch per kind for the whole process, however many views read them, and a
//! change counter that wakes every view when anything changed. Nothing here polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fledge_api::{Canary, Routes};
use fledge_core::Config;
use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::ListParams;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::requests::explain;
use crate::view::Around;

/// How long to wait for the first lists before saying what is wrong.
const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Live {
    pub canaries: Store<Canary>,
    pub deployments: Store<Deployment>,
    pub services: Store<Service>,
    pub events: Store<Event>,
    /// Bumped on every change of any cache (after it is in the store).
    pub changed: watch::Receiver<u64>,
    synced: watch::Receiver<usize>,
    errors: Arc<Mutex<Vec<String>>>,
}

const KINDS: usize = 4;

impl Live {
    /// Starts the watches in `namespace` (all namespaces with `None`) and waits for their
    /// first lists. A watch that can't list (RBAC, a missing CRD) is an error naming it.
    pub async fn start(client: &Client, namespace: Option<&str>) -> anyhow::Result<Live> {
        // One small list first, so a missing CRD or a forbidden list is said plainly (a watch
        // would only retry it).
        let canaries: Api<Canary> = api(client, namespace);
        canaries
            .list_metadata(&ListParams::default().limit(1))
            .await
            .map_err(|e| explain(e, "list", namespace.unwrap_or_default(), ""))?;
        let (changed_tx, changed) = watch::channel(0u64);
        let (synced_tx, synced) = watch::channel(0usize);
        let errors = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            changed: changed_tx,
            synced: synced_tx,
            errors: errors.clone(),
        };
        let live = Live {
            canaries: spawn(api(client, namespace), "canaries.fledge.dev", &shared),
            deployments: spawn(api(client, namespace), "deployments", &shared),
            services: spawn(api(client, namespace), "services", &shared),
            events: spawn(api(client, namespace), "events", &shared),
            changed,
            synced,
            errors,
        };
        let mut synced = live.synced.clone();
        let waited = tokio::time::timeout(SYNC_TIMEOUT, synced.wait_for(|n| *n >= KINDS)).await;
        if !matches!(waited, Ok(Ok(_))) {
            let errors = live.errors.lock().map(|e| e.join("; ")).unwrap_or_default();
            anyhow::bail!(
                "the watches did not start within {}s: {}",
                SYNC_TIMEOUT.as_secs(),
                if errors.is_empty() {
                    "no answer from the API server".to_string()
                } else {
                    errors
                }
            );
        }
        Ok(live)
    }
}

struct Shared {
    changed: watch::Sender<u64>,
    synced: watch::Sender<usize>,
    errors: Arc<Mutex<Vec<String>>>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn spawn<K>(api: Api<K>, what: &'static str, shared: &Shared) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let changed = shared.changed.clone();
    let synced = shared.synced.clone();
    let errors = shared.errors.clone();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut first = true;
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::InitDone) if first => {
                    first = false;
                    synced.send_modify(|n| *n += 1);
                    changed.send_modify(|n| *n += 1);
                }
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(_) => changed.send_modify(|n| *n += 1),
                Err(err) => {
                    if let Ok(mut errors) = errors.lock() {
                        errors.push(format!("watching {what}: {err}"));
                        let excess = errors.len().saturating_sub(8);
                        errors.drain(..excess);
                    }
                }
            }
        }
    });
    reader
}

/// `(namespace, name)`.
type CanaryKey = (String, String);
/// The Canary's resourceVersion when its route was read, and what was read.
type ReadAt = (String, Option<Routes>);

/// The split read back from each Canary's routing object, read again only when the Canary
/// changed (fledge moves the routes before it writes the status), so views that redraw on
/// every change don't each cost a GET.
#[derive(Clone, Default)]
pub struct RouteMemo {
    seen: Arc<Mutex<HashMap<CanaryKey, ReadAt>>>,
}

impl RouteMemo {
    pub async fn route(&self, client: &Client, canary: &Canary, config: &Config) -> Option<Routes> {
        let key = (canary.namespace().unwrap_or_default(), canary.name_any());
        let version = canary.resource_version().unwrap_or_default();
        if let Some((seen, routes)) = self.seen.lock().ok()?.get(&key)
            && *seen == version
        {
            return *routes;
        }
        let provider = canary.spec.provider_or(config.default_provider);
        // A provider without a router (or an unreadable object) shows no route line.
        let routes = match fledge_routers::router_for(provider, client.clone()) {
            Ok(router) => router.get_routes(canary).await.ok().flatten(),
            Err(_) => None,
        };
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(key, (version, routes));
        }
        routes
    }
}

/// The caches' contents at one moment.
pub struct Snapshot {
    pub canaries: Vec<Arc<Canary>>,
    pub deployments: Vec<Arc<Deployment>>,
    pub services: Vec<Arc<Service>>,
    pub events: Vec<Arc<Event>>,
}

impl Live {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            canaries: self.canaries.state(),
            deployments: self.deployments.state(),
            services: self.services.state(),
            events: self.events.state(),
        }
    }
}

impl Snapshot {
    pub fn canary(&self, namespace: &str, name: &str) -> Option<&Canary> {
        self.canaries
            .iter()
            .map(|c| c.as_ref())
            .find(|c| c.namespace().as_deref() == Some(namespace) && c.name_any() == name)
    }

    pub fn around(&self, route: Option<Routes>) -> Around<'_> {
        Around {
            deployments: self.deployments.iter().map(|d| d.as_ref()).collect(),
            services: self.services.iter().map(|s| s.as_ref()).collect(),
            events: self.events.iter().map(|e| e.as_ref()).collect(),
            route,
        }
    }
}
