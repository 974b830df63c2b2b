//! `kubectl fledge`: see and steer Canaries from the command line (kubectl finds this binary on
//! PATH as `kubectl-fledge`). Manual actions go through the controller's request contract (the
//! `fledge.dev/request` annotation), never through the spec, so a GitOps sync can't undo them.

mod cli;
mod dashboard;
mod get;
mod history;
mod live;
mod plan;
mod requests;
mod show;
mod tree;
mod view;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // kube shares one rustls; pick ring before anything builds a TLS client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(3)
        }
    }
}
