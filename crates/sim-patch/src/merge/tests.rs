use serde_json::{Value, json};

use super::*;

fn deploy() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "annotations": {"foo": "bar", "keep": "1"}, "labels": {"app": "podinfo"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "img:1"}]}}}
    })
}

#[test]
fn kubectl_merge_patches_apply() {
    // (patch as kubectl sends it, JSON pointer, expected value there; null = absent)
    let cases: Vec<(Value, &str, Value)> = vec![
        // kubectl patch --type merge -p '{"spec":{"replicas":4}}'
        (json!({"spec": {"replicas": 4}}), "/spec/replicas", json!(4)),
        // kubectl scale --replicas=2 against /scale
        (json!({"spec": {"replicas": 2}}), "/spec/replicas", json!(2)),
        // kubectl annotate deploy podinfo foo=baz --overwrite
        (
            json!({"metadata": {"annotations": {"foo": "baz"}}}),
            "/metadata/annotations/foo",
            json!("baz"),
        ),
        // kubectl annotate deploy podinfo foo-
        (
            json!({"metadata": {"annotations": {"foo": null}}}),
            "/metadata/annotations/foo",
            Value::Null,
        ),
        // kubectl label deploy podinfo tier=web
        (
            json!({"metadata": {"labels": {"tier": "web"}}}),
            "/metadata/labels/tier",
            json!("web"),
        ),
        // lists are replaced wholesale
        (
            json!({"spec": {"template": {"spec": {"containers": [{"name": "d"}]}}}}),
            "/spec/template/spec/containers",
            json!([{"name": "d"}]),
        ),
        // null deletes a whole subtree
        (
            json!({"metadata": {"labels": null}}),
            "/metadata/labels",
            Value::Null,
        ),
    ];
    for (patch, pointer, want) in cases {
        let out = apply(&deploy(), &patch).unwrap();
        assert_eq!(
            out.pointer(pointer).cloned().unwrap_or(Value::Null),
            want,
            "{patch}"
        );
    }
}

#[test]
fn merge_leaves_untouched_fields_alone() {
    let out = apply(
        &deploy(),
        &json!({"metadata": {"annotations": {"foo": null}}}),
    )
    .unwrap();
    assert_eq!(
        out.pointer("/metadata/annotations"),
        Some(&json!({"keep": "1"}))
    );
    assert_eq!(out["spec"], deploy()["spec"]);
    assert_eq!(apply(&deploy(), &json!({})).unwrap(), deploy());
}

#[test]
fn crd_apply_patch_removes_dropped_fields() {
    // What `kubectl apply` sends for a Canary whose stepWeight was removed.
    let canary =
        json!({"spec": {"analysis": {"maxWeight": 50, "stepWeight": 10, "interval": "1m"}}});
    let patch = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
                       "spec": {"analysis": {"maxWeight": 60, "stepWeight": null}}});
    let out = apply(&canary, &patch).unwrap();
    assert_eq!(
        out["spec"]["analysis"],
        json!({"maxWeight": 60, "interval": "1m"})
    );
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{}\n"
    );
}

#[test]
fn non_object_patches_are_bad_requests() {
    for patch in [json!([]), json!("x"), json!(null), json!(3)] {
        match apply(&deploy(), &patch) {
            Err(Error::BadRequest(msg)) => assert!(msg.contains("must be a JSON object"), "{msg}"),
            other => panic!("{patch}: {other:?}"),
        }
    }
}
