//! Traffic simulation: synthetic requests per Service, routed by the routing objects in the API
//! ([`routing`]) to the pods that can serve them, with outcomes drawn from each image's profile
//! ([`generator`]) and recorded by the [`Exporter`]; plus the HTTP face ([`proxy`]): `/metrics`
//! and a service proxy that routes real requests the same way. It never changes API objects.

pub mod generator;
pub mod kube_source;
pub mod proxy;
pub mod routing;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exporter::Exporter;
use crate::scenario::ScenarioHandle;
use crate::store::{GroupResource, Store, resources};

use generator::{Generator, Served};
use routing::World;

/// Storage keys of the routing kinds the sim reads once their CRDs exist.
pub const HTTPROUTES: GroupResource = GroupResource::of("gateway.networking.k8s.io", "httproutes");
pub const VIRTUAL_SERVICES: GroupResource =
    GroupResource::of("networking.istio.io", "virtualservices");
pub const TRAFFIC_SPLITS: GroupResource = GroupResource::of("split.smi-spec.io", "trafficsplits");
pub const HTTP_PROXIES: GroupResource = GroupResource::of("projectcontour.io", "httpproxies");
pub const TRAEFIK_SERVICES: GroupResource = GroupResource::of("traefik.io", "traefikservices");
/// Traefik v2's group, which v3 still serves.
pub const TRAEFIK_SERVICES_V2: GroupResource =
    GroupResource::of("traefik.containo.us", "traefikservices");

/// Where the objects routing depends on come from: the sim's own store, or watches on a real
/// API server ([`kube_source::KubeSource`]).
pub trait WorldSource: Send + Sync + std::fmt::Debug {
    /// Changes whenever an object routing depends on may have changed.
    fn version(&self) -> u64;
    /// Every object routing depends on, across all namespaces.
    fn read(&self) -> World;
    fn has_service(&self, namespace: &str, name: &str) -> bool;
}

/// The sim's own store.
#[derive(Debug)]
pub struct StoreSource(pub Store);

impl WorldSource for StoreSource {
    fn version(&self) -> u64 {
        self.0.resource_version()
    }

    fn read(&self) -> World {
        let store = &self.0;
        World {
            services: typed_list(store, &resources::SERVICES),
            ingresses: typed_list(store, &resources::INGRESSES),
            http_routes: raw_list(store, &HTTPROUTES),
            virtual_services: raw_list(store, &VIRTUAL_SERVICES),
            traffic_splits: raw_list(store, &TRAFFIC_SPLITS),
            http_proxies: raw_list(store, &HTTP_PROXIES),
            traefik_services: [TRAEFIK_SERVICES, TRAEFIK_SERVICES_V2]
                .iter()
                .flat_map(|gr| raw_list(store, gr))
                .collect(),
            deployments: typed_list(store, &resources::DEPLOYMENTS),
            pods: typed_list(store, &resources::PODS),
        }
    }

    fn has_service(&self, namespace: &str, name: &str) -> bool {
        self.0
            .get_arc(&resources::SERVICES, namespace, name)
            .is_some()
    }
}

/// The traffic simulation: shared by the tick task and the HTTP handlers.
#[derive(Debug)]
pub struct Traffic {
    source: Box<dyn WorldSource>,
    scenario: ScenarioHandle,
    exporter: Exporter,
    generator: Mutex<Generator>,
    /// The last snapshot and the source version it was taken at: proxied requests under load
    /// reuse it until something changes.
    world: Mutex<Option<(u64, Arc<World>)>>,
}

fn typed_list<T: DeserializeOwned>(store: &Store, gr: &GroupResource) -> Vec<T> {
    let (items, _) = store.list_arc(gr, None);
    items
        .iter()
        .filter_map(|v| serde_json::from_value((**v).clone()).ok())
        .collect()
}

fn raw_list(store: &Store, gr: &GroupResource) -> Vec<Value> {
    store.list(gr, None)
}

impl Traffic {
    /// The generator is seeded from the scenario's seed at this moment.
    pub fn new(source: Box<dyn WorldSource>, scenario: ScenarioHandle) -> Arc<Self> {
        let seed = scenario.with(|s| s.seed);
        Arc::new(Traffic {
            source,
            scenario,
            exporter: Exporter::new(),
            generator: Mutex::new(Generator::new(seed)),
            world: Mutex::new(None),
        })
    }

    pub fn exporter(&self) -> &Exporter {
        &self.exporter
    }

    pub fn scenario(&self) -> &ScenarioHandle {
        &self.scenario
    }

    /// A snapshot of every object routing depends on, reused while the store is unchanged.
    pub fn world(&self) -> Arc<World> {
        let rv = self.source.version();
        let mut cache = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, world)) = cache.as_ref()
            && *at == rv
        {
            return world.clone();
        }
        let world = Arc::new(self.source.read());
        *cache = Some((rv, world.clone()));
        world
    }

    fn generator(&self) -> std::sync::MutexGuard<'_, Generator> {
        // The generator holds no invariant a panic elsewhere could break.
        self.generator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Generates and records `elapsed` worth of synthetic traffic.
    pub fn tick(&self, elapsed: Duration) {
        let world = self.world();
        let scenario = self.scenario.snapshot();
        let exporter = &self.exporter;
        self.generator()
            .tick(&world, &scenario, elapsed, &mut |s: &Served| {
                exporter.record(&s.outcome())
            });
    }

    /// Routes and records one real request to `namespace/service`; returns its fate.
    pub fn serve(&self, namespace: &str, service: &str, request: &routing::Request) -> Served {
        let world = self.world();
        let scenario = self.scenario.snapshot();
        let (main, mirror) = self
            .generator()
            .serve_one(&world, &scenario, namespace, service, request);
        self.exporter.record(&main.outcome());
        if let Some(m) = mirror {
            self.exporter.record(&m.outcome());
        }
        main
    }

    /// Whether a Service exists (the proxy answers only for those).
    pub fn has_service(&self, namespace: &str, service: &str) -> bool {
        self.source.has_service(namespace, service)
    }

    /// Generates synthetic traffic every scenario tick until `shutdown`, counting the time
    /// that really passed so rates stay right when a tick runs late.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut last = Instant::now();
        loop {
            let tick = self.scenario.with(|s| s.tick);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(last + tick) => {}
            }
            let now = Instant::now();
            self.tick(now - last);
            last = now;
        }
    }
}
