//! The `scale` subresource: an object's `autoscaling/v1` `Scale` view, from the builtin paths
//! or a CRD's `specReplicasPath`/`statusReplicasPath`/`labelSelectorPath`. Pure.

use serde_json::{Value, json};

use crate::store::ResourceDef;

fn dotted<'v>(obj: &'v Value, path: &str) -> &'v Value {
    path.trim_start_matches('.')
        .split('.')
        .fold(obj, |v, k| &v[k])
}

fn set_dotted(obj: &mut Value, path: &str, value: Value) {
    let mut cur = obj;
    let keys: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    for k in &keys[..keys.len().saturating_sub(1)] {
        if !cur[*k].is_object() {
            cur[*k] = json!({});
        }
        cur = &mut cur[*k];
    }
    if let Some(last) = keys.last() {
        cur[*last] = value;
    }
}

/// The `autoscaling/v1` `Scale` view of an object.
pub(super) fn scale_of(def: &ResourceDef, obj: &Value) -> Value {
    let Some(paths) = &def.scale else {
        return Value::Null;
    };
    let selector = match &paths.label_selector {
        Some(p) => dotted(obj, p).clone(),
        None => {
            let sel = &obj["spec"]["selector"]["matchLabels"];
            let parts: Vec<String> = sel
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            json!(parts.join(","))
        }
    };
    let m = &obj["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"], "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": dotted(obj, &paths.spec_replicas).as_i64().unwrap_or(0)},
        "status": {"replicas": dotted(obj, &paths.status_replicas).as_i64().unwrap_or(0), "selector": selector},
    })
}

pub(super) fn set_scale(def: &ResourceDef, mut obj: Value, replicas: i64) -> Value {
    if let Some(paths) = &def.scale {
        set_dotted(&mut obj, &paths.spec_replicas, json!(replicas));
    }
    obj
}
