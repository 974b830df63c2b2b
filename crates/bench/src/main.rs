//! `fledge-bench`: what `make bench` runs. Starts `fledge sim` and `fledge controller` as
//! separate processes for each N, drives releases through the Kubernetes API, and writes the
//! results (request counts from `/sim/stats`, detection latency, the controller's RSS and CPU
//! from `/proc`) to `docs/benchmarks.md`. A measuring tool only: it never changes the
//! controller's behaviour and is never used by it.

mod cluster;
mod counts;
mod measure;
mod procs;
mod report;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmark fledge controller against fledge sim; see docs/benchmarks.md")]
struct Args {
    /// The fledge binary (a release build for real numbers).
    #[arg(long, default_value = "target/release/fledge")]
    fledge: PathBuf,
    /// Numbers of canaries, one fresh sim and controller each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    counts: Vec<usize>,
    /// Canaries released per N to time detection and count per-step requests.
    #[arg(long, default_value_t = 50)]
    samples: usize,
    /// Milliseconds between two releases.
    #[arg(long, default_value_t = 100)]
    spacing_ms: u64,
    /// Analysis interval of every Canary, in seconds.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Analysis iterations of every Canary (blue/green steps).
    #[arg(long, default_value_t = 8)]
    iterations: u32,
    /// Seconds of the idle window.
    #[arg(long, default_value_t = 20.0)]
    idle_window: f64,
    /// Seconds of the window in which analysis steps are counted.
    #[arg(long, default_value_t = 20.0)]
    steps_window: f64,
    /// Seconds to let things settle before a window.
    #[arg(long, default_value_t = 5.0)]
    settle: f64,
    /// Seconds initialization may take; the run then goes on with the canaries initialized.
    #[arg(long, default_value_t = 240.0)]
    init_timeout: f64,
    /// Markdown from the sim's own scale benchmark, appended to the results.
    #[arg(long)]
    sim_section: Option<PathBuf>,
    /// Where the Markdown goes: the part after the marker is replaced, the text above kept.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to write every measurement as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Directory for logs and kubeconfigs (default: a temp dir removed at the end).
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.fledge.is_file(),
        "--fledge {}: no such file (run `cargo build --release --bin fledge`)",
        args.fledge.display()
    );
    anyhow::ensure!(
        !args.counts.is_empty() && args.counts.iter().all(|n| *n > 0),
        "--counts: give at least one N above 0"
    );
    let temp = tempfile::tempdir().context("creating a temp dir")?;
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let settings = measure::Settings {
        fledge: std::fs::canonicalize(&args.fledge)
            .with_context(|| format!("--fledge {}", args.fledge.display()))?,
        work,
        analysis: workload::Analysis {
            interval_secs: args.interval,
            iterations: args.iterations,
        },
        samples: args.samples,
        spacing: Duration::from_millis(args.spacing_ms),
        idle_window: Duration::from_secs_f64(args.idle_window),
        steps_window: Duration::from_secs_f64(args.steps_window),
        settle: Duration::from_secs_f64(args.settle),
        init_timeout: Duration::from_secs_f64(args.init_timeout),
    };
    let sim_section = match &args.sim_section {
        Some(p) => Some(
            std::fs::read_to_string(p).with_context(|| format!("--sim-section {}", p.display()))?,
        ),
        None => None,
    };

    let mut runs = Vec::new();
    let mut empty = None;
    for (k, &n) in args.counts.iter().enumerate() {
        let (run, e) = measure::run(&settings, n, k == 0).await.with_context(|| {
            format!(
                "benchmark at N = {n} (logs in {})",
                settings.work.join(format!("n{n}")).display()
            )
        })?;
        eprintln!(
            "[n={n}] init {:.1}s, detection p50 {:.0}ms p99 {:.0}ms, writes/step {:?}, reads/step {:?}, idle {:.2} req/s, RSS peak {:.0} MiB",
            run.init_secs,
            run.detection_p50_ms,
            run.detection_p99_ms,
            run.writes_per_step(),
            run.reads_per_step(),
            run.idle.requests_per_sec,
            run.rss_peak_mib
        );
        runs.push(run);
        empty = empty.or(e);
    }

    let setup = report::Setup {
        date: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_string(),
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: meminfo_total_kib() as f64 / (1024.0 * 1024.0),
        cpu: cpu_model(),
        interval_secs: args.interval,
        iterations: args.iterations,
        samples: args.samples,
        spacing_ms: args.spacing_ms,
        idle_window_secs: args.idle_window,
        steps_window_secs: args.steps_window,
    };
    let md = report::markdown(&setup, &runs, empty.as_ref(), sim_section.as_deref());
    print!("{md}");
    if let Some(out) = &args.out {
        let existing = std::fs::read_to_string(out).unwrap_or_default();
        std::fs::write(out, report::splice(&existing, &md))
            .with_context(|| format!("writing {}", out.display()))?;
    }
    if let Some(path) = &args.json {
        let all = serde_json::json!({"setup": setup, "runs": runs, "empty": empty});
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn meminfo_total_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}
