//! Checking one parsed manifest document (as JSON): is it one of our kinds, does every field
//! exist in our schema (unknown fields are errors, with their path), do the types fit, and
//! then the semantic rules. Flagger's `flagger.app/v1beta1` is checked the same way.

use std::sync::LazyLock;

use kube::CustomResourceExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    Level, Problem, ValidateOptions, validate_alert_provider, validate_canary,
    validate_metric_template,
};
use crate::{API_VERSION, AlertProvider, Canary, FLAGGER_API_VERSION, MetricTemplate};

/// The outcome for one document of a kind we check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedDocument {
    /// `Canary`, `MetricTemplate` or `AlertProvider`.
    pub kind: String,
    /// `namespace/name`.
    pub object: String,
    pub problems: Vec<Problem>,
}

impl CheckedDocument {
    /// No errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.problems.iter().any(Problem::is_error)
    }
}

const KINDS: [&str; 3] = ["Canary", "MetricTemplate", "AlertProvider"];

static SCHEMAS: LazyLock<[Value; 3]> = LazyLock::new(|| {
    let schema = |crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(Value::Null)
    };
    [
        schema(Canary::crd()),
        schema(MetricTemplate::crd()),
        schema(AlertProvider::crd()),
    ]
});

/// Checks a document. `None` when it is not one of our kinds (other kinds are not counted).
pub fn check_document(doc: &Value, opts: &ValidateOptions) -> Option<CheckedDocument> {
    let kind = doc.get("kind")?.as_str()?;
    let index = KINDS.iter().position(|k| *k == kind)?;
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = api_version.split('/').next().unwrap_or_default();
    if group != "fledge.dev" && group != "flagger.app" {
        return None;
    }
    let meta = doc.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    let object = match meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    };
    let mut problems = Vec::new();
    let problem = |path: String, message: String| Problem {
        kind: kind.to_string(),
        object: object.clone(),
        path,
        message,
        severity: Level::Error,
    };
    if api_version != API_VERSION && api_version != FLAGGER_API_VERSION {
        problems.push(problem(
            "apiVersion".into(),
            format!(
                "must be {API_VERSION} (or Flagger's {FLAGGER_API_VERSION}), got {api_version:?}"
            ),
        ));
    }
    if meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        problems.push(problem("metadata.name".into(), "required".into()));
    }
    let mut unknown = Vec::new();
    unknown_fields(doc, &SCHEMAS[index], "", &mut unknown);
    problems.extend(unknown.into_iter().map(|(path, msg)| problem(path, msg)));

    let mut typed = doc.clone();
    typed["apiVersion"] = Value::String(API_VERSION.into());
    // Status is the controller's business (and an exported Flagger status may not fit ours).
    if let Some(map) = typed.as_object_mut() {
        map.remove("status");
    }
    let semantic = match index {
        0 => typed_check::<Canary>(typed).map(|c| validate_canary(&c, opts)),
        1 => typed_check::<MetricTemplate>(typed).map(|t| validate_metric_template(&t)),
        _ => typed_check::<AlertProvider>(typed).map(|a| validate_alert_provider(&a)),
    };
    match semantic {
        Ok(found) => problems.extend(found),
        Err((path, msg)) => problems.push(problem(path, msg)),
    }
    Some(CheckedDocument {
        kind: kind.to_string(),
        object,
        problems,
    })
}

/// Deserializes with the failing field's path and a message that says what is allowed.
fn typed_check<T: DeserializeOwned>(doc: Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize::<_, T>(doc).map_err(|err| {
        let path = err.path().to_string();
        let msg = err.inner().to_string();
        rewrite_serde_error(if path == "." { "" } else { &path }, &msg)
    })
}

fn rewrite_serde_error(path: &str, msg: &str) -> (String, String) {
    let join = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return (join(field), "required".into());
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `")
        && let Some((value, allowed)) = rest.split_once("`, expected ")
    {
        // `""` is an alias (webhook type, severity), not a value worth suggesting.
        let allowed: Vec<&str> = allowed
            .trim_start_matches("one of ")
            .split([',', ' '])
            .filter(|v| *v != "or")
            .map(|v| v.trim_matches('`'))
            .filter(|v| !v.is_empty())
            .collect();
        let allowed = allowed.join(", ");
        return (
            path.to_string(),
            format!("unknown value {value:?}; allowed: {allowed}"),
        );
    }
    (path.to_string(), msg.to_string())
}

/// Fields in `value` that `schema` doesn't declare. Free-form parts (preserve-unknown-fields,
/// maps) and `metadata`/`status` are not checked.
fn unknown_fields(value: &Value, schema: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, child) in map {
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if path.is_empty()
                        && ["apiVersion", "kind", "metadata", "status"].contains(&key.as_str())
                    {
                        continue;
                    }
                    match props.get(key) {
                        Some(child_schema) => unknown_fields(child, child_schema, &child_path, out),
                        None => {
                            let known: Vec<&str> = props.keys().map(String::as_str).collect();
                            out.push((child_path, unknown_field_message(key, &known)));
                        }
                    }
                }
            } else if let Some(additional) =
                schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for (key, child) in map {
                    unknown_fields(child, additional, &format!("{path}.{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(item, item_schema, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn unknown_field_message(key: &str, known: &[&str]) -> String {
    let closest = known
        .iter()
        .map(|k| {
            let (key, k_lower) = (key.to_ascii_lowercase(), k.to_ascii_lowercase());
            // A truncated name (`retry` for `retries`) is as good a hint as a one-letter typo.
            let prefix = key.len() >= 3 && k_lower.starts_with(&key);
            (
                if prefix {
                    1
                } else {
                    edit_distance(&key, &k_lower)
                },
                *k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min();
    match closest {
        Some((_, k)) => format!("unknown field {key:?}; did you mean {k:?}?"),
        None => format!("unknown field {key:?}; allowed here: {}", known.join(", ")),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("stepweight", "stepweight"), 0);
        assert_eq!(edit_distance("intervall", "interval"), 1);
        assert_eq!(
            unknown_field_message("portname", &["port", "portName"]),
            "unknown field \"portname\"; did you mean \"portName\"?"
        );
        assert_eq!(
            unknown_field_message("threshold", &["thresholdRange", "query"]),
            "unknown field \"threshold\"; did you mean \"thresholdRange\"?"
        );
        assert_eq!(
            unknown_field_message("stepweight", &["stepWeight", "maxWeight"]),
            "unknown field \"stepweight\"; did you mean \"stepWeight\"?"
        );
        assert_eq!(
            unknown_field_message("zzz", &["a", "b"]),
            "unknown field \"zzz\"; allowed here: a, b"
        );
    }

    #[test]
    fn serde_errors_get_paths_and_allowed_values() {
        assert_eq!(
            rewrite_serde_error("spec.service", "missing field `port`"),
            ("spec.service.port".into(), "required".into())
        );
        assert_eq!(
            rewrite_serde_error(
                "spec.provider",
                "unknown variant `envoy`, expected one of `istio`, `linkerd`"
            ),
            (
                "spec.provider".into(),
                "unknown value \"envoy\"; allowed: istio, linkerd".into()
            )
        );
    }
}
