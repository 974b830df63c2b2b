//! Real semantics the sim only approximates, pinned by the same tests in both worlds: `fledge
//! sim` (its own API server and Deployment controller), and a real control plane
//! (`scripts/cluster`: kube-apiserver and kube-controller-manager, with `fledge sim --join` as
//! the kubelet). `FLEDGE_TEST_WORLD=sim` or `cluster` runs one of them; unset, both.
//!
//! Pinned here: Deployment defaulting, its status conditions (`Available`, `Progressing` with
//! `NewReplicaSetAvailable` and `ProgressDeadlineExceeded`), ReplicaSet naming by the
//! `pod-template-hash`, pods turning ready as the scenario says, and garbage collection
//! through ownerReferences.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{DEFAULT_SCENARIO, IMG1, podinfo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(90);

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

#[test]
fn a_deployment_is_defaulted_rolls_out_and_becomes_available() {
    for w in worlds(DEFAULT_SCENARIO) {
        w.apply(&podinfo(NS, IMG1, 2));
        let d = w.wait_for("podinfo Available", T, |w| {
            let d = w.get_json(&["deployment", "-n", NS, "podinfo"])?;
            let available = condition(&d, "Available")?["status"] == "True";
            let done = condition(&d, "Progressing")?["reason"] == "NewReplicaSetAvailable";
            (available && done && d["status"]["readyReplicas"] == 2).then_some(d)
        });
        let world = w.world();
        // Defaulting, as the API server does it.
        let spec = &d["spec"];
        assert_eq!(spec["strategy"]["type"], "RollingUpdate", "{world}");
        assert_eq!(
            spec["strategy"]["rollingUpdate"]["maxSurge"], "25%",
            "{world}"
        );
        assert_eq!(
            spec["strategy"]["rollingUpdate"]["maxUnavailable"], "25%",
            "{world}"
        );
        assert_eq!(spec["revisionHistoryLimit"], 10, "{world}");
        assert_eq!(
            spec["template"]["spec"]["restartPolicy"], "Always",
            "{world}"
        );
        assert_eq!(
            spec["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent",
            "{world}"
        );
        assert_eq!(d["status"]["availableReplicas"], 2, "{world}");
        assert_eq!(
            d["status"]["observedGeneration"], d["metadata"]["generation"],
            "{world}"
        );

        // One ReplicaSet, named after the template hash its pods carry.
        let rs = w
            .get_json(&["replicaset", "-n", NS, "-l", "app=podinfo"])
            .unwrap();
        let items = rs["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{world}: {rs:#}");
        let hash = items[0]["metadata"]["labels"]["pod-template-hash"]
            .as_str()
            .unwrap();
        assert_eq!(
            items[0]["metadata"]["name"],
            format!("podinfo-{hash}"),
            "{world}"
        );
        let owner = &items[0]["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "Deployment", "{world}");
        assert_eq!(owner["controller"], true, "{world}");
        let pods = w.get_json(&["pod", "-n", NS, "-l", "app=podinfo"]).unwrap();
        for pod in pods["items"].as_array().unwrap() {
            let name = pod["metadata"]["name"].as_str().unwrap();
            assert!(
                name.starts_with(&format!("podinfo-{hash}-")),
                "{world}: {name}"
            );
            assert_eq!(pod["status"]["phase"], "Running", "{world}");
            assert_eq!(
                condition(pod, "Ready").unwrap()["status"],
                "True",
                "{world}"
            );
        }
    }
}

#[test]
fn an_image_that_never_gets_ready_exceeds_the_progress_deadline() {
    for w in worlds(DEFAULT_SCENARIO) {
        let manifest = podinfo(NS, "ghcr.io/stefanprodan/podinfo:bad", 1)
            .replace("progressDeadlineSeconds: 60", "progressDeadlineSeconds: 3");
        w.apply(&manifest);
        let progressing = w.wait_for("ProgressDeadlineExceeded", T, |w| {
            let d = w.get_json(&["deployment", "-n", NS, "podinfo"])?;
            condition(&d, "Progressing")
                .filter(|c| c["reason"] == "ProgressDeadlineExceeded")
                .cloned()
        });
        assert_eq!(progressing["status"], "False", "{}", w.world());
        let d = w.get_json(&["deployment", "-n", NS, "podinfo"]).unwrap();
        assert_eq!(
            condition(&d, "Available").unwrap()["status"],
            "False",
            "{}",
            w.world()
        );
        let pods = w.get_json(&["pod", "-n", NS, "-l", "app=podinfo"]).unwrap();
        let pod = &pods["items"][0];
        assert_eq!(
            condition(pod, "Ready").unwrap()["status"],
            "False",
            "{}",
            w.world()
        );
    }
}

#[test]
fn deleting_a_deployment_collects_its_replica_sets_and_pods() {
    for w in worlds(DEFAULT_SCENARIO) {
        w.apply(&podinfo(NS, IMG1, 2));
        w.wait_for("two ready pods", T, |w| {
            let d = w.get_json(&["deployment", "-n", NS, "podinfo"])?;
            (d["status"]["readyReplicas"] == 2).then_some(())
        });
        w.kubectl(&["delete", "deployment", "-n", NS, "podinfo", "--wait=false"]);
        w.wait_for("the ReplicaSets and pods collected", T, |w| {
            let rs = w.get_json(&["replicaset", "-n", NS, "-l", "app=podinfo"])?;
            let pods = w.get_json(&["pod", "-n", NS, "-l", "app=podinfo"])?;
            let none = |v: &Value| v["items"].as_array().is_some_and(|i| i.is_empty());
            (none(&rs) && none(&pods)).then_some(())
        });
    }
}
