//! `fledge sim`: run the simulated Kubernetes cluster until SIGTERM or Ctrl-C. Once it accepts
//! requests it writes a kubeconfig and prints `sim ready: <url>` on stdout. For tests, the demo
//! and benchmarks; the controller never needs it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use fledge_sim::{Faults, Scenario, Sim, SimOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Address to serve the Kubernetes API on (port 0 picks a free port).
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
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = term.recv() => {}
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        }
        handle.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
