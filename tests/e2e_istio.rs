//! End to end on the istio provider: the controller binary against `fledge sim`, which routes
//! its traffic (and real requests, by their headers) through the VirtualService with its own
//! code and exports the sidecars' metrics, and a real Prometheus. A healthy canary is promoted
//! and a faulty one rolled back on the builtin Istio metrics; A/B testing sends only matching
//! requests to the canary; an existing VirtualService is taken over and given back.

mod support;

use std::time::Duration;

use support::prometheus::Prometheus;
use support::routed::{
    HEALTHY, held_ab, promotes_a_healthy_canary, reverted_on_deletion, rolls_back_a_faulty_canary,
};
use support::{Cluster, IMG1, podinfo, repo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(60);
const PROM_PLACEHOLDER: &str = "http://prometheus.monitoring:9090";
const SCENARIO: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
const CANARY: &str = include_str!("../testdata/e2e/canary-istio-analysis.yaml");
const CANARY_AB: &str = include_str!("../testdata/routers/canary-istio-ab.yaml");

fn istio_cluster() -> Cluster {
    istio_in(Cluster::with(SCENARIO, None))
}

/// `c` with Istio's CRDs and podinfo at IMG1.
fn istio_in(c: Cluster) -> Cluster {
    for crd in ["istio-virtualservices.yaml", "istio-destinationrules.yaml"] {
        c.apply_file(&repo().join("testdata/crds").join(crd));
    }
    c.apply(&podinfo(NS, IMG1, 2));
    c
}

/// `c` with Istio's CRDs, podinfo, a Prometheus scraping the sim, the Canary and a controller;
/// returns once the Canary is Initialized.
fn istio_world(c: Cluster, manifest: &str) -> (Cluster, Prometheus) {
    let mut c = istio_in(c);
    let prom = Prometheus::scraping(&c.url);
    c.apply(&manifest.replace(PROM_PLACEHOLDER, &prom.url));
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    (c, prom)
}

/// (primary, canary) weights of the VirtualService's first weighted route.
fn vs_weights(c: &Cluster) -> Option<(i64, i64)> {
    let vs = c.get("virtualservice", NS, "podinfo")?;
    let route = &vs["spec"]["http"][0]["route"];
    let weight = |host: &str| {
        route
            .as_array()?
            .iter()
            .find(|d| d["destination"]["host"] == host)?["weight"]
            .as_i64()
    };
    Some((weight("podinfo-primary")?, weight("podinfo-canary")?))
}

#[test]
fn a_healthy_canary_is_promoted_through_the_virtual_service() {
    for c in worlds(SCENARIO) {
        let manifest = CANARY.replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
        let (c, _prom) = istio_world(c, &manifest);
        assert_eq!(vs_weights(&c), Some((100, 0)));
        let vs = c.must_get("virtualservice", NS, "podinfo");
        // Written as v1beta1; kubectl reads the CRD's preferred version.
        assert!(
            vs["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("networking.istio.io/")),
            "{vs}"
        );
        assert_eq!(vs["spec"]["gateways"], serde_json::json!(["mesh"]));
        assert_eq!(vs["spec"]["http"][0]["timeout"], "30s");
        let dr = c.must_get("destinationrule", NS, "podinfo-canary");
        assert_eq!(dr["spec"]["host"], "podinfo-canary");

        promotes_a_healthy_canary(&c, NS, vs_weights, (60, 40));

        // A traffic policy set later is written into both DestinationRules.
        c.kubectl(&[
            "-n",
            NS,
            "patch",
            "canary",
            "podinfo",
            "--type=merge",
            "-p",
            r#"{"spec":{"service":{"trafficPolicy":{"tls":{"mode":"DISABLE"}}}}}"#,
        ]);
        for dr in ["podinfo-primary", "podinfo-canary"] {
            c.wait_for(&format!("DestinationRule {dr} with the policy"), T, |c| {
                let dr = c.get("destinationrule", NS, dr)?;
                (dr["spec"]["trafficPolicy"]["tls"]["mode"] == "DISABLE").then_some(())
            });
        }
        reverted_on_deletion(
            &c,
            NS,
            &[
                ("virtualservice", "podinfo"),
                ("destinationrule", "podinfo-primary"),
                ("destinationrule", "podinfo-canary"),
            ],
        );
        c.assert_no_refusals();
    }
}

#[test]
fn a_faulty_canary_is_rolled_back_on_istio_metrics() {
    for c in worlds(SCENARIO) {
        let (c, _prom) = istio_world(c, CANARY);
        rolls_back_a_faulty_canary(&c, NS, vs_weights);
    }
}

#[test]
fn ab_testing_sends_only_matching_requests_to_the_canary() {
    let manifest = held_ab(CANARY_AB);
    for c in worlds(SCENARIO) {
        let (c, _prom) = istio_world(c, &manifest);
        c.set_image(NS, "podinfo", HEALTHY);
        c.wait_phase(NS, "podinfo", "WaitingPromotion", T);
        assert_eq!(c.canary_answers(NS, 200, &[("x-canary", "insider")]), 200);
        assert_eq!(
            c.canary_answers(NS, 200, &[("user-agent", "Mozilla Firefox")]),
            200
        );
        assert_eq!(c.canary_answers(NS, 200, &[]), 0);
        assert_eq!(c.canary_answers(NS, 200, &[("x-canary", "outsider")]), 0);
    }
}

#[test]
fn an_existing_virtual_service_is_taken_over_and_given_back() {
    let mut c = istio_cluster();
    // Someone's own VirtualService for the apex, straight to the target's pods.
    c.apply(&format!(
        r#"apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: podinfo
  namespace: {NS}
  labels: {{team: web}}
spec:
  hosts: [podinfo]
  http:
    - route:
        - destination: {{host: podinfo}}
"#
    ));
    let canary = CANARY
        .replace(PROM_PLACEHOLDER, "http://127.0.0.1:9")
        .replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
    c.apply(&canary);
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    let vs = c.must_get("virtualservice", NS, "podinfo");
    assert_eq!(
        vs_weights(&c),
        Some((100, 0)),
        "the primary gets everything"
    );
    assert_eq!(vs["metadata"]["labels"]["team"], "web");
    assert!(vs["metadata"]["ownerReferences"].is_null(), "still theirs");

    c.kubectl(&["-n", NS, "delete", "canary", "podinfo", "--wait=false"]);
    let back = c.wait_for("the VirtualService given back", T, |c| {
        let vs = c.get("virtualservice", NS, "podinfo")?;
        vs["metadata"]["labels"]["fledge.dev/canary"]
            .is_null()
            .then_some(vs)
    });
    assert_eq!(
        back["spec"]["http"][0]["route"][0]["destination"]["host"],
        "podinfo"
    );
    c.wait_for("the DestinationRules deleted", T, |c| {
        c.get("destinationrule", NS, "podinfo-canary")
            .is_none()
            .then_some(())
    });
}
