//! The sim's API server algorithms: the four patch types and selectors. The input is a stream
//! of JSON values (`{...} {...}`): the live object, then the patch or applied configuration.

use fledge_sim_patch::apply::{Writer, record_update, server_side};
use fledge_sim_patch::selector::{FieldSelector, LabelSelector};
use fledge_sim_patch::{jsonpatch, merge, strategic};
use serde_json::Value;

/// Kinds with different list semantics (merge keys, sets, atomic lists) and one without any.
const KINDS: [&str; 5] = ["Deployment", "Service", "Pod", "ConfigMap", "Canary"];

fn values(data: &[u8], n: usize) -> Option<Vec<Value>> {
    let values: Vec<Value> = serde_json::Deserializer::from_slice(data)
        .into_iter::<Value>()
        .take(n)
        .collect::<Result<_, _>>()
        .ok()?;
    (values.len() == n).then_some(values)
}

/// RFC 7386: applying the same merge patch twice changes nothing the second time.
pub fn merge_patch(data: &[u8]) {
    let Some(v) = values(data, 2) else { return };
    if let Ok(once) = merge::apply(&v[0], &v[1]) {
        assert_eq!(
            merge::apply(&once, &v[1]).as_ref(),
            Ok(&once),
            "not idempotent"
        );
    }
}

/// RFC 6902: never a panic, the same answer every time, and a failed patch is refused whole.
pub fn json_patch(data: &[u8]) {
    let Some(v) = values(data, 2) else { return };
    let result = jsonpatch::apply(&v[0], &v[1]);
    assert_eq!(result, jsonpatch::apply(&v[0], &v[1]), "not deterministic");
}

/// Never a panic, the same answer every time, and no directive left in the result.
pub fn strategic_merge(data: &[u8]) {
    let Some(v) = values(data, 2) else { return };
    for kind in KINDS {
        let result = strategic::apply(kind, &v[0], &v[1]);
        assert_eq!(
            result,
            strategic::apply(kind, &v[0], &v[1]),
            "{kind}: not deterministic"
        );
        if let Ok(out) = &result {
            assert!(
                !has_directive(out) || has_directive(&v[0]),
                "{kind}: a directive reached the result: {out}"
            );
        }
    }
}

fn has_directive(v: &Value) -> bool {
    match v {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with('$') || has_directive(v)),
        Value::Array(items) => items.iter().any(has_directive),
        _ => false,
    }
}

/// Server-side apply: applying the same configuration again as the same manager changes
/// nothing; a second manager's forced apply and a plain update never panic.
pub fn server_side_apply(data: &[u8]) {
    let Some(v) = values(data, 3) else { return };
    let live = (!v[0].is_null()).then_some(&v[0]);
    for kind in KINDS {
        for subresource in [None, Some("status")] {
            let writer = |manager| Writer {
                kind,
                manager,
                subresource,
                now: "2026-01-01T00:00:00Z",
            };
            let Ok(applied) = server_side(&writer("one"), live, &v[1], false) else {
                continue;
            };
            assert_eq!(
                server_side(&writer("one"), Some(&applied), &v[1], false).as_ref(),
                Ok(&applied),
                "{kind} {subresource:?}: a repeated apply changed the object"
            );
            let _ = server_side(&writer("two"), Some(&applied), &v[2], true);
            let _ = record_update(&writer("three"), Some(&applied), &v[2]);
        }
    }
}

/// `?labelSelector=` and `?fieldSelector=` strings, and `spec.selector` objects.
pub fn selectors(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let labels = LabelSelector::parse(&text);
    assert_eq!(labels.is_ok(), LabelSelector::parse(&text).is_ok());
    let fields = FieldSelector::parse(&text);
    assert_eq!(fields.is_ok(), FieldSelector::parse(&text).is_ok());
    if let Some(v) = values(data, 1)
        && let Ok(selector) = LabelSelector::from_label_selector(&v[0])
    {
        let _ = selector.matches_object(&v[0]);
    }
}
