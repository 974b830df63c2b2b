use serde_json::json;

use super::*;

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "u", "resourceVersion": "5", "generation": 1,
                     "labels": {"app": "podinfo"}, "finalizers": ["fledge.dev/finalizer"]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "podinfo"}},
                 "template": {"metadata": {"labels": {"app": "podinfo"}},
                              "spec": {"containers": [{"name": "c", "image": "img:1", "args": ["a", "b"],
                                                       "ports": [{"containerPort": 9898}], "resources": {}}]}}}
    })
}

#[test]
fn object_fields_encode_as_fields_v1() {
    let set = of_object("Deployment", &deployment(), true).unwrap();
    let want = json!({
        "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"fledge.dev/finalizer\"": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                    ".": {}, "f:name": {}, "f:image": {}, "f:args": {}, "f:resources": {},
                    "f:ports": {"k:{\"containerPort\":9898,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                }}}
            }
        }
    });
    assert_eq!(to_fields_v1(&set), want);
    assert_eq!(from_fields_v1(&want), set);
}

#[test]
fn real_fields_v1_with_dot_entries_decodes() {
    // As written by the real API server for an Update that created the labels map.
    let v =
        json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}});
    let set = from_fields_v1(&v);
    let paths: Vec<String> = set.iter().map(|p| display(p)).collect();
    assert_eq!(
        paths,
        vec![".metadata.labels", ".metadata.labels.app", ".spec.replicas"]
    );
    assert_eq!(to_fields_v1(&set), v);
}

#[test]
fn paths_display_navigate_and_remove() {
    let mut obj = deployment();
    let c = |s: &str| s.to_string();
    let image = vec![
        c("f:spec"),
        c("f:template"),
        c("f:spec"),
        c("f:containers"),
        c("k:{\"name\":\"c\"}"),
        c("f:image"),
    ];
    assert_eq!(
        display(&image),
        ".spec.template.spec.containers[name=\"c\"].image"
    );
    assert_eq!(get(&obj, &image), Some(&json!("img:1")));
    // The key carries the defaulted protocol; the stored port has none and still matches.
    let port = vec![
        c("f:spec"),
        c("f:template"),
        c("f:spec"),
        c("f:containers"),
        c("k:{\"name\":\"c\"}"),
        c("f:ports"),
        c("k:{\"containerPort\":9898,\"protocol\":\"TCP\"}"),
    ];
    assert_eq!(
        display(&port),
        ".spec.template.spec.containers[name=\"c\"].ports[containerPort=9898,protocol=\"TCP\"]"
    );
    assert_eq!(get(&obj, &port), Some(&json!({"containerPort": 9898})));
    let fin = vec![
        c("f:metadata"),
        c("f:finalizers"),
        c("v:\"fledge.dev/finalizer\""),
    ];
    assert_eq!(
        display(&fin),
        ".metadata.finalizers[=\"fledge.dev/finalizer\"]"
    );
    assert_eq!(get(&obj, &[c("f:spec"), c("f:nope")]), None);

    remove(&mut obj, &port);
    remove(&mut obj, &fin);
    remove(&mut obj, &[c("f:spec"), c("f:replicas")]);
    remove(&mut obj, &[c("f:spec"), c("f:missing"), c("f:x")]);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([])
    );
    assert_eq!(obj["metadata"]["finalizers"], json!([]));
    assert!(obj["spec"].get("replicas").is_none());
}

#[test]
fn descendants_and_missing_keys() {
    let set = of_object("Deployment", &deployment(), true).unwrap();
    let c = |s: &str| s.to_string();
    assert!(has_descendant(&set, &[c("f:spec")]));
    assert!(has_descendant(
        &set,
        &[
            c("f:spec"),
            c("f:template"),
            c("f:spec"),
            c("f:containers"),
            c("k:{\"name\":\"c\"}")
        ]
    ));
    assert!(!has_descendant(&set, &[c("f:spec"), c("f:replicas")]));

    let bad = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
    let err = of_object("Deployment", &bad, true).unwrap_err();
    assert_eq!(
        err,
        Error::Invalid(".spec.template.spec.containers[0]: list element must be an object with key field(s) name".into())
    );
    let lenient = of_object("Deployment", &bad, false).unwrap();
    assert!(lenient.contains(&vec![
        c("f:spec"),
        c("f:template"),
        c("f:spec"),
        c("f:containers"),
        c("i:0")
    ]));
}
