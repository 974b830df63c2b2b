//! The workload simulation through the running sim: a Deployment created with a kube client
//! becomes Available with ReplicaSets and pods `kubectl` understands, a bad image hits its
//! progress deadline (seen by `kubectl rollout status`), and an HPA's bounds apply when a
//! Deployment is scaled from zero.

use std::process::Command;
use std::time::Duration;

use fledge_sim::scenario::{ImageRule, Scenario};
use fledge_sim::{Sim, SimHandle, SimOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn start() -> SimHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut bad = ImageRule::new("*:bad").unwrap();
    bad.ready = false;
    let scenario = Scenario {
        tick: Duration::from_millis(100),
        ready_delay: Duration::from_millis(300),
        images: vec![bad],
        ..Scenario::default()
    };
    let sim = Sim::start(SimOptions {
        scenario,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "test"}})).unwrap();
    Api::<Namespace>::all(sim.client())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    sim
}

fn deployment(name: &str, image: &str, replicas: i32, deadline: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "app", "image": image}]}}}
    }))
    .unwrap()
}

/// Polls until `check` holds for the Deployment, or fails after 15s with its last status.
async fn wait_for(
    api: &Api<Deployment>,
    name: &str,
    what: &str,
    check: impl Fn(&Deployment) -> bool,
) -> Deployment {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let d = api.get(name).await.unwrap();
        if check(&d) {
            return d;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{name}: timed out waiting for {what}; status: {:?}",
                d.status
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition(d: &Deployment, type_: &str) -> Option<(String, String)> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

fn kubectl(sim: &SimHandle, args: &[&str]) -> (bool, String) {
    let out = Command::new("/usr/bin/kubectl")
        .args(args)
        .env("KUBECONFIG", sim.kubeconfig_path())
        .output()
        .expect("kubectl at /usr/bin/kubectl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_becomes_available_with_pods_kubectl_can_see() {
    let sim = start().await;
    let api: Api<Deployment> = Api::namespaced(sim.client(), "test");
    api.create(
        &PostParams::default(),
        &deployment("podinfo", "podinfo:1", 2, 600),
    )
    .await
    .unwrap();
    let d = wait_for(&api, "podinfo", "Available=True", |d| {
        condition(d, "Available") == Some(("True".into(), "MinimumReplicasAvailable".into()))
            && condition(d, "Progressing") == Some(("True".into(), "NewReplicaSetAvailable".into()))
    })
    .await;
    let s = d.status.unwrap();
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas,
            s.observed_generation
        ),
        (Some(2), Some(2), Some(2), Some(2), Some(1))
    );

    let pods = Api::<Pod>::namespaced(sim.client(), "test")
        .list(&ListParams::default().labels("app=podinfo"))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 2);
    for p in &pods.items {
        let hash = &p.metadata.labels.as_ref().unwrap()["pod-template-hash"];
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.name, format!("podinfo-{hash}"));
        assert!(
            p.metadata
                .name
                .as_ref()
                .unwrap()
                .starts_with(&format!("podinfo-{hash}-"))
        );
    }

    let (ok, out) = kubectl(
        &sim,
        &[
            "-n",
            "test",
            "rollout",
            "status",
            "deployment/podinfo",
            "--timeout=10s",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("deployment \"podinfo\" successfully rolled out"),
        "{out}"
    );
    let hash = pods.items[0].metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    let (ok, out) = kubectl(&sim, &["-n", "test", "describe", "deployment", "podinfo"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "NewReplicaSet:   podinfo-{hash} (2/2 replicas created)"
        )),
        "{out}"
    );
    assert!(out.contains("MinimumReplicasAvailable"), "{out}");
    let (ok, out) = kubectl(&sim, &["-n", "test", "get", "pods", "-l", "app=podinfo"]);
    assert!(ok, "{out}");
    assert_eq!(out.matches("1/1").count(), 2, "{out}");
    assert_eq!(out.matches("Running").count(), 2, "{out}");

    // A new template rolls the pods; the readiness delay counts from the change.
    kubectl(
        &sim,
        &[
            "-n",
            "test",
            "set",
            "image",
            "deployment/podinfo",
            "app=podinfo:2",
        ],
    );
    let (ok, out) = kubectl(
        &sim,
        &[
            "-n",
            "test",
            "rollout",
            "status",
            "deployment/podinfo",
            "--timeout=15s",
        ],
    );
    assert!(ok, "{out}");
    let pods = Api::<Pod>::namespaced(sim.client(), "test")
        .list(&ListParams::default().labels("app=podinfo"))
        .await
        .unwrap();
    let images: Vec<_> = pods
        .items
        .iter()
        .map(|p| {
            p.spec.as_ref().unwrap().containers[0]
                .image
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(images, ["podinfo:2", "podinfo:2"]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_image_exceeds_its_progress_deadline() {
    let sim = start().await;
    let api: Api<Deployment> = Api::namespaced(sim.client(), "test");
    api.create(
        &PostParams::default(),
        &deployment("broken", "broken:bad", 1, 1),
    )
    .await
    .unwrap();
    let d = wait_for(&api, "broken", "ProgressDeadlineExceeded", |d| {
        condition(d, "Progressing") == Some(("False".into(), "ProgressDeadlineExceeded".into()))
    })
    .await;
    assert_eq!(
        condition(&d, "Available"),
        Some(("False".into(), "MinimumReplicasUnavailable".into()))
    );
    assert_eq!(d.status.unwrap().ready_replicas, None);
    let (ok, out) = kubectl(
        &sim,
        &[
            "-n",
            "test",
            "rollout",
            "status",
            "deployment/broken",
            "--timeout=10s",
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("exceeded its progress deadline"), "{out}");

    // Marking the image good at runtime lets the stuck pod become ready.
    sim.scenario()
        .set_image(ImageRule::new("broken:bad").unwrap());
    wait_for(&api, "broken", "recovery", |d| {
        condition(d, "Available") == Some(("True".into(), "MinimumReplicasAvailable".into()))
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_bounds_a_deployment_scaled_from_zero() {
    let sim = start().await;
    let api: Api<Deployment> = Api::namespaced(sim.client(), "test");
    api.create(
        &PostParams::default(),
        &deployment("scaled", "app:1", 0, 600),
    )
    .await
    .unwrap();
    let hpa = json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "scaled", "namespace": "test"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"},
                 "minReplicas": 2, "maxReplicas": 3}
    });
    let hpas: Api<kube::api::DynamicObject> = Api::namespaced_with(
        sim.client(),
        "test",
        &kube::api::ApiResource {
            group: "autoscaling".into(),
            version: "v2".into(),
            api_version: "autoscaling/v2".into(),
            kind: "HorizontalPodAutoscaler".into(),
            plural: "horizontalpodautoscalers".into(),
        },
    );
    hpas.create(
        &PostParams::default(),
        &serde_json::from_value(hpa).unwrap(),
    )
    .await
    .unwrap();

    // At zero the HPA leaves the Deployment alone: no pods.
    wait_for(&api, "scaled", "an observed zero-replica status", |d| {
        condition(d, "Available").is_some()
    })
    .await;
    let d = api.get("scaled").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(0));
    let pods = Api::<Pod>::namespaced(sim.client(), "test")
        .list(&ListParams::default().labels("app=scaled"))
        .await
        .unwrap();
    assert!(pods.items.is_empty());

    // Scaled to 1 (as Flagger does for a new canary), the HPA raises it to its minimum.
    api.patch(
        "scaled",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    wait_for(&api, "scaled", "2 ready replicas", |d| {
        d.spec.as_ref().unwrap().replicas == Some(2)
            && d.status.as_ref().and_then(|s| s.ready_replicas) == Some(2)
    })
    .await;
    // And above its maximum, it brings it back down.
    api.patch(
        "scaled",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 9}})),
    )
    .await
    .unwrap();
    wait_for(&api, "scaled", "3 ready replicas", |d| {
        d.spec.as_ref().unwrap().replicas == Some(3)
            && d.status.as_ref().and_then(|s| s.ready_replicas) == Some(3)
    })
    .await;
    sim.shutdown().await;
}
