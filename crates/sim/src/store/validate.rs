//! Validation on write: the few builtin rules controllers trip over (Deployment selectors,
//! container names and images, Service ports) and, for custom resources, the CRD's structural
//! schema (defaults, pruning of unknown fields, types, required, enum, bounds). Returns
//! `Invalid` errors with one cause per field, as the real server does. Never writes to the store.

use serde_json::{Map, Value};

use super::{ApiError, Cause, ResourceDef};

/// Check `obj` (and, for custom resources, default and prune it) before it is stored.
pub fn validate(def: &ResourceDef, obj: &mut Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    match (def.group.as_str(), def.plural.as_str()) {
        ("apps", "deployments" | "replicasets" | "daemonsets" | "statefulsets") => {
            workload(obj, &mut causes)
        }
        ("", "pods") => pod_spec(&obj["spec"], "spec", &mut causes),
        ("", "services") => service(obj, &mut causes),
        ("", "configmaps") => {
            if let Some(data) = obj["data"].as_object() {
                for (k, v) in data {
                    if !v.is_string() {
                        causes.push(Cause::new(
                            "FieldValueInvalid",
                            format!("data.{k}"),
                            "Invalid value: must be a string",
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    if let Some(schema) = def.schema.as_ref().filter(|_| def.custom)
        && let Some(map) = obj.as_object_mut()
    {
        for (key, value) in map.iter_mut() {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(sub) = schema["properties"].get(key) {
                check(sub, value, key, &mut causes);
            }
        }
        apply_defaults(schema, map);
        // metadata, apiVersion and kind are the server's, never pruned by the CRD schema.
        let kept: Vec<(String, Value)> = ["apiVersion", "kind", "metadata"]
            .iter()
            .filter_map(|k| map.remove(*k).map(|v| (k.to_string(), v)))
            .collect();
        prune_object(schema, map, "", &mut Vec::new());
        map.extend(kept);
        required(schema, map, "", &mut causes);
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &def.kind_group(),
            &def.group,
            &def.kind,
            obj["metadata"]["name"].as_str().unwrap_or_default(),
            causes,
        ))
    }
}

/// Paths of fields `obj` has that the CRD schema does not declare (for `fieldValidation`).
pub fn unknown_fields(schema: &Value, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(map) = obj.as_object() {
        let mut copy = map.clone();
        copy.remove("metadata");
        copy.remove("apiVersion");
        copy.remove("kind");
        prune_object(schema, &mut copy, "", &mut out);
    }
    out
}

fn preserves_unknown(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == true
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn prune_object(
    schema: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    removed: &mut Vec<String>,
) {
    let props = schema["properties"].as_object();
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    if preserves_unknown(schema) && props.is_none() && additional.is_none() {
        return;
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let sub = props.and_then(|p| p.get(&key)).or(additional);
        let child = join(path, &key);
        match sub {
            None if preserves_unknown(schema)
                || schema["x-kubernetes-embedded-resource"] == true
                    && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") => {}
            None => {
                map.remove(&key);
                removed.push(child);
            }
            Some(sub) => {
                if let Some(value) = map.get_mut(&key) {
                    prune_value(sub, value, &child, removed);
                }
            }
        }
    }
}

fn prune_value(schema: &Value, value: &mut Value, path: &str, removed: &mut Vec<String>) {
    match value {
        Value::Object(m) => prune_object(schema, m, path, removed),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                prune_value(&schema["items"], item, &format!("{path}[{i}]"), removed);
            }
        }
        _ => {}
    }
}

fn apply_defaults(schema: &Value, map: &mut Map<String, Value>) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (key, sub) in props {
        if !map.contains_key(key)
            && let Some(d) = sub.get("default")
        {
            map.insert(key.clone(), d.clone());
        }
        match map.get_mut(key) {
            Some(Value::Object(child)) => apply_defaults(sub, child),
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Object(child) = item {
                        apply_defaults(&sub["items"], child);
                    }
                }
            }
            _ => {}
        }
    }
}

fn required(schema: &Value, map: &Map<String, Value>, path: &str, causes: &mut Vec<Cause>) {
    for r in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(r) {
            causes.push(Cause::new(
                "FieldValueRequired",
                join(path, r),
                "Required value",
            ));
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

/// Validate one value against its schema, recursively.
fn check(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        if schema["nullable"] != true && schema.get("type").is_some() {
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: \"null\": {path} in body must be of type {}: \"null\"",
                    schema["type"].as_str().unwrap_or("object")
                ),
            ));
        }
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !(value.is_string() || type_name(value) == "integer") {
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body must be of type integer or string",
                    short(value)
                ),
            ));
        }
        return;
    }
    if let Some(expected) = schema["type"].as_str() {
        let actual = type_name(value);
        let ok = actual == expected || (expected == "number" && actual == "integer");
        if !ok {
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""),
            ));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        let supported: Vec<String> = options.iter().map(Value::to_string).collect();
        causes.push(Cause::new(
            "FieldValueNotSupported",
            path,
            format!(
                "Unsupported value: {}: supported values: {}",
                value,
                supported.join(", ")
            ),
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema["minimum"].as_f64()
            && n < min
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {value}: {path} in body should be greater than or equal to {}",
                    schema["minimum"]
                ),
            ));
        }
        if let Some(max) = schema["maximum"].as_f64()
            && n > max
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {value}: {path} in body should be less than or equal to {}",
                    schema["maximum"]
                ),
            ));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|m| len < m) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {value}: {path} in body should be at least {} chars long",
                    schema["minLength"]
                ),
            ));
        }
        if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
            causes.push(Cause::new(
                "FieldValueTooLong",
                path,
                format!(
                    "Too long: may not be more than {} bytes",
                    schema["maxLength"]
                ),
            ));
        }
    }
    match value {
        Value::Object(map) => {
            let props = schema["properties"].as_object();
            for (k, v) in map {
                let sub = props
                    .and_then(|p| p.get(k))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                if let Some(sub) = sub {
                    check(sub, v, &join(path, k), causes);
                }
            }
            required(schema, map, path, causes);
        }
        Value::Array(items) => {
            if schema["minItems"]
                .as_u64()
                .is_some_and(|m| (items.len() as u64) < m)
            {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    path,
                    format!(
                        "Invalid value: {}: {path} in body should have at least {} items",
                        items.len(),
                        schema["minItems"]
                    ),
                ));
            }
            if schema["maxItems"]
                .as_u64()
                .is_some_and(|m| (items.len() as u64) > m)
            {
                causes.push(Cause::new(
                    "FieldValueTooMany",
                    path,
                    format!(
                        "Too many: {}: must have at most {} items",
                        items.len(),
                        schema["maxItems"]
                    ),
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{i}]"), causes);
                }
            }
        }
        _ => {}
    }
}

fn label_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn workload(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    if let Some(r) = spec.get("replicas")
        && r.as_i64().is_none_or(|n| n < 0)
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.replicas",
            format!("Invalid value: {r}: must be greater than or equal to 0"),
        ));
    }
    let selector = &spec["selector"];
    if selector.is_null() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.selector",
            "Required value",
        ));
    } else {
        let labels = label_map(&spec["template"]["metadata"]["labels"]);
        let mismatch = label_map(&selector["matchLabels"])
            .iter()
            .any(|(k, v)| labels.get(k) != Some(v));
        if mismatch || (selector["matchLabels"].is_null() && selector["matchExpressions"].is_null())
        {
            let shown: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
                .collect();
            causes.push(Cause::new(
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                format!("Invalid value: map[string]string{{{}}}: `selector` does not match template `labels`", shown.join(", ")),
            ));
        }
    }
    pod_spec(&spec["template"]["spec"], "spec.template.spec", causes);
}

fn pod_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let containers = spec["containers"].as_array();
    if containers.is_none_or(Vec::is_empty) {
        causes.push(Cause::new(
            "FieldValueRequired",
            format!("{path}.containers"),
            "Required value",
        ));
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        for field in ["name", "image"] {
            if c[field].as_str().is_none_or(str::is_empty) {
                causes.push(Cause::new(
                    "FieldValueRequired",
                    format!("{path}.containers[{i}].{field}"),
                    "Required value",
                ));
            }
        }
    }
}

fn service(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let ports = spec["ports"].as_array();
    let needs_ports = spec["type"] != "ExternalName" && spec["clusterIP"] != "None";
    if needs_ports && ports.is_none_or(Vec::is_empty) {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.ports",
            "Required value",
        ));
    }
    for (i, p) in ports.into_iter().flatten().enumerate() {
        if p["port"].as_u64().is_none_or(|n| n == 0 || n > 65535) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("spec.ports[{i}].port"),
                format!(
                    "Invalid value: {}: must be between 1 and 65535, inclusive",
                    p["port"]
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::registry::defs_from_crd;
    use serde_json::json;

    fn canary_def() -> ResourceDef {
        let crd = json!({"spec": {"group": "fledge.dev", "names": {"plural": "canaries", "kind": "Canary"},
            "versions": [{"name": "v1beta1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "required": ["targetRef"], "properties": {
                    "targetRef": {"type": "object", "properties": {"name": {"type": "string"}}},
                    "progressDeadlineSeconds": {"type": "integer", "default": 600},
                    "analysis": {"type": "object", "properties": {
                        "stepWeight": {"type": "integer", "minimum": 1, "maximum": 100},
                        "provider": {"type": "string", "enum": ["istio", "nginx"]}}}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}});
        defs_from_crd(&crd).remove(0)
    }

    #[test]
    fn custom_resources_are_defaulted_and_pruned() {
        let mut obj = json!({"metadata": {"name": "c", "labels": {"a": "b"}}, "spec": {"targetRef": {"name": "d"}, "bogus": 1}});
        validate(&canary_def(), &mut obj).unwrap();
        assert_eq!(obj["metadata"]["labels"]["a"], "b");
        assert_eq!(obj["spec"]["progressDeadlineSeconds"], 600);
        assert!(obj["spec"].get("bogus").is_none());
    }

    #[test]
    fn custom_resource_errors_name_each_field() {
        let mut obj = json!({"metadata": {"name": "c"}, "spec": {"analysis": {"stepWeight": 0, "provider": "x"}}});
        let err = validate(&canary_def(), &mut obj).unwrap_err();
        assert_eq!(err.code, 422);
        let fields: Vec<String> = err.details.unwrap()["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap().to_string())
            .collect();
        assert!(
            fields.contains(&"spec.analysis.stepWeight".to_string()),
            "{fields:?}"
        );
        assert!(fields.contains(&"spec.analysis.provider".to_string()));
        assert!(fields.contains(&"spec.targetRef".to_string()));
    }

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let schema = canary_def().schema.unwrap();
        let obj = json!({"metadata": {"x": 1}, "spec": {"targetRef": {"name": "d", "nope": 1}}, "status": {"any": 1}});
        assert_eq!(
            unknown_fields(&schema, &obj),
            vec!["spec.targetRef.nope".to_string()]
        );
    }

    #[test]
    fn deployment_selector_must_match_template() {
        let def = crate::store::registry::builtins()
            .into_iter()
            .find(|d| d.plural == "deployments")
            .unwrap();
        let mut d = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let err = validate(&def, &mut d).unwrap_err();
        assert!(
            err.message
                .contains("`selector` does not match template `labels`"),
            "{}",
            err.message
        );
    }
}
