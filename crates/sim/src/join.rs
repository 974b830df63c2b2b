//! `fledge sim --join`: the sim playing, for a real control plane, the parts of a cluster that
//! need a kubelet and a network. The [`kubelet`](crate::kubelet) runs the Pods; the traffic
//! engine routes synthetic load and real requests by the routing objects in that API server
//! (read with the sim's own code, [`KubeSource`]) and exports the same metrics as `fledge sim`
//! on its own HTTP port: `/metrics`, the service-proxy path and Host-header routing.

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::kubelet::{self, KubeletError};
use crate::scenario::{Scenario, ScenarioHandle};
use crate::traffic::kube_source::KubeSource;
use crate::traffic::{Traffic, proxy};

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Kubelet(#[from] KubeletError),
    #[error("serving traffic and metrics on {listen}: {source}")]
    Listen {
        listen: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A joined sim; [`Joined::stop`] stops it.
pub struct Joined {
    url: String,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Joined {
    /// Where traffic and metrics are served (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Registers the Node, then runs the kubelet and the traffic engine until [`Joined::stop`].
pub async fn join(
    client: Client,
    scenario: Scenario,
    listen: SocketAddr,
) -> Result<Joined, JoinError> {
    let since = kubelet::register(&client).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| JoinError::Listen { listen, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| JoinError::Listen { listen, source })?;
    let scenario = ScenarioHandle::new(scenario);
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(kubelet::serve(
        client.clone(),
        scenario.clone(),
        since,
        stop.clone().cancelled_owned(),
    ));
    let traffic = Traffic::new(Box::new(KubeSource::start(client)), scenario);
    tasks.spawn(Arc::clone(&traffic).run(stop.clone()));
    let app = proxy::with_host_routing(proxy::routes(Arc::clone(&traffic)), traffic);
    let shutdown = stop.clone().cancelled_owned();
    tasks.spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "sim traffic server");
        }
    });
    Ok(Joined {
        url: format!("http://{addr}"),
        stop,
        tasks,
    })
}
