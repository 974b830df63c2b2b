//! The `fledge-loadtester` binary: flags, logging and the HTTP listener around the library.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use fledge_loadtester::args::{Args, LogFormat};
use fledge_loadtester::server::{self, AppState};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    init_logging(&args)?;

    let state = Arc::new(AppState::new(args.timeout, args.namespace_regexp.clone()));
    let addr = SocketAddr::new(args.address, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (set --port or --address)"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        timeout_s = args.timeout.as_secs_f64(),
        namespace_regexp = args.namespace_regexp.as_ref().map(|r| r.as_str()),
        "listening on http://{local}"
    );
    axum::serve(listener, server::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

fn init_logging(args: &Args) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid --log-level {:?}", args.log_level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

/// SIGTERM (how Kubernetes stops a pod) or Ctrl-C. Running commands are killed when the runtime
/// drops their tasks after the server stops.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
