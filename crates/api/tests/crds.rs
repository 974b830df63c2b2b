//! The generated CRDs must be structural (the apiserver rejects them otherwise) and must
//! cover every field of Flagger's CRDs (so Flagger manifests survive pruning).

use fledge_api::crd::{crds, crds_yaml};
use serde_json::Value;

fn schemas() -> Vec<(String, Value)> {
    crds()
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let value = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
            (name, value["openAPIV3Schema"].clone())
        })
        .collect()
}

/// The structural-schema rules of apiextensions that can be checked without an apiserver.
fn structural_problems(schema: &Value, path: &str, out: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        out.push(format!("{path}: schema is not an object"));
        return;
    };
    for forbidden in [
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "$ref",
        "definitions",
        "$defs",
        "$schema",
    ] {
        if obj.contains_key(forbidden) {
            out.push(format!("{path}: has `{forbidden}`"));
        }
    }
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let ty = obj.get("type").and_then(Value::as_str);
    match ty {
        Some("object" | "array" | "string" | "integer" | "number" | "boolean") => {}
        Some(other) => out.push(format!("{path}: unknown type {other}")),
        None if int_or_string => {}
        None => out.push(format!("{path}: no type")),
    }
    if ty == Some("array") && !obj.contains_key("items") {
        out.push(format!("{path}: array without items"));
    }
    if ty == Some("object")
        && !preserve
        && !obj.contains_key("properties")
        && !obj.contains_key("additionalProperties")
        && path != "$.metadata"
    {
        out.push(format!("{path}: object with neither properties, additionalProperties nor preserve-unknown-fields"));
    }
    if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
        out.push(format!(
            "{path}: properties and additionalProperties together"
        ));
    }
    if let Some(values) = obj.get("enum").and_then(Value::as_array) {
        for v in values {
            let ok = match (ty, v) {
                (_, Value::Null) => obj.get("nullable") == Some(&Value::Bool(true)),
                (Some("string"), Value::String(_)) => true,
                (Some("integer" | "number"), Value::Number(_)) => true,
                _ => false,
            };
            if !ok {
                out.push(format!("{path}: enum value {v} does not match type {ty:?}"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for v in values {
            if !seen.insert(v.to_string()) {
                out.push(format!("{path}: duplicate enum value {v}"));
            }
        }
    }
    if obj.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
        let required: Vec<&str> = obj["items"]["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for key in obj["x-kubernetes-list-map-keys"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if !required.contains(&key.as_str().unwrap_or_default()) {
                out.push(format!(
                    "{path}: list-map key {key} is not required in items"
                ));
            }
        }
    }
    if let Some(rules) = obj
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for rule in rules {
            if rule["rule"].as_str().is_none_or(str::is_empty) || rule["message"].as_str().is_none()
            {
                out.push(format!(
                    "{path}: validation without rule or message: {rule}"
                ));
            }
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            structural_problems(prop, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = obj.get("items") {
        structural_problems(items, &format!("{path}[]"), out);
    }
    if let Some(additional) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        structural_problems(additional, &format!("{path}{{}}"), out);
    }
}

#[test]
fn generated_schemas_are_structural() {
    for (name, schema) in schemas() {
        let mut problems = Vec::new();
        structural_problems(&schema, "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{name} is not structural:\n{}",
            problems.join("\n")
        );
    }
}

#[test]
fn structural_checker_catches_violations() {
    let bad = serde_json::json!({
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "b": {"description": "no type"},
            "c": {"type": "array"},
            "d": {"type": "string", "enum": ["x", 1]},
        }
    });
    let mut problems = Vec::new();
    structural_problems(&bad, "$", &mut problems);
    let joined = problems.join("\n");
    for want in [
        "$.a: has `anyOf`",
        "$.a: no type",
        "$.b: no type",
        "$.c: array without items",
        "$.d: enum value 1",
    ] {
        assert!(joined.contains(want), "missing {want:?} in:\n{joined}");
    }
}

fn flagger_schemas() -> Vec<(String, Value)> {
    let docs: Vec<Value> =
        serde_json::from_str(include_str!("fixtures/flagger-crds.json")).unwrap();
    docs.into_iter()
        .map(|d| {
            let kind = d["spec"]["names"]["kind"].as_str().unwrap().to_string();
            (
                kind,
                d["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone(),
            )
        })
        .collect()
}

fn missing_fields(flagger: &Value, ours: &Value, path: &str, out: &mut Vec<String>) {
    if ours.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(props) = flagger.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            // kube leaves the object envelope to the apiserver, which always knows it.
            if path == "$" && ["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
                continue;
            }
            match ours.get("properties").and_then(|p| p.get(name)) {
                Some(our_prop) => missing_fields(prop, our_prop, &format!("{path}.{name}"), out),
                None => out.push(format!("{path}.{name}")),
            }
        }
    }
    if let (Some(f), Some(o)) = (flagger.get("items"), ours.get("items")) {
        missing_fields(f, o, &format!("{path}[]"), out);
    }
    if let (Some(f), Some(o)) = (
        flagger.get("additionalProperties"),
        ours.get("additionalProperties"),
    ) {
        missing_fields(f, o, &format!("{path}{{}}"), out);
    }
}

#[test]
fn every_flagger_field_exists_in_our_schema() {
    let ours: Vec<(String, Value)> = crds()
        .into_iter()
        .map(|crd| {
            let value = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
            (
                crd.spec.names.kind.clone(),
                value["openAPIV3Schema"].clone(),
            )
        })
        .collect();
    for (kind, flagger) in flagger_schemas() {
        let (_, our) = ours.iter().find(|(k, _)| *k == kind).unwrap();
        let mut missing = Vec::new();
        missing_fields(&flagger, our, "$", &mut missing);
        assert!(
            missing.is_empty(),
            "{kind}: fields Flagger has and we don't:\n{}",
            missing.join("\n")
        );
    }
}

#[test]
fn canary_crd_names_and_columns() {
    let crd = &crds()[0];
    assert_eq!(crd.spec.group, "fledge.dev");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(
        crd.spec.names.short_names.as_deref(),
        Some(&["canary".to_string()][..])
    );
    assert_eq!(
        crd.spec.names.categories, None,
        "no `all` category: kubectl get all must not list canaries"
    );
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1beta1");
    assert!(
        version
            .subresources
            .as_ref()
            .is_some_and(|s| s.status.is_some())
    );
    let columns = version.additional_printer_columns.as_ref().unwrap();
    let default_columns: Vec<(&str, &str)> = columns
        .iter()
        .filter(|c| c.priority.unwrap_or(0) == 0)
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        default_columns,
        [
            ("Status", ".status.phase"),
            ("Weight", ".status.canaryWeight"),
            ("FailedChecks", ".status.failedChecks"),
            ("Interval", ".spec.analysis.interval"),
            ("StepWeight", ".spec.analysis.stepWeight"),
            ("MaxWeight", ".spec.analysis.maxWeight"),
            ("LastTransitionTime", ".status.lastTransitionTime"),
        ]
    );
    let wide: Vec<&str> = columns
        .iter()
        .filter(|c| c.priority == Some(1))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(wide, ["Suspended", "Mirror", "StepWeights"]);
}

#[test]
fn cel_rules_are_present_where_promised() {
    let yaml = crds_yaml().unwrap();
    for rule in [
        "!(has(self.stepWeight) && has(self.stepWeights))",
        "has(self.min) || has(self.max)",
        "self.primaryCookieName != self.cookieName",
        "self.url.startsWith('http://')",
        "has(self.address) || has(self.secretRef)",
    ] {
        assert!(yaml.contains(rule), "rule {rule:?} missing from the CRDs");
    }
}

#[test]
fn yaml_is_three_documents_that_parse_back() {
    let yaml = crds_yaml().unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&yaml).unwrap();
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "canaries.fledge.dev",
            "metrictemplates.fledge.dev",
            "alertproviders.fledge.dev"
        ]
    );
    let direct: Vec<Value> = crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(docs, direct, "YAML must round-trip to the same CRDs");
}
