//! End-to-end harness: the real `fledge sim` and `fledge controller` binaries, driven with the
//! real `/usr/bin/kubectl`, in a temp dir. Every process is killed when the `Cluster` drops
//! (also when a test panics), and a failed wait prints the controller's log and the Canary.

#![allow(dead_code)]

pub mod analysis;
pub mod control_plane;
pub mod loadtester;
pub mod net;
pub mod openmetrics;
pub mod prometheus;
pub mod receiver;
pub mod routed;
pub mod wait;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const FLEDGE: &str = env!("CARGO_BIN_EXE_fledge");

/// The podinfo image most tests start from, and the next release.
pub const IMG1: &str = "ghcr.io/stefanprodan/podinfo:6.0.0";
pub const IMG2: &str = "ghcr.io/stefanprodan/podinfo:6.0.1";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a test runs against: `fledge sim`, or a real control plane with the sim as kubelet.
enum Backend {
    Sim(Child),
    Real(control_plane::ControlPlane),
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    /// kubectl's kubeconfig: the sim's, or cluster-admin on a real control plane.
    pub kubeconfig: PathBuf,
    /// The controllers' kubeconfig: the same as kubectl's on the sim; on a real control plane,
    /// the fledge ServiceAccount's token with exactly deploy/rbac's permissions.
    pub controller_kubeconfig: PathBuf,
    /// The sim's URL: its traffic proxy and metrics (and, in the sim world, its API).
    pub url: String,
    backend: Backend,
    controllers: Vec<Option<Child>>,
}

/// A scenario where `*:bad` images never become ready and pods are ready after 300ms.
pub const DEFAULT_SCENARIO: &str =
    "seed: 7\ntick: 200ms\nreadyDelay: 300ms\nimages:\n  - match: \"*:bad\"\n    ready: false\n";

impl Cluster {
    pub fn start() -> Cluster {
        Cluster::with(DEFAULT_SCENARIO, None)
    }

    /// Starts `fledge sim` with a scenario (YAML text) and optional faults (YAML text), and
    /// installs the fledge CRDs from deploy/crds with kubectl.
    pub fn with(scenario: &str, faults: Option<&str>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let scenario_path = dir.path().join("scenario.yaml");
        std::fs::write(&scenario_path, scenario).expect("write scenario");
        let mut cmd = Command::new(FLEDGE);
        cmd.args(["sim", "--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--scenario")
            .arg(&scenario_path);
        if let Some(faults) = faults {
            let path = dir.path().join("faults.yaml");
            std::fs::write(&path, faults).expect("write faults");
            cmd.arg("--faults").arg(path);
        }
        let log = std::fs::File::create(dir.path().join("sim.log")).expect("sim log");
        let mut sim = cmd
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn fledge sim");
        let stdout = sim.stdout.take().expect("sim stdout");
        let mut url = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("sim output");
            if let Some(rest) = line.strip_prefix("sim ready: ") {
                url = rest.trim().to_string();
                break;
            }
        }
        assert!(!url.is_empty(), "fledge sim exited before it was ready");
        let cluster = Cluster {
            dir,
            controller_kubeconfig: kubeconfig.clone(),
            kubeconfig,
            url,
            backend: Backend::Sim(sim),
            controllers: Vec::new(),
        };
        cluster.kubectl(&[
            "apply",
            "-f",
            &repo().join("deploy/crds").display().to_string(),
        ]);
        cluster
    }

    /// A real control plane (`scripts/cluster`) with `scenario` for its simulated kubelet,
    /// and the fledge CRDs from deploy/crds installed by cluster-admin.
    pub fn real(scenario: &str) -> Cluster {
        let cp = control_plane::ControlPlane::up(scenario);
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = Cluster {
            kubeconfig: cp.dir.path().join("admin.kubeconfig"),
            controller_kubeconfig: cp.dir.path().join("controller.kubeconfig"),
            dir,
            url: cp.sim_url(),
            backend: Backend::Real(cp),
            controllers: Vec::new(),
        };
        if let Backend::Real(cp) = &cluster.backend {
            cp.install_crds(&[&repo().join("deploy/crds/fledge-crds.yaml")]);
        }
        cluster
    }

    pub fn is_real(&self) -> bool {
        matches!(self.backend, Backend::Real(_))
    }

    /// `sim` or `cluster`, for messages.
    pub fn world(&self) -> &'static str {
        if self.is_real() { "cluster" } else { "sim" }
    }

    /// `kubectl get -o json ARGS...`, or None when kubectl fails.
    pub fn get_json(&self, args: &[&str]) -> Option<Value> {
        let mut all = vec!["get", "-o", "json"];
        all.extend_from_slice(args);
        let out = self.kubectl_output(&all);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a controller; returns its index for `kill_controller`. `--min-interval 1s` so
    /// tests can use 1s intervals.
    pub fn start_controller(&mut self, extra: &[&str]) -> usize {
        let index = self.controllers.len();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(&format!("controller-{index}.log")))
            .expect("controller log");
        let child = Command::new(FLEDGE)
            .args(["controller", "--kubeconfig"])
            .arg(&self.controller_kubeconfig)
            .args([
                "--min-interval",
                "1s",
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "info,fledge=debug",
            ])
            // A closed port unless the test brings its own Prometheus.
            .args(if extra.contains(&"--metrics-server") {
                &[][..]
            } else {
                &["--metrics-server", "http://127.0.0.1:9"][..]
            })
            .args(extra)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn fledge controller");
        self.controllers.push(Some(child));
        index
    }

    /// SIGKILL: the controller gets no chance to tidy up, as in a crash or OOM kill.
    pub fn kill_controller(&mut self, index: usize) {
        if let Some(mut child) = self.controllers.get_mut(index).and_then(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The controller's exit status once it has exited; `None` while it runs.
    pub fn controller_exit(&mut self, index: usize) -> Option<std::process::ExitStatus> {
        self.controllers
            .get_mut(index)
            .and_then(Option::as_mut)
            .and_then(|child| child.try_wait().expect("controller status"))
    }

    /// No line of any controller's log says the API server refused it: on a real control
    /// plane the controllers run with deploy/rbac's permissions, so this fails when it lacks one.
    pub fn assert_no_refusals(&self) {
        for i in 0..self.controllers.len() {
            let log = self.controller_log(i);
            let refused: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("forbidden") || l.contains("Forbidden"))
                .collect();
            assert!(
                refused.is_empty(),
                "{}: controller {i} was refused (deploy/rbac lacks a permission):\n{}",
                self.world(),
                refused.join("\n")
            );
        }
    }

    pub fn controller_log(&self, index: usize) -> String {
        std::fs::read_to_string(self.path(&format!("controller-{index}.log"))).unwrap_or_default()
    }

    fn kubectl_cmd(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.path("kube-cache"));
        cmd
    }

    pub fn kubectl_output(&self, args: &[&str]) -> Output {
        self.kubectl_cmd().args(args).output().expect("run kubectl")
    }

    /// Runs kubectl and returns stdout; panics with stderr when it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn apply(&self, yaml: &str) {
        let file = self.path(&format!("apply-{}.yaml", rand_suffix()));
        std::fs::write(&file, yaml).expect("write manifest");
        self.kubectl(&["apply", "-f", &file.display().to_string()]);
    }

    /// Applies a manifest file; server-side on a real API server, where the large third-party
    /// CRDs don't fit client-side apply's last-applied annotation.
    pub fn apply_file(&self, path: &Path) {
        let path = path.display().to_string();
        if self.is_real() {
            self.kubectl(&["apply", "--server-side", "-f", &path]);
        } else {
            self.kubectl(&["apply", "-f", &path]);
        }
    }

    /// The object as JSON, or None when it doesn't exist.
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let out = self.kubectl_output(&["get", kind, "-n", ns, name, "-o", "json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    pub fn must_get(&self, kind: &str, ns: &str, name: &str) -> Value {
        self.get(kind, ns, name)
            .unwrap_or_else(|| panic!("{kind} {ns}/{name} not found"))
    }

    pub fn canary(&self, ns: &str, name: &str) -> Value {
        self.must_get("canary", ns, name)
    }

    pub fn phase(&self, ns: &str, name: &str) -> String {
        self.get("canary", ns, name)
            .and_then(|c| c["status"]["phase"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Polls `check` every 100ms until it returns Some, or panics after `timeout` with the
    /// controller logs and the Canaries, so a failure explains itself.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Cluster) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if start.elapsed() > timeout {
                let mut logs = String::new();
                for i in 0..self.controllers.len() {
                    let log = self.controller_log(i);
                    let tail: Vec<&str> = log.lines().rev().take(60).collect();
                    logs.push_str(&format!("--- controller {i} (last 60 lines) ---\n"));
                    for line in tail.into_iter().rev() {
                        logs.push_str(line);
                        logs.push('\n');
                    }
                }
                let canaries = self
                    .kubectl_output(&["get", "canary", "-A", "-o", "yaml"])
                    .stdout;
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{logs}\n--- canaries ---\n{}",
                    String::from_utf8_lossy(&canaries)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_phase(&self, ns: &str, name: &str, phase: &str, timeout: Duration) -> Value {
        self.wait_for(&format!("canary {ns}/{name} phase {phase}"), timeout, |c| {
            c.get("canary", ns, name)
                .filter(|v| v["status"]["phase"] == phase)
        })
    }

    /// Events on an object, oldest first, as "Type Reason Message".
    pub fn events(&self, ns: &str, name: &str) -> Vec<String> {
        let out = self.kubectl(&[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "json",
        ]);
        let v: Value = serde_json::from_str(&out).expect("events json");
        let mut items: Vec<(String, String)> = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    format!(
                        "{} {} {}",
                        e["type"].as_str().unwrap_or_default(),
                        e["reason"].as_str().unwrap_or_default(),
                        e["message"].as_str().unwrap_or_default()
                    ),
                )
            })
            .collect();
        // Event names end in a hex timestamp: sorting by name is sorting by creation.
        items.sort();
        items.into_iter().map(|(_, e)| e).collect()
    }

    pub fn image(&self, ns: &str, deployment: &str) -> String {
        self.must_get("deployment", ns, deployment)["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn replicas(&self, ns: &str, deployment: &str) -> i64 {
        self.must_get("deployment", ns, deployment)["spec"]["replicas"]
            .as_i64()
            .unwrap_or(-1)
    }

    pub fn set_image(&self, ns: &str, deployment: &str, image: &str) {
        self.kubectl(&[
            "-n",
            ns,
            "set",
            "image",
            &format!("deployment/{deployment}"),
            &format!("podinfo={image}"),
        ]);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.controllers.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A real control plane stops when its guard drops.
        if let Backend::Sim(sim) = &mut self.backend {
            let _ = sim.kill();
            let _ = sim.wait();
        }
    }
}

/// The podinfo app used by most tests: a Namespace, a ConfigMap it reads through envFrom and
/// a Deployment with `replicas` pods running `image`.
pub fn podinfo(ns: &str, image: &str, replicas: i32) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: podinfo-config, namespace: {ns}}}
data: {{color: blue}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: podinfo, namespace: {ns}, labels: {{app: podinfo}}}}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: 60
  selector: {{matchLabels: {{app: podinfo}}}}
  template:
    metadata: {{labels: {{app: podinfo}}, annotations: {{prometheus.io/scrape: "true"}}}}
    spec:
      containers:
      - name: podinfo
        image: {image}
        ports: [{{containerPort: 9898, name: http}}, {{containerPort: 9797, name: http-metrics}}]
        envFrom: [{{configMapRef: {{name: podinfo-config}}}}]
"#
    )
}

/// A blue/green Canary (kubernetes provider) with `iterations` checks at a 1s interval.
pub fn blue_green_canary(ns: &str, iterations: i32, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  provider: kubernetes
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  progressDeadlineSeconds: 5
  service: {{port: 9898, portDiscovery: true}}
  analysis:
    interval: 1s
    threshold: 2
    iterations: {iterations}
{extra_spec}"#
    )
}

/// The worlds `FLEDGE_TEST_WORLD` asks for (`sim`, `cluster`; unset: both), each started fresh
/// with `scenario`: the same test code runs in each.
pub fn worlds(scenario: &str) -> Vec<Cluster> {
    let which = std::env::var("FLEDGE_TEST_WORLD").unwrap_or_default();
    let mut out = Vec::new();
    if which.is_empty() || which == "sim" {
        out.push(Cluster::with(scenario, None));
    }
    if which.is_empty() || which == "cluster" {
        out.push(Cluster::real(scenario));
    }
    assert!(
        !out.is_empty(),
        "FLEDGE_TEST_WORLD={which:?}: use sim or cluster, or leave it unset for both"
    );
    out
}

/// A started cluster with podinfo (IMG1, 2 replicas) in `ns`, `canary` applied and one
/// controller (`controller_args`) running; returns once Canary `ns/podinfo` is Initialized.
pub fn initialized(ns: &str, canary: &str, controller_args: &[&str]) -> Cluster {
    initialized_in(Cluster::start(), ns, canary, controller_args)
}

/// `initialized` in a cluster of either world.
pub fn initialized_in(mut c: Cluster, ns: &str, canary: &str, controller_args: &[&str]) -> Cluster {
    c.apply(&podinfo(ns, IMG1, 2));
    c.apply(canary);
    c.start_controller(controller_args);
    c.wait_phase(ns, "podinfo", "Initialized", Duration::from_secs(60));
    c
}

/// Whether any event (as `Cluster::events` returns them) contains `needle`.
pub fn has_event(events: &[String], needle: &str) -> bool {
    events.iter().any(|e| e.contains(needle))
}

/// How many events contain `needle`.
pub fn count_events(events: &[String], needle: &str) -> usize {
    events.iter().filter(|e| e.contains(needle)).count()
}

/// A Canary's `status.iterations` (0 when unset).
pub fn iterations(canary: &Value) -> i64 {
    canary["status"]["iterations"].as_i64().unwrap_or(0)
}

/// The Canary status condition of type `type_`, if any.
pub fn condition(canary: &Value, type_: &str) -> Option<Value> {
    canary["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

/// (primary, canary) weights of an HTTPRoute's first rule, found by the backends' name
/// suffixes `-primary` and `-canary`.
pub fn route_weights(route: &Value) -> Option<(i64, i64)> {
    let refs = route["spec"]["rules"][0]["backendRefs"].as_array()?;
    let weight = |suffix: &str| {
        refs.iter()
            .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
            .and_then(|r| r["weight"].as_i64())
    };
    Some((weight("-primary")?, weight("-canary")?))
}

impl Cluster {
    /// `route_weights` of HTTPRoute `ns/name`; None when it doesn't exist (yet).
    pub fn httproute_weights(&self, ns: &str, name: &str) -> Option<(i64, i64)> {
        route_weights(&self.get("httproute", ns, name)?)
    }
}

/// What kstatus (sigs.k8s.io/cli-utils, used by Flux health checks and `kubectl wait`-style
/// tooling) concludes from an object's generic status: Terminating while deleting; InProgress
/// while `observedGeneration` lags `generation`; Failed when `Stalled` is True; InProgress when
/// `Reconciling` is True; Flux additionally reads `Ready=False` as not done; else Current.
pub fn kstatus(obj: &Value) -> &'static str {
    if obj["metadata"]["deletionTimestamp"].is_string() {
        return "Terminating";
    }
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(0);
    if let Some(observed) = obj["status"]["observedGeneration"].as_i64()
        && observed < generation
    {
        return "InProgress";
    }
    let cond = |t: &str| {
        obj["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == t))
            .and_then(|c| c["status"].as_str())
            .unwrap_or("")
            .to_string()
    };
    if cond("Stalled") == "True" {
        return "Failed";
    }
    if cond("Reconciling") == "True" || cond("Ready") == "False" {
        return "InProgress";
    }
    "Current"
}
