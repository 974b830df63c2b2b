use serde_json::{Value, json};

use super::*;

fn deploy() -> Value {
    json!({"metadata": {"name": "podinfo"}, "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "img:1"}]}}}})
}

#[test]
fn operations_apply_in_order() {
    let cases: Vec<(Value, &str, Value)> = vec![
        // kubectl patch --type json -p '[{"op":"replace","path":"/spec/replicas","value":5}]'
        (
            json!([{"op": "replace", "path": "/spec/replicas", "value": 5}]),
            "/spec/replicas",
            json!(5),
        ),
        (
            json!([{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]),
            "/metadata/labels/a",
            json!("b"),
        ),
        (
            json!([{"op": "remove", "path": "/spec/replicas"}]),
            "/spec/replicas",
            Value::Null,
        ),
        (
            json!([{"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "d"}}]),
            "/spec/template/spec/containers/1/name",
            json!("d"),
        ),
        (
            json!([{"op": "test", "path": "/spec/replicas", "value": 2}, {"op": "replace", "path": "/spec/replicas", "value": 3}]),
            "/spec/replicas",
            json!(3),
        ),
        (
            json!([{"op": "copy", "from": "/metadata/name", "path": "/spec/name"}]),
            "/spec/name",
            json!("podinfo"),
        ),
        (
            json!([{"op": "move", "from": "/spec/replicas", "path": "/spec/count"}]),
            "/spec/count",
            json!(2),
        ),
        // A path segment with '/' is escaped as ~1 (annotations with prefixes).
        (
            json!([{"op": "add", "path": "/metadata/annotations", "value": {}},
                   {"op": "add", "path": "/metadata/annotations/fledge.dev~1pause", "value": "true"}]),
            "/metadata/annotations/fledge.dev~1pause",
            json!("true"),
        ),
    ];
    for (patch, pointer, want) in cases {
        let out = apply(&deploy(), &patch).unwrap_or_else(|e| panic!("{patch}: {e}"));
        assert_eq!(
            out.pointer(pointer).cloned().unwrap_or(Value::Null),
            want,
            "{patch}"
        );
    }
}

#[test]
fn failing_test_is_its_own_error() {
    let patch = json!([{"op": "replace", "path": "/spec/replicas", "value": 9},
                       {"op": "test", "path": "/spec/replicas", "value": 2}]);
    let err = apply(&deploy(), &patch).unwrap_err();
    assert_eq!(
        err,
        Error::TestFailed {
            operation: 1,
            path: "/spec/replicas".into()
        }
    );
    assert!(
        err.to_string()
            .contains("test operation 1 failed at /spec/replicas"),
        "{err}"
    );
}

#[test]
fn bad_paths_are_invalid_and_bad_bodies_bad_requests() {
    let invalid = [
        json!([{"op": "replace", "path": "/spec/missing/x", "value": 1}]),
        json!([{"op": "remove", "path": "/metadata/labels"}]),
        json!([{"op": "add", "path": "/spec/template/spec/containers/7", "value": {}}]),
    ];
    for patch in invalid {
        assert!(
            matches!(apply(&deploy(), &patch), Err(Error::Invalid(_))),
            "{patch}"
        );
    }
    let bad = [
        json!({"op": "add"}),
        json!([{"op": "frobnicate", "path": "/a"}]),
        json!([{"path": "/a"}]),
    ];
    for patch in bad {
        match apply(&deploy(), &patch) {
            Err(Error::BadRequest(msg)) => {
                assert!(msg.starts_with("json patch: invalid body"), "{msg}")
            }
            other => panic!("{patch}: {other:?}"),
        }
    }
}

#[test]
fn a_patch_whose_undo_would_fail_is_refused_not_a_panic() {
    // Found by fuzzing (crates/fuzz/regressions/json_patch): after the root moved, undoing the
    // failed patch failed too, and json_patch::patch panics then.
    let object = json!({"a": [1, 2], "b": {"c": 1}});
    let patch = json!([
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "move", "from": "/a/0", "path": ""},
        {"op": "replace", "path": "/a/0", "value": {"x": []}},
    ]);
    assert!(
        matches!(apply(&object, &patch), Err(Error::Invalid(_))),
        "{:?}",
        apply(&object, &patch)
    );
}

#[test]
fn copies_that_grow_the_object_without_bound_are_refused() {
    // Found by fuzzing (crates/fuzz/regressions/json_patch/timeout-*): each copy of the root
    // doubles the object; the API server caps what copies add.
    let object = json!({"a": ["x".repeat(1000)]});
    let doubling: Vec<Value> = (0..40)
        .map(|_| json!({"op": "copy", "from": "", "path": "/a/-"}))
        .collect();
    match apply(&object, &Value::Array(doubling)) {
        Err(Error::Invalid(msg)) => assert!(msg.contains("the copies add more than"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let too_many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "test", "path": "/a", "value": ["x"]}))
        .collect();
    assert!(matches!(
        apply(&object, &Value::Array(too_many)),
        Err(Error::BadRequest(_))
    ));
}

#[test]
fn errors_name_the_failing_operation() {
    let patch = json!([
        {"op": "replace", "path": "/metadata/name", "value": "renamed"},
        {"op": "remove", "path": "/spec/nope"},
    ]);
    match apply(&deploy(), &patch) {
        Err(Error::Invalid(msg)) => assert!(msg.contains("operation '/1'"), "{msg}"),
        other => panic!("{other:?}"),
    }
}
