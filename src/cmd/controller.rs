//! `fledge controller`: run the controller against the cluster the kube config points at.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use fledge::controller::{ControllerConfig, LogFormat};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kube config file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "FLEDGE_KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "FLEDGE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Labels whose value tells primary pods from canary pods; the first one found in the
    /// target's selector is used.
    #[arg(
        long,
        env = "FLEDGE_SELECTOR_LABELS",
        value_delimiter = ',',
        default_value = "app,name,app.kubernetes.io/name"
    )]
    pub selector_labels: Vec<String>,
    /// Prefixes of the target's labels and annotations copied to generated objects (`*` for
    /// all; none by default, as in Flagger).
    #[arg(long, env = "FLEDGE_INCLUDE_LABEL_PREFIX", value_delimiter = ',')]
    pub include_label_prefix: Vec<String>,
    /// Prometheus URL for builtin metrics when a Canary sets no `spec.metricsServer`.
    #[arg(
        long,
        env = "FLEDGE_METRICS_SERVER",
        default_value = "http://prometheus:9090"
    )]
    pub metrics_server: String,
    /// Routing provider for Canaries without `spec.provider`.
    #[arg(long, env = "FLEDGE_MESH_PROVIDER", default_value = "kubernetes")]
    pub mesh_provider: String,
    /// Shortest analysis interval accepted; a Canary with a shorter one is Stalled.
    #[arg(long, env = "FLEDGE_MIN_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub min_interval: Duration,
    /// Address for /healthz, /readyz and /metrics (port 0 picks a free port and logs it).
    #[arg(long, env = "FLEDGE_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Take part in leader election: every replica watches, only the Lease holder writes.
    #[arg(long, env = "FLEDGE_LEADER_ELECT")]
    pub leader_elect: bool,
    /// Namespace of the leader-election Lease (default: the pod's namespace or `default`).
    #[arg(long, env = "FLEDGE_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// This replica's identity in the Lease (default: the hostname).
    #[arg(long, env = "FLEDGE_IDENTITY")]
    pub identity: Option<String>,
    /// POST every Canary event to this URL (Flagger's `-event-webhook`), unless the Canary
    /// has its own `event` webhook.
    #[arg(long, env = "FLEDGE_EVENT_WEBHOOK")]
    pub event_webhook: Option<String>,
    /// Slack incoming-webhook URL for Canaries that list no alerts.
    #[arg(long, env = "FLEDGE_SLACK_URL", hide_env_values = true)]
    pub slack_url: Option<String>,
    /// Microsoft Teams webhook URL for Canaries that list no alerts.
    #[arg(long, env = "FLEDGE_MSTEAMS_URL", hide_env_values = true)]
    pub msteams_url: Option<String>,
    /// Cluster name shown in alerts.
    #[arg(long, env = "FLEDGE_CLUSTER_NAME", default_value = "")]
    pub cluster_name: String,
    /// The annotation prefix the NGINX ingress controller reads (its `--annotations-prefix`).
    #[arg(
        long,
        env = "FLEDGE_INGRESS_ANNOTATIONS_PREFIX",
        default_value = "nginx.ingress.kubernetes.io"
    )]
    pub ingress_annotations_prefix: String,
    /// The ingress class the contour provider's HTTPProxies carry (`spec.ingressClassName`).
    #[arg(long, env = "FLEDGE_INGRESS_CLASS")]
    pub ingress_class: Option<String>,
    #[arg(long, env = "FLEDGE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `fledge=debug,kube=info`.
    #[arg(long, env = "FLEDGE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    fledge_api::duration::parse_duration(text).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    fledge::controller::telemetry::init_logging(args.log_format, &args.log_level)?;
    let config = ControllerConfig {
        kubeconfig: args.kubeconfig,
        namespace: args.namespace,
        selector_labels: args.selector_labels,
        include_label_prefixes: args.include_label_prefix,
        metrics_server: args.metrics_server,
        mesh_provider: args.mesh_provider,
        min_interval: args.min_interval,
        listen: args.listen,
        leader_elect: args.leader_elect,
        leader_election_namespace: args.leader_election_namespace,
        identity: args.identity,
        event_webhook: args.event_webhook,
        slack_url: args.slack_url,
        msteams_url: args.msteams_url,
        cluster_name: args.cluster_name,
        ingress_annotations_prefix: args.ingress_annotations_prefix,
        ingress_class: args.ingress_class,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(fledge::controller::run(config))?;
    Ok(ExitCode::SUCCESS)
}
