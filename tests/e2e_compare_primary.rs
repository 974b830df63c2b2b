//! End to end, `comparePrimary`: the controller binary against `fledge sim`, with a real
//! Prometheus scraping the sim every second, judging a canary against its primary under the
//! same traffic at the same moment. A canary slightly worse than a healthy primary is rolled
//! back although it passes a fixed threshold; a canary as slow as a degraded primary is
//! promoted although its latency breaks the usual fixed one; with too little traffic the
//! significance test gives no verdict. Sim world only: what is judged is Prometheus' data, and
//! the sim is the only world that generates traffic.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::analysis::{self, NS, gateway_canary};
use support::prometheus::Prometheus;
use support::{Cluster, IMG1};

const T: Duration = Duration::from_secs(60);
const RELEASE: Duration = Duration::from_secs(180);
/// 5% 5xx: passes `request-success-rate >= 90`, but is worse than a healthy primary.
const SLIGHTLY_WORSE: &str = "ghcr.io/stefanprodan/podinfo:6.0.7";
/// p99 about 900ms (estimated from the histogram), like [`SLOW_NEXT`].
const SLOW: &str = "ghcr.io/stefanprodan/podinfo:6.0.8";
const SLOW_NEXT: &str = "ghcr.io/stefanprodan/podinfo:6.0.9";

const SCENARIO: &str = include_str!("../testdata/e2e/scenario-compare-primary.yaml");
const SCENARIO_QUIET: &str = include_str!("../testdata/e2e/scenario-compare-primary-quiet.yaml");
const BY_SIDE: &str = include_str!("../testdata/e2e/metrictemplate-error-rate-by-side.yaml");

/// A sim with `scenario`, podinfo at `primary_image`, the error-rate-by-side MetricTemplate and
/// a Gateway API canary (weights 20, 40, 60) with `metrics`, all judged by a real Prometheus;
/// returns once the canary is Initialized.
fn release(
    scenario: &str,
    primary_image: &str,
    threshold: i32,
    metrics: &str,
) -> (Cluster, Prometheus) {
    let canary = gateway_canary(threshold, 20, 60, metrics);
    analysis::release_in(
        Cluster::with(scenario, None),
        primary_image,
        &canary,
        &[BY_SIDE],
        T,
    )
}

fn records(canary: &Value, name: &str) -> Vec<Value> {
    canary["status"]["analysisHistory"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == name)
        .cloned()
        .collect()
}

fn with_verdict<'a>(records: &'a [Value], verdict: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["verdict"] == verdict).collect()
}

fn number(record: &Value, field: &str) -> f64 {
    record[field]
        .as_f64()
        .unwrap_or_else(|| panic!("no {field} in {record:#}"))
}

#[test]
fn a_canary_slightly_worse_than_a_healthy_primary_is_rolled_back_though_it_passes_a_fixed_threshold()
 {
    // The fixed check: success rate at least 90%. The relative one: the canary's error rate
    // at most 1 point above the primary's, failing only when significant at 5%, judged once
    // 600 requests a side were seen in the window (30s of the canary's 20 a second): with 5%
    // 5xx that is significant unless the sample is off by three standard deviations.
    let metrics = r#"      - name: request-success-rate
        interval: 1m
        thresholdRange: {min: 90}
        minSampleCount: 150
      - name: errors-vs-primary
        templateRef: {name: error-rate-by-side}
        interval: 1m
        minSampleCount: 600
        comparePrimary:
          difference: {max: 1}
          significance: 0.05
"#;
    let (c, _prom) = release(SCENARIO, IMG1, 1, metrics);
    c.set_image(NS, "podinfo", SLIGHTLY_WORSE);
    let done = c.wait_phase_not(NS, "podinfo", "Failed", "Succeeded", RELEASE);
    assert_eq!(
        c.image(NS, "podinfo-primary"),
        IMG1,
        "the primary is untouched"
    );

    let fixed = records(&done, "request-success-rate");
    let passed = with_verdict(&fixed, "Pass");
    assert!(!passed.is_empty(), "{fixed:#?}");
    for r in &passed {
        let v = number(r, "value");
        assert!((90.0..100.0).contains(&v), "5% 5xx passes >= 90: {r:#}");
    }
    assert!(with_verdict(&fixed, "Fail").is_empty(), "{fixed:#?}");

    let relative = records(&done, "errors-vs-primary");
    let failed = with_verdict(&relative, "Fail");
    let r = failed
        .first()
        .unwrap_or_else(|| panic!("no failed check: {relative:#?}"));
    println!("the failed relative check: {r:#}");
    let (canary, primary) = (number(r, "value"), number(r, "primaryValue"));
    assert!(canary - primary > 1.0, "{r:#}");
    assert_eq!(r["threshold"], "canary - primary <= 1 (significance 0.05)");
    let message = r["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("and significant: p = ") && message.contains("primary requests"),
        "{message}"
    );

    // Where an operator looks: kubectl describe, and the plugin's view of the Canary.
    let described = c.kubectl(&["describe", "canary", "podinfo", "-n", NS]);
    assert!(
        described.contains("Primary Value:") && described.contains("canary - primary <= 1"),
        "{described}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-fledge"))
        .args(["get", "podinfo", "-n", NS])
        .env("KUBECONFIG", &c.kubeconfig)
        .output()
        .expect("run kubectl-fledge");
    let view = String::from_utf8_lossy(&out.stdout);
    assert!(
        view.contains("errors-vs-primary") && view.contains(" vs primary 0 (canary - primary <= 1"),
        "{view}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.assert_no_refusals();
}

#[test]
fn a_canary_as_slow_as_a_degraded_primary_is_promoted_on_a_relative_latency_check() {
    // Both sides are slow (p99 ~900ms): a fixed `max: 500` would fail every step; the ratio
    // to the primary's p99 passes. Threshold 2: one unlucky sample can't end the release.
    let metrics = r#"      - name: request-duration
        interval: 10s
        minSampleCount: 150
        comparePrimary:
          ratio: {max: 1.5}
"#;
    let (c, _prom) = release(SCENARIO, SLOW, 2, metrics);
    c.set_image(NS, "podinfo", SLOW_NEXT);
    let done = c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);
    assert_eq!(c.image(NS, "podinfo-primary"), SLOW_NEXT);

    let checks = records(&done, "request-duration");
    let passed = with_verdict(&checks, "Pass");
    assert!(passed.len() >= 3, "one per weight 20, 40, 60: {checks:#?}");
    for r in &passed {
        let (canary, primary) = (number(r, "value"), number(r, "primaryValue"));
        assert!(canary > 500.0 && primary > 500.0, "both sides slow: {r:#}");
        assert!(canary / primary <= 1.5, "{r:#}");
        assert_eq!(r["threshold"], "canary / primary <= 1.5");
    }
    assert!(with_verdict(&checks, "Fail").is_empty(), "{checks:#?}");
    c.assert_no_refusals();
}

#[test]
fn with_too_little_traffic_the_significance_test_gives_no_verdict() {
    // 2 requests a second in all, 20% of them to a canary with 5% 5xx: far fewer than 200
    // requests a side in the 30s window, so the check holds the release, visibly, instead of
    // guessing.
    let metrics = r#"      - name: errors-vs-primary
        templateRef: {name: error-rate-by-side}
        interval: 30s
        minSampleCount: 200
        comparePrimary:
          difference: {max: 1}
          significance: 0.05
"#;
    let (c, _prom) = release(SCENARIO_QUIET, IMG1, 1, metrics);
    c.set_image(NS, "podinfo", SLIGHTLY_WORSE);
    let held = c.wait_for("three inconclusive checks", RELEASE, |c| {
        let canary = c.canary(NS, "podinfo");
        let checks = records(&canary, "errors-vs-primary");
        (with_verdict(&checks, "Inconclusive").len() >= 3).then_some(canary)
    });
    let checks = records(&held, "errors-vs-primary");
    assert!(
        with_verdict(&checks, "Pass").is_empty() && with_verdict(&checks, "Fail").is_empty(),
        "{checks:#?}"
    );
    for r in with_verdict(&checks, "Inconclusive") {
        let message = r["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("canary samples")
                && message.contains("fewer than minSampleCount 200; not judged"),
            "{message}"
        );
    }
    let status = &held["status"];
    assert_eq!(status["phase"], "Progressing", "{status:#}");
    assert_eq!(
        status["canaryWeight"], 20,
        "held at the first step: {status:#}"
    );
    assert_eq!(
        status["failedChecks"].as_i64().unwrap_or(0),
        0,
        "{status:#}"
    );
    assert_eq!(c.image(NS, "podinfo-primary"), IMG1);
    c.assert_no_refusals();
}
