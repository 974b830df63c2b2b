//! Flags (kubectl's usual ones) and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fledge_api::{Canary, Provider};
use fledge_core::RequestKind;
use kube::Api;

use crate::get::Output;
use crate::{dashboard, get, history, plan, requests, show};

#[derive(Parser)]
#[command(
    name = "kubectl-fledge",
    version,
    about = "See and steer fledge Canaries (kubectl fledge ...)"
)]
pub struct Cli {
    /// Kube config file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kube config context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// The controller's `--mesh-provider`, for Canaries without `spec.provider` (plans and
    /// route reading).
    #[arg(long, global = true, env = "FLEDGE_MESH_PROVIDER", default_value = "kubernetes", value_parser = parse_provider)]
    pub mesh_provider: Provider,
    /// The controller's `--min-interval` (for the planned times of `plan`, `get`, `dashboard`).
    #[arg(long, global = true, env = "FLEDGE_MIN_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub min_interval: Duration,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Every Canary in the namespace (or all namespaces) with phase, weight, step, failed
    /// checks, age and the last Event.
    #[command(alias = "ls")]
    List {
        /// Every namespace the kube config's user can list.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// One line about a Canary; exit 0 when Succeeded or Initialized, 1 when Failed, 2 while
    /// in progress. A gate for CI.
    Status {
        name: String,
        /// Wait until it is Succeeded, Initialized or Failed (exit 2 after --timeout).
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Past releases with their outcome, and the steps and checks of the current and last one.
    History { name: String },
    /// One Canary as a tree: progress, metrics, webhooks, generated objects, Events.
    Get {
        name: String,
        /// Draw it again on every change (from a watch) until Ctrl-C.
        #[arg(short = 'w', long)]
        watch: bool,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// What the live Canary will do next and when, if every check passes.
    Plan {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// The web dashboard on 127.0.0.1; its URL (with the token actions need) is the first
    /// line of stdout.
    Dashboard {
        /// 0 picks a free port.
        #[arg(long, default_value_t = 3100)]
        port: u16,
        /// No promote/abort/retry/pause/resume.
        #[arg(long)]
        read_only: bool,
        /// Every namespace the kube config's user can list.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },
    /// Skip the rest of the analysis and promote the revision under test.
    Promote(RequestArgs),
    /// Roll the release back now.
    Abort(RequestArgs),
    /// Run a failed revision again.
    Retry(RequestArgs),
    /// Hold the release where it is (survives a GitOps sync; unlike spec.suspend).
    Pause(RequestArgs),
    /// Let a paused release go on.
    Resume(RequestArgs),
}

#[derive(clap::Args)]
pub struct RequestArgs {
    pub name: String,
    /// Don't wait for the controller to acknowledge the request.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the acknowledgement.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_provider(text: &str) -> Result<Provider, String> {
    Provider::parse(text)
        .filter(|p| p.is_routed())
        .ok_or_else(|| {
            format!(
                "{text:?} is not a provider fledge routes; use one of {}",
                Provider::routed_list()
            )
        })
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    fledge_api::duration::parse_duration(text).map_err(|e| e.to_string())
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (client, default_ns) = connect(&cli).await?;
    let ns = cli.namespace.clone().unwrap_or(default_ns);
    let canaries: Api<Canary> = Api::namespaced(client.clone(), &ns);
    let config = fledge_core::Config {
        default_provider: cli.mesh_provider,
        min_interval: cli.min_interval,
    };
    let request = |kind, args: RequestArgs| (kind, args);
    let (kind, args) = match cli.command {
        Command::List {
            all_namespaces,
            output,
        } => {
            let scope = (!all_namespaces).then_some(ns.as_str());
            return show::list(&client, scope, output, &config).await;
        }
        Command::Get {
            name,
            watch,
            output,
        } => return get::get(&client, &ns, &name, watch, output, &config).await,
        Command::Plan { name, output } => {
            return plan::plan(&canaries, &ns, &name, output, &config).await;
        }
        Command::Dashboard {
            port,
            read_only,
            all_namespaces,
        } => {
            let scope = (!all_namespaces).then_some(ns.as_str());
            return dashboard::serve(client, scope, port, read_only, config).await;
        }
        Command::Status {
            name,
            wait,
            timeout,
        } => return show::status(&canaries, &ns, &name, wait.then_some(timeout)).await,
        Command::History { name } => return history::history(&canaries, &ns, &name).await,
        Command::Promote(a) => request(RequestKind::Promote, a),
        Command::Abort(a) => request(RequestKind::Abort, a),
        Command::Retry(a) => request(RequestKind::Retry, a),
        Command::Pause(a) => request(RequestKind::Pause, a),
        Command::Resume(a) => request(RequestKind::Resume, a),
    };
    requests::send(
        &canaries,
        &ns,
        &args.name,
        kind,
        (!args.no_wait).then_some(args.timeout),
    )
    .await
}

/// A client for the kube config (or `$KUBECONFIG`, `~/.kube/config`) and context, and the
/// context's namespace.
async fn connect(cli: &Cli) -> anyhow::Result<(kube::Client, String)> {
    let options = kube::config::KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    let config = match &cli.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("--kubeconfig {}: cannot read", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .with_context(|| format!("--kubeconfig {}: invalid", path.display()))?
        }
        None => kube::Config::from_kubeconfig(&options)
            .await
            .context("no kube config found ($KUBECONFIG or ~/.kube/config); pass --kubeconfig")?,
    };
    let ns = config.default_namespace.clone();
    let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
    Ok((client, ns))
}
