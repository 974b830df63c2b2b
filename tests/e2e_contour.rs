//! End to end on the contour provider: the controller binary against `fledge sim`, which
//! routes its traffic (and real requests, by their headers) through the HTTPProxy with its own
//! reading of Contour's rules and exports Envoy's upstream stats, and a real Prometheus. A
//! healthy canary is promoted and a faulty one rolled back on the builtin Contour metrics; A/B
//! testing sends only matching requests to the canary; `revertOnDeletion` removes the
//! HTTPProxy.

mod support;

use std::time::Duration;

use support::prometheus::Prometheus;
use support::routed::{
    HEALTHY, held_ab, promotes_a_healthy_canary, reverted_on_deletion, rolls_back_a_faulty_canary,
    stalled_on_invalid_spec,
};
use support::{Cluster, IMG1, podinfo, repo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(60);
const PROM_PLACEHOLDER: &str = "http://prometheus.monitoring:9090";
const SCENARIO: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
const CANARY: &str = include_str!("../testdata/e2e/canary-contour-analysis.yaml");
const CANARY_AB: &str = include_str!("../testdata/routers/canary-contour-ab.yaml");

fn contour_world(manifest: &str, controller_args: &[&str]) -> (Cluster, Prometheus) {
    contour_in(Cluster::with(SCENARIO, None), manifest, controller_args)
}

/// `c` (either world) with Contour's CRD, podinfo, a Prometheus scraping the sim, the Canary
/// and a controller (`controller_args`); returns once the Canary is Initialized.
fn contour_in(mut c: Cluster, manifest: &str, controller_args: &[&str]) -> (Cluster, Prometheus) {
    let prom = Prometheus::scraping(&c.url);
    c.apply_file(&repo().join("testdata/crds/contour-httpproxies.yaml"));
    c.apply(&podinfo(NS, IMG1, 2));
    c.apply(&manifest.replace(PROM_PLACEHOLDER, &prom.url));
    c.start_controller(controller_args);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    (c, prom)
}

/// (primary, canary) weights of the HTTPProxy's first route.
fn proxy_weights(c: &Cluster) -> Option<(i64, i64)> {
    let proxy = c.get("httpproxy", NS, "podinfo")?;
    let services = proxy["spec"]["routes"][0]["services"].as_array()?.clone();
    let weight = |name: &str| services.iter().find(|s| s["name"] == name)?["weight"].as_i64();
    Some((weight("podinfo-primary")?, weight("podinfo-canary")?))
}

#[test]
fn a_healthy_canary_is_promoted_through_the_http_proxy() {
    let manifest = CANARY.replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
    for c in worlds(SCENARIO) {
        let (c, _prom) = contour_in(c, &manifest, &["--ingress-class", "contour-internal"]);
        assert_eq!(proxy_weights(&c), Some((100, 0)));
        let proxy = c.must_get("httpproxy", NS, "podinfo");
        assert_eq!(proxy["spec"]["ingressClassName"], "contour-internal");
        assert_eq!(
            proxy["spec"]["routes"][0]["timeoutPolicy"]["response"],
            "30s"
        );

        promotes_a_healthy_canary(&c, NS, proxy_weights, (60, 40));

        reverted_on_deletion(&c, NS, &[("httpproxy", "podinfo")]);
        c.assert_no_refusals();
    }
}

#[test]
fn a_faulty_canary_is_rolled_back_on_envoy_metrics() {
    let (c, _prom) = contour_world(CANARY, &[]);
    rolls_back_a_faulty_canary(&c, NS, proxy_weights);
}

#[test]
fn ab_testing_sends_only_matching_requests_to_the_canary() {
    let manifest = held_ab(CANARY_AB);
    let (c, _prom) = contour_world(&manifest, &[]);
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

/// What the router can't express stalls the Canary like any invalid spec: the Stalled
/// condition and a Warning Event name the field, and nothing is written.
#[test]
fn a_spec_contour_cannot_express_is_stalled_naming_the_field() {
    let mut c = Cluster::with(SCENARIO, None);
    c.apply_file(&repo().join("testdata/crds/contour-httpproxies.yaml"));
    c.apply(&podinfo(NS, IMG1, 2));
    let manifest = CANARY
        .replace(PROM_PLACEHOLDER, "http://127.0.0.1:9")
        .replace(
            "    timeout: 30s\n",
            "    timeout: 30s\n    corsPolicy: {allowMethods: [GET]}\n",
        );
    c.apply(&manifest);
    c.start_controller(&[]);
    stalled_on_invalid_spec(&c, NS, "spec.service.corsPolicy: Contour sets CORS");
    assert!(
        c.get("httpproxy", NS, "podinfo").is_none(),
        "nothing written"
    );
}
