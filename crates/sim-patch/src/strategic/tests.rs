use serde_json::{Value, json};

use super::*;

/// A Deployment with the given pod spec.
fn deploy(pod_spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "labels": {"app": "podinfo"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "podinfo"}},
                 "template": {"metadata": {"labels": {"app": "podinfo"}}, "spec": pod_spec}}
    })
}

fn pod_spec_of(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]
}

fn podinfo() -> Value {
    deploy(json!({"containers": [{
        "name": "c", "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
        "ports": [{"containerPort": 9898, "protocol": "TCP", "name": "http"}],
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    }]}))
}

struct Case {
    name: &'static str,
    kind: &'static str,
    original: Value,
    patch: Value,
    /// JSON pointer into the result, and the value expected there (null = absent).
    expect: Vec<(&'static str, Value)>,
}

fn run(cases: Vec<Case>) {
    for c in cases {
        let out =
            apply(c.kind, &c.original, &c.patch).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        for (pointer, want) in &c.expect {
            let got = out.pointer(pointer).cloned().unwrap_or(Value::Null);
            assert_eq!(&got, want, "{}: at {pointer}\nresult: {out:#}", c.name);
        }
        assert!(
            !out.to_string().contains("\"$"),
            "{}: a directive leaked: {out}",
            c.name
        );
    }
}

#[test]
fn kubectl_apply_and_set_image_bodies() {
    run(vec![
        Case {
            name: "apply: replicas 2->3 and image 6.0.0->6.0.1 (body observed from kubectl 1.32)",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Deployment\"}\n"}},
                          "spec": {"replicas": 3, "template": {"spec": {"$setElementOrder/containers": [{"name": "c"}],
                          "containers": [{"image": "ghcr.io/stefanprodan/podinfo:6.0.1", "name": "c"}]}}}}),
            expect: vec![
                ("/spec/replicas", json!(3)),
                (
                    "/spec/template/spec/containers/0/image",
                    json!("ghcr.io/stefanprodan/podinfo:6.0.1"),
                ),
                (
                    "/spec/template/spec/containers/0/ports",
                    podinfo()["spec"]["template"]["spec"]["containers"][0]["ports"].clone(),
                ),
                ("/spec/template/spec/containers/1", Value::Null),
                (
                    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
                    json!("{\"kind\":\"Deployment\"}\n"),
                ),
                ("/metadata/labels/app", json!("podinfo")),
            ],
        },
        Case {
            name: "set image c=img:2",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"image":"img:2","name":"c"}]}}}}),
            expect: vec![
                ("/spec/template/spec/containers/0/image", json!("img:2")),
                ("/spec/template/spec/containers/0/env/1/name", json!("B")),
            ],
        },
        Case {
            name: "apply: removed labels and container ports are sent as null, env merges by name",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"metadata": {"labels": null},
                          "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}],
                          "containers": [{"name": "c", "ports": null,
                                          "$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
                                          "env": [{"name": "B", "value": "22"}, {"name": "C", "value": "3"}]}]}}}}),
            expect: vec![
                ("/metadata/labels", Value::Null),
                ("/spec/template/spec/containers/0/ports", Value::Null),
                (
                    "/spec/template/spec/containers/0/env",
                    json!([{"name": "A", "value": "1"}, {"name": "B", "value": "22"}, {"name": "C", "value": "3"}]),
                ),
                (
                    "/spec/template/spec/containers/0/image",
                    json!("ghcr.io/stefanprodan/podinfo:6.0.0"),
                ),
            ],
        },
        Case {
            name: "apply: Recreate strategy with $retainKeys drops rollingUpdate",
            kind: "Deployment",
            original: {
                let mut d = podinfo();
                d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
                d
            },
            patch: json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
            expect: vec![("/spec/strategy", json!({"type": "Recreate"}))],
        },
        Case {
            name: "apply: a container added via $setElementOrder goes where the order says",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
                          "containers": [{"name": "sidecar", "image": "envoy"}]}}}}),
            expect: vec![
                ("/spec/template/spec/containers/0/name", json!("c")),
                (
                    "/spec/template/spec/containers/1",
                    json!({"name": "sidecar", "image": "envoy"}),
                ),
            ],
        },
    ]);
}

#[test]
fn merge_keys_of_builtin_lists() {
    let svc = json!({"kind": "Service", "spec": {"ports": [
        {"port": 80, "targetPort": 9898, "name": "http"}, {"port": 9797, "name": "metrics"}]}});
    let conditions = json!({"status": {"conditions": [
        {"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}});
    run(vec![
        Case {
            name: "container ports merge by containerPort",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 9898, "name": "web"}]}]}}}}),
            expect: vec![(
                "/spec/template/spec/containers/0/ports",
                json!([{"containerPort": 9898, "protocol": "TCP", "name": "web"}]),
            )],
        },
        Case {
            name: "service ports merge by port",
            kind: "Service",
            original: svc.clone(),
            patch: json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}]}}),
            expect: vec![
                (
                    "/spec/ports/0",
                    json!({"port": 80, "targetPort": "http", "name": "http"}),
                ),
                ("/spec/ports/1/port", json!(9797)),
            ],
        },
        Case {
            name: "status conditions merge by type",
            kind: "Deployment",
            original: conditions.clone(),
            patch: json!({"status": {"conditions": [{"type": "Available", "status": "True"}]}}),
            expect: vec![
                (
                    "/status/conditions/0",
                    json!({"type": "Available", "status": "True"}),
                ),
                (
                    "/status/conditions/1/reason",
                    json!("NewReplicaSetAvailable"),
                ),
            ],
        },
        Case {
            name: "volumes by name, volumeMounts by mountPath, imagePullSecrets by name",
            kind: "Deployment",
            original: deploy(json!({
                "volumes": [{"name": "cfg", "configMap": {"name": "a"}}, {"name": "tmp", "emptyDir": {}}],
                "imagePullSecrets": [{"name": "reg"}],
                "containers": [{"name": "c", "volumeMounts": [{"mountPath": "/cfg", "name": "cfg"}, {"mountPath": "/tmp", "name": "tmp"}]}]
            })),
            patch: json!({"spec": {"template": {"spec": {
                "volumes": [{"name": "cfg", "configMap": {"name": "a-primary"}}],
                "imagePullSecrets": [{"name": "reg2"}],
                "containers": [{"name": "c", "volumeMounts": [{"mountPath": "/cfg", "readOnly": true}]}]
            }}}}),
            expect: vec![
                (
                    "/spec/template/spec/volumes/0/configMap/name",
                    json!("a-primary"),
                ),
                ("/spec/template/spec/volumes/1/name", json!("tmp")),
                (
                    "/spec/template/spec/imagePullSecrets",
                    json!([{"name": "reg2"}, {"name": "reg"}]),
                ),
                (
                    "/spec/template/spec/containers/0/volumeMounts/0",
                    json!({"mountPath": "/cfg", "name": "cfg", "readOnly": true}),
                ),
                (
                    "/spec/template/spec/containers/0/volumeMounts/1/mountPath",
                    json!("/tmp"),
                ),
            ],
        },
        Case {
            name: "tolerations, envFrom and args are atomic",
            kind: "Deployment",
            original: deploy(json!({
                "tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}],
                "containers": [{"name": "c", "args": ["--x", "--y"], "envFrom": [{"configMapRef": {"name": "a"}}, {"secretRef": {"name": "s"}}]}]
            })),
            patch: json!({"spec": {"template": {"spec": {
                "tolerations": [{"key": "c", "operator": "Exists"}],
                "containers": [{"name": "c", "args": ["--z"], "envFrom": [{"configMapRef": {"name": "a-primary"}}]}]
            }}}}),
            expect: vec![
                (
                    "/spec/template/spec/tolerations",
                    json!([{"key": "c", "operator": "Exists"}]),
                ),
                ("/spec/template/spec/containers/0/args", json!(["--z"])),
                (
                    "/spec/template/spec/containers/0/envFrom",
                    json!([{"configMapRef": {"name": "a-primary"}}]),
                ),
            ],
        },
        Case {
            name: "ownerReferences merge by uid",
            kind: "ReplicaSet",
            original: json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "a", "controller": true}]}}),
            patch: json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": false}, {"uid": "u2", "name": "b"}]}}),
            expect: vec![(
                "/metadata/ownerReferences",
                json!([{"uid": "u1", "name": "a", "controller": false}, {"uid": "u2", "name": "b"}]),
            )],
        },
        Case {
            name: "finalizers merge as a set",
            kind: "Deployment",
            original: json!({"metadata": {"finalizers": ["a", "b"]}}),
            patch: json!({"metadata": {"finalizers": ["b", "c"]}}),
            expect: vec![("/metadata/finalizers", json!(["a", "b", "c"]))],
        },
        Case {
            name: "HPA metrics and Ingress rules are replaced",
            kind: "HorizontalPodAutoscaler",
            original: json!({"spec": {"metrics": [{"type": "Resource"}, {"type": "Pods"}], "maxReplicas": 4}}),
            patch: json!({"spec": {"metrics": [{"type": "External"}]}}),
            expect: vec![
                ("/spec/metrics", json!([{"type": "External"}])),
                ("/spec/maxReplicas", json!(4)),
            ],
        },
        Case {
            name: "Ingress rules are replaced",
            kind: "Ingress",
            original: json!({"spec": {"rules": [{"host": "a"}, {"host": "b"}]}}),
            patch: json!({"spec": {"rules": [{"host": "b", "http": {}}]}}),
            expect: vec![("/spec/rules", json!([{"host": "b", "http": {}}]))],
        },
        Case {
            name: "a keyed element new to the list goes before server-only items without $setElementOrder",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "Z", "value": "9"}]}]}}}}),
            expect: vec![(
                "/spec/template/spec/containers/0/env",
                json!([{"name": "Z", "value": "9"}, {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
            )],
        },
    ]);
}

#[test]
fn directives() {
    let with_sidecar = deploy(
        json!({"containers": [{"name": "c", "image": "a"}, {"name": "sidecar", "image": "b"}, {"name": "d", "image": "x"}]}),
    );
    run(vec![
        Case {
            name: "$patch: delete removes a keyed element",
            kind: "Deployment",
            original: with_sidecar.clone(),
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}),
            expect: vec![(
                "/spec/template/spec/containers",
                json!([{"name": "c", "image": "a"}, {"name": "d", "image": "x"}]),
            )],
        },
        Case {
            name: "$patch: replace on a list element replaces the whole list",
            kind: "Deployment",
            original: with_sidecar.clone(),
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "z"}, {"$patch": "replace"}]}}}}),
            expect: vec![(
                "/spec/template/spec/containers",
                json!([{"name": "only", "image": "z"}]),
            )],
        },
        Case {
            name: "$patch: replace on a map replaces the map",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"metadata": {"labels": {"$patch": "replace", "tier": "web"}}}),
            expect: vec![("/metadata/labels", json!({"tier": "web"}))],
        },
        Case {
            name: "$patch: delete on a map empties it",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"spec": {"selector": {"$patch": "delete"}}}),
            expect: vec![("/spec/selector", json!({})), ("/spec/replicas", json!(2))],
        },
        Case {
            name: "$deleteFromPrimitiveList removes scalars from a set",
            kind: "Deployment",
            original: json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            patch: json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zzz"]}}),
            expect: vec![("/metadata/finalizers", json!(["a", "c"]))],
        },
        Case {
            name: "$setElementOrder alone reorders the live list",
            kind: "Deployment",
            original: with_sidecar.clone(),
            patch: json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "d"}, {"name": "sidecar"}, {"name": "c"}]}}}}),
            expect: vec![
                ("/spec/template/spec/containers/0/name", json!("d")),
                ("/spec/template/spec/containers/1/name", json!("sidecar")),
                ("/spec/template/spec/containers/2/name", json!("c")),
            ],
        },
        Case {
            name: "$setElementOrder interleaves server-only items by their live position",
            kind: "Deployment",
            original: with_sidecar.clone(),
            patch: json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "d"}, {"name": "c"}],
                          "containers": [{"name": "c", "image": "a2"}]}}}}),
            // sidecar (live index 1) sorts before d (live index 2), the first ordered item.
            expect: vec![(
                "/spec/template/spec/containers",
                json!([
                {"name": "sidecar", "image": "b"}, {"name": "d", "image": "x"}, {"name": "c", "image": "a2"}]),
            )],
        },
        Case {
            name: "null deletes; patches into absent fields drop nulls and directives",
            kind: "Deployment",
            original: json!({"spec": {"replicas": 1, "paused": true}}),
            patch: json!({"spec": {"paused": null, "template": {"spec": {"containers": [{"name": "c", "ports": null, "$setElementOrder/env": []}]}}}}),
            expect: vec![
                ("/spec/paused", Value::Null),
                ("/spec/replicas", json!(1)),
                ("/spec/template/spec/containers", json!([{"name": "c"}])),
            ],
        },
        Case {
            name: "annotate/label bodies work as strategic patches too",
            kind: "Deployment",
            original: podinfo(),
            patch: json!({"metadata": {"annotations": {"fledge.dev/pause": "true"}, "labels": {"tier": "web"}}}),
            expect: vec![
                ("/metadata/annotations/fledge.dev~1pause", json!("true")),
                ("/metadata/labels", json!({"app": "podinfo", "tier": "web"})),
            ],
        },
        Case {
            name: "type changes replace",
            kind: "Deployment",
            original: json!({"spec": {"x": [1], "y": {"a": 1}}}),
            patch: json!({"spec": {"x": {"b": 2, "c": null}, "y": "s"}}),
            expect: vec![("/spec/x", json!({"b": 2})), ("/spec/y", json!("s"))],
        },
    ]);
}

#[test]
fn unchanged_when_the_patch_restates_the_object() {
    let out = apply("Deployment", &podinfo(), &json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "c"}], "containers": [{"name": "c", "image": "ghcr.io/stefanprodan/podinfo:6.0.0"}]}}}}))
    .unwrap();
    assert_eq!(out, podinfo());
    assert_eq!(pod_spec_of(&out), pod_spec_of(&podinfo()));
}

#[test]
fn malformed_patches_are_rejected() {
    // (patch, message part, true = BadRequest / false = Invalid)
    let cases: Vec<(Value, &str, bool)> = vec![
        (json!([]), "must be a JSON object", true),
        (
            json!({"spec": {"$patch": "merge"}}),
            "spec: unknown $patch directive",
            true,
        ),
        (
            json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            "spec.template.spec.containers: element {\"image\":\"x\"} does not contain declared merge key \"name\"",
            false,
        ),
        (
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}),
            "does not contain declared merge key",
            false,
        ),
        (
            json!({"spec": {"template": {"spec": {"containers": ["c"]}}}}),
            "list elements must be objects",
            false,
        ),
        (
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
            "\"rollingUpdate\" is missing",
            true,
        ),
        (
            json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
            "$retainKeys must be a list",
            true,
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
            "must be a list of values",
            true,
        ),
        (
            json!({"spec": {"$setElementOrder/x": {}}}),
            "$setElementOrder/x must be a list",
            true,
        ),
    ];
    for (patch, want, bad_request) in cases {
        let err = apply("Deployment", &podinfo(), &patch).unwrap_err();
        assert_eq!(
            matches!(err, Error::BadRequest(_)),
            bad_request,
            "{patch}: wrong variant {err:?}"
        );
        assert_eq!(
            matches!(err, Error::Invalid(_)),
            !bad_request,
            "{patch}: wrong variant {err:?}"
        );
        assert!(
            err.to_string().contains(want),
            "{patch}: {err} should contain {want:?}"
        );
    }
    assert!(matches!(
        apply("Deployment", &json!([]), &json!({})),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn objects_in_a_set_of_values_are_refused() {
    // Found by fuzzing (crates/fuzz/regressions/strategic_merge): an object in `finalizers`
    // carried a `$patch` directive into the result.
    let patch = json!({"metadata": {"finalizers": [{"name": "a", "env": [{"$patch": "delete"}]}]}});
    match apply("Deployment", &podinfo(), &patch) {
        Err(Error::BadRequest(msg)) => assert!(
            msg.contains("metadata.finalizers: a list of values, got an object"),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
}
