//! `fledge sim`: run the simulated Kubernetes cluster until SIGTERM or Ctrl-C. Once it accepts
//! requests it writes a kubeconfig and prints `sim ready: <url>` on stdout. With `--join`, it
//! runs no API server and joins a real control plane as its kubelet instead, and prints
//! `sim joined: <server> as node sim-node`. For tests, the demo and benchmarks; the controller
//! never needs it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use fledge_sim::{Faults, Scenario, Sim, SimOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Address to serve the Kubernetes API on (port 0 picks a free port); with `--join`, the
    /// traffic and metrics.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the kubeconfig (context `fledge-sim`). Default: a temp file, printed on stderr.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Workload and traffic scenario (see docs/sim-workloads-and-traffic.md).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Injected API faults (see docs/sim.md).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Join the real control plane this kubeconfig names as its kubelet and network (one Node;
    /// Pods bound, run and made ready as the scenario says; traffic routed by the routing
    /// objects there, and metrics, on `--listen`) instead of serving an API of its own.
    #[arg(long, value_name = "KUBECONFIG", conflicts_with_all = ["kubeconfig", "faults"])]
    join: Option<PathBuf>,
}

async fn until_stopped() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
    }
    Ok(())
}

/// `--join`: the sim as the kubelet and network of a real control plane.
async fn join(
    kubeconfig: &std::path::Path,
    scenario: Scenario,
    listen: SocketAddr,
) -> anyhow::Result<ExitCode> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("--join {}: reading the kubeconfig", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .with_context(|| format!("--join {}: no usable context", kubeconfig.display()))?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).context("--join: building the client")?;
    let joined = fledge_sim::join::join(client, scenario, listen).await?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "sim joined: {server} as node {}; traffic and metrics: {}",
        fledge_sim::kubelet::NODE,
        joined.url()
    )?;
    out.flush()?;
    let stopped = until_stopped().await;
    joined.stop().await;
    stopped?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    let faults = match &args.faults {
        Some(path) => Faults::from_file(path)?,
        None => Faults::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        if let Some(kubeconfig) = &args.join {
            return join(kubeconfig, scenario, args.listen).await;
        }
        let options = SimOptions {
            listen: args.listen,
            kubeconfig: args.kubeconfig,
            scenario,
            faults,
            ..Default::default()
        };
        let handle = Sim::start(options).await?;
        eprintln!("kubeconfig: {}", handle.kubeconfig_path().display());
        let mut out = std::io::stdout();
        writeln!(out, "sim ready: {}", handle.url())?;
        out.flush()?;
        until_stopped().await?;
        handle.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
