//! End to end on the nginx provider: the controller binary against `fledge sim`, whose traffic
//! goes through the user's Ingress and the canary Ingress fledge writes (the sim reads
//! ingress-nginx's canary annotations with its own code), and a real Prometheus scraping the
//! sim's ingress-nginx metrics. A healthy canary is promoted and a faulty one rolled back on
//! the builtin metrics; A/B testing sends only requests with the header (or cookie) to the
//! canary, counted through real requests; an existing canary Ingress is taken over and given
//! back by `revertOnDeletion`.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::prometheus::Prometheus;
use support::routed::{
    HEALTHY, held_ab, promotes_a_healthy_canary, reverted_on_deletion, rolls_back_a_faulty_canary,
    stalled_on_invalid_spec,
};
use support::{Cluster, IMG1, podinfo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(60);
const PROM_PLACEHOLDER: &str = "http://prometheus.monitoring:9090";
const SCENARIO: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
const INGRESS: &str = include_str!("../testdata/routers/ingress-podinfo.yaml");
const CANARY: &str = include_str!("../testdata/e2e/canary-nginx-analysis.yaml");
const CANARY_AB: &str = include_str!("../testdata/routers/canary-nginx-ab.yaml");
const WEIGHT: &str = "nginx.ingress.kubernetes.io/canary-weight";

/// `c` (either world, with traffic to test/podinfo) with a Prometheus scraping the sim, podinfo
/// at IMG1, the user's Ingress, the Canary (`manifest`) and a controller; returns once the
/// Canary is Initialized.
fn nginx_world(mut c: Cluster, manifest: &str) -> (Cluster, Prometheus) {
    let prom = Prometheus::scraping(&c.url);
    c.apply(&podinfo(NS, IMG1, 2));
    c.apply(INGRESS);
    c.apply(&manifest.replace(PROM_PLACEHOLDER, &prom.url));
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    (c, prom)
}

/// (primary, canary) weights the canary Ingress says.
fn ingress_weights(c: &Cluster) -> Option<(i64, i64)> {
    let ing = c.get("ingress", NS, "podinfo-canary")?;
    let canary: i64 = annotation(&ing, WEIGHT)?.parse().ok()?;
    Some((100 - canary, canary))
}

fn annotation(obj: &Value, key: &str) -> Option<String> {
    obj["metadata"]["annotations"][key]
        .as_str()
        .map(str::to_string)
}

#[test]
fn a_healthy_canary_is_promoted_through_the_canary_ingress() {
    for c in worlds(SCENARIO) {
        let manifest = CANARY.replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
        let (c, _prom) = nginx_world(c, &manifest);
        let ing = c.must_get("ingress", NS, "podinfo-canary");
        assert_eq!(
            annotation(&ing, "nginx.ingress.kubernetes.io/canary").as_deref(),
            Some("true")
        );
        assert_eq!(annotation(&ing, WEIGHT).as_deref(), Some("0"));
        assert_eq!(
            ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
            "podinfo-canary"
        );
        assert_eq!(ing["spec"]["ingressClassName"], "nginx");

        promotes_a_healthy_canary(&c, NS, ingress_weights, (60, 40));
        reverted_on_deletion(&c, NS, &[("ingress", "podinfo-canary")]);
        assert!(
            c.get("ingress", NS, "podinfo").is_some(),
            "the user's Ingress stays"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn a_faulty_canary_is_rolled_back_on_ingress_nginx_metrics() {
    for c in worlds(SCENARIO) {
        let (c, _prom) = nginx_world(c, CANARY);
        rolls_back_a_faulty_canary(&c, NS, ingress_weights);
    }
}

#[test]
fn ab_testing_sends_only_matching_requests_to_the_canary() {
    let manifest = held_ab(CANARY_AB);
    for c in worlds(SCENARIO) {
        let (c, _prom) = nginx_world(c, &manifest);
        c.set_image(NS, "podinfo", HEALTHY);
        c.wait_phase(NS, "podinfo", "WaitingPromotion", T);
        let ing = c.must_get("ingress", NS, "podinfo-canary");
        assert_eq!(
            annotation(&ing, "nginx.ingress.kubernetes.io/canary-by-header").as_deref(),
            Some("x-canary")
        );
        assert_eq!(c.canary_answers(NS, 200, &[("x-canary", "insider")]), 200);
        assert_eq!(
            c.canary_answers(NS, 200, &[("cookie", "canary=always")]),
            200
        );
        assert_eq!(c.canary_answers(NS, 200, &[]), 0);
        assert_eq!(c.canary_answers(NS, 200, &[("x-canary", "outsider")]), 0);
    }
}

#[test]
fn an_existing_canary_ingress_is_taken_over_and_given_back() {
    let mut c = Cluster::with(SCENARIO, None);
    c.apply(&podinfo(NS, IMG1, 2));
    c.apply(INGRESS);
    // Someone's own canary Ingress, already splitting 30%.
    c.apply(&format!(
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: podinfo-canary
  namespace: {NS}
  labels: {{team: web}}
  annotations:
    nginx.ingress.kubernetes.io/canary: "true"
    {WEIGHT}: "30"
spec:
  ingressClassName: nginx
  rules:
    - host: app.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {{name: podinfo-old, port: {{number: 9898}}}}
"#
    ));
    let canary = CANARY
        .replace(PROM_PLACEHOLDER, "http://127.0.0.1:9")
        .replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
    c.apply(&canary);
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    // Taken over: the primary gets everything from the first write.
    let ing = c.must_get("ingress", NS, "podinfo-canary");
    assert_eq!(annotation(&ing, WEIGHT).as_deref(), Some("0"));
    assert_eq!(ing["metadata"]["labels"]["team"], "web");
    assert_eq!(ing["metadata"]["labels"]["fledge.dev/canary"], "podinfo");
    assert!(ing["metadata"]["ownerReferences"].is_null(), "still theirs");

    c.kubectl(&["-n", NS, "delete", "canary", "podinfo", "--wait=false"]);
    c.wait_for("the canary Ingress given back", T, |c| {
        let ing = c.get("ingress", NS, "podinfo-canary")?;
        (annotation(&ing, WEIGHT).as_deref() == Some("30")
            && ing["metadata"]["labels"]["fledge.dev/canary"].is_null())
        .then_some(ing)
    });
    let ing = c.must_get("ingress", NS, "podinfo-canary");
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "podinfo-old"
    );
    c.wait_for("the Canary gone", T, |c| {
        c.get("canary", NS, "podinfo").is_none().then_some(())
    });
    assert_eq!(
        c.replicas(NS, "podinfo"),
        2,
        "the target's replicas are back"
    );
}

/// An Ingress with a rule to another Service would send that Service's traffic to the canary
/// too: the Canary is Stalled with an Event naming the rule, nothing is written, and once the
/// Ingress is fixed (nothing watches it: the controller looks again every interval) the Canary
/// goes ahead.
#[test]
fn an_ingress_routing_elsewhere_stalls_the_canary_until_it_is_fixed() {
    let mut c = Cluster::with(SCENARIO, None);
    c.apply(&podinfo(NS, IMG1, 2));
    let elsewhere = INGRESS.replace(
        "          - path: /\n",
        "          - path: /admin\n            pathType: Prefix\n            backend:\n              service:\n                name: admin\n                port:\n                  number: 80\n          - path: /\n",
    );
    assert_ne!(elsewhere, INGRESS);
    c.apply(&elsewhere);
    c.apply(&CANARY.replace(PROM_PLACEHOLDER, "http://127.0.0.1:9"));
    c.start_controller(&[]);
    stalled_on_invalid_spec(
        &c,
        NS,
        "Ingress test/podinfo: rules[0].http.paths[0] (host app.example.com, path /admin): points at Service admin, not podinfo",
    );
    assert!(
        c.get("ingress", NS, "podinfo-canary").is_none(),
        "nothing written"
    );

    c.apply(INGRESS);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    assert!(c.get("ingress", NS, "podinfo-canary").is_some());
}
