//! `fledge demo`: the one-command tour (simulated cluster, real Prometheus, controller, a
//! promoted and a rolled-back release). The work is in `crate::demo`; this module parses the
//! flags, owns the async runtime and turns Ctrl-C / SIGTERM into a clean stop.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Leave the cluster, Prometheus and controller running after the releases, and print a
    /// `KUBECONFIG=... kubectl` line to explore them with; Ctrl-C stops everything.
    #[arg(long)]
    pub keep: bool,
    /// Colour the output: `auto` (when stdout is a terminal and NO_COLOR is unset), `always`
    /// or `never`.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// Give up on a release (or the initialization) that takes longer than this.
    #[arg(long, default_value = "90s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    fledge_api::duration::parse_duration(text).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let options = crate::demo::Options {
        color,
        step_timeout: args.timeout,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let code = runtime.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        // Dropping the demo's future on a signal drops everything it started (Drop guards).
        let finished = tokio::select! {
            result = crate::demo::run(options) => result?,
            _ = tokio::signal::ctrl_c() => return Ok(interrupted()),
            _ = term.recv() => return Ok(interrupted()),
        };
        let code = if finished.passed {
            ExitCode::SUCCESS
        } else {
            eprintln!("the controller's last log lines:\n{}", finished.running.log_tail(60));
            ExitCode::from(1)
        };
        if args.keep {
            let running = &finished.running;
            println!();
            println!("Everything is still running. Explore it in another terminal (Ctrl-C here stops it all):");
            println!(
                "  KUBECONFIG={} kubectl get canary -n demo -w",
                running.kubeconfig().display()
            );
            println!(
                "  KUBECONFIG={} kubectl describe canary -n demo podinfo",
                running.kubeconfig().display()
            );
            // kubectl-fledge is built next to this binary (`make demo` builds both).
            let bin_dir = std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.display().to_string()))
                .unwrap_or_else(|| "target/debug".into());
            for command in [
                "kubectl fledge get podinfo -n demo -w",
                "kubectl fledge dashboard -n demo",
            ] {
                println!(
                    "  PATH={bin_dir}:$PATH FLEDGE_MIN_INTERVAL=1s KUBECONFIG={} {command}",
                    running.kubeconfig().display()
                );
            }
            println!("  Prometheus: {}   logs: {}", running.prometheus_url(), running.dir().display());
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        drop(finished);
        anyhow::Ok(code)
    });
    // The controller's and the sim's tasks are cancelled here; don't wait on stragglers.
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}

fn interrupted() -> ExitCode {
    eprintln!("interrupted: stopped the controller, Prometheus and the simulated cluster");
    ExitCode::from(130)
}
