//! `/healthz`, `/readyz` and `/metrics`. Healthy means the reconcile loop is running (it fails
//! once the loop has stopped, so a stuck shutdown gets the pod restarted). Ready means the
//! caches are synced; the body also says whether this replica leads. Followers are deliberately still "ready": if readiness required
//! the Lease, a rolling update of a two-replica controller could never finish (the new pod
//! can't lead while the old one holds the Lease).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Shared flags the reconciler and the leader elector update.
#[derive(Default)]
pub struct Health {
    pub caches_synced: AtomicBool,
    /// Set when the reconcile loop has ended.
    pub reconciler_stopped: AtomicBool,
    pub leader: AtomicBool,
    pub leader_elect: bool,
}

impl Health {
    pub fn is_leader(&self) -> bool {
        !self.leader_elect || self.leader.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    registry: Arc<Registry>,
}

/// Binds `addr` and serves in the background; returns the bound address (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    registry: Arc<Registry>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AppState { health, registry });
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "health and metrics server stopped");
        }
    });
    Ok(bound)
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    health_status(&state.health)
}

fn health_status(health: &Health) -> (StatusCode, &'static str) {
    if health.reconciler_stopped.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "reconcile loop stopped\n")
    } else {
        (StatusCode::OK, "ok")
    }
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    ready_status(&state.health)
}

fn ready_status(health: &Health) -> (StatusCode, String) {
    let synced = health.caches_synced.load(Ordering::SeqCst);
    let leader = health.is_leader();
    let body = format!("caches synced: {synced}\nleader: {leader}\n");
    let code = if synced {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_while_the_loop_runs_ready_once_the_caches_synced() {
        let health = Health::default();
        assert_eq!(health_status(&health).0, StatusCode::OK);
        assert_eq!(ready_status(&health).0, StatusCode::SERVICE_UNAVAILABLE);
        health.caches_synced.store(true, Ordering::SeqCst);
        let (code, body) = ready_status(&health);
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body, "caches synced: true\nleader: true\n");
        health.reconciler_stopped.store(true, Ordering::SeqCst);
        assert_eq!(health_status(&health).0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
