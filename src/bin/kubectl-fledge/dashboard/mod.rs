//! `kubectl fledge dashboard`: a web page on 127.0.0.1 over the user's own kubeconfig, so the
//! cluster's RBAC decides what each person sees and does. The server holds one set of watches
//! ([`Live`]) and every page is drawn from those caches and pushed with Server-Sent Events; a
//! browser tab never makes the server poll the API server.
//!
//! Safe by default: it binds 127.0.0.1 only, answers only requests addressed to that host (a
//! DNS-rebinding page gets 403), and every state-changing request needs the random token
//! printed in the URL, sent as a header a cross-site page can't set. It never reads Secrets.

mod assets;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fledge_api::Canary;
use fledge_core::{Config, RequestKind};
use futures::Stream;
use jiff::Timestamp;
use kube::Api;
use serde_json::json;

use crate::live::{Live, RouteMemo};
use crate::requests;
use crate::view;

/// Changes closer together than this are pushed once.
const DEBOUNCE: Duration = Duration::from_millis(150);
/// How long an action waits for the controller's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// The header that carries the token.
pub const TOKEN_HEADER: &str = "x-fledge-token";

struct App {
    live: Live,
    client: kube::Client,
    config: Config,
    routes: RouteMemo,
    token: String,
    read_only: bool,
    namespace: Option<String>,
    /// `127.0.0.1:PORT` and `localhost:PORT`: the only Host headers answered.
    hosts: [String; 2],
}

pub async fn serve(
    client: kube::Client,
    namespace: Option<&str>,
    port: u16,
    read_only: bool,
    config: Config,
) -> anyhow::Result<ExitCode> {
    let live = Live::start(&client, namespace).await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|e| anyhow::anyhow!("dashboard: cannot listen on 127.0.0.1:{port}: {e}; pick another with --port (0 for any free one)"))?;
    let port = listener.local_addr()?.port();
    let token = new_token()?;
    let app = Arc::new(App {
        live,
        client,
        config,
        routes: RouteMemo::default(),
        token: token.clone(),
        read_only,
        namespace: namespace.map(str::to_string),
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
    });
    // The first line of stdout is the URL (scripts and tests read it).
    println!("http://127.0.0.1:{port}/?token={token}");
    eprintln!(
        "fledge dashboard on 127.0.0.1:{port}{}; Ctrl-C to stop",
        if read_only { " (read-only)" } else { "" }
    );
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/app.css", get(assets::style))
        .route("/api/config", get(config))
        .route("/api/canaries", get(list))
        .route("/api/stream", get(list_stream))
        .route("/api/canaries/{ns}/{name}", get(detail))
        .route("/api/canaries/{ns}/{name}/stream", get(detail_stream))
        .route("/api/canaries/{ns}/{name}/actions/{action}", post(action))
        .layer(middleware::from_fn_with_state(app.clone(), only_local_host))
        .with_state(app)
}

/// 16 random bytes from the kernel, in hex.
fn new_token() -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| anyhow::anyhow!("dashboard: reading /dev/urandom for the token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn only_local_host(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !app.hosts.iter().any(|h| h == host) {
        return error(
            StatusCode::FORBIDDEN,
            format!("this dashboard answers only {}", app.hosts[0]),
        );
    }
    next.run(request).await
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn config(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(json!({ "readOnly": app.read_only, "namespace": app.namespace }))
}

impl App {
    fn list_json(&self) -> serde_json::Value {
        let snapshot = self.live.snapshot();
        let canaries: Vec<&Canary> = snapshot.canaries.iter().map(|c| c.as_ref()).collect();
        let items = view::summaries(
            &canaries,
            &snapshot.around(None),
            &self.config,
            Timestamp::now(),
        );
        json!({ "items": items })
    }

    async fn detail_json(&self, ns: &str, name: &str) -> Option<serde_json::Value> {
        let snapshot = self.live.snapshot();
        let canary = snapshot.canary(ns, name)?;
        let route = self.routes.route(&self.client, canary, &self.config).await;
        let detail = view::detail(
            canary,
            &snapshot.around(route),
            &self.config,
            Timestamp::now(),
        );
        serde_json::to_value(detail).ok()
    }
}

async fn list(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(app.list_json())
}

async fn detail(State(app): State<Arc<App>>, Path((ns, name)): Path<(String, String)>) -> Response {
    match app.detail_json(&ns, &name).await {
        Some(detail) => Json(detail).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("canary {ns}/{name} not found (or not in this dashboard's namespace)"),
        ),
    }
}

/// Waits for the next change of any cache, then lets a burst settle.
async fn next_change(rx: &mut tokio::sync::watch::Receiver<u64>) -> bool {
    if rx.changed().await.is_err() {
        return false;
    }
    tokio::time::sleep(DEBOUNCE).await;
    rx.borrow_and_update();
    true
}

async fn list_stream(
    State(app): State<Arc<App>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = app.live.changed.clone();
    let stream = futures::stream::unfold((app, rx, None), |(app, mut rx, last)| async move {
        let mut first = last.is_none();
        loop {
            if !first && !next_change(&mut rx).await {
                return None;
            }
            first = false;
            let text = app.list_json().to_string();
            if last.as_ref() != Some(&text) {
                let event = SseEvent::default().event("list").data(text.clone());
                return Some((Ok(event), (app, rx, Some(text))));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn detail_stream(
    State(app): State<Arc<App>>,
    Path((ns, name)): Path<(String, String)>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = app.live.changed.clone();
    let start = (app, rx, ns, name, None::<String>);
    let stream = futures::stream::unfold(start, |(app, mut rx, ns, name, last)| async move {
        let mut first = last.is_none();
        loop {
            if !first && !next_change(&mut rx).await {
                return None;
            }
            first = false;
            let (kind, text) = match app.detail_json(&ns, &name).await {
                Some(detail) => ("detail", detail.to_string()),
                None => ("gone", "{}".to_string()),
            };
            if last.as_ref() != Some(&text) {
                let event = SseEvent::default().event(kind).data(text.clone());
                return Some((Ok(event), (app, rx, ns, name, Some(text))));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Equal without telling a guesser how much of the token matched.
fn same_token(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn action(
    State(app): State<Arc<App>>,
    Path((ns, name, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if app.read_only {
        return error(
            StatusCode::FORBIDDEN,
            "this dashboard is read-only (started with --read-only)".into(),
        );
    }
    let given = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !same_token(given, &app.token) {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "missing or wrong {TOKEN_HEADER}: open the URL kubectl fledge dashboard printed"
            ),
        );
    }
    let Some(kind) = RequestKind::ALL.into_iter().find(|k| k.as_str() == action) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no action {action:?}; use promote, abort, retry, pause or resume"),
        );
    };
    if app.namespace.as_deref().is_some_and(|scope| scope != ns) {
        return error(
            StatusCode::NOT_FOUND,
            format!("canary {ns}/{name} is outside this dashboard's namespace"),
        );
    }
    let api: Api<Canary> = Api::namespaced(app.client.clone(), &ns);
    match requests::request(&api, &ns, &name, kind, Some(ACK_TIMEOUT)).await {
        Ok(outcome) => {
            let status = match outcome.code {
                0 => StatusCode::OK,
                1 => StatusCode::CONFLICT,
                _ => StatusCode::ACCEPTED,
            };
            let key = if outcome.code == 1 {
                "error"
            } else {
                "message"
            };
            (status, Json(json!({ key: outcome.message }))).into_response()
        }
        Err(err) => error(StatusCode::BAD_GATEWAY, format!("{err:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_compared_whole() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(same_token(&a, &a));
        assert!(!same_token(&a[..31], &a));
        assert!(!same_token(&b, &a));
        assert!(!same_token("", &a));
    }
}
