//! The `fledge` binary: the CLI and the controller's wiring. Each subcommand lives in its own
//! module under `cmd/`; this file only parses arguments and dispatches.

mod cmd;
mod controller;
mod demo;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fledge",
    version,
    about = "Progressive delivery for plain Kubernetes Deployments"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions (Canary, MetricTemplate, AlertProvider) as YAML.
    Crds(cmd::crds::Args),
    /// Check Canary, MetricTemplate and AlertProvider manifests without a cluster.
    Validate(cmd::validate::Args),
    /// Explain what a Canary will do, step by step, when every check passes.
    Plan(cmd::plan::Args),
    /// Run the simulated Kubernetes cluster (for tests, the demo and benchmarks).
    Sim(cmd::sim::Args),
    /// Run the controller against the cluster your kube config points at.
    Controller(Box<cmd::controller::Args>),
    /// Tour: a simulated cluster, a real Prometheus and the controller run two releases.
    Demo(cmd::demo::Args),
}

fn main() -> ExitCode {
    // kube and reqwest share one rustls; pick ring for the whole process before anything
    // builds a TLS client (see docs/dependencies.md).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds(args) => cmd::crds::run(args),
        Command::Validate(args) => cmd::validate::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Controller(args) => cmd::controller::run(*args),
        Command::Demo(args) => cmd::demo::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
