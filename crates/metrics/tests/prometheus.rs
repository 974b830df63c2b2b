//! The metrics crate against a real Prometheus (Debian `prometheus`), backfilled by `promtool`
//! with a known history, queried at a fixed evaluation time.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{History, Prometheus, free_port, install_ring};
use fledge_api::{
    AnalysisRecord, Canary, MetricTemplate, OnNoData, Provider, ThresholdRange, Verdict,
};
use fledge_metrics::{
    Auth, MetricProvider, PrometheusConfig, PrometheusProvider, ProviderError, Providers,
    TemplateKey, analyze, plan, template_provider,
};
use k8s_openapi::jiff::Timestamp;

const CANARY: &str = include_str!("../../../testdata/metrics/canary.yaml");
const ERROR_RATE: &str = include_str!("../../../testdata/metrics/error-rate.yaml");
const VS_PRIMARY: &str = include_str!("../../../testdata/metrics/error-rate-vs-primary.yaml");

const CANARY_POD: &str = "podinfo-6d4b8c7f9-abcde";
const PRIMARY_POD: &str = "podinfo-primary-7f8c9d5b6-xk2lp";

/// Canary: 199 ok + 1 failed request per second (99.5% success, 0.5% 5xx), P99 exactly 250ms.
/// Primary: 10 ok + 10 failed per second (50%), every request under 50ms.
/// Another namespace's `podinfo` fails everything; it must never be counted either.
fn history() -> History {
    let mut h = History::recent();
    let count = |ns: &str, pod: &str, status: &str| {
        format!(
            r#"http_request_duration_seconds_count{{kubernetes_namespace="{ns}",kubernetes_pod_name="{pod}",status="{status}"}}"#
        )
    };
    h.counter(&count("test", CANARY_POD, "200"), 199.0)
        .counter(&count("test", CANARY_POD, "503"), 1.0)
        .counter(&count("test", PRIMARY_POD, "200"), 10.0)
        .counter(&count("test", PRIMARY_POD, "500"), 10.0)
        .counter(&count("other", CANARY_POD, "500"), 100.0);
    let bucket = |pod: &str, le: &str| {
        format!(
            r#"http_request_duration_seconds_bucket{{kubernetes_namespace="test",kubernetes_pod_name="{pod}",le="{le}"}}"#
        )
    };
    // Cumulative buckets: 50 under 50ms, 90 under 100ms, 99 under 250ms, all 200 under 500ms...
    // of 200 per second; the 99th percentile (rank 198) falls exactly at 250ms.
    for (le, per_second) in [
        ("0.05", 100.0),
        ("0.1", 180.0),
        ("0.25", 198.0),
        ("0.5", 200.0),
        ("1", 200.0),
        ("+Inf", 200.0),
    ] {
        h.counter(&bucket(CANARY_POD, le), per_second);
    }
    for le in ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"] {
        h.counter(&bucket(PRIMARY_POD, le), 20.0);
    }
    h
}

fn templates(address: &str) -> BTreeMap<TemplateKey, MetricTemplate> {
    [ERROR_RATE, VS_PRIMARY]
        .into_iter()
        .map(|yaml| {
            let mut t: MetricTemplate = serde_saphyr::from_str(yaml).unwrap();
            t.spec.provider.address = Some(address.to_string());
            let key = TemplateKey {
                namespace: "test".into(),
                name: t.metadata.name.clone().unwrap(),
            };
            (key, t)
        })
        .collect()
}

fn providers(address: &str, templates: &BTreeMap<TemplateKey, MetricTemplate>) -> Providers {
    Providers {
        metrics_server: Some(Arc::new(
            PrometheusProvider::new(PrometheusConfig::new(address)).unwrap(),
        )),
        templates: templates
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    template_provider(t, None, fledge_metrics::prometheus::DEFAULT_TIMEOUT)
                        .map_err(|e| e.to_string()),
                )
            })
            .collect(),
    }
}

async fn run(
    canary: &Canary,
    templates: &BTreeMap<TemplateKey, MetricTemplate>,
    providers: &Providers,
    at: Timestamp,
) -> Vec<AnalysisRecord> {
    let checks = plan(canary, Provider::Kubernetes, |k| {
        templates.get(k).cloned().map(Arc::new)
    });
    analyze(&checks, providers, at)
        .await
        .into_iter()
        .map(|m| m.record)
        .collect()
}

fn assert_record(
    r: &AnalysisRecord,
    name: &str,
    verdict: Verdict,
    value: Option<f64>,
    threshold: &str,
) {
    assert_eq!(r.name, name, "{r:?}");
    assert_eq!(r.kind, "metric");
    assert_eq!(r.verdict, verdict, "{r:?}");
    match (r.value, value) {
        (Some(got), Some(want)) => assert!(
            (got - want).abs() < 1e-9,
            "{name}: value {got}, want {want}"
        ),
        (got, want) => assert_eq!(got, want, "{name}"),
    }
    assert_eq!(r.threshold.as_deref(), Some(threshold), "{name}");
}

#[tokio::test]
async fn example_canary_reads_exact_values_and_never_the_primary() {
    let history = history();
    let prom = Prometheus::start(Some(&history)).await;
    let at = history.eval_time();
    let templates = templates(&prom.address);
    let providers = providers(&prom.address, &templates);
    let canary: Canary = serde_saphyr::from_str(CANARY).unwrap();

    let records = run(&canary, &templates, &providers, at).await;
    assert_eq!(records.len(), 4, "{records:#?}");
    // 199 / 200 non-5xx: had the primary's or the other namespace's series been selected,
    // this would be far lower.
    assert_record(
        &records[0],
        "request-success-rate",
        Verdict::Pass,
        Some(99.5),
        ">= 99",
    );
    assert_record(
        &records[1],
        "request-duration",
        Verdict::Pass,
        Some(250.0),
        "<= 500",
    );
    assert_record(&records[2], "error-rate", Verdict::Pass, Some(0.5), "<= 1");
    // 0.5% (canary) - 50% (primary).
    assert_record(
        &records[3],
        "error-rate-vs-primary",
        Verdict::Pass,
        Some(-49.5),
        "<= 1",
    );
    for r in &records {
        assert_eq!(r.time.0, at);
    }

    // The same queries for a canary whose target is the primary read the primary's numbers,
    // so the series are there; the canary's queries just don't select them.
    let mut primary = canary.clone();
    primary.spec.target_ref.name = "podinfo-primary".into();
    let records = run(&primary, &templates, &providers, at).await;
    assert_record(
        &records[0],
        "request-success-rate",
        Verdict::Fail,
        Some(50.0),
        ">= 99",
    );
    assert_eq!(
        records[0].message.as_deref(),
        Some("metric request-success-rate: 50 < 99")
    );
    assert_record(
        &records[1],
        "request-duration",
        Verdict::Pass,
        Some(49.5),
        "<= 500",
    );
}

#[tokio::test]
async fn no_data_follows_the_policy_and_small_samples_are_inconclusive() {
    let history = history();
    let prom = Prometheus::start(Some(&history)).await;
    let at = history.eval_time();
    let templates = templates(&prom.address);
    let providers = providers(&prom.address, &templates);

    // A canary nobody calls: `quiet` has no series at all.
    let mut quiet: Canary = serde_saphyr::from_str(CANARY).unwrap();
    quiet.spec.target_ref.name = "quiet".into();
    let metrics = &mut quiet.spec.analysis.as_mut().unwrap().metrics;
    metrics[0].min_sample_count = None;
    metrics.truncate(3);
    let records = run(&quiet, &templates, &providers, at).await;
    assert_eq!(records[0].verdict, Verdict::Fail, "{:?}", records[0]);
    assert_eq!(
        records[0].message.as_deref(),
        Some(
            "metric request-success-rate: no values found (empty result or NaN); the canary is probably not receiving traffic"
        )
    );
    assert_eq!(records[0].value, None);
    assert_eq!(records[1].verdict, Verdict::Fail, "{:?}", records[1]);
    // error-rate says onNoData: skip.
    assert_eq!(records[2].verdict, Verdict::Skipped, "{:?}", records[2]);

    // With a minimum sample count, zero requests is inconclusive, whatever the policy.
    let metrics = &mut quiet.spec.analysis.as_mut().unwrap().metrics;
    metrics[0].min_sample_count = Some(100);
    metrics[0].on_no_data = Some(OnNoData::Pass);
    let records = run(&quiet, &templates, &providers, at).await;
    assert_eq!(
        records[0].verdict,
        Verdict::Inconclusive,
        "{:?}",
        records[0]
    );
    assert!(
        records[0]
            .message
            .as_deref()
            .unwrap()
            .contains("only 0 samples, fewer than minSampleCount 100")
    );

    // The busy canary serves 200 requests per second: 12000 in the 1m interval. A minimum
    // above that is inconclusive (the value is still reported), one below is judged.
    let mut busy: Canary = serde_saphyr::from_str(CANARY).unwrap();
    let metric = &mut busy.spec.analysis.as_mut().unwrap().metrics[0];
    metric.min_sample_count = Some(12_001);
    metric.threshold_range = Some(ThresholdRange {
        min: Some(99.9),
        max: None,
    });
    let records = run(&busy, &templates, &providers, at).await;
    assert_eq!(
        records[0].verdict,
        Verdict::Inconclusive,
        "{:?}",
        records[0]
    );
    assert!(
        records[0]
            .message
            .as_deref()
            .unwrap()
            .contains("only 12000 samples"),
        "{:?}",
        records[0]
    );
    let metric = &mut busy.spec.analysis.as_mut().unwrap().metrics[0];
    metric.min_sample_count = Some(12_000);
    let records = run(&busy, &templates, &providers, at).await;
    assert_eq!(records[0].verdict, Verdict::Fail, "{:?}", records[0]);
    assert_eq!(
        records[0].message.as_deref(),
        Some("metric request-success-rate: 99.5 < 99.9")
    );

    // The template's own countQuery (error-rate.yaml) is used when it has one.
    let metric = &mut busy.spec.analysis.as_mut().unwrap().metrics[2];
    metric.min_sample_count = Some(20_000);
    let records = run(&busy, &templates, &providers, at).await;
    assert_eq!(
        records[2].verdict,
        Verdict::Inconclusive,
        "{:?}",
        records[2]
    );
    assert!(
        records[2]
            .message
            .as_deref()
            .unwrap()
            .contains("only 12000 samples"),
        "{:?}",
        records[2]
    );
}

#[tokio::test]
async fn prometheus_answers_map_to_values_no_data_or_errors() {
    let prom = Prometheus::start(None).await;
    let provider = PrometheusProvider::new(PrometheusConfig::new(&prom.address)).unwrap();
    let now = Timestamp::now();

    provider.health_check().await.expect("vector(1) answers 1");
    assert_eq!(
        provider.query("scalar(vector(42))", now).await.unwrap(),
        Some(42.0)
    );
    assert_eq!(
        provider.query("vector(2) * 3", now).await.unwrap(),
        Some(6.0)
    );
    // No series, and NaN (0/0), are "no data", not errors and not zero.
    assert_eq!(
        provider.query("absent_metric_name", now).await.unwrap(),
        None
    );
    assert_eq!(
        provider.query("vector(0) / vector(0)", now).await.unwrap(),
        None
    );
    // Infinity is a value (e.g. histogram_quantile landing in the +Inf bucket).
    assert_eq!(
        provider.query("vector(1) / vector(0)", now).await.unwrap(),
        Some(f64::INFINITY)
    );

    let err = provider.query("sum(rate(x[1m]", now).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::QueryRejected { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "prometheus {} rejected the query (bad_data): ",
            prom.address
        )),
        "{msg}"
    );

    let err = provider.query("vector(1)[5m:1m]", now).await.unwrap_err();
    assert!(matches!(err, ProviderError::RangeResult { .. }), "{err:?}");
    assert!(err.to_string().contains("range vector"), "{err}");
}

#[tokio::test]
async fn an_unreachable_prometheus_fails_every_check() {
    install_ring();
    // Nothing listens on this port: connection refused.
    let address = format!("http://127.0.0.1:{}", free_port());
    let canary: Canary = serde_saphyr::from_str(CANARY).unwrap();
    let templates = templates(&address);
    let providers = providers(&address, &templates);
    let records = run(&canary, &templates, &providers, Timestamp::now()).await;
    assert_eq!(records.len(), 4);
    for r in &records {
        assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
        let msg = r.message.as_deref().unwrap();
        assert!(
            msg.contains(&format!("prometheus {address}: request failed:")),
            "{msg}"
        );
        assert!(msg.to_lowercase().contains("connection refused"), "{msg}");
        assert!(
            msg.starts_with(&format!("metric {}: query failed: ", r.name)),
            "{msg}"
        );
    }
    assert!(
        records[2]
            .message
            .as_deref()
            .unwrap()
            .contains("MetricTemplate test/error-rate"),
        "{:?}",
        records[2]
    );
    assert!(
        records[0]
            .message
            .as_deref()
            .unwrap()
            .contains("builtin request-success-rate (kubernetes)")
    );

    let provider = PrometheusProvider::new(PrometheusConfig::new(&address)).unwrap();
    let err = provider.health_check().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unreachable { .. }), "{err:?}");

    // No metrics server at all, and a template whose provider could not be built.
    let mut providers = Providers::default();
    providers.templates.insert(
        TemplateKey {
            namespace: "test".into(),
            name: "error-rate".into(),
        },
        Err("secret test/prom-auth not found".into()),
    );
    let records = run(&canary, &templates, &providers, Timestamp::now()).await;
    assert_eq!(records[0].verdict, Verdict::Fail);
    assert!(
        records[0]
            .message
            .as_deref()
            .unwrap()
            .contains("no metrics server is configured; set the Canary's spec.metricsServer"),
        "{:?}",
        records[0]
    );
    assert_eq!(records[2].verdict, Verdict::Fail);
    assert!(
        records[2].message.as_deref().unwrap().contains(
            "provider of MetricTemplate test/error-rate: secret test/prom-auth not found"
        ),
        "{:?}",
        records[2]
    );
    assert!(
        records[3]
            .message
            .as_deref()
            .unwrap()
            .contains("no provider was set up for MetricTemplate test/error-rate-vs-primary"),
        "{:?}",
        records[3]
    );
}

#[tokio::test]
async fn a_template_with_an_unknown_variable_is_a_failed_check_naming_it() {
    install_ring();
    let mut canary: Canary = serde_saphyr::from_str(CANARY).unwrap();
    // The metric forgets templateVariables; error-rate.yaml uses {{ variables.code }}.
    canary.spec.analysis.as_mut().unwrap().metrics[2]
        .template_variables
        .clear();
    let templates = templates("http://127.0.0.1:9");
    let records = run(&canary, &templates, &Providers::default(), Timestamp::now()).await;
    let r = &records[2];
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        r.message.as_deref(),
        Some(
            "canary test/podinfo: spec.analysis.metrics[2] (error-rate): MetricTemplate test/error-rate: spec.query: \
             variable `variables.code` is not set: add it to the metric's templateVariables"
        )
    );
}

#[tokio::test]
async fn tls_verification_is_on_unless_the_template_skips_it() {
    let prom = Prometheus::start_with(None, true).await;
    assert!(prom.address.starts_with("https://"));
    let mut template: MetricTemplate = serde_saphyr::from_str(ERROR_RATE).unwrap();
    template.spec.provider.address = Some(prom.address.clone());

    let strict =
        template_provider(&template, None, fledge_metrics::prometheus::DEFAULT_TIMEOUT).unwrap();
    let err = strict.health_check().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    template.spec.provider.insecure_skip_verify = Some(true);
    let relaxed = template_provider(
        &template,
        Some(Auth::BearerToken("t".into()).into()),
        fledge_metrics::prometheus::DEFAULT_TIMEOUT,
    )
    .unwrap();
    relaxed
        .health_check()
        .await
        .expect("self-signed certificate accepted");
}
