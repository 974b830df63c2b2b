//! End to end on the traefik provider: the controller binary against `fledge sim`, which splits
//! its traffic by the TraefikService with its own code and exports Traefik's service metrics,
//! and a real Prometheus. A healthy canary is promoted and a faulty one rolled back on the
//! builtin Traefik metrics; `revertOnDeletion` deletes the TraefikService and gives the apex
//! Service back; a user's TraefikService of that name is taken over and given back as it was.

mod support;

use std::time::Duration;

use serde_json::json;
use support::prometheus::Prometheus;
use support::routed::{
    promotes_a_healthy_canary, reverted_on_deletion, rolls_back_a_faulty_canary,
};
use support::{Cluster, IMG1, podinfo, repo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(60);
const PROM_PLACEHOLDER: &str = "http://prometheus.monitoring:9090";
const SCENARIO: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
const CANARY: &str = include_str!("../testdata/e2e/canary-traefik-analysis.yaml");

fn traefik_world(manifest: &str, before: impl FnOnce(&Cluster)) -> (Cluster, Prometheus) {
    traefik_in(Cluster::with(SCENARIO, None), manifest, before)
}

/// `c` (either world) with Traefik's CRD, podinfo, a Prometheus scraping the sim, the Canary
/// and a controller; returns once the Canary is Initialized.
fn traefik_in(
    mut c: Cluster,
    manifest: &str,
    before: impl FnOnce(&Cluster),
) -> (Cluster, Prometheus) {
    let prom = Prometheus::scraping(&c.url);
    c.apply_file(&repo().join("testdata/crds/traefik-traefikservices.yaml"));
    c.apply(&podinfo(NS, IMG1, 2));
    before(&c);
    c.apply(&manifest.replace(PROM_PLACEHOLDER, &prom.url));
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    (c, prom)
}

/// (primary, canary) weights of the TraefikService.
fn service_weights(c: &Cluster) -> Option<(i64, i64)> {
    let ts = c.get("traefikservice", NS, "podinfo")?;
    let services = ts["spec"]["weighted"]["services"].as_array()?.clone();
    let weight = |name: &str| services.iter().find(|s| s["name"] == name)?["weight"].as_i64();
    Some((weight("podinfo-primary")?, weight("podinfo-canary")?))
}

#[test]
fn a_healthy_canary_is_promoted_through_the_traefik_service() {
    let manifest = CANARY.replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
    for c in worlds(SCENARIO) {
        let (c, _prom) = traefik_in(c, &manifest, |_| {});
        assert_eq!(service_weights(&c), Some((100, 0)));
        let ts = c.must_get("traefikservice", NS, "podinfo");
        assert_eq!(ts["apiVersion"], "traefik.io/v1alpha1");
        assert_eq!(ts["spec"]["weighted"]["services"][1]["port"], 9898);

        promotes_a_healthy_canary(&c, NS, service_weights, (60, 40));

        reverted_on_deletion(&c, NS, &[("traefikservice", "podinfo")]);
        c.assert_no_refusals();
    }
}

#[test]
fn a_faulty_canary_is_rolled_back_on_traefik_metrics() {
    let (c, _prom) = traefik_world(CANARY, |_| {});
    rolls_back_a_faulty_canary(&c, NS, service_weights);
}

/// A TraefikService the user already routes through is taken over with the primary at 100%
/// from the first write, and given back as it was when the Canary goes.
#[test]
fn a_users_traefik_service_is_taken_over_and_given_back() {
    let theirs = json!({
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {"name": "podinfo", "namespace": NS, "labels": {"team": "web"}},
        "spec": {"weighted": {"services": [{"name": "podinfo", "port": 9898, "weight": 1}]}},
    });
    let manifest = CANARY.replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
    for c in worlds(SCENARIO) {
        let (c, _prom) = traefik_in(c, &manifest, |c| c.apply(&theirs.to_string()));
        let ts = c.must_get("traefikservice", NS, "podinfo");
        assert_eq!(service_weights(&c), Some((100, 0)));
        assert_eq!(ts["metadata"]["labels"]["team"], "web");
        assert!(
            ts["metadata"]["ownerReferences"].is_null(),
            "a taken-over object isn't owned: {:#}",
            ts["metadata"]
        );

        c.kubectl(&["-n", NS, "delete", "canary", "podinfo", "--wait=false"]);
        let back = c.wait_for("the TraefikService given back", T, |c| {
            let ts = c.get("traefikservice", NS, "podinfo")?;
            (ts["spec"] == theirs["spec"]).then_some(ts)
        });
        assert_eq!(back["metadata"]["labels"]["team"], "web");
        c.assert_no_refusals();
    }
}
