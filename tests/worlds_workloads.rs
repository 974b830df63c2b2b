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

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::control_plane::ControlPlane;
use support::{Cluster, DEFAULT_SCENARIO, IMG1, podinfo};

const NS: &str = "test";
const T: Duration = Duration::from_secs(90);

enum World {
    Sim(Cluster),
    Cluster(ControlPlane),
}

impl World {
    fn name(&self) -> &'static str {
        match self {
            World::Sim(_) => "sim",
            World::Cluster(_) => "cluster",
        }
    }

    fn kubectl_output(&self, args: &[&str]) -> Output {
        match self {
            World::Sim(c) => c.kubectl_output(args),
            World::Cluster(c) => c.kubectl_output(args),
        }
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args);
        assert!(
            out.status.success(),
            "{}: kubectl {args:?} failed: {}",
            self.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apply(&self, yaml: &str) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("manifest.yaml");
        std::fs::write(&file, yaml).expect("write manifest");
        self.kubectl(&["apply", "-f", file.to_str().expect("utf-8 path")]);
    }

    fn get(&self, args: &[&str]) -> Option<Value> {
        let mut all = vec!["get", "-o", "json"];
        all.extend_from_slice(args);
        let out = self.kubectl_output(&all);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&World) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            assert!(
                start.elapsed() < T,
                "{}: timed out after {T:?} waiting for {what}",
                self.name()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The worlds `FLEDGE_TEST_WORLD` asks for, each started fresh.
fn worlds() -> Vec<World> {
    let which = std::env::var("FLEDGE_TEST_WORLD").unwrap_or_default();
    let mut out = Vec::new();
    if which.is_empty() || which == "sim" {
        out.push(World::Sim(Cluster::with(DEFAULT_SCENARIO, None)));
    }
    if which.is_empty() || which == "cluster" {
        out.push(World::Cluster(ControlPlane::up(DEFAULT_SCENARIO)));
    }
    assert!(
        !out.is_empty(),
        "FLEDGE_TEST_WORLD={which:?}: use sim or cluster, or leave it unset for both"
    );
    out
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

#[test]
fn a_deployment_is_defaulted_rolls_out_and_becomes_available() {
    for w in worlds() {
        w.apply(&podinfo(NS, IMG1, 2));
        let d = w.wait_for("podinfo Available", |w| {
            let d = w.get(&["deployment", "-n", NS, "podinfo"])?;
            let available = condition(&d, "Available")?["status"] == "True";
            let done = condition(&d, "Progressing")?["reason"] == "NewReplicaSetAvailable";
            (available && done && d["status"]["readyReplicas"] == 2).then_some(d)
        });
        let world = w.name();
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
            .get(&["replicaset", "-n", NS, "-l", "app=podinfo"])
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
        let pods = w.get(&["pod", "-n", NS, "-l", "app=podinfo"]).unwrap();
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
    for w in worlds() {
        let manifest = podinfo(NS, "ghcr.io/stefanprodan/podinfo:bad", 1)
            .replace("progressDeadlineSeconds: 60", "progressDeadlineSeconds: 3");
        w.apply(&manifest);
        let progressing = w.wait_for("ProgressDeadlineExceeded", |w| {
            let d = w.get(&["deployment", "-n", NS, "podinfo"])?;
            condition(&d, "Progressing")
                .filter(|c| c["reason"] == "ProgressDeadlineExceeded")
                .cloned()
        });
        assert_eq!(progressing["status"], "False", "{}", w.name());
        let d = w.get(&["deployment", "-n", NS, "podinfo"]).unwrap();
        assert_eq!(
            condition(&d, "Available").unwrap()["status"],
            "False",
            "{}",
            w.name()
        );
        let pods = w.get(&["pod", "-n", NS, "-l", "app=podinfo"]).unwrap();
        let pod = &pods["items"][0];
        assert_eq!(
            condition(pod, "Ready").unwrap()["status"],
            "False",
            "{}",
            w.name()
        );
    }
}

#[test]
fn deleting_a_deployment_collects_its_replica_sets_and_pods() {
    for w in worlds() {
        w.apply(&podinfo(NS, IMG1, 2));
        w.wait_for("two ready pods", |w| {
            let d = w.get(&["deployment", "-n", NS, "podinfo"])?;
            (d["status"]["readyReplicas"] == 2).then_some(())
        });
        w.kubectl(&["delete", "deployment", "-n", NS, "podinfo", "--wait=false"]);
        w.wait_for("the ReplicaSets and pods collected", |w| {
            let rs = w.get(&["replicaset", "-n", NS, "-l", "app=podinfo"])?;
            let pods = w.get(&["pod", "-n", NS, "-l", "app=podinfo"])?;
            let none = |v: &Value| v["items"].as_array().is_some_and(|i| i.is_empty());
            (none(&rs) && none(&pods)).then_some(())
        });
    }
}
