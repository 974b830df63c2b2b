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
}
