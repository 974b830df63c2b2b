//! Everything the controller's flags say (parsed by `fledge controller`, checked by `startup`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the controller's flags say.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub kubeconfig: Option<PathBuf>,
    pub namespace: Option<String>,
    pub selector_labels: Vec<String>,
    pub include_label_prefixes: Vec<String>,
    pub metrics_server: String,
    pub mesh_provider: String,
    pub min_interval: Duration,
    pub listen: SocketAddr,
    pub leader_elect: bool,
    pub leader_election_namespace: Option<String>,
    pub identity: Option<String>,
    pub event_webhook: Option<String>,
    pub slack_url: Option<String>,
    pub msteams_url: Option<String>,
    pub cluster_name: String,
    /// `--ingress-annotations-prefix`: the nginx provider's annotation prefix.
    pub ingress_annotations_prefix: String,
    /// `--ingress-class`: the contour provider's `spec.ingressClassName`.
    pub ingress_class: Option<String>,
}

/// The defaults of `fledge controller`'s flags (docs/controller.md), for callers that build a
/// config in code (the demo, tests).
impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            kubeconfig: None,
            namespace: None,
            selector_labels: fledge_routers::DEFAULT_SELECTOR_LABELS
                .iter()
                .map(|l| l.to_string())
                .collect(),
            include_label_prefixes: Vec::new(),
            metrics_server: "http://prometheus:9090".into(),
            mesh_provider: fledge_api::Provider::Kubernetes.as_str().into(),
            min_interval: fledge_api::analysis::MIN_INTERVAL,
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            leader_elect: false,
            leader_election_namespace: None,
            identity: None,
            event_webhook: None,
            slack_url: None,
            msteams_url: None,
            cluster_name: String::new(),
            ingress_annotations_prefix: fledge_routers::nginx::DEFAULT_ANNOTATIONS_PREFIX.into(),
            ingress_class: None,
        }
    }
}
