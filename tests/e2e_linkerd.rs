//! End to end on the linkerd provider (an SMI TrafficSplit): the controller binary against
//! `fledge sim`, which splits its traffic by the TrafficSplit with its own code and exports the
//! Linkerd proxies' metrics, and a real Prometheus. A healthy canary is promoted and a faulty
//! one rolled back on the builtin Linkerd metrics; deleting the Canary (revertOnDeletion)
//! deletes the TrafficSplit and gives the apex Service back.

mod support;

use std::time::Duration;

use support::prometheus::Prometheus;
use support::routed::{
    promotes_a_healthy_canary, reverted_on_deletion, rolls_back_a_faulty_canary,
};
use support::{Cluster, IMG1, podinfo, repo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(60);
const PROM_PLACEHOLDER: &str = "http://prometheus.monitoring:9090";
const SCENARIO: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
const CANARY: &str = include_str!("../testdata/e2e/canary-linkerd-analysis.yaml");

fn linkerd_world() -> (Cluster, Prometheus) {
    linkerd_in(Cluster::with(SCENARIO, None))
}

/// `c` (either world) with the SMI CRD, podinfo, a Prometheus scraping the sim, the Canary and
/// a controller; returns once the Canary is Initialized.
fn linkerd_in(mut c: Cluster) -> (Cluster, Prometheus) {
    let prom = Prometheus::scraping(&c.url);
    c.apply_file(&repo().join("testdata/crds/smi-trafficsplits.yaml"));
    c.apply(&podinfo(NS, IMG1, 2));
    c.apply(&CANARY.replace(PROM_PLACEHOLDER, &prom.url));
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    (c, prom)
}

/// (primary, canary) weights of the TrafficSplit.
fn split_weights(c: &Cluster) -> Option<(i64, i64)> {
    let ts = c.get("trafficsplit", NS, "podinfo")?;
    let weight = |name: &str| {
        ts["spec"]["backends"]
            .as_array()?
            .iter()
            .find(|b| b["service"] == name)?["weight"]
            .as_i64()
    };
    Some((weight("podinfo-primary")?, weight("podinfo-canary")?))
}

#[test]
fn a_healthy_canary_is_promoted_through_the_traffic_split() {
    for c in worlds(SCENARIO) {
        let (c, _prom) = linkerd_in(c);
        assert_eq!(split_weights(&c), Some((100, 0)));
        let ts = c.must_get("trafficsplit", NS, "podinfo");
        assert_eq!(
            ts["apiVersion"], "split.smi-spec.io/v1alpha2",
            "linkerd reads v1alpha2"
        );
        assert_eq!(ts["spec"]["service"], "podinfo");

        promotes_a_healthy_canary(&c, NS, split_weights, (60, 40));

        reverted_on_deletion(&c, NS, &[("trafficsplit", "podinfo")]);
        c.assert_no_refusals();
    }
}

#[test]
fn a_faulty_canary_is_rolled_back_on_linkerd_metrics() {
    let (c, _prom) = linkerd_world();
    rolls_back_a_faulty_canary(&c, NS, split_weights);
}
