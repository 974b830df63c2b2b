//! Flagger manifests must load into our types with only `apiVersion` changed, and nothing in
//! them may be lost on the way (every field written comes back out unchanged).

use std::path::{Path, PathBuf};

use fledge_api::{AlertProvider, Canary, MetricTemplate};
use serde_json::Value;

fn example_docs() -> Vec<(PathBuf, Value)> {
    // Every Flagger example, routed by this version or not: the schema is Flagger's either way.
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let mut paths: Vec<PathBuf> = ["canaries", "unrouted-providers"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(testdata.join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 15,
        "expected the example manifests in {}",
        testdata.display()
    );
    let mut docs = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let values: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        docs.extend(values.into_iter().map(|v| (path.clone(), v)));
    }
    docs
}

/// Every leaf of `original` must be in `roundtrip` with the same value. Numbers compare as
/// numbers (`99` equals `99.0`); `""` for a webhook type or alert severity comes back as its
/// default name, which is the one normalisation we make.
fn lost_fields(original: &Value, roundtrip: &Value, path: &str, out: &mut Vec<String>) {
    match (original, roundtrip) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => lost_fields(value, other, &format!("{path}.{key}"), out),
                    None => out.push(format!("{path}.{key}: dropped")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                lost_fields(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (Value::String(a), Value::String(b)) if a.is_empty() && (b == "rollout" || b == "info") => {
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: {a} became {b}")),
    }
}

#[test]
fn examples_load_with_only_api_version_changed_and_lose_nothing() {
    let mut checked = 0;
    for (path, mut doc) in example_docs() {
        doc["apiVersion"] = Value::String("fledge.dev/v1beta1".into());
        let kind = doc["kind"].as_str().unwrap().to_string();
        let back = match kind.as_str() {
            "Canary" => {
                serde_json::to_value(serde_json::from_value::<Canary>(doc.clone()).unwrap())
            }
            "MetricTemplate" => {
                serde_json::to_value(serde_json::from_value::<MetricTemplate>(doc.clone()).unwrap())
            }
            "AlertProvider" => {
                serde_json::to_value(serde_json::from_value::<AlertProvider>(doc.clone()).unwrap())
            }
            other => panic!("{}: unexpected kind {other}", path.display()),
        }
        .unwrap();
        let mut lost = Vec::new();
        lost_fields(&doc, &back, "", &mut lost);
        assert!(
            lost.is_empty(),
            "{} ({kind}) lost fields:\n{}",
            path.display(),
            lost.join("\n")
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} documents checked");
}

#[test]
fn lost_fields_detects_a_dropped_field() {
    let original = serde_json::json!({"spec": {"a": 1, "b": [1, 2]}});
    let back = serde_json::json!({"spec": {"b": [1, 3]}});
    let mut lost = Vec::new();
    lost_fields(&original, &back, "", &mut lost);
    assert_eq!(lost, [".spec.a: dropped", ".spec.b[1]: 2 became 3"]);
}

#[test]
fn flagger_podinfo_defaults_and_strategy() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/canaries/flagger-istio-progressive.yaml"),
    )
    .unwrap();
    let canary: Canary = serde_saphyr::from_str(&text).unwrap();
    let analysis = canary.spec.analysis().unwrap();
    assert_eq!(analysis.interval(), std::time::Duration::from_secs(60));
    assert_eq!(analysis.threshold(), 5);
    assert_eq!(analysis.max_weight(), 50);
    assert_eq!(analysis.step_weight(), 10);
    assert_eq!(canary.spec.service.port_name(), "http");
    assert_eq!(canary.spec.primary_target_name(), "podinfo-primary");
    assert_eq!(canary.spec.canary_service_name(), "podinfo-canary");
    assert_eq!(analysis.webhooks[1].type_, fledge_api::HookType::Rollout);
    let plan = canary
        .spec
        .strategy(canary.spec.provider_or(fledge_api::Provider::Istio));
    assert_eq!(plan.strategy, fledge_api::Strategy::Canary);
}

/// Flagger-style MetricTemplates (testdata/flagger/metric-templates.yaml: Go templates with
/// printf, index, pipelines, eq/and/or, if/else, trimming) render as Go would render them.
#[test]
fn flagger_style_templates_render_as_go_does() {
    use fledge_api::template::{TemplateVars, check, render};
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/flagger/metric-templates.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let templates: Vec<MetricTemplate> = serde_saphyr::from_multiple(&text).unwrap();
    let vars = |pairs: &[(&str, &str)]| TemplateVars {
        namespace: "test".into(),
        name: "podinfo".into(),
        target: "podinfo".into(),
        service: "podinfo".into(),
        ingress: "podinfo".into(),
        route: "podinfo".into(),
        interval: "1m".into(),
        variables: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let with = vars(&[("reporter", "source"), ("direction", "outbound")]);
    let without = vars(&[("reporter", "destination"), ("direction", "")]);
    let expected: &[(&str, &[(&TemplateVars, &str)])] = &[
        (
            "not-found-percentage",
            &[(&with, r#"response_code!="404""#)],
        ),
        ("latency", &[(&with, r#"reporter="source""#)]),
        ("error-rate", &[(&with, r#"ingress="podinfo", canary!="""#)]),
        (
            "envoy-error-rate",
            &[(
                &with,
                r#"envoy_cluster_name=~"test_podinfo-canary_[0-9a-zA-Z-]+","#,
            )],
        ),
        (
            "linkerd-success-rate",
            &[
                (&with, r#"direction="outbound""#),
                (&without, r#"direction="inbound""#),
                (&without, "sum(rate(response_total{"),
            ],
        ),
        (
            "latency-vs-primary",
            &[(
                &with,
                r#"kubernetes_pod_name=~"podinfo-primary-[0-9a-zA-Z]+"#,
            )],
        ),
    ];
    assert_eq!(templates.len(), expected.len());
    for (template, (name, cases)) in templates.iter().zip(expected) {
        assert_eq!(template.metadata.name.as_deref(), Some(*name));
        assert_eq!(check(&template.spec.query), Ok(()), "{name}");
        for (vars, want) in *cases {
            let out = render(&template.spec.query, vars).expect(name);
            assert!(out.contains(want), "{name}: {want:?} not in\n{out}");
            assert!(!out.contains("{{") && !out.contains("<no value>"), "{out}");
        }
    }
    // The trimmed first line leaves no blank line before the query.
    let linkerd = render(&templates[4].spec.query, &without).unwrap();
    assert!(linkerd.starts_with("sum(rate(response_total{"), "{linkerd}");
}
