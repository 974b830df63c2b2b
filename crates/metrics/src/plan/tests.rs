use std::collections::BTreeMap;

use fledge_api::{OnNoData, TemplateRef, ThresholdRange};

use super::*;

const CANARY: &str = include_str!("../../../../testdata/metrics/canary.yaml");
const ERROR_RATE: &str = include_str!("../../../../testdata/metrics/error-rate.yaml");
const VS_PRIMARY: &str = include_str!("../../../../testdata/metrics/error-rate-vs-primary.yaml");

fn canary() -> Canary {
    serde_saphyr::from_str(CANARY).expect("testdata canary parses")
}

fn templates() -> BTreeMap<TemplateKey, Arc<MetricTemplate>> {
    [ERROR_RATE, VS_PRIMARY]
        .into_iter()
        .map(|yaml| {
            let t: MetricTemplate = serde_saphyr::from_str(yaml).expect("testdata template parses");
            let key = TemplateKey {
                namespace: t.metadata.namespace.clone().unwrap(),
                name: t.metadata.name.clone().unwrap(),
            };
            (key, Arc::new(t))
        })
        .collect()
}

fn plan_with(
    canary: &Canary,
    provider: Provider,
    templates: &BTreeMap<TemplateKey, Arc<MetricTemplate>>,
) -> Vec<Result<PlannedCheck, PlanError>> {
    plan(canary, provider, |key| templates.get(key).cloned())
}

fn with_metrics(metrics: Vec<CanaryMetric>) -> Canary {
    let mut c = canary();
    c.spec.analysis.as_mut().unwrap().metrics = metrics;
    c
}

fn template_metric(name: &str, template: &str) -> CanaryMetric {
    CanaryMetric {
        name: name.into(),
        template_ref: Some(TemplateRef {
            name: template.into(),
            namespace: None,
        }),
        threshold_range: Some(ThresholdRange {
            min: None,
            max: Some(1.0),
        }),
        ..Default::default()
    }
}

const POD: &str = r#"kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)""#;

#[test]
fn the_example_canary_plans_every_metric() {
    let checks = plan_with(&canary(), Provider::Kubernetes, &templates());
    let checks: Vec<PlannedCheck> = checks.into_iter().map(|c| c.expect("plans")).collect();
    assert_eq!(checks.len(), 4);

    let sr = &checks[0];
    assert_eq!(sr.criteria.name, "request-success-rate");
    assert_eq!(
        sr.criteria.bounds,
        ThresholdRange {
            min: Some(99.0),
            max: None
        }
    );
    assert_eq!(sr.criteria.min_sample_count, Some(100));
    assert_eq!(sr.query.source, QuerySource::MetricsServer);
    assert_eq!(sr.query.origin, "builtin request-success-rate (kubernetes)");
    assert_eq!(
        sr.query.query,
        format!(
            r#"sum( rate( http_request_duration_seconds_count{{ kubernetes_namespace="test", {POD}, status!~"5.*" }}[1m] ) ) / sum( rate( http_request_duration_seconds_count{{ kubernetes_namespace="test", {POD} }}[1m] ) ) * 100"#
        )
    );
    let count = sr.count.as_ref().expect("minSampleCount plans a count");
    assert_eq!(count.source, QuerySource::MetricsServer);
    assert_eq!(
        count.query,
        format!(
            r#"sum( increase( http_request_duration_seconds_count{{ kubernetes_namespace="test", {POD} }}[1m] ) )"#
        )
    );

    let duration = &checks[1];
    assert_eq!(
        duration.query.query,
        format!(
            r#"histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{{ kubernetes_namespace="test", {POD} }}[1m] ) ) by (le) ) * 1000"#
        )
    );
    assert_eq!(duration.count, None);

    // A template with a variable; no interval on the metric, so `{{ interval }}` is 1m.
    let error_rate = &checks[2];
    assert_eq!(error_rate.criteria.on_no_data, OnNoData::Skip);
    assert_eq!(
        error_rate.query.source,
        QuerySource::Template(TemplateKey {
            namespace: "test".into(),
            name: "error-rate".into()
        })
    );
    assert_eq!(error_rate.query.origin, "MetricTemplate test/error-rate");
    assert_eq!(
        error_rate.query.query,
        format!(
            r#"100 * sum( rate( http_request_duration_seconds_count{{ kubernetes_namespace="test", {POD}, status=~"5.." }}[1m] ) ) / sum( rate( http_request_duration_seconds_count{{ kubernetes_namespace="test", {POD} }}[1m] ) )"#
        )
    );

    // `{{ target }}-primary` selects the primary's pods.
    let vs_primary = &checks[3];
    assert!(
        vs_primary.query.query.contains(
            r#"kubernetes_pod_name=~"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status=~"5..""#
        ),
        "{}",
        vs_primary.query.query
    );
}

#[test]
fn builtin_queries_follow_the_provider() {
    let metric = CanaryMetric {
        name: "request-success-rate".into(),
        threshold: Some(99.0),
        interval: Some("2m".into()),
        ..Default::default()
    };
    let mut c = with_metrics(vec![metric]);
    c.spec.ingress_ref = Some(serde_json::from_value(serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo-ing"})).unwrap());
    let cases = [
        (
            Provider::Istio,
            r#"destination_workload_namespace="test", destination_workload=~"podinfo", response_code!~"5.*""#,
        ),
        (
            Provider::Linkerd,
            r#"namespace="test", deployment=~"podinfo", classification!="failure", direction="inbound""#,
        ),
        (
            Provider::Nginx,
            r#"namespace="test", ingress="podinfo-ing", canary!="", status!~"5.*""#,
        ),
        (
            Provider::GatewayApiV1,
            r#"kubernetes_namespace="test", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*""#,
        ),
    ];
    for (provider, selector) in cases {
        let check = plan_with(&c, provider, &templates())
            .remove(0)
            .expect("plans");
        assert!(
            check.query.query.contains(selector),
            "{provider}: {}",
            check.query.query
        );
        assert!(
            check.query.query.contains("[2m]"),
            "{provider}: {}",
            check.query.query
        );
        assert_eq!(
            check.criteria.bounds,
            ThresholdRange {
                min: Some(99.0),
                max: None
            }
        );
    }
}

#[test]
fn unusable_metrics_explain_themselves() {
    let mut bad_template: MetricTemplate = serde_saphyr::from_str(ERROR_RATE).unwrap();
    bad_template.metadata.name = Some("typo".into());
    bad_template.spec.query = "sum(rate(x{ns=\"{{ nmespace }}\"}[1m]))".into();
    let mut bad_count = bad_template.clone();
    bad_count.metadata.name = Some("bad-count".into());
    bad_count.spec.query = "vector(1)".into();
    bad_count.spec.count_query = Some("{{ variables.nope }}".into());
    let mut no_count = bad_count.clone();
    no_count.metadata.name = Some("no-count".into());
    no_count.spec.count_query = None;
    let mut ts = templates();
    for t in [bad_template, bad_count, no_count] {
        let key = TemplateKey {
            namespace: "test".into(),
            name: t.metadata.name.clone().unwrap(),
        };
        ts.insert(key, Arc::new(t));
    }
    let min_samples = |mut m: CanaryMetric| {
        m.min_sample_count = Some(10);
        m
    };
    let no_vars = template_metric("errors", "error-rate");
    #[rustfmt::skip]
    let cases: Vec<(CanaryMetric, Provider, &str)> = vec![
        (template_metric("typo-metric", "typo"), Provider::Kubernetes,
            "canary test/podinfo: spec.analysis.metrics[0] (typo-metric): MetricTemplate test/typo: spec.query: line 1, column 19: unknown function `nmespace`"),
        (no_vars, Provider::Kubernetes,
            "spec.analysis.metrics[0] (errors): MetricTemplate test/error-rate: spec.query: variable `variables.code` is not set: add it to the metric's templateVariables"),
        (min_samples(template_metric("c", "bad-count")), Provider::Kubernetes,
            "MetricTemplate test/bad-count: spec.countQuery: variable `variables.nope` is not set"),
        (template_metric("gone", "missing"), Provider::Kubernetes,
            "(gone): MetricTemplate test/missing not found; create it or fix templateRef"),
        (CanaryMetric { name: "request-duration".into(), threshold: Some(1.0), ..Default::default() }, Provider::Gloo,
            "fledge has no builtin metrics for provider \"gloo\""),
        (CanaryMetric { name: "latency".into(), threshold: Some(1.0), ..Default::default() }, Provider::Istio,
            "(latency): no usable metrics template and query were configured"),
        (min_samples(template_metric("c", "no-count")), Provider::Gloo,
            "minSampleCount needs a way to count samples: set spec.countQuery on MetricTemplate test/no-count (fledge has no builtin metrics for provider \"gloo\""),
        (min_samples(CanaryMetric { name: "q".into(), query: Some("vector(1)".into()), threshold: Some(1.0), ..Default::default() }), Provider::Skipper,
            "(q): fledge has no builtin metrics for provider \"skipper\""),
        (CanaryMetric { name: "q".into(), query: Some("up{job=\"{{ job }}\"}".into()), threshold: Some(1.0), ..Default::default() }, Provider::Istio,
            "(q): inline query: query: line 1, column 12: unknown function `job`"),
    ];
    for (metric, provider, want) in cases {
        let c = with_metrics(vec![metric.clone()]);
        let got = plan_with(&c, provider, &ts)
            .remove(0)
            .expect_err("must not plan");
        assert_eq!(got.metric, metric.name);
        let msg = got.to_string();
        assert!(
            msg.contains(want),
            "{metric:?}:\n  got  {msg}\n  want {want}"
        );
    }
}

#[test]
fn count_queries_come_from_the_template_or_the_builtin() {
    let mut metric = template_metric("errors", "error-rate");
    metric
        .template_variables
        .insert("code".into(), "5..".into());
    metric.min_sample_count = Some(50);
    // error-rate.yaml has a countQuery: it runs on the template's provider.
    let check = plan_with(
        &with_metrics(vec![metric.clone()]),
        Provider::Kubernetes,
        &templates(),
    )
    .remove(0)
    .unwrap();
    let count = check.count.unwrap();
    assert_eq!(
        count.source,
        QuerySource::Template(TemplateKey {
            namespace: "test".into(),
            name: "error-rate".into()
        })
    );
    assert_eq!(count.origin, "MetricTemplate test/error-rate");
    assert!(
        count
            .query
            .starts_with("sum( increase( http_request_duration_seconds_count{"),
        "{}",
        count.query
    );

    // Without one, the builtin request count of the provider runs on the metrics server.
    let mut ts = templates();
    let key = TemplateKey {
        namespace: "test".into(),
        name: "error-rate".into(),
    };
    let mut t = (*ts[&key]).clone();
    t.spec.count_query = None;
    ts.insert(key, Arc::new(t));
    let check = plan_with(&with_metrics(vec![metric]), Provider::Istio, &ts)
        .remove(0)
        .unwrap();
    let count = check.count.unwrap();
    assert_eq!(count.source, QuerySource::MetricsServer);
    assert_eq!(count.origin, "builtin request count (istio)");
    assert!(
        count.query.contains("istio_requests_total"),
        "{}",
        count.query
    );
}

#[test]
fn template_namespace_defaults_to_the_canarys() {
    let mut metric = template_metric("errors", "error-rate");
    metric
        .template_variables
        .insert("code".into(), "5..".into());
    metric.template_ref.as_mut().unwrap().namespace = Some("monitoring".into());
    let mut c = with_metrics(vec![metric]);
    let seen = std::cell::RefCell::new(Vec::new());
    let _ = plan(&c, Provider::Kubernetes, |key| {
        seen.borrow_mut().push(key.to_string());
        None
    });
    c.spec.analysis.as_mut().unwrap().metrics[0]
        .template_ref
        .as_mut()
        .unwrap()
        .namespace = None;
    let _ = plan(&c, Provider::Kubernetes, |key| {
        seen.borrow_mut().push(key.to_string());
        None
    });
    assert_eq!(
        seen.into_inner(),
        ["monitoring/error-rate", "test/error-rate"]
    );
}

#[test]
fn deprecated_canary_analysis_is_planned_with_its_field_path() {
    let mut c = canary();
    let mut analysis = c.spec.analysis.take().unwrap();
    analysis.metrics = vec![template_metric("gone", "missing")];
    c.spec.canary_analysis = Some(analysis);
    let err = plan_with(&c, Provider::Kubernetes, &templates())
        .remove(0)
        .unwrap_err();
    assert_eq!(err.field, "spec.canaryAnalysis.metrics[0]");

    c.spec.canary_analysis = None;
    assert!(plan_with(&c, Provider::Kubernetes, &templates()).is_empty());
}

fn compared(mut metric: CanaryMetric) -> CanaryMetric {
    metric.compare_primary = Some(fledge_api::PrimaryComparison {
        difference: Some(ThresholdRange {
            min: Some(-1.0),
            max: None,
        }),
        ratio: None,
        significance: Some(0.05),
    });
    metric.min_sample_count = Some(100);
    metric
}

/// `comparePrimary` plans the same metric for the primary: builtins that name the workload
/// are retargeted at `<target>-primary`, the others have queries of their own, and templates
/// get the side through `{{ variables.side }}` and `{{ variables.workload }}`.
#[test]
fn compared_metrics_plan_the_primary_side_too() {
    const BY_SIDE: &str =
        include_str!("../../../../testdata/e2e/metrictemplate-error-rate-by-side.yaml");
    let builtin = compared(CanaryMetric {
        name: "request-success-rate".into(),
        ..Default::default()
    });
    let primary_pods = r#"kubernetes_pod_name=~"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)""#;
    let check = plan_with(
        &with_metrics(vec![builtin.clone()]),
        Provider::Kubernetes,
        &templates(),
    )
    .remove(0)
    .unwrap();
    let primary = check.primary.as_ref().expect("primary side planned");
    assert!(check.query.query.contains(POD), "{}", check.query.query);
    assert!(
        primary.query.query.contains(primary_pods),
        "{}",
        primary.query.query
    );
    assert_eq!(
        primary.query.origin,
        "builtin request-success-rate (kubernetes, primary)"
    );
    let count = primary.count.as_ref().expect("count for minSampleCount");
    assert!(count.query.contains(primary_pods), "{}", count.query);
    assert_eq!(check.queries().count(), 4);

    let nginx = plan_with(&with_metrics(vec![builtin]), Provider::Nginx, &templates())
        .remove(0)
        .unwrap();
    assert!(nginx.query.query.contains(r#"canary!="""#));
    let primary = nginx.primary.unwrap();
    assert!(
        primary.query.query.contains(r#"canary="""#) && !primary.query.query.contains("canary!="),
        "{}",
        primary.query.query
    );

    let mut ts = templates();
    let t: MetricTemplate = serde_saphyr::from_str(BY_SIDE).unwrap();
    let key = TemplateKey {
        namespace: "test".into(),
        name: "error-rate-by-side".into(),
    };
    ts.insert(key, Arc::new(t));
    let check = plan_with(
        &with_metrics(vec![compared(template_metric(
            "errors",
            "error-rate-by-side",
        ))]),
        Provider::Kubernetes,
        &ts,
    )
    .remove(0)
    .unwrap();
    let primary = check.primary.unwrap();
    assert!(check.query.query.contains(POD), "{}", check.query.query);
    assert!(
        primary.query.query.contains(primary_pods),
        "{}",
        primary.query.query
    );
    assert_eq!(
        primary.query.origin,
        "MetricTemplate test/error-rate-by-side (primary)"
    );
    assert!(
        primary.count.unwrap().query.contains(primary_pods),
        "the template's countQuery is rendered for the primary too"
    );

    // A template that can't tell the sides apart would compare the canary with itself.
    let mut blind = compared(template_metric("errors", "error-rate"));
    blind.template_variables.insert("code".into(), "5..".into());
    let err = plan_with(
        &with_metrics(vec![blind]),
        Provider::Kubernetes,
        &templates(),
    )
    .remove(0)
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "comparePrimary: MetricTemplate test/error-rate renders the same query for the canary and the primary"
        ),
        "{err}"
    );
}

/// Contour and traefik name the Services fledge routes to, `<service>-canary` and
/// `<service>-primary`, so their builtins follow `service.name`, not the target's name.
#[test]
fn contour_and_traefik_builtins_follow_the_service_name() {
    let mut canary = with_metrics(vec![compared(CanaryMetric {
        name: "request-success-rate".into(),
        ..Default::default()
    })]);
    canary.spec.service.name = Some("web".into());
    let cases = [
        (Provider::Contour, "test_web-canary_", "test_web-primary_"),
        (Provider::Traefik, "test-web-canary-", "test-web-primary-"),
    ];
    for (provider, canary_side, primary_side) in cases {
        let check = plan_with(&canary, provider, &templates())
            .remove(0)
            .unwrap();
        assert!(
            check.query.query.contains(canary_side),
            "{}",
            check.query.query
        );
        let primary = check.primary.unwrap();
        assert!(
            primary.query.query.contains(primary_side),
            "{}",
            primary.query.query
        );
        assert!(
            !check.query.query.contains("podinfo"),
            "{}",
            check.query.query
        );
    }
}
