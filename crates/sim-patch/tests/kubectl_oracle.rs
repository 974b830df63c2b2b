//! Checks our strategic merge (and JSON merge / JSON patch) against the real
//! implementation: `kubectl patch --local` applies a patch to a file with the
//! Kubernetes code compiled into kubectl, without any server.

use std::path::Path;
use std::process::Command;

use fledge_sim_patch::{jsonpatch, merge, strategic};
use serde_json::{Value, json};

const KUBECTL: &str = "/usr/bin/kubectl";

/// Runs `kubectl patch --local` in an isolated HOME (the dispatcher caches
/// there) with no kubeconfig.
fn kubectl_patch(dir: &Path, object: &Value, patch_type: &str, patch: &Value) -> Value {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} not found: these tests compare with the real kubectl (install the Google Cloud SDK kubectl or kubernetes-client)"
    );
    let file = dir.join("object.json");
    std::fs::write(&file, object.to_string()).unwrap();
    let out = Command::new(KUBECTL)
        .env("HOME", dir)
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .args(["patch", "--local", "-o", "json", "--type", patch_type, "-f"])
        .arg(&file)
        .arg("-p")
        .arg(patch.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl patch --local failed for {patch}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn deployment(pod_spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "labels": {"app": "podinfo"},
                     "annotations": {"a": "1"}, "finalizers": ["x", "y"]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "podinfo"}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "template": {"metadata": {"labels": {"app": "podinfo"}}, "spec": pod_spec}},
        "status": {"conditions": [{"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True"}]}
    })
}

fn podinfo() -> Value {
    deployment(json!({
        "containers": [
            {"name": "c", "image": "img:1", "args": ["--a"],
             "ports": [{"containerPort": 9898, "protocol": "TCP", "name": "http"}, {"containerPort": 9797, "protocol": "TCP", "name": "m"}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "envFrom": [{"configMapRef": {"name": "cm"}}],
             "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}, {"name": "tmp", "mountPath": "/tmp"}]},
            {"name": "sidecar", "image": "envoy:1"}
        ],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "volumes": [{"name": "cfg", "configMap": {"name": "cm"}}, {"name": "tmp", "emptyDir": {}}],
        "imagePullSecrets": [{"name": "reg"}],
        "tolerations": [{"key": "a", "operator": "Exists"}]
    }))
}

fn strategic_cases() -> Vec<(&'static str, Value, Value)> {
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "podinfo"},
        "spec": {"selector": {"app": "podinfo"}, "ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9898},
            {"name": "m", "port": 9797, "protocol": "TCP", "targetPort": 9797}]}});
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
        "spec": {"maxReplicas": 4, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}});
    let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
        "spec": {"rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]}});
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "uid": "u1", "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app": "p"}}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]}, {"name": "b", "image": "b:1"}],
                 "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
                 "topologySpreadConstraints": [{"topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1}]}});
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}}}});
    let mut cases = vec![
        (
            "pod containers, hostAliases, spread constraints",
            pod,
            json!({"spec": {
            "containers": [{"name": "b", "image": "b:2"}, {"name": "a", "env": [{"name": "Y", "value": "2"}]}],
            "hostAliases": [{"ip": "10.0.0.2", "hostnames": ["b"]}],
            "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]}}),
        ),
        (
            "cronjob containers",
            cronjob,
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "b", "image": "b:2"}]}}}}}}),
        ),
    ];
    cases.extend(vec![
        (
            "apply: replicas and image",
            podinfo(),
            json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
            "spec": {"replicas": 3, "template": {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
                     "containers": [{"image": "img:2", "name": "c"}]}}}}),
        ),
        (
            "set image",
            podinfo(),
            json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"sidecar"}],"containers":[{"image":"img:3","name":"c"}]}}}}),
        ),
        (
            "apply: null label map, null ports, env edit",
            podinfo(),
            json!({
            "metadata": {"labels": null},
            "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
                "containers": [{"name": "c", "ports": null, "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                                "env": [{"name": "C", "value": "3"}, {"name": "B", "$patch": "delete"}]}]}}}}),
        ),
        (
            "apply: Recreate with $retainKeys",
            podinfo(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
        ),
        (
            "new env var without order",
            podinfo(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "Z", "value": "9"}]}]}}}}),
        ),
        (
            "new container with order",
            podinfo(),
            json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "new"}, {"name": "sidecar"}], "containers": [{"name": "new", "image": "n"}]}}}}),
        ),
        (
            "new container without order",
            podinfo(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "n"}]}}}}),
        ),
        (
            "reorder only",
            podinfo(),
            json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "c"}]}}}}),
        ),
        (
            "order with server-only item",
            podinfo(),
            json!({"spec": {"template": {"spec": {
            "$setElementOrder/volumes": [{"name": "new"}, {"name": "cfg"}], "volumes": [{"name": "new", "emptyDir": {}}]}}}}),
        ),
        (
            "delete a container",
            podinfo(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}),
        ),
        (
            "replace containers",
            podinfo(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}]}}}}),
        ),
        (
            "replace a map",
            podinfo(),
            json!({"metadata": {"labels": {"$patch": "replace", "tier": "web"}}}),
        ),
        (
            "delete a map",
            podinfo(),
            json!({"spec": {"strategy": {"$patch": "delete"}}}),
        ),
        (
            "finalizers set merge",
            podinfo(),
            json!({"metadata": {"finalizers": ["y", "z"]}}),
        ),
        (
            "finalizers delete",
            podinfo(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}),
        ),
        (
            "ports by containerPort",
            podinfo(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 9797, "name": "metrics"}]}]}}}}),
        ),
        (
            "volumeMounts by mountPath, volumes by name",
            podinfo(),
            json!({"spec": {"template": {"spec": {
            "volumes": [{"name": "cfg", "configMap": {"name": "cm-primary"}}],
            "containers": [{"name": "c", "volumeMounts": [{"mountPath": "/tmp", "readOnly": true}]}]}}}}),
        ),
        (
            "atomic lists",
            podinfo(),
            json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}],
            "containers": [{"name": "c", "args": ["--b"], "envFrom": [{"secretRef": {"name": "s"}}]}]}}}}),
        ),
        (
            "imagePullSecrets and initContainers by name",
            podinfo(),
            json!({"spec": {"template": {"spec": {
            "imagePullSecrets": [{"name": "reg2"}], "initContainers": [{"name": "init", "image": "alpine"}]}}}}),
        ),
        (
            "status conditions by type",
            podinfo(),
            json!({"status": {"conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}}),
        ),
        (
            "annotate and label bodies",
            podinfo(),
            json!({"metadata": {"annotations": {"a": null, "fledge.dev/pause": "true"}, "labels": {"tier": "web"}}}),
        ),
        (
            "service ports by port",
            svc.clone(),
            json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 443, "name": "https", "targetPort": 8443}]}}),
        ),
        (
            "service apply",
            svc,
            json!({"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 9797}], "ports": [{"port": 80, "targetPort": 9899}]}}),
        ),
        (
            "hpa metrics atomic",
            hpa,
            json!({"spec": {"metrics": [{"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}]}}),
        ),
        (
            "ingress rules atomic",
            ing,
            json!({"spec": {"rules": [{"host": "c.example.com"}]}}),
        ),
        (
            "ownerReferences by uid",
            rs,
            json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "other", "uid": "u2"}]}}),
        ),
    ]);
    cases
}

#[test]
fn strategic_merge_matches_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    for (name, object, patch) in strategic_cases() {
        let kind = object["kind"].as_str().unwrap().to_string();
        let ours =
            strategic::apply(&kind, &object, &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = kubectl_patch(dir.path(), &object, "strategic", &patch);
        assert_eq!(
            ours, theirs,
            "{name}: ours (left) differs from kubectl (right)\nours: {ours:#}\nkubectl: {theirs:#}"
        );
    }
}

#[test]
fn merge_and_json_patch_match_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let merges = [
        json!({"spec": {"replicas": 4}}),
        json!({"metadata": {"annotations": {"a": null, "b": "2"}}}),
        json!({"metadata": {"labels": {"tier": "web"}}, "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "y"}]}}}}),
    ];
    for patch in merges {
        let ours = merge::apply(&podinfo(), &patch).unwrap();
        assert_eq!(
            ours,
            kubectl_patch(dir.path(), &podinfo(), "merge", &patch),
            "{patch}"
        );
    }
    let json_patches = [
        json!([{"op": "replace", "path": "/spec/replicas", "value": 5}]),
        json!([{"op": "add", "path": "/metadata/labels/tier", "value": "web"}, {"op": "remove", "path": "/metadata/annotations/a"}]),
        json!([{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "C", "value": "3"}}]),
    ];
    for patch in json_patches {
        let ours = jsonpatch::apply(&podinfo(), &patch).unwrap();
        assert_eq!(
            ours,
            kubectl_patch(dir.path(), &podinfo(), "json", &patch),
            "{patch}"
        );
    }
}
