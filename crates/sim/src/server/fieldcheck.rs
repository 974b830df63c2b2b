//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore`): finds fields the kind
//! does not declare and type errors. Builtins are checked by decoding into the k8s-openapi types
//! and comparing; custom resources against their CRD schema. Unknown fields are dropped from
//! the object, as the real server does. Pure.

use serde_json::Value;

use crate::store::{ApiError, ResourceDef, unknown_fields};

/// What the request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Warn,
    Ignore,
}

impl Mode {
    /// From the `fieldValidation` query value; absent means `Warn` (the server default).
    pub fn parse(value: Option<&str>) -> Result<Mode, ApiError> {
        match value {
            None | Some("Warn") => Ok(Mode::Warn),
            Some("Strict") => Ok(Mode::Strict),
            Some("Ignore") => Ok(Mode::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: invalid value {other:?}: must be one of Strict, Warn or Ignore"
            ))),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Remove from `orig` what `typed` (its decoded-and-encoded form) lost, recording the paths.
fn prune_against(orig: &mut Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (orig, typed) {
        (Value::Object(o), Value::Object(t)) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                let child = join(path, &k);
                match (o.get_mut(&k), t.get(&k)) {
                    (Some(Value::Null), _) => {}
                    (Some(v), Some(tv)) => prune_against(v, tv, &child, out),
                    (Some(_), None) => {
                        o.remove(&k);
                        out.push(child);
                    }
                    (None, _) => {}
                }
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            for (i, (ov, tv)) in o.iter_mut().zip(t.iter()).enumerate() {
                prune_against(ov, tv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(
    obj: &Value,
) -> Result<Value, String> {
    let typed: T = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

fn typed_form(def: &ResourceDef, obj: &Value) -> Option<Result<Value, String>> {
    use k8s_openapi::api::{apps, autoscaling, coordination, core, events, networking};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    Some(match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") => roundtrip::<core::v1::Namespace>(obj),
        ("", "configmaps") => roundtrip::<core::v1::ConfigMap>(obj),
        ("", "secrets") => roundtrip::<core::v1::Secret>(obj),
        ("", "services") => roundtrip::<core::v1::Service>(obj),
        ("", "endpoints") => roundtrip::<core::v1::Endpoints>(obj),
        ("", "events") => roundtrip::<core::v1::Event>(obj),
        ("", "pods") => roundtrip::<core::v1::Pod>(obj),
        ("", "serviceaccounts") => roundtrip::<core::v1::ServiceAccount>(obj),
        ("apps", "deployments") => roundtrip::<apps::v1::Deployment>(obj),
        ("apps", "replicasets") => roundtrip::<apps::v1::ReplicaSet>(obj),
        ("apps", "daemonsets") => roundtrip::<apps::v1::DaemonSet>(obj),
        ("apps", "statefulsets") => roundtrip::<apps::v1::StatefulSet>(obj),
        ("autoscaling", "horizontalpodautoscalers") => {
            roundtrip::<autoscaling::v2::HorizontalPodAutoscaler>(obj)
        }
        ("networking.k8s.io", "ingresses") => roundtrip::<networking::v1::Ingress>(obj),
        ("coordination.k8s.io", "leases") => roundtrip::<coordination::v1::Lease>(obj),
        ("events.k8s.io", "events") => roundtrip::<events::v1::Event>(obj),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            roundtrip::<apiext::CustomResourceDefinition>(obj)
        }
        _ => return None,
    })
}

/// Check `obj` (in the request's shape), dropping unknown fields. Returns the warnings to send
/// (`unknown field "spec.foo"`), or a 400 under `Strict` or on a type error.
pub fn check(def: &ResourceDef, obj: &mut Value, mode: Mode) -> Result<Vec<String>, ApiError> {
    let mut unknown = Vec::new();
    if def.custom {
        if let Some(schema) = &def.schema {
            unknown = unknown_fields(schema, obj);
        }
    } else if let Some(typed) = typed_form(def, obj) {
        let typed = typed.map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                def.kind, def.version, def.kind
            ))
        })?;
        prune_against(obj, &typed, "", &mut unknown);
    }
    let messages: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect();
    match mode {
        Mode::Strict if !messages.is_empty() => Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            messages.join(", ")
        ))),
        Mode::Warn => Ok(messages),
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Registry;

    #[test]
    fn builtin_unknown_fields_are_found_and_dropped() {
        let reg = Registry::default();
        let def = reg.find("apps", "v1", "deployments").unwrap();
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 1, "foo": 1, "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i", "bar": true}]}}}});
        let warnings = check(def, &mut d, Mode::Warn).unwrap();
        assert_eq!(
            warnings,
            vec![
                "unknown field \"spec.foo\"",
                "unknown field \"spec.template.spec.containers[0].bar\""
            ]
        );
        assert!(d["spec"].get("foo").is_none());
        let mut d2 = json!({"metadata": {"name": "d"}, "spec": {"foo": 1}});
        let err = check(def, &mut d2, Mode::Strict).unwrap_err();
        assert_eq!(
            err.message,
            "strict decoding error: unknown field \"spec.foo\""
        );
        let mut d3 = json!({"metadata": {"name": "d"}, "spec": {"replicas": "two"}});
        assert_eq!(check(def, &mut d3, Mode::Ignore).unwrap_err().code, 400);
    }

    #[test]
    fn mode_parsing() {
        assert_eq!(Mode::parse(None).unwrap(), Mode::Warn);
        assert_eq!(Mode::parse(Some("Strict")).unwrap(), Mode::Strict);
        assert!(Mode::parse(Some("strict")).is_err());
    }
}
