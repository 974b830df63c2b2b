//! Shared harness for the kubectl fidelity tests: a simulated cluster in-process and the real
//! `/usr/bin/kubectl` run against it with its own HOME and cache dir (the gcloud dispatcher
//! caches `/version` under `$HOME/.kube/cache`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use fledge_sim::{Scenario, Sim, SimHandle, SimOptions};

pub const KUBECTL: &str = "/usr/bin/kubectl";

/// Fast pods; images tagged `:bad` never become ready.
pub const SCENARIO: &str =
    "readyDelay: 200ms\ntick: 100ms\nimages:\n  - match: \"*:bad\"\n    ready: false\n";

pub async fn start_sim() -> SimHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scenario = Scenario::from_yaml("test scenario", SCENARIO).expect("scenario parses");
    Sim::start(SimOptions {
        scenario,
        ..Default::default()
    })
    .await
    .expect("sim starts")
}

pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub struct Kubectl {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn new(sim: &SimHandle) -> Kubectl {
        assert!(
            Path::new(KUBECTL).exists(),
            "kubectl not found at {KUBECTL}"
        );
        Kubectl {
            dir: tempfile::tempdir().expect("temp dir"),
            kubeconfig: sim.kubeconfig_path().to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub async fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, None).await
    }

    pub async fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Out {
        use tokio::io::AsyncWriteExt as _;
        let mut cmd = tokio::process::Command::new(KUBECTL);
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .stdin(if stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("kubectl starts");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).await.expect("write stdin");
        }
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 120s"))
            .expect("kubectl output");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run and require success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Run and require failure; returns stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.ok,
            "kubectl {args:?} should have failed:\nstdout: {}",
            out.stdout
        );
        out.stderr
    }
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubectl")
}

/// The Canary CRD to install and the Canary apiVersion it serves: fledge's own CRDs from
/// `deploy/crds/` once generated, otherwise Flagger's (the same schema under `flagger.app`).
pub fn canary_crd() -> (PathBuf, &'static str) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if let Ok(entries) = std::fs::read_dir(repo.join("deploy/crds")) {
        for e in entries.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if text.contains("canaries.fledge.dev") {
                return (e.path(), "fledge.dev/v1beta1");
            }
        }
    }
    (
        repo.join("testdata/crds/flagger-crd.yaml"),
        "flagger.app/v1beta1",
    )
}

pub fn canary_yaml(api_version: &str) -> String {
    format!(
        "apiVersion: {api_version}\nkind: Canary\nmetadata:\n  name: podinfo\n  namespace: test\nspec:\n  targetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: podinfo\n  service:\n    port: 9898\n  analysis:\n    interval: 1m\n    threshold: 5\n    maxWeight: 50\n    stepWeight: 10\n"
    )
}

/// A directory with the app manifests plus the Canary, ready for `kubectl apply -f`.
pub fn app_dir(kubectl: &Kubectl, api_version: &str) -> PathBuf {
    let dir = kubectl.dir().join("app");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for e in std::fs::read_dir(fixtures().join("app"))
        .expect("fixtures")
        .flatten()
    {
        std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy fixture");
    }
    std::fs::write(dir.join("60-canary.yaml"), canary_yaml(api_version)).expect("write canary");
    dir
}

/// Poll `f` until it returns true or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
