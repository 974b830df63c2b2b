//! Shared harness for the kubectl fidelity tests: the real `/usr/bin/kubectl`, with its own HOME
//! and cache dir (the gcloud dispatcher caches `/version` under `$HOME/.kube/cache`), against
//! each world `FLEDGE_TEST_WORLD` asks for (`sim`, `cluster`; unset: both): a simulated cluster
//! in-process, and a real control plane (`scripts/cluster`, with `fledge sim --join` as its
//! kubelet). The same test code runs against each, so a difference shows up as a failure in one
//! world; the known ones are in docs/sim.md.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use fledge_sim::{Scenario, Sim, SimHandle, SimOptions};

pub const KUBECTL: &str = "/usr/bin/kubectl";

/// Fast pods; images tagged `:bad` never become ready.
pub const SCENARIO: &str =
    "readyDelay: 200ms\ntick: 100ms\nimages:\n  - match: \"*:bad\"\n    ready: false\n";

async fn start_sim() -> SimHandle {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scenario = Scenario::from_yaml("test scenario", SCENARIO).expect("scenario parses");
    Sim::start(SimOptions {
        scenario,
        ..Default::default()
    })
    .await
    .expect("sim starts")
}

/// A cluster kubectl talks to: the in-process sim, or a real control plane stopped on drop.
pub enum World {
    Sim(Box<SimHandle>),
    Cluster(tempfile::TempDir),
}

impl World {
    pub fn kubeconfig(&self) -> PathBuf {
        match self {
            World::Sim(sim) => sim.kubeconfig_path().to_path_buf(),
            World::Cluster(dir) => dir.path().join("admin.kubeconfig"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            World::Sim(_) => "sim",
            World::Cluster(_) => "cluster",
        }
    }

    /// A kube client for this world (cluster-admin on the real control plane).
    pub async fn client(&self) -> kube::Client {
        match self {
            World::Sim(sim) => sim.client(),
            World::Cluster(_) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig())
                    .expect("admin.kubeconfig reads");
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                    .await
                    .expect("admin.kubeconfig is a config");
                kube::Client::try_from(config).expect("a client for the control plane")
            }
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let World::Cluster(dir) = self {
            let _ = std::process::Command::new(repo().join("scripts/cluster"))
                .arg("down")
                .arg(dir.path())
                .output();
        }
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `fledge` binary the real control plane runs as its kubelet: `FLEDGE_BIN`, or the
/// workspace's debug build (`cargo test --workspace`, and so `make test`, builds it first).
fn fledge_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FLEDGE_BIN") {
        return PathBuf::from(bin);
    }
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../debug/fledge");
    assert!(
        bin.exists(),
        "the cluster world needs the fledge binary at {}: run `cargo build --bin fledge`, set \
         FLEDGE_BIN, or run the sim world only with FLEDGE_TEST_WORLD=sim",
        bin.display()
    );
    bin
}

/// A real control plane from `scripts/cluster up` with this file's scenario.
async fn start_cluster() -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("scenario.yaml");
    std::fs::write(&scenario, SCENARIO).expect("write scenario");
    let out = tokio::process::Command::new(repo().join("scripts/cluster"))
        .arg("up")
        .arg(dir.path())
        .arg("--scenario")
        .arg(&scenario)
        .env("FLEDGE_BIN", fledge_bin())
        .output()
        .await
        .expect("run scripts/cluster");
    let world = World::Cluster(dir);
    assert!(
        out.status.success(),
        "scripts/cluster up failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    world
}

/// The worlds `FLEDGE_TEST_WORLD` asks for, each started fresh.
pub async fn worlds() -> Vec<World> {
    let which = std::env::var("FLEDGE_TEST_WORLD").unwrap_or_default();
    let mut out = Vec::new();
    if which.is_empty() || which == "sim" {
        out.push(World::Sim(Box::new(start_sim().await)));
    }
    if which.is_empty() || which == "cluster" {
        out.push(start_cluster().await);
    }
    assert!(
        !out.is_empty(),
        "FLEDGE_TEST_WORLD={which:?}: use sim or cluster, or leave it unset for both"
    );
    out
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
    /// kubectl against `world`.
    pub fn of(world: &World) -> Kubectl {
        Kubectl::at(&world.kubeconfig())
    }

    fn at(kubeconfig: &Path) -> Kubectl {
        assert!(
            Path::new(KUBECTL).exists(),
            "kubectl not found at {KUBECTL}"
        );
        Kubectl {
            dir: tempfile::tempdir().expect("temp dir"),
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
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
