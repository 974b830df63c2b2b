//! End to end, metric analysis: the controller binary against `fledge sim`, with a real
//! Prometheus scraping the sim's `/metrics` every second and the controller querying it with
//! real PromQL (`--metrics-server`). Promotion of a healthy canary, rollback of a faulty one at
//! the threshold with the values on the Canary, the no-data policy, Prometheus dying
//! mid-analysis, MetricTemplate variables, and the controller's own `/metrics`.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use support::analysis::{self, NS, gateway_canary};
use support::openmetrics::{Sample, parse_openmetrics};
use support::prometheus::Prometheus;
use support::receiver::Receiver;
use support::{Cluster, IMG1, has_event, net, worlds};

const T: Duration = Duration::from_secs(60);
const RELEASE: Duration = Duration::from_secs(150);
/// Healthy (scenario: 100% success).
const HEALTHY: &str = "ghcr.io/stefanprodan/podinfo:6.0.1";
/// 90% success.
const NINETY: &str = "ghcr.io/stefanprodan/podinfo:6.0.2";
/// 70% success.
const FAULTY: &str = "ghcr.io/stefanprodan/podinfo:6.0.3";

const SCENARIO_TRAFFIC: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
const SCENARIO_QUIET: &str = include_str!("../testdata/e2e/scenario-quiet.yaml");
const CANARY: &str = include_str!("../testdata/e2e/canary-gatewayapi-analysis.yaml");
const REQUEST_SHARE: &str = include_str!("../testdata/e2e/metrictemplate-request-share.yaml");
const SIM_UP: &str = include_str!("../testdata/e2e/metrictemplate-sim-up.yaml");

/// A sim with `scenario` and podinfo at IMG1, released as [`analysis::release_in`] says.
fn release(scenario: &str, canary: &str, templates: &[&str]) -> (Cluster, Prometheus) {
    release_in(Cluster::with(scenario, None), canary, templates)
}

/// [`release`] in `c`, either world.
fn release_in(c: Cluster, canary: &str, templates: &[&str]) -> (Cluster, Prometheus) {
    analysis::release_in(c, IMG1, canary, templates, T)
}

fn history(canary: &Value) -> Vec<Value> {
    canary["status"]["analysisHistory"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn records<'a>(history: &'a [Value], name: &str) -> Vec<&'a Value> {
    history.iter().filter(|r| r["name"] == name).collect()
}

fn with_verdict<'a>(records: &[&'a Value], verdict: &str) -> Vec<&'a Value> {
    records
        .iter()
        .copied()
        .filter(|r| r["verdict"] == verdict)
        .collect()
}

#[test]
fn a_healthy_canary_is_promoted_on_real_prometheus_metrics() {
    for c in worlds(SCENARIO_TRAFFIC) {
        let manifest = CANARY.replace("  service:\n", "  revertOnDeletion: true\n  service:\n");
        let (c, _prom) = release_in(c, &manifest, &[]);
        c.set_image(NS, "podinfo", HEALTHY);
        let done = c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);
        assert_eq!(c.image(NS, "podinfo-primary"), HEALTHY);
        assert_eq!(
            done["status"]["failedChecks"].as_i64().unwrap_or(0),
            0,
            "{:#}",
            done["status"]
        );

        let h = history(&done);
        let success = records(&h, "request-success-rate");
        let duration = records(&h, "request-duration");
        assert!(
            with_verdict(&success, "Fail").is_empty() && with_verdict(&duration, "Fail").is_empty(),
            "{h:#?}"
        );
        // One passing step per weight (20, 40, 60) and the one that promotes.
        let passed = with_verdict(&success, "Pass");
        assert!(
            passed.len() >= 3,
            "expected a passing success rate per step: {h:#?}"
        );
        for r in &passed {
            // The scenario answers every canary request with 200.
            let v = r["value"].as_f64().expect("value recorded");
            assert!((v - 100.0).abs() < 1e-6, "success rate {v}: {r}");
            assert_eq!(r["threshold"], ">= 99");
        }
        let passed = with_verdict(&duration, "Pass");
        assert!(passed.len() >= 3, "{h:#?}");
        for r in &passed {
            // p99 80ms in the scenario; the histogram's bucket bounds may round it up a little.
            let v = r["value"].as_f64().expect("value recorded");
            assert!(v > 0.0 && v <= 250.0, "p99 {v}ms: {r}");
            assert_eq!(r["threshold"], "<= 500");
        }
        let events = c.events(NS, "podinfo");
        for want in [
            "Advance podinfo.test canary weight 20",
            "Advance podinfo.test canary weight 60",
            "Promotion completed! Scaling down podinfo.test",
        ] {
            assert!(has_event(&events, want), "missing {want:?}: {events:#?}");
        }
        assert_eq!(c.httproute_weights(NS, "podinfo"), Some((100, 0)));
        support::routed::reverted_on_deletion(&c, NS, &[("httproute", "podinfo")]);
        c.assert_no_refusals();
    }
}

#[test]
fn a_faulty_canary_is_rolled_back_at_the_threshold_with_the_failing_values_recorded() {
    for c in worlds(SCENARIO_TRAFFIC) {
        let (c, _prom) = release_in(c, CANARY, &[]);
        c.set_image(NS, "podinfo", FAULTY);
        let failed = c.wait_phase_not(NS, "podinfo", "Failed", "Succeeded", RELEASE);
        assert_eq!(c.image(NS, "podinfo-primary"), IMG1);

        let h = history(&failed);
        let success = records(&h, "request-success-rate");
        let fails = with_verdict(&success, "Fail");
        // threshold: 3, and not one check more.
        assert_eq!(fails.len(), 3, "{h:#?}");
        for r in &fails {
            // The scenario answers 70% of the canary's requests with 200.
            let v = r["value"].as_f64().expect("value recorded");
            assert!((65.0..=75.0).contains(&v), "success rate {v}: {r}");
            assert_eq!(r["threshold"], ">= 99");
            let message = r["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("request-success-rate") && message.contains("< 99"),
                "{r}"
            );
        }
        let failing_steps: BTreeSet<&str> = h
            .iter()
            .filter(|r| r["verdict"] == "Fail")
            .filter_map(|r| r["time"].as_str())
            .collect();
        assert_eq!(
            failing_steps.len(),
            3,
            "failed steps beyond the threshold: {h:#?}"
        );
        assert!(
            with_verdict(&success, "Pass").is_empty(),
            "a 70% canary passed a >= 99 check: {h:#?}"
        );

        let events = c.events(NS, "podinfo");
        let halts: Vec<&String> = events
            .iter()
            .filter(|e| {
                e.starts_with("Warning")
                    && e.contains("Halt podinfo.test advancement metric request-success-rate")
                    && e.contains("< 99")
            })
            .collect();
        assert!(!halts.is_empty(), "{events:#?}");
        for e in &halts {
            let value = e
                .split("request-success-rate: ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("no value in event {e:?}"));
            assert!((65.0..=75.0).contains(&value), "{e}");
        }
        assert!(
            has_event(
                &events,
                "Rolling back podinfo.test failed checks threshold reached 3"
            ),
            "{events:#?}"
        );
        c.wait_for("traffic back on the primary", T, |c| {
            (c.httproute_weights(NS, "podinfo") == Some((100, 0))).then_some(())
        });
        c.wait_for("canary scaled to zero", T, |c| {
            (c.replicas(NS, "podinfo") == 0).then_some(())
        });
    }
}

#[test]
fn with_no_traffic_and_on_no_data_fail_the_release_is_never_promoted_and_says_why() {
    let canary = gateway_canary(
        2,
        20,
        60,
        "      - name: request-success-rate\n        interval: 10s\n        thresholdRange: {min: 99}\n",
    );
    let (c, _prom) = release(SCENARIO_QUIET, &canary, &[]);
    c.set_image(NS, "podinfo", HEALTHY);
    let failed = c.wait_phase_not(NS, "podinfo", "Failed", "Succeeded", RELEASE);
    assert_eq!(c.image(NS, "podinfo-primary"), IMG1);

    let h = history(&failed);
    let fails = with_verdict(&records(&h, "request-success-rate"), "Fail");
    assert_eq!(fails.len(), 2, "{h:#?}");
    for r in &fails {
        assert!(
            r.get("value").is_none_or(Value::is_null),
            "no data has no value: {r}"
        );
        let message = r["message"].as_str().unwrap_or_default();
        assert!(message.contains("no values found"), "{r}");
    }
    let events = c.events(NS, "podinfo");
    assert!(
        events.iter().any(|e| e.starts_with("Warning")
            && e.contains("request-success-rate")
            && e.contains("no values found")
            && e.contains("not receiving traffic")),
        "no event says why: {events:#?}"
    );
    assert!(
        has_event(
            &events,
            "Rolling back podinfo.test failed checks threshold reached 2"
        ),
        "{events:#?}"
    );
}

#[test]
fn with_no_traffic_and_on_no_data_skip_the_release_advances_on_the_other_checks() {
    let canary = gateway_canary(
        2,
        20,
        60,
        concat!(
            "      - name: request-success-rate\n        interval: 10s\n        thresholdRange: {min: 99}\n        onNoData: skip\n",
            "      - name: sim-up\n        templateRef: {name: sim-up}\n        thresholdRange: {min: 1}\n",
        ),
    );
    let (c, _prom) = release(SCENARIO_QUIET, &canary, &[SIM_UP]);
    c.set_image(NS, "podinfo", HEALTHY);
    let done = c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);
    assert_eq!(c.image(NS, "podinfo-primary"), HEALTHY);

    let h = history(&done);
    let success = records(&h, "request-success-rate");
    assert!(success.len() >= 3, "{h:#?}");
    assert_eq!(
        with_verdict(&success, "Skipped").len(),
        success.len(),
        "no traffic must read as no data: {h:#?}"
    );
    let up = records(&h, "sim-up");
    assert_eq!(with_verdict(&up, "Pass").len(), up.len(), "{h:#?}");
    assert!(up.len() >= 3, "{h:#?}");
    for r in up {
        assert_eq!(r["value"].as_f64(), Some(1.0), "{r}");
    }
}

#[test]
fn prometheus_killed_mid_analysis_counts_failed_checks_and_nothing_is_promoted() {
    let canary = gateway_canary(
        2,
        5,
        50,
        "      - name: request-success-rate\n        interval: 10s\n        thresholdRange: {min: 99}\n        minSampleCount: 10\n",
    );
    let (c, mut prom) = release(SCENARIO_TRAFFIC, &canary, &[]);
    let address = prom.url.clone();
    c.set_image(NS, "podinfo", HEALTHY);
    c.wait_for("a passing check", RELEASE, |c| {
        let v = c.canary(NS, "podinfo");
        assert_ne!(v["status"]["phase"], "Succeeded");
        let h = history(&v);
        (!with_verdict(&records(&h, "request-success-rate"), "Pass").is_empty()).then_some(())
    });
    prom.kill();
    let failed = c.wait_phase_not(NS, "podinfo", "Failed", "Succeeded", RELEASE);
    assert_eq!(c.image(NS, "podinfo-primary"), IMG1);

    let h = history(&failed);
    let fails = with_verdict(&records(&h, "request-success-rate"), "Fail");
    assert_eq!(fails.len(), 2, "{h:#?}");
    for r in &fails {
        let message = r["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("query failed") && message.contains(&address),
            "the message should name the failed query and the address: {r}"
        );
    }
    let events = c.events(NS, "podinfo");
    assert!(
        has_event(
            &events,
            "Rolling back podinfo.test failed checks threshold reached 2"
        ),
        "{events:#?}"
    );
    c.wait_for("traffic back on the primary", T, |c| {
        (c.httproute_weights(NS, "podinfo") == Some((100, 0))).then_some(())
    });
    // The platform team's alert can tell an unreachable Prometheus from a bad release.
    let (_, body) = net::get(&c.controller_metrics_url(0)).expect("controller /metrics");
    let samples = parse_openmetrics(&body);
    let errors = canary_sample(
        &samples,
        "fledge_metric_query_errors_total",
        Some("request-success-rate"),
    );
    assert!(errors.is_some_and(|n| n >= 2.0), "{body}");
}

#[test]
fn a_metric_template_with_variables_renders_the_expected_promql_and_reads_the_scenario_rate() {
    let share = |name: &str, code: &str, bound: &str| {
        format!(
            "      - name: {name}\n        templateRef: {{name: request-share}}\n        templateVariables: {{code: \"{code}\", source: synthetic}}\n        interval: 10s\n        minSampleCount: 150\n        thresholdRange: {bound}\n"
        )
    };
    let metrics =
        share("error-share", "5..", "{max: 20}") + &share("success-share", "2..", "{min: 80}");
    let canary = gateway_canary(3, 20, 60, &metrics);
    let (c, prom) = release(SCENARIO_TRAFFIC, &canary, &[REQUEST_SHARE]);
    c.set_image(NS, "podinfo", NINETY);
    let done = c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);

    // The template rendered with the Canary's namespace and target, the metric's interval and
    // each metric's own variables, exactly.
    let rendered = |code: &str| {
        format!(
            r#"100 * sum(rate(fledge_sim_requests_total{{namespace="test",deployment="podinfo",code=~"{code}",source="synthetic"}}[10s])) / sum(rate(fledge_sim_requests_total{{namespace="test",deployment="podinfo",source="synthetic"}}[10s]))"#
        )
    };
    let count = r#"sum(increase(fledge_sim_requests_total{namespace="test",deployment="podinfo",source="synthetic"}[10s]))"#;
    let queries = prom.queries();
    let asked: BTreeSet<&str> = queries.iter().map(|q| q.trim()).collect();
    for want in [rendered("5.."), rendered("2.."), count.to_string()] {
        assert!(
            asked.contains(want.as_str()),
            "Prometheus was never asked\n{want}\nit was asked:\n{asked:#?}"
        );
    }

    // The scenario fails 10% of this image's requests.
    let h = history(&done);
    for (name, want) in [("error-share", 10.0), ("success-share", 90.0)] {
        let rs = records(&h, name);
        let passed = with_verdict(&rs, "Pass");
        assert!(passed.len() >= 3, "{name}: {h:#?}");
        assert!(with_verdict(&rs, "Fail").is_empty(), "{name}: {h:#?}");
        for r in &passed {
            let v = r["value"].as_f64().expect("value recorded");
            assert!(
                (v - want).abs() <= 3.0,
                "{name}: {v}, want about {want}: {r}"
            );
        }
        // The last step saw the most traffic (60%): the closest reading.
        let last = passed
            .last()
            .and_then(|r| r["value"].as_f64())
            .unwrap_or_default();
        assert!(
            (last - want).abs() <= 1.5,
            "{name}: last value {last}, want {want}"
        );
    }
}

/// A `web` MetricTemplate (testdata/metrics/web-error-rate.yaml), judged by the controller:
/// the test's HTTP server plays an error-rate service. A release is promoted while it answers
/// a low rate and rolled back when it answers a high one; every call carries the rendered
/// query and the token from the template's Secret.
#[test]
fn a_web_metric_promotes_while_its_service_answers_well_and_rolls_back_when_not() {
    let template = include_str!("../testdata/metrics/web-error-rate.yaml");
    let metric = "      - name: error-rate\n        templateRef: {name: error-rate-slo}\n        interval: 1m\n        thresholdRange: {max: 1}\n";
    let canary = gateway_canary(2, 50, 50, metric);
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: slo-token, namespace: {NS}}}\nstringData: {{token: slo-s3cret}}\n"
    );
    for c in worlds(SCENARIO_TRAFFIC) {
        let slo = Receiver::start();
        slo.answer_json(
            "/slo",
            200,
            r#"{"data": {"service": "podinfo", "errorRate": 0.25}}"#,
        );
        let template = template.replace("http://slo.monitoring:8080/slo", &slo.url("/slo"));
        let (c, _prom) = release_in(c, &canary, &[&template]);
        c.apply(&secret);

        c.set_image(NS, "podinfo", HEALTHY);
        let done = c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);
        let h = history(&done);
        let rs = records(&h, "error-rate");
        assert!(!rs.is_empty(), "{h:#?}");
        for r in &rs {
            assert_eq!(
                (&r["verdict"], &r["value"]),
                (&"Pass".into(), &0.25.into()),
                "{r}"
            );
        }
        let calls = slo.calls("/slo");
        assert!(!calls.is_empty());
        for call in &calls {
            assert_eq!(call.query, "service=podinfo&namespace=test&window=1m");
            assert_eq!(call.authorization.as_deref(), Some("Bearer slo-s3cret"));
        }

        slo.answer_json("/slo", 200, r#"{"data": {"errorRate": 7.5}}"#);
        c.set_image(NS, "podinfo", NINETY);
        let done = c.wait_phase(NS, "podinfo", "Failed", RELEASE);
        let h = history(&done);
        let failed = with_verdict(&records(&h, "error-rate"), "Fail");
        assert!(
            failed.iter().any(|r| r["value"] == 7.5),
            "the high rate is recorded: {h:#?}"
        );
        assert_eq!(c.image(NS, "podinfo-primary"), HEALTHY);
        c.assert_no_refusals();
    }
}

fn canary_sample(samples: &[Sample], name: &str, metric: Option<&str>) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name
                && labels.iter().any(|(k, v)| k == "namespace" && v == NS)
                && labels.iter().any(|(k, v)| k == "name" && v == "podinfo")
                && metric.is_none_or(|m| labels.iter().any(|(k, v)| k == "metric" && v == m))
        })
        .map(|(_, _, v)| *v)
}

#[test]
fn the_controllers_metrics_endpoint_exposes_the_canary_with_bounded_labels() {
    let (c, _prom) = release(SCENARIO_TRAFFIC, CANARY, &[]);
    let url = c.controller_metrics_url(0);
    c.set_image(NS, "podinfo", HEALTHY);

    // While it runs: status 0, the weight the route has, and names of every pod and revision
    // hash we see, which must never become label values.
    let mut forbidden: BTreeSet<String> = BTreeSet::new();
    let mut scrapes: Vec<String> = Vec::new();
    c.wait_for("weight > 0 on /metrics during the analysis", RELEASE, |c| {
        let pods: Value =
            serde_json::from_str(&c.kubectl(&["get", "pods", "-n", NS, "-o", "json"])).ok()?;
        for pod in pods["items"].as_array().into_iter().flatten() {
            forbidden.extend(pod["metadata"]["name"].as_str().map(str::to_string));
            forbidden.extend(
                pod["metadata"]["labels"]["pod-template-hash"]
                    .as_str()
                    .map(str::to_string),
            );
        }
        let (status, body) = net::get(&url)?;
        assert_eq!(status, 200, "{body}");
        let samples = parse_openmetrics(&body);
        scrapes.push(body);
        let weight = canary_sample(&samples, "fledge_canary_weight", None)?;
        (weight > 0.0 && canary_sample(&samples, "fledge_canary_status", None) == Some(0.0))
            .then_some(())
    });
    let done = c.wait_phase_not(NS, "podinfo", "Succeeded", "Failed", RELEASE);
    for key in ["lastAppliedSpec", "lastPromotedSpec"] {
        forbidden.extend(done["status"][key].as_str().map(str::to_string));
    }
    for (_, checksum) in done["status"]["trackedConfigs"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.as_str()))
    {
        forbidden.extend(checksum.map(str::to_string));
    }
    let body = c.wait_for(
        "status 1 and weight 0 on /metrics after promotion",
        T,
        |_| {
            let (_, body) = net::get(&url)?;
            let samples = parse_openmetrics(&body);
            (canary_sample(&samples, "fledge_canary_status", None) == Some(1.0)
                && canary_sample(&samples, "fledge_canary_weight", None) == Some(0.0))
            .then_some(body)
        },
    );
    let samples = parse_openmetrics(&body);
    assert_eq!(
        canary_sample(
            &samples,
            "fledge_canary_metric_analysis",
            Some("request-success-rate")
        ),
        Some(100.0),
        "{body}"
    );
    let p99 = canary_sample(
        &samples,
        "fledge_canary_metric_analysis",
        Some("request-duration"),
    )
    .unwrap_or(f64::NAN);
    assert!(p99 > 0.0 && p99 <= 250.0, "request-duration {p99}: {body}");

    // Bounded labels: the canary families carry namespace and name (and the metric), nothing
    // else, and no series anywhere is labelled with a pod name or a revision hash.
    scrapes.push(body.clone());
    forbidden.retain(|f| !f.is_empty());
    assert!(
        forbidden.iter().any(|f| f.starts_with("podinfo-")),
        "saw no pods to check against: {forbidden:?}"
    );
    for text in &scrapes {
        for (name, labels, _) in parse_openmetrics(text) {
            let keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
            match name.as_str() {
                "fledge_canary_status" | "fledge_canary_weight" => {
                    assert_eq!(keys, ["namespace", "name"], "{name}")
                }
                "fledge_canary_metric_analysis" => {
                    assert_eq!(keys, ["namespace", "name", "metric"], "{name}")
                }
                _ => {}
            }
            for (key, value) in &labels {
                for f in &forbidden {
                    assert!(
                        !value.contains(f.as_str()),
                        "{name} label {key}={value:?} contains {f:?}"
                    );
                }
            }
        }
    }
    // The schedule, for alerts on a release stuck longer than it allows.
    assert_eq!(
        canary_sample(&samples, "fledge_canary_interval_seconds", None),
        Some(1.0),
        "{body}"
    );
    let last_step = canary_sample(&samples, "fledge_canary_last_step_timestamp_seconds", None)
        .unwrap_or_default();
    let now = jiff::Timestamp::now().as_second() as f64;
    assert!(
        last_step > now - 300.0 && last_step <= now + 1.0,
        "last step {last_step}, now {now}: {body}"
    );
    for name in [
        "fledge_canary_status",
        "fledge_canary_weight",
        "fledge_canary_metric_analysis",
    ] {
        assert!(
            samples.iter().any(|(n, _, _)| n == name),
            "{name} missing: {}",
            scrapes.last().map(String::as_str).unwrap_or_default()
        );
    }

    // A deleted Canary's series go (a deleted Failed Canary must not keep an alert firing).
    c.kubectl(&["-n", NS, "delete", "canary", "podinfo", "--wait=false"]);
    c.wait_for("the deleted Canary's series gone", T, |_| {
        let (_, body) = net::get(&url)?;
        let samples = parse_openmetrics(&body);
        (canary_sample(&samples, "fledge_canary_status", None).is_none()
            && canary_sample(
                &samples,
                "fledge_canary_metric_analysis",
                Some("request-success-rate"),
            )
            .is_none())
        .then_some(())
    });
}
