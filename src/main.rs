//! The `fledge` binary: parses arguments, installs the crypto provider and dispatches to one
//! module per subcommand (`src/cmd/`). The controller itself is the `fledge` library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
#[cfg(feature = "sim")]
mod demo;

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
    #[cfg(feature = "sim")]
    Sim(cmd::sim::Args),
    /// Run the controller against the cluster your kube config points at.
    Controller(Box<cmd::controller::Args>),
    /// Tour: a simulated cluster, a real Prometheus and the controller run two releases.
    #[cfg(feature = "sim")]
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
        #[cfg(feature = "sim")]
        Command::Sim(args) => cmd::sim::run(args),
        Command::Controller(args) => cmd::controller::run(*args),
        #[cfg(feature = "sim")]
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
