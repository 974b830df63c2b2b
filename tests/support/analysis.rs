//! Releases judged on metrics: a sim scraped by a real Prometheus, the Gateway API CRD, podinfo,
//! MetricTemplates and a Gateway API Canary pointed at that Prometheus, and a controller
//! (tests/e2e_analysis.rs, tests/e2e_compare_primary.rs).

use std::time::Duration;

use super::prometheus::Prometheus;
use super::{Cluster, podinfo, repo};

/// What testdata/e2e Canaries and MetricTemplates point at; replaced with the test's Prometheus.
pub const PROM_PLACEHOLDER: &str = "http://prometheus.monitoring:9090";
/// The namespace of these releases.
pub const NS: &str = "test";

/// Starts a Prometheus scraping `c`, applies the Gateway API CRD, podinfo at `primary_image`
/// with 2 replicas, the MetricTemplates and `canary` (both pointed at that Prometheus), starts a
/// controller and returns once the canary is Initialized (within `timeout`).
///
/// The Prometheus address reaches the controller through the Canary's `spec.metricsServer`:
/// the harness's `start_controller` already passes `--metrics-server`, and the controller's
/// CLI rejects the flag a second time.
pub fn release_in(
    mut c: Cluster,
    primary_image: &str,
    canary: &str,
    templates: &[&str],
    timeout: Duration,
) -> (Cluster, Prometheus) {
    let prom = Prometheus::scraping(&c.url);
    c.apply_file(&repo().join("testdata/crds/gateway-api-httproutes.yaml"));
    c.apply(&podinfo(NS, primary_image, 2));
    for template in templates {
        c.apply(&template.replace(PROM_PLACEHOLDER, &prom.url));
    }
    c.apply(&canary.replace(PROM_PLACEHOLDER, &prom.url));
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", timeout);
    (c, prom)
}

/// A Gateway API canary like testdata/e2e/canary-gatewayapi-analysis.yaml (a step every
/// second) with other schedule numbers and metrics (`metrics` is the YAML list, indented for
/// `analysis`).
pub fn gateway_canary(threshold: i32, step: i32, max: i32, metrics: &str) -> String {
    format!(
        r#"apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: {NS}}}
spec:
  provider: gatewayapi:v1
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  progressDeadlineSeconds: 60
  metricsServer: {PROM_PLACEHOLDER}
  service:
    port: 9898
    hosts: [podinfo.example.com]
    gatewayRefs: [{{name: public, namespace: gateways}}]
  analysis:
    interval: 1s
    threshold: {threshold}
    stepWeight: {step}
    maxWeight: {max}
    metrics:
{metrics}"#
    )
}
