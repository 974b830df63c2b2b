//! `fledge demo`: the one-command tour. It starts the simulated cluster (in-process), a real
//! Prometheus scraping it (child process) and the controller (in-process), installs
//! `testdata/demo/`, then runs two releases and checks how they end: a healthy image is
//! promoted step by step, a faulty one (30% errors) is rolled back. It only drives the cluster
//! the way a user would (apply, set image) and reads the Canary and its Events; every decision
//! is the controller's. Everything it starts lives in one temp dir and dies with [`Running`].

mod manifests;
mod progress;
mod prometheus;
mod summary;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fledge_api::{Canary, CanaryPhase, CanaryStatus};
use fledge_sim::{Scenario, Sim, SimHandle, SimOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Event;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client, ResourceExt};

use fledge::controller::ControllerConfig;
use manifests::{CANARY, NAMESPACE};
use progress::{EventView, Style, Tracker};
use summary::{Expect, Outcome};

const HEALTHY: &str = "ghcr.io/stefanprodan/podinfo:6.0.1";
const FAULTY: &str = "ghcr.io/stefanprodan/podinfo:6.1.0";
/// The metric window of the demo Canary (`interval: 15s` in canary.yaml).
const METRIC_WINDOW: &str = "15s";
const POLL: Duration = Duration::from_millis(200);
/// The controller's and the sim's log, in the temp dir.
const LOG_FILE: &str = "fledge.log";

/// How to run the demo.
#[derive(Clone, Debug)]
pub struct Options {
    pub color: bool,
    /// The longest one release (or the initialization) may take before the demo gives up.
    pub step_timeout: Duration,
}

/// Everything the demo started. Dropping it stops all of it and removes the temp dir (unless
/// `--keep`, which leaves the dir so the kubeconfig stays usable while the process runs).
pub struct Running {
    // Field order is drop order: the controller first, the cluster next, the dir last.
    controller: tokio::task::JoinHandle<anyhow::Result<()>>,
    prometheus: prometheus::Prometheus,
    sim: SimHandle,
    dir: WorkDir,
}

impl Running {
    pub fn kubeconfig(&self) -> &Path {
        self.sim.kubeconfig_path()
    }
    pub fn prometheus_url(&self) -> &str {
        self.prometheus.url()
    }
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }
    /// The last `lines` lines of the controller's log: the temp dir goes away with the demo,
    /// so a failure shows them instead of pointing at a file.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.path.join(LOG_FILE)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

/// The demo's temp dir, removed on drop.
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn create() -> anyhow::Result<WorkDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("fledge-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(WorkDir { path })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Prints timestamped lines (seconds since the demo started).
struct Out {
    start: Instant,
    style: Style,
}

impl Out {
    fn line(&self, text: &str) {
        use std::io::Write as _;
        let stamp = self
            .style
            .dim(&format!("[{:>5.1}s]", self.start.elapsed().as_secs_f64()));
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{stamp} {text}");
        let _ = stdout.flush();
    }
    fn heading(&self, text: &str) {
        self.line(&self.style.bold(&format!("== {text}")));
    }
}

/// The demo's result: whether both releases ended as they should, and what is still running.
pub struct Finished {
    pub passed: bool,
    pub running: Running,
}

/// Runs the whole demo. An error means the demo could not run (missing Prometheus, a
/// component that failed to start); a wrong release outcome is `passed: false`.
pub async fn run(options: Options) -> anyhow::Result<Finished> {
    let out = Out {
        start: Instant::now(),
        style: Style {
            color: options.color,
        },
    };
    let prometheus_bin = prometheus::find()?;
    let dir = WorkDir::create()?;
    init_logging(&dir.path.join(LOG_FILE))?;

    out.heading("starting the simulated cluster, Prometheus and the controller");
    let scenario = Scenario::from_yaml("testdata/demo/scenario.yaml", manifests::SCENARIO)?;
    let sim = Sim::start(SimOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        kubeconfig: Some(dir.path.join("kubeconfig")),
        scenario,
        ..SimOptions::default()
    })
    .await?;
    out.line(&format!(
        "simulated cluster  {}  (kubeconfig {})",
        sim.url(),
        sim.kubeconfig_path().display()
    ));
    let client = sim.client();
    manifests::install_crds(&client).await?;
    manifests::apply(
        &client,
        &manifests::documents("testdata/demo/podinfo.yaml", manifests::APP)?,
    )
    .await?;
    out.line("installed the CRDs and testdata/demo/podinfo.yaml (Deployment, ConfigMap, Service, HTTPRoute)");

    let prometheus =
        prometheus::Prometheus::start(&prometheus_bin, &dir.path, &sim.addr().to_string()).await?;
    out.line(&format!(
        "prometheus         {}  (scraping {}/metrics every 1s)",
        prometheus.url(),
        sim.url()
    ));

    let config = controller_config(sim.kubeconfig_path(), prometheus.url());
    let controller = tokio::spawn(async move {
        fledge::controller::run(config)
            .await
            .map_err(anyhow::Error::from)
    });
    out.line(&format!(
        "controller         in-process, --min-interval 1s, --metrics-server {}  (log {})",
        prometheus.url(),
        dir.path.join(LOG_FILE).display()
    ));
    let mut running = Running {
        controller,
        prometheus,
        sim,
        dir,
    };

    let app_traffic = format!(
        "sum(rate(http_request_duration_seconds_count{{kubernetes_namespace=\"{NAMESPACE}\"}}[{METRIC_WINDOW}]))"
    );
    running
        .prometheus
        .wait_for(
            "the first scrapes of the app's requests",
            &app_traffic,
            Duration::from_secs(60),
            |v| v.is_some_and(|v| v > 0.0),
        )
        .await?;
    out.line("prometheus has the app's request metrics");

    manifests::apply(
        &client,
        &manifests::metric_template(running.prometheus.url())?,
    )
    .await?;
    manifests::apply(
        &client,
        &manifests::documents("testdata/demo/canary.yaml", manifests::CANARY_YAML)?,
    )
    .await?;
    out.line("applied testdata/demo/metric-template.yaml and testdata/demo/canary.yaml");

    let mut follower = Follower {
        out: &out,
        client: client.clone(),
        tracker: Tracker::default(),
        threshold: manifests::canary_threshold(),
        timeout: options.step_timeout,
    };
    out.heading("initialization: podinfo-primary takes over production traffic");
    follower
        .follow(&mut running, |status| {
            status.phase == Some(CanaryPhase::Initialized)
        })
        .await
        .context("the Canary was not initialized")?;

    let mut outcomes = Vec::new();
    outcomes.push(
        follower
            .release(
                &mut running,
                1,
                HEALTHY,
                Expect::Promoted,
                "healthy: 99.9% of requests succeed",
            )
            .await?,
    );
    out.heading(&format!(
        "waiting for release 1's canary requests to leave the {METRIC_WINDOW} metric window, so release 2 is judged on its own"
    ));
    let target_traffic = format!(
        "sum(rate(http_request_duration_seconds_count{{kubernetes_namespace=\"{NAMESPACE}\",kubernetes_pod_name=~\"{CANARY}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)\"}}[{METRIC_WINDOW}]))"
    );
    running
        .prometheus
        .wait_for(
            "the canary traffic to stop",
            &target_traffic,
            Duration::from_secs(60),
            |v| v.is_none_or(|v| v <= 0.0),
        )
        .await?;
    outcomes.push(
        follower
            .release(
                &mut running,
                2,
                FAULTY,
                Expect::RolledBack,
                "faulty: 30% of requests fail",
            )
            .await?,
    );

    out.line("");
    for line in summary::summary(out.style, &outcomes, out.start.elapsed()) {
        println!("{line}");
    }
    let passed = outcomes.iter().all(Outcome::as_expected);
    Ok(Finished { passed, running })
}

/// Follows the demo Canary and prints what changes.
struct Follower<'a> {
    out: &'a Out,
    client: Client,
    tracker: Tracker,
    threshold: i32,
    timeout: Duration,
}

impl Follower<'_> {
    /// Prints changes until `done(status)` says so; fails after the step timeout or
    /// when the controller stops.
    async fn follow(
        &mut self,
        running: &mut Running,
        mut done: impl FnMut(&CanaryStatus) -> bool,
    ) -> anyhow::Result<CanaryStatus> {
        let canaries: Api<Canary> = Api::namespaced(self.client.clone(), NAMESPACE);
        let events: Api<Event> = Api::namespaced(self.client.clone(), NAMESPACE);
        let routes: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            NAMESPACE,
            &ApiResource::from_gvk(&GroupVersionKind::gvk(
                "gateway.networking.k8s.io",
                "v1",
                "HTTPRoute",
            )),
        );
        let start = Instant::now();
        loop {
            if running.controller.is_finished() {
                let result = (&mut running.controller).await;
                bail!(
                    "the controller stopped: {}",
                    match result {
                        Ok(Ok(())) => "it exited".to_string(),
                        Ok(Err(e)) => format!("{e:#}"),
                        Err(e) => e.to_string(),
                    }
                );
            }
            let status = canaries
                .get_opt(CANARY)
                .await
                .context("reading the Canary")?
                .and_then(|c| c.status)
                .unwrap_or_default();
            let event_views = canary_events(&events).await?;
            for line in self.tracker.events(self.out.style, &event_views) {
                self.out.line(&line);
            }
            for line in self.tracker.status(self.out.style, &status, self.threshold) {
                self.out.line(&line);
            }
            let route = routes
                .get_opt(CANARY)
                .await
                .context("reading the HTTPRoute")?;
            if let Some(line) = route
                .and_then(|r| serde_json::to_value(r).ok())
                .and_then(|r| self.tracker.route(&r))
            {
                self.out.line(&line);
            }
            if done(&status) {
                return Ok(status);
            }
            if start.elapsed() > self.timeout {
                bail!(
                    "timed out after {:?} (phase {}, message {:?}); the controller's last log lines:\n{}",
                    self.timeout,
                    status.phase.map(|p| p.to_string()).unwrap_or_default(),
                    status.message.unwrap_or_default(),
                    running.log_tail(40)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sets the target's image and follows the release until it is promoted or rolled back.
    async fn release(
        &mut self,
        running: &mut Running,
        number: usize,
        image: &str,
        expect: Expect,
        health: &str,
    ) -> anyhow::Result<Outcome> {
        self.out
            .heading(&format!("release {number}: podinfo → {image} ({health})"));
        set_image(&self.client, image).await?;
        let start = Instant::now();
        let mut outcome = Outcome {
            image: image.to_string(),
            expect,
            end: None,
            weights: Vec::new(),
            failed_checks: 0,
            threshold: self.threshold,
            history: Vec::new(),
            took: Duration::ZERO,
        };
        let mut started = false;
        let result = self
            .follow(running, |status| {
                let terminal = matches!(
                    status.phase,
                    Some(CanaryPhase::Succeeded | CanaryPhase::Failed)
                );
                // The previous release's terminal phase lingers until the controller notices
                // the new revision; only a terminal phase after it started counts.
                started |= !terminal && status.phase != Some(CanaryPhase::Initialized);
                if started && matches!(status.phase, Some(CanaryPhase::Progressing)) {
                    outcome.saw_weight(status.canary_weight);
                }
                started && terminal
            })
            .await;
        outcome.took = start.elapsed();
        match result {
            Ok(status) => {
                outcome.end = status.phase;
                outcome.failed_checks = status.failed_checks;
                outcome.history = status.analysis_history;
            }
            Err(e) => self
                .out
                .line(&self.out.style.red(&format!("release {number}: {e:#}"))),
        }
        Ok(outcome)
    }
}

/// The demo Canary's Events, oldest first.
async fn canary_events(api: &Api<Event>) -> anyhow::Result<Vec<EventView>> {
    let list = api
        .list(&ListParams::default().fields(&format!("involvedObject.name={CANARY}")))
        .await
        .context("listing the Canary's Events")?;
    let mut events: Vec<EventView> = list
        .items
        .into_iter()
        .filter(|e| e.involved_object.kind.as_deref() == Some("Canary"))
        .map(|e| EventView {
            name: e.name_any(),
            count: e.count.unwrap_or(1),
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
        })
        .collect();
    // Event names end in a hex timestamp: by name is by creation.
    events.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(events)
}

/// What `kubectl set image deployment/podinfo podinfo=<image>` does: a strategic merge patch
/// of the one container's image (server-side apply of the whole Deployment would also claim
/// `replicas`, which the controller owns once the Canary manages the target).
async fn set_image(client: &Client, image: &str) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let patch = serde_json::json!({
        "spec": {"template": {"spec": {"containers": [{"name": "podinfo", "image": image}]}}}
    });
    api.patch(CANARY, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .with_context(|| {
            format!("setting the image of deployment {NAMESPACE}/{CANARY} to {image}")
        })?;
    Ok(())
}

fn controller_config(kubeconfig: &Path, prometheus_url: &str) -> ControllerConfig {
    ControllerConfig {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        metrics_server: prometheus_url.to_string(),
        min_interval: Duration::from_secs(1),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        cluster_name: "fledge-demo".into(),
        ..ControllerConfig::default()
    }
}

/// The controller and the sim log through `tracing`; in the demo that goes to a file so the
/// terminal shows only the demo's own lines.
fn init_logging(path: &Path) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info,fledge=debug"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file)),
        )
        .try_init()
        .map_err(|e| anyhow::anyhow!("setting up logging: {e}"))
}
