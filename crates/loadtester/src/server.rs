//! HTTP routes, compatible with Flagger's load tester: `POST /` runs a task, `/gate/*` and
//! `/rollback/*` answer manual gates, plus `/healthz` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use fledge_hooks::WebhookPayload;
use regex::Regex;

use crate::gates::{self, Gates};
use crate::metrics::{GateAnswer, GateKind, Metrics};
use crate::tasks::{self, Reply, Running};

pub struct AppState {
    pub gates: Gates,
    pub metrics: Metrics,
    pub running: Running,
    /// Per command / load run.
    pub timeout: Duration,
    pub namespace_regexp: Option<Regex>,
}

impl AppState {
    pub fn new(timeout: Duration, namespace_regexp: Option<Regex>) -> Self {
        AppState {
            gates: Gates::default(),
            metrics: Metrics::default(),
            running: Running::default(),
            timeout,
            namespace_regexp,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.status, self.body).into_response()
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", post(run_task))
        .route("/healthz", get(|| async { "OK" }))
        .route("/metrics", get(metrics))
        .route(
            "/gate/approve",
            any(|| async { (StatusCode::OK, "Approved") }),
        )
        .route(
            "/gate/halt",
            any(|| async { (StatusCode::FORBIDDEN, "Forbidden") }),
        )
        .route("/gate/check", post(gate_check))
        .route("/gate/open", post(gate_open))
        .route("/gate/close", post(gate_close))
        .route("/rollback/check", post(rollback_check))
        .route("/rollback/open", post(rollback_open))
        .route("/rollback/close", post(rollback_close))
        .with_state(state)
}

/// Decodes the body (whatever its Content-Type: Flagger's docs use `curl -d`, which sends a form
/// content type) and applies `--namespace-regexp`. Pure, and fuzzed (`crates/fuzz`).
pub fn read_payload(
    body: &[u8],
    namespace_regexp: Option<&Regex>,
) -> Result<WebhookPayload, Reply> {
    let payload: WebhookPayload = serde_json::from_slice(body).map_err(|e| {
        Reply::new(
            StatusCode::BAD_REQUEST,
            format!("invalid webhook payload (expected JSON with name, namespace, metadata): {e}"),
        )
    })?;
    if let Some(re) = namespace_regexp
        && !re.is_match(&payload.namespace)
    {
        tracing::warn!(
            canary = payload.canary_key(),
            "namespace rejected by --namespace-regexp"
        );
        return Err(Reply::new(
            StatusCode::FORBIDDEN,
            format!(
                "Forbidden: namespace {:?} does not match --namespace-regexp {:?}",
                payload.namespace,
                re.as_str()
            ),
        ));
    }
    Ok(payload)
}

async fn run_task(State(state): State<Arc<AppState>>, body: Bytes) -> Reply {
    match read_payload(&body, state.namespace_regexp.as_ref()) {
        Ok(p) => tasks::dispatch(state, p).await,
        Err(reply) => reply,
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn check(state: &AppState, kind: GateKind, body: &[u8]) -> Reply {
    let p = match read_payload(body, state.namespace_regexp.as_ref()) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let open = state.gates.is_open(&gates::key(kind, &p));
    tracing::info!(canary = p.canary_key(), gate = ?kind, open, "gate check");
    if open {
        state.metrics.gate_check(kind, GateAnswer::Open);
        Reply::new(StatusCode::OK, "Approved")
    } else {
        state.metrics.gate_check(kind, GateAnswer::Closed);
        Reply::new(StatusCode::FORBIDDEN, "Forbidden")
    }
}

fn set(state: &AppState, kind: GateKind, open: bool, body: &[u8]) -> Reply {
    let p = match read_payload(body, state.namespace_regexp.as_ref()) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    state.gates.set(gates::key(kind, &p), open);
    tracing::info!(canary = p.canary_key(), gate = ?kind, open, "gate set");
    let what = match kind {
        GateKind::Gate => "gate",
        GateKind::Rollback => "rollback",
    };
    let verb = if open { "opened" } else { "closed" };
    Reply::new(StatusCode::ACCEPTED, format!("{what} {verb}"))
}

async fn gate_check(State(s): State<Arc<AppState>>, body: Bytes) -> Reply {
    check(&s, GateKind::Gate, &body)
}
async fn gate_open(State(s): State<Arc<AppState>>, body: Bytes) -> Reply {
    set(&s, GateKind::Gate, true, &body)
}
async fn gate_close(State(s): State<Arc<AppState>>, body: Bytes) -> Reply {
    set(&s, GateKind::Gate, false, &body)
}
async fn rollback_check(State(s): State<Arc<AppState>>, body: Bytes) -> Reply {
    check(&s, GateKind::Rollback, &body)
}
async fn rollback_open(State(s): State<Arc<AppState>>, body: Bytes) -> Reply {
    set(&s, GateKind::Rollback, true, &body)
}
async fn rollback_close(State(s): State<Arc<AppState>>, body: Bytes) -> Reply {
    set(&s, GateKind::Rollback, false, &body)
}
