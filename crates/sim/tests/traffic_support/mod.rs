//! Shared setup of the traffic tests: a sim running `testdata/sim/scenario-canary-70.yaml`
//! with its objects applied by the real kubectl and all pods ready.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fledge_sim::scenario::Scenario;
use fledge_sim::{Sim, SimHandle, SimOptions};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sim")
        .join(name)
}

pub fn kubectl(sim: &SimHandle, args: &[&str]) -> (bool, String) {
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

/// Starts the sim with the 70%-healthy canary at 20% and waits for both Deployments to be
/// ready. `edit` adjusts the scenario first (e.g. to switch synthetic load off).
pub async fn start_canary_70(edit: impl FnOnce(&mut Scenario)) -> SimHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut scenario = Scenario::load(&testdata("scenario-canary-70.yaml")).unwrap();
    edit(&mut scenario);
    let sim = Sim::start(SimOptions {
        scenario,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let objects = testdata("scenario-canary-70-objects.yaml");
    let (ok, out) = kubectl(&sim, &["apply", "-f", objects.to_str().unwrap()]);
    assert!(ok, "kubectl apply: {out}");
    let api: Api<Deployment> = Api::namespaced(sim.client(), "test");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for name in ["podinfo-primary", "podinfo"] {
        loop {
            let d = api.get(name).await.unwrap();
            let s = d.status.unwrap_or_default();
            if s.ready_replicas.is_some() && s.ready_replicas == d.spec.unwrap().replicas {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never got ready: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    sim
}
