//! Table tests of the sim's own split computation per provider, and of how synthetic traffic
//! is counted (exact shares) from the routes and the scenario's image profiles.

use std::collections::BTreeMap;
use std::time::Duration;

use fledge_sim::scenario::{ImageRule, Scenario, ServiceLoad};
use fledge_sim::traffic::generator::{Generator, Served};
use fledge_sim::traffic::routing::{self, Via, World};
use serde_json::{Value, json};

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn service(name: &str, app: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "test"},
           "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}})
}

fn deployment(name: &str, image: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "test"},
           "spec": {"selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "app", "image": image}]}}}})
}

fn pod(deploy: &str, suffix: &str, image: &str, ready: bool) -> Value {
    let hash = "5d8f7c9b4";
    json!({"metadata": {"name": format!("{deploy}-{hash}-{suffix}"), "namespace": "test",
                        "labels": {"app": deploy, "pod-template-hash": hash},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                            "name": format!("{deploy}-{hash}"), "uid": "u", "controller": true}]},
           "spec": {"containers": [{"name": "app", "image": image}]},
           "status": {"phase": "Running",
                      "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
}

/// Flagger's objects for `podinfo` with the kubernetes provider: apex and primary select the
/// primary pods, `-canary` the canary pods.
fn base_world(canary_ready: bool) -> World {
    World {
        services: vec![
            typed(service("podinfo", "podinfo-primary")),
            typed(service("podinfo-primary", "podinfo-primary")),
            typed(service("podinfo-canary", "podinfo")),
        ],
        deployments: vec![
            typed(deployment("podinfo-primary", "podinfo:1")),
            typed(deployment("podinfo", "podinfo:2")),
        ],
        pods: vec![
            typed(pod("podinfo-primary", "aaaaa", "podinfo:1", true)),
            typed(pod("podinfo-primary", "bbbbb", "podinfo:1", true)),
            typed(pod("podinfo", "ccccc", "podinfo:2", canary_ready)),
        ],
        ..World::default()
    }
}

fn shares(world: &World) -> (Via, BTreeMap<String, f64>) {
    let r = routing::route(world, "test", "podinfo");
    let m = r
        .backends
        .iter()
        .map(|b| (b.service.clone(), (b.share * 1000.0).round() / 1000.0))
        .collect();
    (r.via, m)
}

fn split(p: f64, c: f64) -> BTreeMap<String, f64> {
    [
        ("podinfo-primary".to_string(), p),
        ("podinfo-canary".to_string(), c),
    ]
    .into()
}

fn ingress(name: &str, backend: &str, annotations: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": "test", "annotations": annotations},
           "spec": {"rules": [{"host": "app.example.com", "http": {"paths": [
               {"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}]}})
}

/// (case, how it changes the base world, expected decider, expected shares per backend)
type Case = (
    &'static str,
    Box<dyn Fn(&mut World)>,
    Via,
    BTreeMap<String, f64>,
);

#[test]
fn each_provider_splits_by_its_own_weights() {
    let header_match = json!([{"headers": {"x-canary": {"exact": "insider"}}}]);
    let cases: Vec<Case> = vec![
        (
            "plain Service: the apex selector decides",
            Box::new(|_| {}),
            Via::Service,
            [("podinfo".to_string(), 1.0)].into(),
        ),
        (
            "NGINX canary Ingress at 20%",
            Box::new(|w| {
                w.ingresses = vec![
                    typed(ingress("podinfo", "podinfo", json!({}))),
                    typed(ingress(
                        "podinfo-canary",
                        "podinfo-canary",
                        json!({"nginx.ingress.kubernetes.io/canary": "true",
                               "nginx.ingress.kubernetes.io/canary-weight": "20"}),
                    )),
                ]
            }),
            Via::Ingress {
                name: "podinfo".into(),
                host: "app.example.com".into(),
                path: "/".into(),
            },
            [
                ("podinfo".to_string(), 0.8),
                ("podinfo-canary".to_string(), 0.2),
            ]
            .into(),
        ),
        (
            "NGINX canary Ingress with a weight total of 1000",
            Box::new(|w| {
                w.ingresses = vec![
                    typed(ingress("podinfo", "podinfo", json!({}))),
                    typed(ingress(
                        "podinfo-canary",
                        "podinfo-canary",
                        json!({"nginx.ingress.kubernetes.io/canary": "true",
                               "nginx.ingress.kubernetes.io/canary-weight": "50",
                               "nginx.ingress.kubernetes.io/canary-weight-total": "1000"}),
                    )),
                ]
            }),
            Via::Ingress {
                name: "podinfo".into(),
                host: "app.example.com".into(),
                path: "/".into(),
            },
            [
                ("podinfo".to_string(), 0.95),
                ("podinfo-canary".to_string(), 0.05),
            ]
            .into(),
        ),
        (
            "HTTPRoute: header rule skipped, default rule weights",
            Box::new(move |w| {
                w.http_routes = vec![json!({
                    "metadata": {"name": "podinfo", "namespace": "test"},
                    "spec": {"rules": [
                        {"matches": [{"headers": [{"name": "x-canary", "value": "insider"}]}],
                         "backendRefs": [{"name": "podinfo-canary", "port": 80}]},
                        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                         "backendRefs": [{"name": "podinfo-primary", "port": 80, "weight": 80},
                                         {"name": "podinfo-canary", "port": 80, "weight": 20}]}]}})]
            }),
            Via::HttpRoute("podinfo".into()),
            split(0.8, 0.2),
        ),
        (
            "HTTPRoute attached to the Service (GAMMA), default weight 1",
            Box::new(|w| {
                w.http_routes = vec![json!({
                    "metadata": {"name": "mesh-route", "namespace": "test"},
                    "spec": {"parentRefs": [{"kind": "Service", "name": "podinfo"}],
                             "rules": [{"backendRefs": [{"name": "podinfo-primary", "port": 80},
                                                        {"name": "podinfo-canary", "port": 80}]}]}})]
            }),
            Via::HttpRoute("mesh-route".into()),
            split(0.5, 0.5),
        ),
        (
            "Istio VirtualService: A/B route skipped, weights of the default route",
            Box::new(move |w| {
                w.virtual_services = vec![json!({
                    "metadata": {"name": "podinfo", "namespace": "test"},
                    "spec": {"hosts": ["podinfo", "app.example.com"], "http": [
                        {"match": header_match, "route": [{"destination": {"host": "podinfo-canary"}}]},
                        {"route": [
                            {"destination": {"host": "podinfo-primary", "port": {"number": 80}}, "weight": 60},
                            {"destination": {"host": "podinfo-canary.test.svc.cluster.local"}, "weight": 40}]}]}})]
            }),
            Via::VirtualService("podinfo".into()),
            split(0.6, 0.4),
        ),
        (
            "SMI TrafficSplit v1alpha2 integer weights",
            Box::new(|w| {
                w.traffic_splits = vec![json!({
                    "metadata": {"name": "podinfo", "namespace": "test"},
                    "spec": {"service": "podinfo", "backends": [
                        {"service": "podinfo-primary", "weight": 90},
                        {"service": "podinfo-canary", "weight": 10}]}})]
            }),
            Via::TrafficSplit("podinfo".into()),
            split(0.9, 0.1),
        ),
        (
            "SMI TrafficSplit v1alpha1 quantity weights",
            Box::new(|w| {
                w.traffic_splits = vec![json!({
                    "metadata": {"name": "podinfo", "namespace": "test"},
                    "spec": {"service": "podinfo.test.svc.cluster.local", "backends": [
                        {"service": "podinfo-primary", "weight": "700m"},
                        {"service": "podinfo-canary", "weight": "300m"}]}})]
            }),
            Via::TrafficSplit("podinfo".into()),
            split(0.7, 0.3),
        ),
        (
            "TrafficSplit wins over a VirtualService for the same Service",
            Box::new(|w| {
                w.traffic_splits = vec![json!({
                    "metadata": {"name": "podinfo", "namespace": "test"},
                    "spec": {"service": "podinfo", "backends": [
                        {"service": "podinfo-primary", "weight": 100},
                        {"service": "podinfo-canary", "weight": 0}]}})];
                w.virtual_services = vec![json!({
                    "metadata": {"name": "podinfo", "namespace": "test"},
                    "spec": {"hosts": ["podinfo"], "http": [{"route": [
                        {"destination": {"host": "podinfo-canary"}, "weight": 100}]}]}})];
            }),
            Via::TrafficSplit("podinfo".into()),
            split(1.0, 0.0),
        ),
        (
            "objects in another namespace are ignored",
            Box::new(|w| {
                w.traffic_splits = vec![json!({
                    "metadata": {"name": "podinfo", "namespace": "other"},
                    "spec": {"service": "podinfo", "backends": [
                        {"service": "podinfo-canary", "weight": 100}]}})];
            }),
            Via::Service,
            [("podinfo".to_string(), 1.0)].into(),
        ),
    ];
    for (name, setup, via, want) in cases {
        let mut w = base_world(true);
        setup(&mut w);
        let (got_via, got) = shares(&w);
        assert_eq!(got_via, via, "{name}");
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn mirrors_are_reported_with_their_percentage() {
    let mut w = base_world(true);
    w.virtual_services = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"hosts": ["podinfo"], "http": [{
            "route": [{"destination": {"host": "podinfo-primary"}, "weight": 100},
                      {"destination": {"host": "podinfo-canary"}, "weight": 0}],
            "mirror": {"host": "podinfo-canary"}, "mirrorPercentage": {"value": 50.0}}]}})];
    let m = routing::route(&w, "test", "podinfo").mirror.unwrap();
    assert_eq!((m.service.as_str(), m.share), ("podinfo-canary", 0.5));

    w.virtual_services.clear();
    w.http_routes = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"rules": [{"backendRefs": [{"name": "podinfo-primary", "port": 80}],
            "filters": [{"type": "RequestMirror",
                         "requestMirror": {"backendRef": {"name": "podinfo-canary", "port": 80}}}]}]}})];
    let m = routing::route(&w, "test", "podinfo").mirror.unwrap();
    assert_eq!((m.service.as_str(), m.share), ("podinfo-canary", 1.0));
}

#[test]
fn endpoints_are_the_ready_pods_the_selector_picks() {
    let w = base_world(false);
    let primary = routing::endpoints(&w, "test", "podinfo-primary");
    assert_eq!(primary.deployment.as_deref(), Some("podinfo-primary"));
    let names: Vec<_> = primary.ready.iter().map(|e| e.pod.as_str()).collect();
    assert_eq!(
        names,
        [
            "podinfo-primary-5d8f7c9b4-aaaaa",
            "podinfo-primary-5d8f7c9b4-bbbbb"
        ]
    );
    assert_eq!(
        primary.ready[0].deployment.as_deref(),
        Some("podinfo-primary")
    );
    assert_eq!(primary.ready[0].image, "podinfo:1");
    let canary = routing::endpoints(&w, "test", "podinfo-canary");
    assert!(canary.ready.is_empty());
    assert_eq!(canary.deployment.as_deref(), Some("podinfo"));
    assert_eq!(
        routing::endpoints(&w, "test", "missing"),
        Default::default()
    );
}

fn scenario_70_percent_canary() -> Scenario {
    let mut canary = ImageRule::new("podinfo:2").unwrap();
    canary.success_rate = 0.7;
    Scenario {
        images: vec![canary],
        services: vec![ServiceLoad {
            name: "podinfo".into(),
            namespace: "test".into(),
            rps: 50.0,
        }],
        ..Scenario::default()
    }
}

/// Runs `seconds` of 100ms ticks and counts (deployment, code) pairs.
fn run_ticks(w: &World, s: &Scenario, seconds: u32) -> BTreeMap<(String, u16), u64> {
    let mut g = Generator::new(1);
    let mut counts = BTreeMap::new();
    for _ in 0..seconds * 10 {
        g.tick(w, s, Duration::from_millis(100), &mut |r: &Served| {
            *counts
                .entry((r.deployment.clone().unwrap_or_default(), r.code))
                .or_insert(0) += 1;
        });
    }
    counts
}

#[test]
fn synthetic_traffic_is_counted_in_exact_shares() {
    let mut w = base_world(true);
    w.ingresses = vec![
        typed(ingress("podinfo", "podinfo", json!({}))),
        typed(ingress(
            "podinfo-canary",
            "podinfo-canary",
            json!({"nginx.ingress.kubernetes.io/canary": "true",
                   "nginx.ingress.kubernetes.io/canary-weight": "20"}),
        )),
    ];
    let counts = run_ticks(&w, &scenario_70_percent_canary(), 10);
    let want: BTreeMap<(String, u16), u64> = [
        (("podinfo-primary".to_string(), 200), 400),
        (("podinfo".to_string(), 200), 70),
        (("podinfo".to_string(), 500), 30),
    ]
    .into();
    assert_eq!(counts, want);
}

#[test]
fn a_backend_without_ready_pods_answers_503() {
    let mut w = base_world(false);
    w.traffic_splits = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"service": "podinfo", "backends": [
            {"service": "podinfo-primary", "weight": 50},
            {"service": "podinfo-canary", "weight": 50}]}})];
    let counts = run_ticks(&w, &scenario_70_percent_canary(), 2);
    let want: BTreeMap<(String, u16), u64> = [
        (("podinfo-primary".to_string(), 200), 50),
        (("podinfo".to_string(), 503), 50),
    ]
    .into();
    assert_eq!(counts, want);
}

#[test]
fn proxied_requests_follow_the_weights() {
    let mut w = base_world(true);
    w.http_routes = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"rules": [{"backendRefs": [
            {"name": "podinfo-primary", "port": 80, "weight": 0},
            {"name": "podinfo-canary", "port": 80, "weight": 100}]}]}})];
    let s = scenario_70_percent_canary();
    let mut g = Generator::new(7);
    let mut ok = 0;
    for _ in 0..1000 {
        let (served, mirror) = g.serve_one(&w, &s, "test", "podinfo", &Default::default());
        assert!(mirror.is_none());
        assert_eq!(served.backend, "podinfo-canary");
        assert_eq!(served.pod.as_deref(), Some("podinfo-5d8f7c9b4-ccccc"));
        if served.code == 200 {
            ok += 1;
        } else {
            assert_eq!(served.code, 500);
        }
    }
    // 70% success, drawn: 1000 draws stay well within 640..760.
    assert!((640..=760).contains(&ok), "{ok}");
}

#[test]
fn the_scenarios_in_testdata_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sim");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("scenario")
            && name.ends_with(".yaml")
            && !name.ends_with("-objects.yaml")
        {
            Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert!(seen >= 2, "no scenarios found in {}", dir.display());
}

#[test]
fn latencies_follow_the_configured_percentiles() {
    use fledge_sim::scenario::Latency;
    let cases = [(20, 80), (5, 5), (100, 1000)];
    for (p50, p99) in cases {
        let l = Latency {
            p50: Duration::from_millis(p50),
            p99: Duration::from_millis(p99),
        };
        let mut g = Generator::new(3);
        let mut ms: Vec<f64> = (0..20_000)
            .map(|_| g.latency(l).as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let (median, q99) = (ms[10_000], ms[19_800]);
        let near = |got: f64, want: u64| (got - want as f64).abs() <= want as f64 * 0.1;
        assert!(near(median, p50), "p50 {p50}ms: got {median:.1}");
        assert!(near(q99, p99), "p99 {p99}ms: got {q99:.1}");
    }
}

#[test]
fn no_synthetic_load_reaches_a_service_that_does_not_exist() {
    let mut w = base_world(true);
    w.services
        .retain(|s| s.metadata.name.as_deref() != Some("podinfo"));
    assert!(run_ticks(&w, &scenario_70_percent_canary(), 2).is_empty());
}

/// ingress-nginx's canary rules for one real request, in its precedence: header (a value, a
/// whole-value pattern, or always/never), then cookie (always/never), then the weight.
#[test]
fn nginx_canary_rules_route_each_request_by_its_headers() {
    let with = |annotations: Value| {
        let mut w = base_world(true);
        let mut all = json!({"nginx.ingress.kubernetes.io/canary": "true",
                             "nginx.ingress.kubernetes.io/canary-weight": "0"});
        for (k, v) in annotations.as_object().unwrap() {
            all[k] = v.clone();
        }
        w.ingresses = vec![
            typed(ingress("podinfo", "podinfo", json!({}))),
            typed(ingress("podinfo-canary", "podinfo-canary", all)),
        ];
        w
    };
    let canary_share = |w: &World, headers: &[(&str, &str)]| {
        let request = routing::Request {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        routing::route_request(w, "test", "podinfo", &request)
            .backends
            .iter()
            .find(|b| b.canary)
            .map(|b| b.share)
            .unwrap_or(0.0)
    };
    let by_value = with(
        json!({"nginx.ingress.kubernetes.io/canary-by-header": "x-canary",
                               "nginx.ingress.kubernetes.io/canary-by-header-value": "insider"}),
    );
    assert_eq!(canary_share(&by_value, &[("x-canary", "insider")]), 1.0);
    assert_eq!(canary_share(&by_value, &[("x-canary", "outsider")]), 0.0);
    assert_eq!(canary_share(&by_value, &[]), 0.0);

    let by_pattern = with(
        json!({"nginx.ingress.kubernetes.io/canary-by-header": "user-agent",
                                 "nginx.ingress.kubernetes.io/canary-by-header-pattern": ".*Firefox"}),
    );
    assert_eq!(
        canary_share(&by_pattern, &[("user-agent", "Mozilla Firefox")]),
        1.0
    );
    assert_eq!(
        canary_share(&by_pattern, &[("user-agent", "Firefox/1 Chrome")]),
        0.0,
        "the pattern must match the whole value"
    );

    let always = with(
        json!({"nginx.ingress.kubernetes.io/canary-by-header": "x-canary",
                             "nginx.ingress.kubernetes.io/canary-weight": "100"}),
    );
    assert_eq!(canary_share(&always, &[("x-canary", "never")]), 0.0);
    assert_eq!(
        canary_share(&always, &[("x-canary", "maybe")]),
        1.0,
        "falls to the weight"
    );

    let cookie = with(json!({"nginx.ingress.kubernetes.io/canary-by-cookie": "canary"}));
    assert_eq!(
        canary_share(&cookie, &[("cookie", "a=1; canary=always")]),
        1.0
    );
    assert_eq!(canary_share(&cookie, &[("cookie", "canary=yes")]), 0.0);
    assert_eq!(
        routing::route(&cookie, "test", "podinfo").backends[1].share,
        0.0,
        "synthetic traffic carries no headers"
    );
}

/// A real request takes the first VirtualService route it satisfies: headers (exact, prefix,
/// whole-value regex, present), withoutHeaders, and a root-path uri.
#[test]
fn virtual_service_routes_each_request_by_its_matches() {
    let mut w = base_world(true);
    let weighted = |p: i32, c: i32| {
        json!([
            {"destination": {"host": "podinfo-primary"}, "weight": p},
            {"destination": {"host": "podinfo-canary"}, "weight": c},
        ])
    };
    w.virtual_services = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"hosts": ["podinfo"], "http": [
            {"match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"user-agent": {"regex": ".*Firefox"}},
                 "withoutHeaders": {"x-opt-out": {}}},
                {"headers": {"x-team": {"prefix": "qa-"}}, "uri": {"prefix": "/api"}},
            ], "route": weighted(0, 100)},
            {"match": [{"uri": {"prefix": "/"}}], "route": weighted(100, 0)},
        ]},
    })];
    let canary_share = |headers: &[(&str, &str)]| {
        let request = routing::Request {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        routing::route_request(&w, "test", "podinfo", &request)
            .backends
            .iter()
            .find(|b| b.service == "podinfo-canary")
            .map(|b| b.share)
            .unwrap_or(0.0)
    };
    assert_eq!(canary_share(&[("x-canary", "insider")]), 1.0);
    assert_eq!(
        canary_share(&[("x-canary", "insiders")]),
        0.0,
        "exact is whole"
    );
    assert_eq!(canary_share(&[("user-agent", "Mozilla Firefox")]), 1.0);
    assert_eq!(
        canary_share(&[("user-agent", "Mozilla Firefox"), ("x-opt-out", "1")]),
        0.0,
        "withoutHeaders"
    );
    assert_eq!(
        canary_share(&[("x-team", "qa-1")]),
        0.0,
        "a request for / doesn't satisfy a /api uri"
    );
    assert_eq!(canary_share(&[]), 0.0, "no headers: the default route");
}

/// Contour: the HTTPProxy named after the Service; of the routes a request satisfies, the one
/// with the most header conditions, split by its services' weights.
#[test]
fn http_proxy_routes_each_request_by_its_most_specific_route() {
    let mut w = base_world(true);
    let weighted = |p: i32, c: i32| {
        json!([
            {"name": "podinfo-primary", "port": 80, "weight": p},
            {"name": "podinfo-canary", "port": 80, "weight": c},
        ])
    };
    w.http_proxies = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"routes": [
            {"conditions": [{"prefix": "/"}], "services": weighted(70, 30)},
            {"conditions": [{"prefix": "/"}, {"header": {"name": "x-canary", "exact": "insider"}}],
             "services": weighted(0, 100)},
            {"conditions": [{"prefix": "/"}, {"header": {"name": "user-agent", "regex": ".*Firefox"}}],
             "services": weighted(0, 100)},
        ]},
    })];
    let share = |headers: &[(&str, &str)]| {
        let request = routing::Request {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let route = routing::route_request(&w, "test", "podinfo", &request);
        assert_eq!(route.via, Via::HttpProxy("podinfo".into()));
        route
            .backends
            .iter()
            .find(|b| b.service == "podinfo-canary")
            .map(|b| b.share)
            .unwrap_or(0.0)
    };
    assert_eq!(share(&[]), 0.3, "the weighted default");
    assert_eq!(share(&[("x-canary", "insider")]), 1.0);
    assert_eq!(share(&[("x-canary", "no")]), 0.3);
    assert_eq!(share(&[("user-agent", "Mozilla Firefox")]), 1.0);
    assert_eq!(
        share(&[("user-agent", "Firefox Chrome")]),
        0.3,
        "a whole-value regex"
    );
}

fn request(headers: &[(&str, &str)]) -> routing::Request {
    routing::Request {
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Traefik: the TraefikService named after the Service, weighted round robin over its
/// Kubernetes Services with Traefik's default weight of 1; a nested TraefikService isn't one.
#[test]
fn traefik_service_splits_by_weight_with_traefiks_default() {
    let mut w = base_world(true);
    let with = |services: Value| {
        json!({"metadata": {"name": "podinfo", "namespace": "test"},
               "spec": {"weighted": {"services": services}}})
    };
    w.traefik_services = vec![with(json!([
        {"name": "podinfo-primary", "port": 80, "weight": 90},
        {"name": "podinfo-canary", "port": 80, "weight": 10},
    ]))];
    let (via, m) = shares(&w);
    assert_eq!(via, Via::TraefikService("podinfo".into()));
    assert_eq!(m["podinfo-primary"], 0.9);
    assert_eq!(m["podinfo-canary"], 0.1);
    let r = routing::route(&w, "test", "podinfo");
    assert_eq!(r.backends[1].port, "80");

    w.traefik_services = vec![with(json!([
        {"name": "podinfo-primary", "port": 80},
        {"name": "podinfo-canary", "port": 80, "weight": 3},
    ]))];
    assert_eq!(shares(&w).1["podinfo-canary"], 0.75, "no weight is 1");

    w.traefik_services = vec![with(json!([
        {"name": "podinfo-primary", "port": 80, "weight": 1},
        {"name": "podinfo-canary", "kind": "TraefikService", "weight": 1},
    ]))];
    let (_, m) = shares(&w);
    assert_eq!(
        m.get("podinfo-canary"),
        None,
        "a nested TraefikService isn't followed"
    );
    assert_eq!(m["podinfo-primary"], 1.0);
}

/// Gateway API: of the rule matches a request satisfies, the one ranked first (more header
/// matches beats fewer; an exact path beats a prefix); headers Exact or RegularExpression.
#[test]
fn http_route_ranks_the_matches_a_request_satisfies() {
    let mut w = base_world(true);
    let backends = |p: i32, c: i32| {
        json!([
            {"name": "podinfo-primary", "port": 80, "weight": p},
            {"name": "podinfo-canary", "port": 80, "weight": c},
        ])
    };
    w.http_routes = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": backends(100, 0)},
            {"matches": [
                {"path": {"type": "PathPrefix", "value": "/"},
                 "headers": [{"type": "Exact", "name": "X-Canary", "value": "insider"}]},
                {"path": {"type": "PathPrefix", "value": "/"},
                 "headers": [{"type": "RegularExpression", "name": "user-agent", "value": ".*Firefox.*"}]},
             ], "backendRefs": backends(0, 100)},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/api"},
                          "headers": [{"name": "x-canary", "value": "api"}]}],
             "backendRefs": backends(50, 50)},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/"},
                          "queryParams": [{"name": "canary", "value": "1"}]}],
             "backendRefs": backends(0, 100)},
        ]},
    })];
    let canary_share = |w: &World, headers: &[(&str, &str)]| {
        let route = routing::route_request(w, "test", "podinfo", &request(headers));
        assert_eq!(route.via, Via::HttpRoute("podinfo".into()));
        route
            .backends
            .iter()
            .find(|b| b.service == "podinfo-canary")
            .map(|b| b.share)
            .unwrap_or(0.0)
    };
    assert_eq!(canary_share(&w, &[]), 0.0, "no headers: the path-only rule");
    assert_eq!(
        canary_share(&w, &[("x-canary", "insider")]),
        1.0,
        "header names are case-insensitive"
    );
    assert_eq!(
        canary_share(&w, &[("x-canary", "insiders")]),
        0.0,
        "Exact is whole"
    );
    assert_eq!(
        canary_share(&w, &[("user-agent", "Mozilla Firefox 1")]),
        1.0
    );
    assert_eq!(
        canary_share(&w, &[("x-canary", "api")]),
        0.0,
        "GET / doesn't satisfy /api"
    );

    // An exact path outranks a prefix with a header.
    w.http_routes[0]["spec"]["rules"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"matches": [{"path": {"type": "Exact", "value": "/"}}],
                     "backendRefs": backends(20, 80)}),
        );
    assert_eq!(canary_share(&w, &[("x-canary", "insider")]), 0.8);
}

/// The response headers a route adds reach the backend that answers: Gateway API
/// `ResponseHeaderModifier` on the rule and on a backendRef, Istio `headers.response` on the
/// route and on a destination.
#[test]
fn routes_add_their_response_headers_per_backend() {
    let mut w = base_world(true);
    let modifier = |name: &str, value: &str| {
        json!([{"type": "ResponseHeaderModifier",
                "responseHeaderModifier": {"add": [{"name": name, "value": value}]}}])
    };
    w.http_routes = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"rules": [{
            "filters": modifier("x-rule", "1"),
            "backendRefs": [
                {"name": "podinfo-primary", "port": 80, "weight": 90},
                {"name": "podinfo-canary", "port": 80, "weight": 10,
                 "filters": modifier("Set-Cookie", "flagger-cookie=rev1; Max-Age=3600")},
            ]}]},
    })];
    let r = routing::route(&w, "test", "podinfo");
    let headers = |i: usize| r.backends[i].response_headers.clone();
    assert_eq!(headers(0), vec![("x-rule".to_string(), "1".to_string())]);
    assert_eq!(
        headers(1),
        vec![
            ("x-rule".to_string(), "1".to_string()),
            (
                "Set-Cookie".to_string(),
                "flagger-cookie=rev1; Max-Age=3600".to_string()
            ),
        ]
    );

    let mut w = base_world(true);
    w.virtual_services = vec![json!({
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"hosts": ["podinfo"], "http": [{
            "headers": {"response": {"set": {"x-route": "a"}}},
            "route": [
                {"destination": {"host": "podinfo-primary"}, "weight": 90},
                {"destination": {"host": "podinfo-canary"}, "weight": 10,
                 "headers": {"response": {"add": {"Set-Cookie": "c=rev1; Max-Age=60"}}}},
            ]}]},
    })];
    let r = routing::route(&w, "test", "podinfo");
    assert_eq!(
        r.backends[0].response_headers,
        vec![("x-route".into(), "a".into())]
    );
    assert_eq!(
        r.backends[1].response_headers,
        vec![
            ("x-route".to_string(), "a".to_string()),
            ("Set-Cookie".to_string(), "c=rev1; Max-Age=60".to_string()),
        ]
    );
}
