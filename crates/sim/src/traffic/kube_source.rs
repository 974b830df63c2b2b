//! The routing snapshot read from a real API server: reflectors on Services, Ingresses,
//! Deployments and Pods, and on each routing kind whose CRD is served (looked for every second,
//! since tests install CRDs after the sim has joined). The traffic engine reads these objects
//! with its own code, as it reads its own store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::task::JoinSet;

use super::WorldSource;
use super::routing::World;

/// The routing kinds, as the routers write them.
const ROUTING: [(&str, &str, &str, &str); 6] = [
    ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
    (
        "networking.istio.io",
        "v1beta1",
        "VirtualService",
        "virtualservices",
    ),
    (
        "split.smi-spec.io",
        "v1alpha2",
        "TrafficSplit",
        "trafficsplits",
    ),
    ("projectcontour.io", "v1", "HTTPProxy", "httpproxies"),
    (
        "traefik.io",
        "v1alpha1",
        "TraefikService",
        "traefikservices",
    ),
    (
        "traefik.containo.us",
        "v1alpha1",
        "TraefikService",
        "traefikservices",
    ),
];

#[derive(Clone)]
struct Routing {
    plural: &'static str,
    store: Store<DynamicObject>,
}

/// Watches on a real API server. Stops watching when dropped.
pub struct KubeSource {
    version: Arc<AtomicU64>,
    services: Store<Service>,
    ingresses: Store<Ingress>,
    deployments: Store<Deployment>,
    pods: Store<Pod>,
    routing: Arc<std::sync::Mutex<Vec<Routing>>>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for KubeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSource").finish_non_exhaustive()
    }
}

/// Runs a reflector for `api` into a new store, bumping `version` on every event.
fn reflect<K>(
    tasks: &mut JoinSet<()>,
    api: Api<K>,
    dyntype: K::DynamicType,
    version: Arc<AtomicU64>,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Clone + Eq + std::hash::Hash + Send + Sync,
{
    let writer = reflector::store::Writer::new(dyntype);
    let reader = writer.as_reader();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tasks.spawn(drain(stream, version));
    reader
}

async fn drain<S, T>(stream: S, version: Arc<AtomicU64>)
where
    S: Stream<Item = Result<T, watcher::Error>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(_) => {
                version.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => tracing::debug!(error = %e, "sim traffic: watch"),
        }
    }
}

impl KubeSource {
    pub fn start(client: Client) -> KubeSource {
        let version = Arc::new(AtomicU64::new(1));
        let mut tasks = JoinSet::new();
        let services = reflect(&mut tasks, Api::all(client.clone()), (), version.clone());
        let ingresses = reflect(&mut tasks, Api::all(client.clone()), (), version.clone());
        let deployments = reflect(&mut tasks, Api::all(client.clone()), (), version.clone());
        let pods = reflect(&mut tasks, Api::all(client.clone()), (), version.clone());
        let routing = Arc::new(std::sync::Mutex::new(Vec::new()));
        tasks.spawn(find_routing_kinds(client, routing.clone(), version.clone()));
        KubeSource {
            version,
            services,
            ingresses,
            deployments,
            pods,
            routing,
            tasks,
        }
    }
}

impl Drop for KubeSource {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Starts a reflector for each routing kind once its CRD is served.
async fn find_routing_kinds(
    client: Client,
    routing: Arc<std::sync::Mutex<Vec<Routing>>>,
    version: Arc<AtomicU64>,
) {
    let mut tasks = JoinSet::new();
    let mut pending: Vec<(ApiResource, &'static str)> = ROUTING
        .iter()
        .map(|(group, v, kind, plural)| {
            let gvk = GroupVersionKind::gvk(group, v, kind);
            (ApiResource::from_gvk_with_plural(&gvk, plural), *plural)
        })
        .collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for (ar, plural) in pending {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            if api.list(&ListParams::default().limit(1)).await.is_ok() {
                let store = reflect(&mut tasks, api, ar.clone(), version.clone());
                routing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Routing { plural, store });
                version.fetch_add(1, Ordering::SeqCst);
            } else {
                still.push((ar, plural));
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Keep the reflectors running for as long as this task lives.
    while tasks.join_next().await.is_some() {}
}

fn typed<K>(store: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Clone + Eq + std::hash::Hash,
{
    store.state().iter().map(|o| (**o).clone()).collect()
}

fn raw(store: &Store<DynamicObject>) -> Vec<Value> {
    store
        .state()
        .iter()
        .filter_map(|o| serde_json::to_value(&**o).ok())
        .collect()
}

impl WorldSource for KubeSource {
    fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    fn read(&self) -> World {
        let routing = self
            .routing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let of = |plural: &str| -> Vec<Value> {
            routing
                .iter()
                .filter(|r| r.plural == plural)
                .flat_map(|r| raw(&r.store))
                .collect()
        };
        World {
            services: typed(&self.services),
            ingresses: typed(&self.ingresses),
            http_routes: of("httproutes"),
            virtual_services: of("virtualservices"),
            traffic_splits: of("trafficsplits"),
            http_proxies: of("httpproxies"),
            traefik_services: of("traefikservices"),
            deployments: typed(&self.deployments),
            pods: typed(&self.pods),
        }
    }

    fn has_service(&self, namespace: &str, name: &str) -> bool {
        self.services
            .get(&reflector::ObjectRef::new(name).within(namespace))
            .is_some()
    }
}
