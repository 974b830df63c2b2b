//! The routers against the simulated cluster (a real HTTP Kubernetes API, `fledge-sim`):
//! idempotence measured in API requests (`/sim/stats`), set/get routes round trips through the
//! live objects, takeover of a user's Service, and finalize.

use std::path::Path;
use std::time::Duration;

use fledge_api::{Canary, Provider};
use fledge_routers::gatewayapi::ApiVersion;
use fledge_routers::{
    CANARY_LABEL, DEFAULT_SELECTOR_LABELS, ReflectorCache, Routes, TargetWorkload, Write,
    WriteAction, router_for, router_with_cache,
};
use fledge_sim::traffic::{Traffic, routing};
use fledge_sim::{Sim, SimHandle, SimOptions, StatsSnapshot};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{CustomResourceExt, ResourceExt};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn fixture<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = repo().join("testdata/routers").join(file);
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// API writes so far (every verb that changes state, all resources).
fn writes(stats: &StatsSnapshot) -> u64 {
    ["create", "update", "patch", "delete", "deletecollection"]
        .iter()
        .map(|v| stats.verb_total(v))
        .sum()
}

fn httproutes(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    );
    Api::namespaced_with(client.clone(), "test", &ar)
}

/// A sim with the Canary and HTTPRoute CRDs, namespace `test`, and the Canary from `file`
/// created (so it has a UID and owner references resolve: the sim garbage-collects orphans).
async fn cluster(file: &str) -> (SimHandle, Canary) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = sim.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let route_crd: CustomResourceDefinition = serde_saphyr::from_str(
        &std::fs::read_to_string(repo().join("testdata/crds/gateway-api-httproutes.yaml")).unwrap(),
    )
    .unwrap();
    for crd in [Canary::crd(), route_crd] {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "test"}})).unwrap(),
        )
        .await
        .unwrap();
    let mut canary: Canary = fixture(file);
    canary.metadata.uid = None;
    let canaries: Api<Canary> = Api::namespaced(client.clone(), "test");
    // A CRD is served once established; poll for it instead of sleeping a fixed time.
    let mut created = None;
    for _ in 0..100 {
        match canaries.create(&PostParams::default(), &canary).await {
            Ok(c) => {
                created = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let canary = created.expect("the Canary CRD was never served");
    assert!(canary.uid().is_some());
    (sim, canary)
}

/// The split the simulator computes from the stored HTTPRoute with its own code (an
/// independent reading of Gateway API semantics), as `Routes`.
fn sim_split(sim: &SimHandle) -> Routes {
    let traffic = Traffic::new(
        Box::new(fledge_sim::traffic::StoreSource(sim.store().clone())),
        sim.scenario().clone(),
    );
    let route = routing::route(&traffic.world(), "test", "podinfo");
    assert_eq!(route.via, routing::Via::HttpRoute("podinfo".into()));
    let share = |svc: &str| {
        route
            .backends
            .iter()
            .find(|b| b.service == svc)
            .map(|b| (b.share * 100.0).round() as i32)
            .unwrap_or(0)
    };
    Routes {
        primary: share("podinfo-primary"),
        canary: share("podinfo-canary"),
        mirrored: route
            .mirror
            .is_some_and(|m| m.service == "podinfo-canary" && m.share > 0.0),
    }
}

fn names(writes: &[Write]) -> Vec<(WriteAction, &'static str, String)> {
    writes
        .iter()
        .map(|w| (w.action, w.kind, w.name.clone()))
        .collect()
}

#[tokio::test]
async fn gatewayapi_reconcile_is_idempotent_and_routes_round_trip() {
    let (sim, canary) = cluster("canary-gatewayapi.yaml").await;
    let deployment: Deployment = fixture("deployment.yaml");
    let target = TargetWorkload::from_deployment(&deployment, &DEFAULT_SELECTOR_LABELS).unwrap();
    let router = router_for(Provider::GatewayApiV1, sim.client()).unwrap();
    assert_eq!(router.provider(), Provider::GatewayApiV1);

    let created = router.reconcile(&canary, &target).await.unwrap();
    assert_eq!(
        names(&created),
        [
            (WriteAction::Created, "Service", "podinfo-canary".into()),
            (WriteAction::Created, "Service", "podinfo-primary".into()),
            (WriteAction::Created, "Service", "podinfo".into()),
            (WriteAction::Created, "HTTPRoute", "podinfo".into()),
        ]
    );
    assert_eq!(
        router.get_routes(&canary).await.unwrap().expect("routes"),
        Routes::ALL_PRIMARY
    );

    let before = sim.stats();
    assert!(router.reconcile(&canary, &target).await.unwrap().is_empty());
    let after = sim.stats();
    assert_eq!(
        writes(&after) - writes(&before),
        0,
        "second reconcile wrote: {after:?}"
    );
    assert_eq!(
        after.verb_total("get") - before.verb_total("get"),
        4,
        "one read per object"
    );

    for routes in [
        Routes::canary(10, false),
        Routes::canary(60, false),
        Routes {
            primary: 100,
            canary: 0,
            mirrored: true,
        },
        Routes::canary(100, false),
        Routes::ALL_PRIMARY,
    ] {
        let before = sim.stats();
        let w = router.set_routes(&canary, routes).await.unwrap();
        assert_eq!(
            names(&w),
            [(WriteAction::Updated, "HTTPRoute", "podinfo".into())]
        );
        assert_eq!(
            router.get_routes(&canary).await.unwrap().expect("routes"),
            routes
        );
        assert_eq!(
            sim_split(&sim),
            routes,
            "the sim's own reading of the route"
        );
        assert!(router.set_routes(&canary, routes).await.unwrap().is_empty());
        let after = sim.stats();
        assert_eq!(writes(&after) - writes(&before), 1, "{routes:?}");
    }

    // A reconcile in the middle of a release keeps the traffic split.
    router
        .set_routes(&canary, Routes::canary(30, false))
        .await
        .unwrap();
    assert!(router.reconcile(&canary, &target).await.unwrap().is_empty());
    assert_eq!(
        router.get_routes(&canary).await.unwrap().expect("routes"),
        Routes::canary(30, false)
    );

    // A spec change is written once, and the split survives it.
    let mut changed = canary.clone();
    changed.spec.service.hosts = vec!["new.example.com".into()];
    let w = router.reconcile(&changed, &target).await.unwrap();
    assert_eq!(
        names(&w),
        [(WriteAction::Updated, "HTTPRoute", "podinfo".into())]
    );
    let route = httproutes(&sim.client()).get("podinfo").await.unwrap();
    assert_eq!(route.data["spec"]["hostnames"][0], "new.example.com");
    assert_eq!(route.labels()["fledge.dev/canary"], "podinfo");
    assert_eq!(
        route.annotations()["kustomize.toolkit.fluxcd.io/reconcile"],
        "disabled"
    );
    assert_eq!(
        router.get_routes(&changed).await.unwrap().expect("routes"),
        Routes::canary(30, false)
    );

    // Finalize: apex back on the target's pods, route gone; then nothing left to do.
    let w = router.finalize(&changed, &target).await.unwrap();
    assert_eq!(
        names(&w),
        [
            (WriteAction::Updated, "Service", "podinfo".into()),
            (WriteAction::Deleted, "HTTPRoute", "podinfo".into()),
        ]
    );
    let services: Api<Service> = Api::namespaced(sim.client(), "test");
    let apex = services.get("podinfo").await.unwrap();
    assert_eq!(apex.spec.unwrap().selector.unwrap()["app"], "podinfo");
    assert!(
        apex.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    assert!(
        httproutes(&sim.client())
            .get_opt("podinfo")
            .await
            .unwrap()
            .is_none()
    );
    assert!(router.finalize(&changed, &target).await.unwrap().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn kubernetes_router_takes_over_a_user_service_and_keeps_its_node_port() {
    let (sim, canary) = cluster("canary-kubernetes.yaml").await;
    let services: Api<Service> = Api::namespaced(sim.client(), "test");
    let user: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "podinfo", "labels": {"app": "podinfo", "tier": "frontend"}},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "port": 80, "targetPort": 9898, "nodePort": 30080}]
        }
    }))
    .unwrap();
    let user = services
        .create(&PostParams::default(), &user)
        .await
        .unwrap();
    let cluster_ip = user.spec.as_ref().unwrap().cluster_ip.clone();

    let deployment: Deployment = fixture("deployment.yaml");
    let target = TargetWorkload::from_deployment(&deployment, &DEFAULT_SELECTOR_LABELS).unwrap();
    let router = router_for(Provider::Kubernetes, sim.client()).unwrap();
    let w = router.reconcile(&canary, &target).await.unwrap();
    assert_eq!(
        names(&w),
        [
            (WriteAction::Created, "Service", "podinfo-canary".into()),
            (WriteAction::Created, "Service", "podinfo-primary".into()),
            (WriteAction::Updated, "Service", "podinfo".into()),
        ]
    );
    let apex = services.get("podinfo").await.unwrap();
    let spec = apex.spec.clone().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(spec.cluster_ip, cluster_ip);
    assert_eq!(spec.selector.unwrap()["app"], "podinfo-primary");
    let ports = spec.ports.unwrap();
    assert_eq!(ports[0].node_port, Some(30080));
    let discovered: Vec<_> = ports[1..]
        .iter()
        .map(|p| (p.name.clone().unwrap(), p.port))
        .collect();
    assert_eq!(
        discovered,
        [
            ("grpc".to_string(), 9999),
            ("tcp-podinfod-2".to_string(), 9797)
        ]
    );
    assert_eq!(apex.labels()["tier"], "frontend");
    assert_eq!(apex.labels()["fledge.dev/canary"], "podinfo");
    assert!(
        apex.owner_references().is_empty(),
        "a user's Service is not made ours"
    );
    let canary_svc = services.get("podinfo-canary").await.unwrap();
    assert_eq!(canary_svc.owner_references()[0].uid, canary.uid().unwrap());
    assert_eq!(canary_svc.spec.unwrap().selector.unwrap()["app"], "podinfo");

    let before = sim.stats();
    assert!(router.reconcile(&canary, &target).await.unwrap().is_empty());
    assert_eq!(writes(&sim.stats()) - writes(&before), 0);

    // Services can't split traffic: set_routes writes nothing, and there is no split to
    // read back (so none to drift).
    assert!(
        router
            .set_routes(&canary, Routes::canary(100, false))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(router.get_routes(&canary).await.unwrap(), None);
    assert_eq!(writes(&sim.stats()) - writes(&before), 0);

    let w = router.finalize(&canary, &target).await.unwrap();
    assert_eq!(
        names(&w),
        [(WriteAction::Updated, "Service", "podinfo".into())]
    );
    let apex = services.get("podinfo").await.unwrap();
    let spec = apex.spec.unwrap();
    assert_eq!(spec.selector.unwrap()["app"], "podinfo");
    assert_eq!(spec.ports.unwrap()[0].node_port, Some(30080));
    sim.shutdown().await;
}

#[tokio::test]
async fn unsupported_providers_are_named() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Nothing is contacted: building a router is not I/O.
    let client =
        kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
    let unrouted: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|p| !p.is_routed())
        .collect();
    assert_eq!(unrouted.len(), Provider::ALL.len() - Provider::ROUTED.len());
    for provider in unrouted {
        let err = router_for(provider, client.clone())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with(&format!("provider {provider} is not supported")),
            "{err}"
        );
        assert!(
            err.contains("kubernetes, gatewayapi:v1, gatewayapi:v1beta1"),
            "{err}"
        );
    }
}

/// Runs a label-filtered reflector into a store until dropped (also on panic).
struct Reflecting(tokio::task::JoinHandle<()>);

impl Drop for Reflecting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn reflect<K>(api: Api<K>, writer: reflector::store::Writer<K>) -> Reflecting
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Clone + Eq + std::hash::Hash + Send + Sync,
{
    let config = watcher::Config::default().labels(CANARY_LABEL);
    let stream = reflector::reflector(writer, watcher(api, config)).applied_objects();
    Reflecting(tokio::spawn(async move {
        use futures::StreamExt;
        stream.for_each(|_| async {}).await;
    }))
}

/// Polls until the cache holds every object the API server has, at its current version.
async fn caught_up<K>(cache: &Store<K>, api: &Api<K>, names: &[&str])
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    K::DynamicType: Clone + Eq + std::hash::Hash,
{
    for _ in 0..200 {
        let mut all = true;
        for name in names {
            let live = api.get(name).await.unwrap().resource_version();
            let cached = cache
                .state()
                .iter()
                .find(|o| o.name_any() == *name)
                .and_then(|o| o.resource_version());
            all &= cached.is_some() && cached == live;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the cache never caught up with {names:?}");
}

#[tokio::test]
async fn with_reflector_caches_an_unchanged_reconcile_makes_no_request_at_all() {
    let (sim, canary) = cluster("canary-gatewayapi.yaml").await;
    let client = sim.client();
    let services: Api<Service> = Api::namespaced(client.clone(), "test");
    let resource = ApiVersion::V1.resource();
    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "test", &resource);

    let (service_cache, service_writer) = reflector::store::<Service>();
    let route_writer = reflector::store::Writer::<DynamicObject>::new(resource.clone());
    let route_cache = route_writer.as_reader();
    let _services_running = reflect(services.clone(), service_writer);
    let _routes_running = reflect(routes.clone(), route_writer);
    service_cache.wait_until_ready().await.unwrap();
    route_cache.wait_until_ready().await.unwrap();
    let cache = ReflectorCache {
        services: service_cache.clone(),
        http_routes: Some((route_cache.clone(), resource)),
    };
    let router = router_with_cache(
        Provider::GatewayApiV1,
        client,
        Some(std::sync::Arc::new(cache)),
        &Default::default(),
    )
    .unwrap();

    let deployment: Deployment = fixture("deployment.yaml");
    let target = TargetWorkload::from_deployment(&deployment, &DEFAULT_SELECTOR_LABELS).unwrap();
    // Empty caches: every read misses and falls back to a GET, then everything is created.
    assert_eq!(router.reconcile(&canary, &target).await.unwrap().len(), 4);
    caught_up(
        &service_cache,
        &services,
        &["podinfo", "podinfo-primary", "podinfo-canary"],
    )
    .await;
    caught_up(&route_cache, &routes, &["podinfo"]).await;

    let before = sim.stats();
    assert!(router.reconcile(&canary, &target).await.unwrap().is_empty());
    assert_eq!(
        router.get_routes(&canary).await.unwrap().expect("routes"),
        Routes::ALL_PRIMARY
    );
    let after = sim.stats();
    assert_eq!(
        after.total_requests - before.total_requests,
        0,
        "reads came from the caches: {after:?}"
    );

    // set_routes reads from the cache and writes once.
    let w = router
        .set_routes(&canary, Routes::canary(20, false))
        .await
        .unwrap();
    assert_eq!(
        names(&w),
        [(WriteAction::Updated, "HTTPRoute", "podinfo".into())]
    );
    assert_eq!(sim.stats().total_requests - after.total_requests, 1);
    caught_up(&route_cache, &routes, &["podinfo"]).await;
    assert_eq!(
        router.get_routes(&canary).await.unwrap().expect("routes"),
        Routes::canary(20, false)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn gatewayapi_v1beta1_writes_the_same_route_through_the_older_version() {
    let (sim, canary) = cluster("canary-gatewayapi-ab.yaml").await;
    let deployment: Deployment = fixture("deployment.yaml");
    let target = TargetWorkload::from_deployment(&deployment, &DEFAULT_SELECTOR_LABELS).unwrap();
    let router = router_for(Provider::GatewayApiV1beta1, sim.client()).unwrap();
    assert_eq!(router.provider(), Provider::GatewayApiV1beta1);
    assert_eq!(router.reconcile(&canary, &target).await.unwrap().len(), 4);
    let before = sim.stats();
    assert!(router.reconcile(&canary, &target).await.unwrap().is_empty());
    assert_eq!(writes(&sim.stats()) - writes(&before), 0);
    assert_eq!(
        before.count("create", "httproutes.gateway.networking.k8s.io"),
        1
    );

    // A/B: requests matching the header or cookie go to the canary.
    router
        .set_routes(&canary, Routes::canary(100, false))
        .await
        .unwrap();
    assert_eq!(
        router.get_routes(&canary).await.unwrap().expect("routes"),
        Routes::canary(100, false)
    );
    let stored = httproutes(&sim.client()).get("podinfo").await.unwrap();
    assert_eq!(stored.data["spec"]["rules"].as_array().unwrap().len(), 2);
    sim.shutdown().await;
}
