//! The API server's bridge from client-side to server-side apply, for the
//! `kubectl` field manager only (as upstream): `kubectl apply --server-side`
//! may take over fields its earlier client-side applies set, and it keeps the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation in step when
//! the object has one.

use serde_json::{Map, Value};

use super::fieldset::{self, PathSet, get, has_descendant};

const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The manager for which the API server does this.
pub(super) const KUBECTL: &str = "kubectl";

fn annotation(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")?
        .get(ANNOTATION)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Fields of the last-applied configuration that still hold the value it
/// set: conflicts on these do not block a `kubectl` server-side apply.
pub(super) fn still_applied(kind: &str, live: &Value) -> PathSet {
    let Some(last) = annotation(live).and_then(|a| serde_json::from_str::<Value>(a).ok()) else {
        return PathSet::new();
    };
    let Ok(set) = fieldset::of_object(kind, &last, false) else {
        return PathSet::new();
    };
    set.iter()
        .filter(|p| {
            get(live, p).is_some() && (has_descendant(&set, p) || get(&last, p) == get(live, p))
        })
        .cloned()
        .collect()
}

/// Rewrites the annotation from the applied configuration, if the object
/// has one.
pub(super) fn sync(result: &mut Value, live: &Value, config: &Value) {
    if annotation(live).is_none() {
        return;
    }
    let mut last = config.clone();
    if let Some(Value::Object(annotations)) = last.pointer_mut("/metadata/annotations") {
        annotations.remove(ANNOTATION);
        if annotations.is_empty()
            && let Some(Value::Object(meta)) = last.get_mut("metadata")
        {
            meta.remove("annotations");
        }
    }
    // Go's JSON encoder: compact, keys sorted, a trailing newline.
    let text = format!("{}\n", sorted(&last));
    if let Some(Value::Object(annotations)) = result.pointer_mut("/metadata/annotations") {
        annotations.insert(ANNOTATION.to_string(), Value::String(text));
    }
}

/// Key order does not depend on serde_json's `preserve_order` feature.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
