//! Table tests: one row per validation rule, each a small change to a valid Canary (or
//! MetricTemplate / AlertProvider) and the exact field path and message it must produce.

use fledge_api::validate::{Level, Problem, ValidateOptions, check_document, validate_canary};
use fledge_api::{Canary, CanaryMetric, ThresholdRange};
use serde_json::{Value, json};
use std::time::Duration;

fn canary() -> Value {
    json!({
        "apiVersion": "fledge.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": "gatewayapi:v1",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898, "gatewayRefs": [{"name": "public", "namespace": "gateways"}]},
            "analysis": {
                "interval": "30s",
                "threshold": 5,
                "maxWeight": 50,
                "stepWeight": 10,
                "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}],
                "webhooks": [{"name": "load-test", "url": "http://loadtester.test/", "timeout": "5s"}]
            }
        }
    })
}

fn template() -> Value {
    json!({
        "apiVersion": "fledge.dev/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "errors", "namespace": "test"},
        "spec": {
            "provider": {"type": "prometheus", "address": "http://prometheus:9090"},
            "query": "sum(rate(x{ns=\"{{ namespace }}\"}[{{ interval }}]))"
        }
    })
}

fn alert() -> Value {
    json!({
        "apiVersion": "fledge.dev/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": "chat", "namespace": "test"},
        "spec": {"type": "slack", "address": "https://hooks.example.com/x"}
    })
}

fn problems(doc: &Value) -> Vec<Problem> {
    check_document(doc, &ValidateOptions::default())
        .expect("one of our kinds")
        .problems
}

/// Sets (or with `Value::Null`, removes) the field at a `/`-separated path.
fn set(doc: &mut Value, path: &str, value: Value) {
    let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
    let target = if parent.is_empty() {
        doc
    } else {
        doc.pointer_mut(&format!("/{parent}")).unwrap()
    };
    match (target, last.parse::<usize>()) {
        (Value::Array(items), Ok(i)) if i == items.len() => items.push(value),
        (Value::Array(items), Ok(i)) => items[i] = value,
        (Value::Object(map), _) if value.is_null() => {
            map.remove(last);
        }
        (Value::Object(map), _) => {
            map.insert(last.to_string(), value);
        }
        (other, _) => panic!("cannot set {path} in {other}"),
    }
}

type Row = (
    &'static str,
    Vec<(&'static str, Value)>,
    &'static str,
    &'static str,
    Level,
);

fn check_rows(base: fn() -> Value, rows: Vec<Row>) {
    let mut failures = Vec::new();
    for (name, edits, path, message, level) in rows {
        let mut doc = base();
        for (p, v) in edits {
            set(&mut doc, p, v);
        }
        let found = problems(&doc);
        let hit = found
            .iter()
            .any(|p| p.path == path && p.message.contains(message) && p.severity == level);
        if !hit {
            failures.push(format!(
                "{name}: want {level:?} at {path} containing {message:?}; got {found:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn valid_bases_have_no_problems() {
    for doc in [canary(), template(), alert()] {
        assert_eq!(problems(&doc), [], "{doc}");
    }
}

#[test]
#[rustfmt::skip]
fn canary_errors() {
    use Level::Error as E;
    let null = Value::Null;
    let rows: Vec<Row> = vec![
        ("missing targetRef", vec![("spec/targetRef", null.clone())], "spec.targetRef", "required", E),
        ("DaemonSet target", vec![("spec/targetRef/kind", json!("DaemonSet"))], "spec.targetRef.kind", "must be Deployment (got \"DaemonSet\")", E),
        ("target apiVersion", vec![("spec/targetRef/apiVersion", json!("apps/v1beta1"))], "spec.targetRef.apiVersion", "must be apps/v1", E),
        ("no analysis", vec![("spec/analysis", null.clone())], "spec.analysis", "required", E),
        ("interval below 10s", vec![("spec/analysis/interval", json!("9s"))], "spec.analysis.interval", "must be at least 10s (got 9s)", E),
        ("interval garbage", vec![("spec/analysis/interval", json!("soon"))], "spec.analysis.interval", "invalid duration \"soon\"", E),
        ("interval unit", vec![("spec/analysis/interval", json!("2d"))], "spec.analysis.interval", "unknown unit \"d\"", E),
        ("threshold 0", vec![("spec/analysis/threshold", json!(0))], "spec.analysis.threshold", "must be at least 1 (got 0)", E),
        ("stepWeight 0", vec![("spec/analysis/stepWeight", json!(0))], "spec.analysis.stepWeight", "must be between 1 and 100 (got 0)", E),
        ("stepWeight 101", vec![("spec/analysis/stepWeight", json!(101)), ("spec/analysis/maxWeight", null.clone())], "spec.analysis.stepWeight", "must be between 1 and 100 (got 101)", E),
        ("maxWeight 0", vec![("spec/analysis/maxWeight", json!(0))], "spec.analysis.maxWeight", "must be between 1 and 100 (got 0)", E),
        ("stepWeight > maxWeight", vec![("spec/analysis/stepWeight", json!(60))], "spec.analysis.stepWeight", "must not exceed maxWeight (50) (got 60)", E),
        ("stepWeights decreasing", vec![("spec/analysis/stepWeight", null.clone()), ("spec/analysis/stepWeights", json!([5, 20, 10]))], "spec.analysis.stepWeights", "must be strictly increasing (stepWeights[2] = 10 follows 20)", E),
        ("stepWeights out of range", vec![("spec/analysis/stepWeight", null.clone()), ("spec/analysis/stepWeights", json!([0, 20]))], "spec.analysis.stepWeights[0]", "must be between 1 and 100 (got 0)", E),
        ("stepWeight with stepWeights", vec![("spec/analysis/stepWeights", json!([5, 10]))], "spec.analysis.stepWeights", "mutually exclusive", E),
        ("no schedule", vec![("spec/analysis/stepWeight", null.clone())], "spec.analysis", "no schedule", E),
        ("negative iterations", vec![("spec/analysis/iterations", json!(-1))], "spec.analysis.iterations", "must be 0 or more (got -1)", E),
        ("stepWeightPromotion 101", vec![("spec/analysis/stepWeightPromotion", json!(101))], "spec.analysis.stepWeightPromotion", "between 0 and 100", E),
        ("ready threshold", vec![("spec/analysis/canaryReadyThreshold", json!(120))], "spec.analysis.canaryReadyThreshold", "between 0 and 100 (got 120)", E),
        ("empty thresholdRange", vec![("spec/analysis/metrics/0/thresholdRange", json!({}))], "spec.analysis.metrics[0].thresholdRange", "set min, max or both", E),
        ("min > max", vec![("spec/analysis/metrics/0/thresholdRange", json!({"min": 5, "max": 1}),)], "spec.analysis.metrics[0].thresholdRange", "min (5) must not exceed max (1)", E),
        ("unknown metric", vec![("spec/analysis/metrics/0/name", json!("latency"))], "spec.analysis.metrics[0]", "has no templateRef and no query", E),
        ("templateRef without name", vec![("spec/analysis/metrics/0/templateRef", json!({"name": ""}))], "spec.analysis.metrics[0].templateRef.name", "required", E),
        ("metric interval", vec![("spec/analysis/metrics/0/interval", json!("1 m"))], "spec.analysis.metrics[0].interval", "invalid duration", E),
        ("inline query variable", vec![("spec/analysis/metrics/0/query", json!("x{a=\"{{ variables.missing }}\"}"),)], "spec.analysis.metrics[0].query", "variables.missing", E),
        ("duplicate metric", vec![("spec/analysis/metrics/1", json!({"name": "request-success-rate", "thresholdRange": {"min": 1}}),)], "spec.analysis.metrics[1]", "duplicate metric name", E),
        ("onNoData", vec![("spec/analysis/metrics/0/onNoData", json!("maybe"))], "spec.analysis.metrics[0].onNoData", "unknown value \"maybe\"; allowed: fail, skip, pass", E),
        ("minSampleCount 0", vec![("spec/analysis/metrics/0/minSampleCount", json!(0))], "spec.analysis.metrics[0].minSampleCount", "must be at least 1 (got 0)", E),
        ("webhook type", vec![("spec/analysis/webhooks/0/type", json!("pre-deploy"))], "spec.analysis.webhooks[0].type", "unknown value \"pre-deploy\"; allowed: confirm-rollout, pre-rollout, rollout,", E),
        ("webhook url", vec![("spec/analysis/webhooks/0/url", json!("tcp://x"))], "spec.analysis.webhooks[0].url", "must be an http:// or https:// URL", E),
        ("webhook timeout", vec![("spec/analysis/webhooks/0/timeout", json!("ten"))], "spec.analysis.webhooks[0].timeout", "invalid duration", E),
        ("webhook retries", vec![("spec/analysis/webhooks/0/retries", json!(-2))], "spec.analysis.webhooks[0].retries", "must be 0 or more", E),
        ("duplicate webhook", vec![("spec/analysis/webhooks/1", json!({"name": "load-test", "url": "http://b/"}),)], "spec.analysis.webhooks[1]", "duplicate webhook name", E),
        ("alert provider name", vec![("spec/analysis/alerts", json!([{"name": "a", "providerRef": {"name": ""}}]),)], "spec.analysis.alerts[0].providerRef.name", "required", E),
        ("port missing", vec![("spec/service/port", null.clone())], "spec.service.port", "required", E),
        ("port 0", vec![("spec/service/port", json!(0))], "spec.service.port", "required", E),
        ("port 65536", vec![("spec/service/port", json!(65536))], "spec.service.port", "between 1 and 65535 (got 65536)", E),
        ("targetPort 0", vec![("spec/service/targetPort", json!(0))], "spec.service.targetPort", "between 1 and 65535 or a port name", E),
        ("service timeout", vec![("spec/service/timeout", json!("x"))], "spec.service.timeout", "invalid duration", E),
        ("delegation with hosts", vec![("spec/service/delegation", json!(true)), ("spec/service/hosts", json!(["a.example.com"]))], "spec.service.delegation", "no hosts and no gateways", E),
        ("unknown provider", vec![("spec/provider", json!("envoy"))], "spec.provider", "unknown value \"envoy\"; allowed: apisix,", E),
        ("gatewayapi without refs", vec![("spec/provider", json!("gatewayapi:v1beta1")), ("spec/service/gatewayRefs", null.clone())], "spec.service.gatewayRefs", "required for the gatewayapi provider", E),
        ("mirror on linkerd", vec![("spec/provider", json!("linkerd")), ("spec/analysis/mirror", json!(true))], "spec.analysis.mirror", "the linkerd provider cannot mirror traffic", E),
        ("affinity on nginx", vec![("spec/provider", json!("nginx")), ("spec/ingressRef", json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"})), ("spec/analysis/sessionAffinity", json!({"cookieName": "c"}))], "spec.analysis.sessionAffinity", "the nginx provider cannot pin sessions", E),
        ("A/B on linkerd", vec![("spec/provider", json!("linkerd")), ("spec/analysis/stepWeight", null.clone()), ("spec/analysis/iterations", json!(5)), ("spec/analysis/match", json!([{"headers": {"x": {"exact": "1"}}}]))], "spec.analysis.match", "cannot route by match", E),
        ("same cookies", vec![("spec/analysis/sessionAffinity", json!({"cookieName": "c", "primaryCookieName": "c"}),)], "spec.analysis.sessionAffinity.primaryCookieName", "must differ from cookieName", E),
        ("empty cookie", vec![("spec/analysis/sessionAffinity", json!({"cookieName": ""}))], "spec.analysis.sessionAffinity.cookieName", "required", E),
        ("progress deadline", vec![("spec/progressDeadlineSeconds", json!(-5))], "spec.progressDeadlineSeconds", "must be at least 1 (got -5)", E),
        ("metricsServer", vec![("spec/metricsServer", json!("prometheus:9090"))], "spec.metricsServer", "http:// or https://", E),
        ("autoscaler kind", vec![("spec/autoscalerRef", json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}),)], "spec.autoscalerRef.kind", "HorizontalPodAutoscaler or ScaledObject", E),
        ("hpa version", vec![("spec/autoscalerRef", json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "name": "x"}),)], "spec.autoscalerRef.apiVersion", "must be autoscaling/v2", E),
        ("scaler replicas", vec![("spec/autoscalerRef", json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "x", "primaryScalerReplicas": {"minReplicas": 5, "maxReplicas": 2}}),)], "spec.autoscalerRef.primaryScalerReplicas", "minReplicas (5) must not exceed maxReplicas (2)", E),
        ("unknown field", vec![("spec/analysis/intervall", json!("1m"))], "spec.analysis.intervall", "did you mean \"interval\"", E),
        ("unknown nested field", vec![("spec/analysis/webhooks/0/timout", json!("5s"))], "spec.analysis.webhooks[0].timout", "did you mean \"timeout\"", E),
        ("unknown top-level spec field", vec![("spec/foo", json!(1))], "spec.foo", "unknown field \"foo\"; allowed here:", E),
        ("wrong type", vec![("spec/analysis/threshold", json!("five"))], "spec.analysis.threshold", "invalid type: string \"five\"", E),
        ("api version", vec![("apiVersion", json!("fledge.dev/v1alpha1"))], "apiVersion", "must be fledge.dev/v1beta1", E),
        ("no name", vec![("metadata", json!({"namespace": "test"}))], "metadata.name", "required", E),
    ];
    check_rows(canary, rows);
}

#[test]
#[rustfmt::skip]
fn canary_warnings_say_what_wins() {
    use Level::Warning as W;
    let null = Value::Null;
    let rows: Vec<Row> = vec![
        ("iterations with stepWeight", vec![("spec/analysis/iterations", json!(5))], "spec.analysis.stepWeight", "iterations is set, so blue-green wins (5 checks)", W),
        ("iterations+match with stepWeights", vec![("spec/analysis/stepWeight", null.clone()), ("spec/analysis/maxWeight", null.clone()), ("spec/analysis/stepWeights", json!([10, 20])), ("spec/analysis/iterations", json!(3)), ("spec/analysis/match", json!([{"headers": {"x": {"exact": "1"}}}]))], "spec.analysis.stepWeights", "A/B testing wins (3 checks)", W),
        ("match without iterations", vec![("spec/analysis/match", json!([{"headers": {"x": {"exact": "1"}}}]),)], "spec.analysis.match", "A/B testing needs iterations", W),
        ("kubernetes with stepWeight", vec![("spec/provider", json!("kubernetes"))], "spec.analysis.stepWeight", "kubernetes provider runs blue/green (10 iterations)", W),
        ("kubernetes with match", vec![("spec/provider", json!("kubernetes")), ("spec/analysis/iterations", json!(4)), ("spec/analysis/match", json!([{"headers": {"x": {"exact": "1"}}}]))], "spec.analysis.match", "blue/green (4 iterations)", W),
        ("maxWeight with stepWeights", vec![("spec/analysis/stepWeight", null.clone()), ("spec/analysis/stepWeights", json!([10, 30]))], "spec.analysis.maxWeight", "last entry (30) is the maximum", W),
        ("webhook outlasts interval", vec![("spec/analysis/webhooks/0/timeout", json!("20s")), ("spec/analysis/webhooks/0/retries", json!(2))], "spec.analysis.webhooks[0].timeout", "worst case 1m (timeout 20s x 3 attempts) outlasts the analysis interval 30s", W),
        ("deprecated threshold", vec![("spec/analysis/metrics/0/threshold", json!(99))], "spec.analysis.metrics[0].threshold", "thresholdRange is set and wins", W),
        ("no bounds", vec![("spec/analysis/metrics/0/thresholdRange", null.clone())], "spec.analysis.metrics[0]", "every check of this metric fails", W),
        ("canaryAnalysis alias", vec![("spec/canaryAnalysis", json!({"interval": "1m", "threshold": 1, "stepWeight": 10})), ("spec/analysis", null.clone())], "spec.canaryAnalysis", "deprecated; rename it to spec.analysis", W),
        ("unrouted provider", vec![("spec/provider", json!("gloo"))], "spec.provider", "gloo is not supported by this fledge version (supported: kubernetes, gatewayapi:v1, gatewayapi:v1beta1, istio, contour, nginx, linkerd, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, traefik); set spec.provider to one of them", Level::Error),
        ("both analyses", vec![("spec/canaryAnalysis", json!({"interval": "1m", "stepWeight": 10}),)], "spec.canaryAnalysis", "ignored because spec.analysis is set", W),
    ];
    check_rows(canary, rows);
}

#[test]
fn warnings_alone_keep_the_object_valid() {
    let mut doc = canary();
    set(&mut doc, "spec/analysis/iterations", json!(5));
    let checked = check_document(&doc, &ValidateOptions::default()).unwrap();
    assert!(checked.is_valid());
    assert!(
        checked
            .problems
            .iter()
            .all(|p| p.severity == Level::Warning)
    );
    assert!(!checked.problems.is_empty());
}

#[test]
fn canary_analysis_alias_is_validated_under_its_own_path() {
    let mut doc = canary();
    set(
        &mut doc,
        "spec/canaryAnalysis",
        json!({"interval": "1s", "stepWeight": 10}),
    );
    set(&mut doc, "spec/analysis", Value::Null);
    let found = problems(&doc);
    assert!(
        found
            .iter()
            .any(|p| p.path == "spec.canaryAnalysis.interval" && p.is_error()),
        "{found:#?}"
    );
}

#[test]
fn min_interval_option_lowers_the_minimum() {
    let mut doc = canary();
    set(&mut doc, "spec/analysis/interval", json!("2s"));
    let relaxed = ValidateOptions {
        min_interval: Duration::from_secs(1),
    };
    let checked = check_document(&doc, &relaxed).unwrap();
    assert!(checked.is_valid(), "{:#?}", checked.problems);
    let found = problems(&doc);
    assert!(
        found
            .iter()
            .any(|p| p.path == "spec.analysis.interval" && p.message.contains("--min-interval"))
    );
}

#[test]
#[rustfmt::skip]
fn metric_template_rules() {
    use Level::Error as E;
    let rows: Vec<Row> = vec![
        ("unknown variable", vec![("spec/query", json!("x{a=\"{{ nmespace }}\"}"))], "spec.query", "line 1, column 9: unknown function `nmespace`", E),
        ("unclosed", vec![("spec/query", json!("x{a=\"{{ namespace\"}"))], "spec.query", "line 1, column 20: unterminated string", E),
        ("empty query", vec![("spec/query", json!("  "))], "spec.query", "required", E),
        ("missing query", vec![("spec/query", Value::Null)], "spec.query", "required", E),
        ("countQuery", vec![("spec/countQuery", json!("{{ bogus }}"))], "spec.countQuery", "unknown function `bogus`", E),
        ("address", vec![("spec/provider/address", json!("prometheus"))], "spec.provider.address", "http:// or https://", E),
        ("no address", vec![("spec/provider/address", Value::Null)], "spec.provider.address", "required for prometheus", E),
        ("provider type", vec![("spec/provider/type", json!("vm"))], "spec.provider.type", "unknown value \"vm\"; allowed: prometheus,", E),
        ("unknown field", vec![("spec/provider/adress", json!("http://p"))], "spec.provider.adress", "did you mean \"address\"", E),
    ];
    check_rows(template, rows);
}

#[test]
#[rustfmt::skip]
fn alert_provider_rules() {
    use Level::Error as E;
    let rows: Vec<Row> = vec![
        ("no address", vec![("spec/address", Value::Null)], "spec.address", "required unless spec.secretRef", E),
        ("bad address", vec![("spec/address", json!("hooks.slack.com"))], "spec.address", "http:// or https://", E),
        ("bad proxy", vec![("spec/proxy", json!("proxy:3128"))], "spec.proxy", "http:// or https://", E),
        ("type", vec![("spec/type", json!("pagerduty"))], "spec.type", "allowed: slack, msteams, discord, rocket, gchat, googlechat, webhook", E),
        ("empty secret", vec![("spec/address", Value::Null), ("spec/secretRef", json!({"name": ""}))], "spec.secretRef.name", "required", E),
    ];
    check_rows(alert, rows);
    let mut doc = alert();
    set(&mut doc, "spec/type", json!("googlechat"));
    assert_eq!(
        problems(&doc),
        [],
        "googlechat is another spelling of gchat"
    );
}

#[test]
fn status_is_not_validated() {
    let mut doc = canary();
    set(
        &mut doc,
        "status",
        json!({"phase": "", "failedChecks": 0, "someFlaggerField": true}),
    );
    assert_eq!(problems(&doc), []);
}

#[test]
fn other_kinds_and_groups_are_skipped() {
    let deployment =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}});
    assert_eq!(
        check_document(&deployment, &ValidateOptions::default()),
        None
    );
    let mut argo = canary();
    set(&mut argo, "apiVersion", json!("example.com/v1"));
    assert_eq!(check_document(&argo, &ValidateOptions::default()), None);
}

#[test]
fn validate_canary_works_on_typed_objects() {
    let mut canary: Canary = serde_json::from_value(canary()).unwrap();
    let analysis = canary.spec.analysis.as_mut().unwrap();
    analysis.metrics.push(CanaryMetric {
        name: "request-duration".into(),
        threshold_range: Some(ThresholdRange {
            min: None,
            max: Some(500.0),
        }),
        ..Default::default()
    });
    assert_eq!(validate_canary(&canary, &ValidateOptions::default()), []);
    canary.spec.analysis.as_mut().unwrap().step_weight = Some(0);
    let found = validate_canary(&canary, &ValidateOptions::default());
    assert_eq!(
        found.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["Canary test/podinfo: spec.analysis.stepWeight: must be between 1 and 100 (got 0)"]
    );
}

#[test]
fn template_refs_are_checked_when_the_template_is_at_hand() {
    use fledge_api::MetricTemplate;
    use fledge_api::validate::validate_template_refs;
    let mut doc = canary();
    set(
        &mut doc,
        "spec/analysis/metrics/1",
        json!({"name": "errors", "templateRef": {"name": "errors"}, "thresholdRange": {"max": 1}, "minSampleCount": 10}),
    );
    set(&mut doc, "spec/provider", json!("smi:v1alpha2"));
    let canary: Canary = serde_json::from_value(doc).unwrap();
    let mut tpl = template();
    set(
        &mut tpl,
        "spec/query",
        json!("x{code=~\"{{ variables.codes }}\"}"),
    );
    let templates: Vec<MetricTemplate> = vec![serde_json::from_value(tpl).unwrap()];

    let found: Vec<String> = validate_template_refs(&canary, &templates)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "Canary test/podinfo: spec.analysis.metrics[1].templateVariables: MetricTemplate test/errors uses {{ variables.codes }}; set codes here",
            "Canary test/podinfo: spec.analysis.metrics[1].minSampleCount: MetricTemplate test/errors has no countQuery and the smi:v1alpha2 provider has no builtin request count, so this check will fail; add countQuery to the template",
        ]
    );

    let mut with_vars = canary.clone();
    let metric = &mut with_vars.spec.analysis.as_mut().unwrap().metrics[1];
    metric
        .template_variables
        .insert("codes".into(), "5..".into());
    metric.min_sample_count = None;
    assert_eq!(validate_template_refs(&with_vars, &templates), []);
    assert_eq!(
        validate_template_refs(&canary, &[]),
        [],
        "a template not at hand is not an error"
    );
}

/// With `comparePrimary`, a template that renders the same query for both sides would compare
/// the canary with itself; one that reads `{{ variables.workload }}` is fine.
#[test]
fn compared_templates_must_tell_the_sides_apart() {
    use fledge_api::MetricTemplate;
    use fledge_api::validate::validate_template_refs;
    let mut doc = canary();
    set(
        &mut doc,
        "spec/analysis/metrics/1",
        json!({"name": "errors", "templateRef": {"name": "errors"}, "comparePrimary": {"difference": {"max": 1}}}),
    );
    let canary: Canary = serde_json::from_value(doc).unwrap();
    assert_eq!(validate_canary(&canary, &ValidateOptions::default()), []);
    let with_query = |query: &str| -> Vec<MetricTemplate> {
        let mut tpl = template();
        set(&mut tpl, "spec/query", json!(query));
        vec![serde_json::from_value(tpl).unwrap()]
    };
    let found: Vec<String> =
        validate_template_refs(&canary, &with_query("x{deployment=\"{{ target }}\"}"))
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(
        found,
        [
            "Canary test/podinfo: spec.analysis.metrics[1].comparePrimary: MetricTemplate test/errors renders the same query for the canary and the primary; select the side with {{ variables.workload }} (its Deployment) or {{ variables.side }}"
        ]
    );
    for query in [
        "x{deployment=\"{{ variables.workload }}\"}",
        "x{side=\"{{ variables.side }}\"}",
    ] {
        assert_eq!(
            validate_template_refs(&canary, &with_query(query)),
            [],
            "{query}"
        );
    }
}
