//! One benchmark run at N canaries, phase by phase: create the apps, start the controller and
//! time initialization, count requests while everything is idle, release a sample of apps and
//! time detection, count requests per analysis step, and wait for the promotions. Also the
//! controller's footprint with no canaries at all. Results only; rendering is `report`'s job.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::Client;

use crate::cluster::{self, Tracker};
use crate::counts::{self, Delta};
use crate::procs::{self, Proc};
use crate::report::{Empty, Run, Window};
use crate::workload::{self, Analysis};

/// The sim's workloads: pods ready 500ms after they start, traffic ticks (there is none: no
/// Service gets synthetic load) once a second.
const SCENARIO: &str = "seed: 1\ntick: 1s\nreadyDelay: 500ms\n";

#[derive(Clone, Debug)]
pub struct Settings {
    pub fledge: PathBuf,
    pub work: PathBuf,
    pub analysis: Analysis,
    /// Canaries released to measure detection and per-step load (all of them when N is smaller).
    pub samples: usize,
    /// Time between two sample releases.
    pub spacing: Duration,
    pub idle_window: Duration,
    pub steps_window: Duration,
    /// Quiet time after a phase before a window starts (late events, status writes).
    pub settle: Duration,
    /// How long initialization may take; the run goes on with the canaries initialized by then.
    pub init_timeout: Duration,
}

/// A running sim with the CRDs installed and the bench's watch on Canaries.
struct Cluster {
    sim: procs::SimProc,
    client: Client,
    http: reqwest::Client,
    tracker: Tracker,
    dir: PathBuf,
    ticks: u64,
}

impl Cluster {
    async fn start(settings: &Settings, n: usize) -> anyhow::Result<Cluster> {
        let dir = settings.work.join(format!("n{n}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let sim = procs::start_sim(&settings.fledge, &dir, SCENARIO).await?;
        let client = cluster::client(&sim.kubeconfig).await?;
        cluster::install_crds(&client).await?;
        let tracker = Tracker::spawn(&client);
        Ok(Cluster {
            sim,
            client,
            http: reqwest::Client::new(),
            tracker,
            dir,
            ticks: procs::ticks_per_sec(),
        })
    }

    async fn stats(&self) -> anyhow::Result<fledge_sim::StatsSnapshot> {
        cluster::sim_stats(&self.http, &self.sim.url).await
    }

    /// Requests, controller CPU and wall time over `duration` with nothing driven.
    async fn window(
        &self,
        controller: &mut Proc,
        duration: Duration,
    ) -> anyhow::Result<(Window, Delta)> {
        let pid = controller.pid()?;
        let before = self.stats().await?;
        let cpu0 = procs::cpu_time(pid, self.ticks)?;
        let t0 = Instant::now();
        tokio::time::sleep(duration).await;
        controller.check_running()?;
        let secs = t0.elapsed().as_secs_f64();
        let cpu = procs::cpu_time(pid, self.ticks)?.saturating_sub(cpu0);
        let d = counts::delta(&before, &self.stats().await?);
        Ok((
            Window {
                secs,
                cpu_pct: 100.0 * cpu.as_secs_f64() / secs,
                requests_per_sec: d.non_watch() as f64 / secs,
            },
            d,
        ))
    }
}

/// The controller alone on an empty cluster: its memory floor and idle request rate.
async fn empty(settings: &Settings, c: &Cluster) -> anyhow::Result<Empty> {
    let log = c.dir.join("controller-empty.log");
    let mut controller = procs::start_controller(&settings.fledge, &c.sim.kubeconfig, &log)?;
    procs::wait_for_log(
        &mut controller,
        &log,
        "caches synced",
        Duration::from_secs(30),
    )
    .await?;
    tokio::time::sleep(settings.settle).await;
    let (idle, delta) = c.window(&mut controller, settings.idle_window).await?;
    let memory = procs::memory(controller.pid()?)?;
    controller.stop().await;
    Ok(Empty {
        rss_mib: mib(memory.rss_kib),
        idle,
        idle_requests: delta,
    })
}

/// Measures N canaries on a fresh sim. At the first N, also the controller with none.
pub async fn run(
    settings: &Settings,
    n: usize,
    with_empty: bool,
) -> anyhow::Result<(Run, Option<Empty>)> {
    let c = Cluster::start(settings, n).await?;
    let empty = if with_empty {
        Some(empty(settings, &c).await?)
    } else {
        None
    };

    eprintln!("[n={n}] creating {n} Deployments and Canaries");
    let created = Instant::now();
    cluster::create_namespaces(&c.client, workload::namespaces(n)).await?;
    cluster::create_all::<k8s_openapi::api::apps::v1::Deployment>(
        &c.client,
        (0..n).map(workload::deployment).collect(),
    )
    .await?;
    cluster::create_all::<fledge_api::Canary>(
        &c.client,
        (0..n)
            .map(|i| workload::canary(i, settings.analysis))
            .collect(),
    )
    .await?;
    let create_secs = created.elapsed().as_secs_f64();

    eprintln!("[n={n}] starting the controller");
    let log = c.dir.join("controller.log");
    let mut controller = procs::start_controller(&settings.fledge, &c.sim.kubeconfig, &log)?;
    let pid = controller.pid()?;
    let sim_pid = c.sim.process.pid()?;
    let sim_cpu0 = procs::cpu_time(sim_pid, c.ticks)?;
    let init = c
        .tracker
        .wait(
            &format!("all {n} canaries Initialized"),
            settings.init_timeout,
            || controller.check_running(),
            |t| t.count_in("Initialized") == n,
        )
        .await;
    let init_secs = init
        .as_ref()
        .map_or(settings.init_timeout, |d| *d)
        .as_secs_f64();
    let initialized: Vec<usize> = (0..n)
        .filter(|i| {
            let (ns, name) = workload::app(*i);
            c.tracker
                .get(&ns, &name)
                .is_some_and(|s| s.phase == "Initialized")
        })
        .collect();
    let init_cpu = procs::cpu_time(pid, c.ticks)?;
    let sim_init_cpu = procs::cpu_time(sim_pid, c.ticks)?.saturating_sub(sim_cpu0);
    let rss_initialized = procs::memory(pid)?;
    match &init {
        Ok(_) => eprintln!("[n={n}] initialized in {init_secs:.1}s; idle window"),
        Err(e) => eprintln!(
            "[n={n}] {e}: {} initialized; going on with those",
            initialized.len()
        ),
    }
    anyhow::ensure!(
        !initialized.is_empty(),
        "no canary initialized within {:?}",
        settings.init_timeout
    );
    tokio::time::sleep(settings.settle).await;
    let (idle, idle_requests) = c.window(&mut controller, settings.idle_window).await?;

    // Releases, spaced: each sample's latency is its own, not the tail of a queue it shares.
    // Only initialized canaries can start a release; spread the sample over them.
    let sample: Vec<usize> = workload::sample(initialized.len(), settings.samples)
        .into_iter()
        .map(|k| initialized[k])
        .collect();
    eprintln!(
        "[n={n}] releasing {} canaries, one every {:?}",
        sample.len(),
        settings.spacing
    );
    let release_before = c.stats().await?;
    let release_started = Instant::now();
    let patch = workload::new_revision_patch();
    let mut sent = Vec::with_capacity(sample.len());
    for &i in &sample {
        let (ns, name) = workload::app(i);
        let at = Instant::now();
        cluster::patch_deployment(&c.client, &ns, &name, &patch).await?;
        sent.push((ns, name, at));
        tokio::time::sleep(settings.spacing).await;
    }
    let detect_budget = Duration::from_secs(60);
    let _ = c
        .tracker
        .wait(
            "every released canary Progressing",
            detect_budget,
            || controller.check_running(),
            |t| {
                sent.iter().all(|(ns, name, at)| {
                    t.get(ns, name)
                        .and_then(|s| s.entered.get("Progressing").copied())
                        .is_some_and(|p| p >= *at)
                })
            },
        )
        .await;
    let detection: Vec<Duration> = sent
        .iter()
        .filter_map(|(ns, name, at)| {
            let entered = c
                .tracker
                .get(ns, name)?
                .entered
                .get("Progressing")
                .copied()?;
            (entered >= *at).then(|| entered.duration_since(*at))
        })
        .collect();

    // Per-step load: every sample has taken its first step (detection and scale-up are over).
    let iterations = |t: &Tracker| {
        sent.iter()
            .map(|(ns, name, _)| t.get(ns, name).map_or(0, |s| i64::from(s.iterations)))
            .collect::<Vec<_>>()
    };
    let _ = c
        .tracker
        .wait(
            "every released canary past its first step",
            Duration::from_secs(60),
            || controller.check_running(),
            |t| iterations(t).iter().all(|i| *i >= 1),
        )
        .await;
    let iters_before = iterations(&c.tracker);
    let (steps_window, step_requests) = c.window(&mut controller, settings.steps_window).await?;
    let iters_after = iterations(&c.tracker);
    let steps: i64 = iters_before
        .iter()
        .zip(&iters_after)
        .map(|(b, a)| (a - b).max(0))
        .sum();

    eprintln!("[n={n}] {steps} steps in the window; waiting for the promotions");
    let budget = Duration::from_secs(
        u64::from(settings.analysis.iterations) * settings.analysis.interval_secs * 3 + 60,
    );
    let promoted = c
        .tracker
        .wait(
            "every released canary Succeeded",
            budget,
            || controller.check_running(),
            |t| {
                sent.iter().all(|(ns, name, at)| {
                    t.get(ns, name)
                        .and_then(|s| s.entered.get("Succeeded").copied())
                        .is_some_and(|p| p >= *at)
                })
            },
        )
        .await;
    let release_secs = release_started.elapsed().as_secs_f64();
    let succeeded = sent
        .iter()
        .filter(|(ns, name, at)| {
            c.tracker
                .get(ns, name)
                .and_then(|s| s.entered.get("Succeeded").copied())
                .is_some_and(|p| p >= *at)
        })
        .count();
    if let Err(e) = promoted {
        eprintln!("[n={n}] {e}");
    }
    let after = c.stats().await?;
    let release_requests = counts::delta(&release_before, &after).minus_own(
        "patch",
        "deployments.apps",
        sent.len() as u64,
    );
    let memory = procs::memory(pid)?;
    let total_cpu = procs::cpu_time(pid, c.ticks)?;
    controller.stop().await;

    Ok((
        Run {
            n,
            create_secs,
            init_secs,
            initialized: initialized.len(),
            sim_init_cpu_secs: sim_init_cpu.as_secs_f64(),
            sim_rss_mib: mib(procs::memory(sim_pid)?.rss_kib),
            init_cpu_secs: init_cpu.as_secs_f64(),
            rss_initialized_mib: mib(rss_initialized.rss_kib),
            rss_end_mib: mib(memory.rss_kib),
            rss_peak_mib: mib(memory.peak_kib),
            total_cpu_secs: total_cpu.as_secs_f64(),
            idle,
            idle_requests,
            released: sent.len(),
            detection_ms: detection.iter().map(|d| d.as_secs_f64() * 1000.0).collect(),
            detection_p50_ms: counts::percentile(&detection, 0.5).as_secs_f64() * 1000.0,
            detection_p99_ms: counts::percentile(&detection, 0.99).as_secs_f64() * 1000.0,
            steps_window,
            steps: steps.max(0) as u64,
            step_requests,
            succeeded,
            release_secs,
            release_requests,
            objects_stored: after.objects_stored,
            watches_open: after.watches_open,
        },
        empty,
    ))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
