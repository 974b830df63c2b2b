use serde_json::json;

use super::*;

const T1: &str = "2026-11-22T01:00:00Z";
const T2: &str = "2026-11-22T02:00:00Z";

fn writer(manager: &'static str, now: &'static str) -> Writer<'static> {
    Writer {
        kind: "Deployment",
        manager,
        subresource: None,
        now,
    }
}

fn config(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "labels": {"app": "podinfo"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "podinfo"}},
                 "template": {"metadata": {"labels": {"app": "podinfo"}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}}
    })
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap().to_string(),
                        e["operation"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of(obj: &Value, manager: &str) -> Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == manager))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn apply_creates_and_records_the_applier() {
    let obj = server_side(&writer("kubectl", T1), None, &config(2, "img:1"), false).unwrap();
    assert_eq!(obj["spec"]["replicas"], 2);
    assert_eq!(
        obj["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:selector": {},
                           "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                                          "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
            }
        }])
    );
}

#[test]
fn reapplying_the_same_config_changes_nothing() {
    let obj = server_side(&writer("kubectl", T1), None, &config(2, "img:1"), false).unwrap();
    let again = server_side(
        &writer("kubectl", T2),
        Some(&obj),
        &config(2, "img:1"),
        false,
    )
    .unwrap();
    assert_eq!(again, obj);
    let changed = server_side(
        &writer("kubectl", T2),
        Some(&obj),
        &config(3, "img:1"),
        false,
    )
    .unwrap();
    assert_eq!(changed["spec"]["replicas"], 3);
    assert_eq!(changed["metadata"]["managedFields"][0]["time"], T2);
}

#[test]
fn conflicts_name_the_field_and_the_owner() {
    let obj = server_side(&writer("alice", T1), None, &config(2, "img:1"), false).unwrap();
    let cases: Vec<(Value, Result<(), &str>)> = vec![
        // Same values: shared ownership, no conflict.
        (config(2, "img:1"), Ok(())),
        (
            config(3, "img:1"),
            Err("Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"),
        ),
        (
            config(3, "img:2"),
            Err(
                "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image",
            ),
        ),
        // Bob only sets a field alice never set.
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo"}, "spec": {"paused": true}}),
            Ok(()),
        ),
    ];
    for (cfg, want) in cases {
        let got = server_side(&writer("bob", T2), Some(&obj), &cfg, false);
        match (got, want) {
            (Ok(out), Ok(())) => assert!(
                managers(&out).contains(&("bob".into(), "Apply".into())),
                "{cfg}"
            ),
            (Err(e), Err(msg)) => {
                assert_eq!(e.to_string(), msg, "{cfg}");
                let Error::Conflict(list) = e else {
                    panic!("not a conflict: {e:?}")
                };
                assert_eq!(list[0].cause_message(), "conflict with \"alice\"");
                assert_eq!(list[0].field, ".spec.replicas");
            }
            (got, want) => panic!("{cfg}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn force_takes_ownership() {
    let obj = server_side(&writer("alice", T1), None, &config(2, "img:1"), false).unwrap();
    let out = server_side(&writer("bob", T2), Some(&obj), &config(5, "img:1"), true).unwrap();
    assert_eq!(out["spec"]["replicas"], 5);
    assert_eq!(fields_of(&out, "bob")["f:spec"]["f:replicas"], json!({}));
    assert!(
        fields_of(&out, "alice")["f:spec"]
            .get("f:replicas")
            .is_none(),
        "{out:#}"
    );
    // Alice still shares the image, so she can apply it again without conflict.
    server_side(&writer("alice", T2), Some(&out), &config(5, "img:1"), false).unwrap();
    // But re-applying her old replica count now conflicts with bob.
    let err =
        server_side(&writer("alice", T2), Some(&out), &config(2, "img:1"), false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"bob\": .spec.replicas"
    );
}

#[test]
fn fields_dropped_from_the_config_are_removed_unless_someone_else_owns_them() {
    let mut with_extra = config(2, "img:1");
    with_extra["metadata"]["labels"]["tier"] = json!("web");
    with_extra["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "envoy"}));
    let obj = server_side(&writer("alice", T1), None, &with_extra, false).unwrap();

    let out = server_side(&writer("alice", T2), Some(&obj), &config(2, "img:1"), false).unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"app": "podinfo"}));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "c", "image": "img:1"}])
    );

    // If bob also applied the tier label, it stays when alice drops it.
    let bob_cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo", "labels": {"tier": "web"}}});
    let shared = server_side(&writer("bob", T1), Some(&obj), &bob_cfg, false).unwrap();
    let out = server_side(
        &writer("alice", T2),
        Some(&shared),
        &config(2, "img:1"),
        false,
    )
    .unwrap();
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "podinfo", "tier": "web"})
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn keyed_lists_merge_with_other_managers_items() {
    let obj = server_side(&writer("alice", T1), None, &config(2, "img:1"), false).unwrap();
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}}});
    let out = server_side(&writer("mesh", T2), Some(&obj), &sidecar, false).unwrap();
    let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "sidecar"]);
    // Alice re-applies her config: the sidecar is not hers, so it stays.
    let again = server_side(&writer("alice", T2), Some(&out), &config(2, "img:1"), false).unwrap();
    assert_eq!(
        again["spec"]["template"]["spec"]["containers"],
        out["spec"]["template"]["spec"]["containers"]
    );
}

#[test]
fn updates_by_other_writers_make_later_applies_conflict() {
    // kubectl create -f, then kubectl apply --server-side with other replicas.
    let created = record_update(&writer("kubectl-create", T1), None, &config(2, "img:1")).unwrap();
    assert_eq!(
        managers(&created),
        [("kubectl-create".to_string(), "Update".to_string())]
    );
    let err = server_side(
        &writer("kubectl", T2),
        Some(&created),
        &config(3, "img:1"),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-create\" using apps/v1: .spec.replicas"
    );

    // kubectl set image after an apply takes the image; re-applying the old image conflicts.
    let applied = server_side(&writer("kubectl", T1), None, &config(2, "img:1"), false).unwrap();
    let patched = crate::strategic::apply(
        "Deployment",
        &applied,
        &json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"image":"img:2","name":"c"}]}}}}),
    )
    .unwrap();
    let updated = record_update(&writer("kubectl-set", T2), Some(&applied), &patched).unwrap();
    assert_eq!(
        managers(&updated),
        [
            ("kubectl".to_string(), "Apply".to_string()),
            ("kubectl-set".to_string(), "Update".to_string())
        ]
    );
    assert_eq!(
        fields_of(&updated, "kubectl-set"),
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {"f:image": {}}}}}}})
    );
    let err = server_side(
        &writer("kubectl", T2),
        Some(&updated),
        &config(2, "img:1"),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-set\" using apps/v1: .spec.template.spec.containers[name=\"c\"].image"
    );
    // Applying the new image agrees with kubectl-set: no conflict.
    server_side(
        &writer("kubectl", T2),
        Some(&updated),
        &config(2, "img:2"),
        false,
    )
    .unwrap();
}

#[test]
fn record_update_moves_changed_fields_and_drops_removed_ones() {
    let applied = server_side(&writer("alice", T1), None, &config(2, "img:1"), false).unwrap();
    // kubectl scale (merge patch on /scale) and a label removal by kubectl-label.
    let scaled = crate::merge::apply(&applied, &json!({"spec": {"replicas": 4}})).unwrap();
    let scaled = record_update(&writer("kubectl-scale", T2), Some(&applied), &scaled).unwrap();
    assert_eq!(
        fields_of(&scaled, "kubectl-scale"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(
        fields_of(&scaled, "alice")["f:spec"]
            .get("f:replicas")
            .is_none()
    );

    let unlabeled =
        crate::merge::apply(&scaled, &json!({"metadata": {"labels": {"app": null}}})).unwrap();
    let unlabeled = record_update(&writer("kubectl-label", T2), Some(&scaled), &unlabeled).unwrap();
    assert!(
        fields_of(&unlabeled, "alice")["f:metadata"].is_null(),
        "{:#}",
        fields_of(&unlabeled, "alice")
    );
    // The label is gone from every owner; the writer owns the now-empty map
    // (an empty map is a field of its own).
    assert_eq!(
        fields_of(&unlabeled, "kubectl-label"),
        json!({"f:metadata": {"f:labels": {}}})
    );

    // A write that changes nothing leaves managedFields alone.
    let same = record_update(&writer("other", T2), Some(&unlabeled), &unlabeled).unwrap();
    assert_eq!(same, unlabeled);
}

#[test]
fn status_writers_are_separate_owners() {
    let obj = server_side(&writer("alice", T1), None, &config(2, "img:1"), false).unwrap();
    let mut with_status = obj.clone();
    with_status["status"] =
        json!({"conditions": [{"type": "Available", "status": "True"}], "replicas": 2});
    let status_writer = Writer {
        subresource: Some("status"),
        ..writer("sim-controller", T2)
    };
    let out = record_update(&status_writer, Some(&obj), &with_status).unwrap();
    let entry = out["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "sim-controller")
        .unwrap()
        .clone();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {"f:replicas": {}, "f:conditions": {"k:{\"type\":\"Available\"}": {".": {}, "f:type": {}, "f:status": {}}}}})
    );
    let other = Writer {
        subresource: Some("status"),
        ..writer("other", T2)
    };
    let status_cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo"}, "status": {"replicas": 3}});
    let err = server_side(&other, Some(&out), &status_cfg, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"sim-controller\" with subresource \"status\" using apps/v1: .status.replicas"
    );
}

#[test]
fn sets_and_bad_configs() {
    let mut cfg = config(2, "img:1");
    cfg["metadata"]["finalizers"] = json!(["a"]);
    let obj = server_side(&writer("alice", T1), None, &cfg, false).unwrap();
    let mut bob_cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo", "finalizers": ["b"]}});
    let out = server_side(&writer("bob", T1), Some(&obj), &bob_cfg, false).unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    assert_eq!(
        fields_of(&out, "bob"),
        json!({"f:metadata": {"f:finalizers": {"v:\"b\"": {}}}})
    );

    bob_cfg["spec"] = json!({"template": {"spec": {"containers": [{"image": "x"}]}}});
    assert!(matches!(
        server_side(&writer("bob", T1), Some(&obj), &bob_cfg, false),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        server_side(&writer("bob", T1), Some(&obj), &json!([1]), false),
        Err(Error::BadRequest(_))
    ));

    // Client-sent managedFields and nulls are ignored.
    let mut sneaky = config(2, "img:1");
    sneaky["metadata"]["managedFields"] = json!([{"manager": "evil", "operation": "Apply"}]);
    sneaky["spec"]["paused"] = Value::Null;
    let out = server_side(&writer("alice", T1), None, &sneaky, false).unwrap();
    assert_eq!(managers(&out), [("alice".to_string(), "Apply".to_string())]);
    assert!(out["spec"].get("paused").is_none());
}

#[test]
fn applies_are_scoped_to_their_target() {
    let mut cfg = config(2, "img:1");
    cfg["status"] = json!({"replicas": 9});
    let obj = server_side(&writer("alice", T1), None, &cfg, false).unwrap();
    assert!(
        obj.get("status").is_none(),
        "a main-resource apply ignores status: {obj}"
    );
    assert!(fields_of(&obj, "alice").get("f:status").is_none());

    let status_writer = Writer {
        subresource: Some("status"),
        ..writer("ctrl", T2)
    };
    let status_cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "labels": {"x": "y"}},
        "spec": {"replicas": 7}, "status": {"replicas": 2}});
    let out = server_side(&status_writer, Some(&obj), &status_cfg, false).unwrap();
    assert_eq!(out["status"], json!({"replicas": 2}));
    assert_eq!(out["spec"], obj["spec"]);
    assert_eq!(out["metadata"]["labels"], obj["metadata"]["labels"]);
    assert_eq!(
        fields_of(&out, "ctrl"),
        json!({"f:status": {"f:replicas": {}}})
    );
}

#[test]
fn kubectl_server_side_takes_over_its_client_side_apply() {
    let annotation = "kubectl.kubernetes.io/last-applied-configuration";
    let mut manifest = config(2, "img:1");
    manifest["metadata"]["annotations"] = json!({annotation: format!("{}\n", config(2, "img:1"))});
    let created = record_update(&writer("kubectl-client-side-apply", T1), None, &manifest).unwrap();
    // Someone else scaled it since: that field is theirs now.
    let scaled = crate::merge::apply(&created, &json!({"spec": {"replicas": 5}})).unwrap();
    let scaled = record_update(&writer("hpa", T1), Some(&created), &scaled).unwrap();

    // Same manager name as kubectl --server-side: conflicts on its own last-applied fields are forced.
    let out = server_side(
        &writer("kubectl", T2),
        Some(&created),
        &config(3, "img:2"),
        false,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "img:2"
    );
    assert_eq!(
        out["metadata"]["annotations"][annotation],
        format!("{}\n", config(3, "img:2"))
    );
    assert!(
        fields_of(&out, "kubectl-client-side-apply")["f:spec"]
            .get("f:replicas")
            .is_none()
    );

    // Another manager gets the conflicts.
    let err = server_side(
        &writer("other", T2),
        Some(&created),
        &config(3, "img:1"),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    // A field changed by someone else since the client-side apply still conflicts.
    let err = server_side(
        &writer("kubectl", T2),
        Some(&scaled),
        &config(3, "img:2"),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"hpa\" using apps/v1: .spec.replicas"
    );
}
