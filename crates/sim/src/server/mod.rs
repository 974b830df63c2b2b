//! The HTTP face of the sim: the Kubernetes API wire protocol (discovery, OpenAPI, CRUD,
//! patches, watches, tables, `Status` errors) on top of [`crate::store`], plus `/sim/stats`.
//! Plain HTTP on loopback, no authentication. It never holds object state of its own.

mod age;
mod apply;
mod convert;
mod delete;
mod discovery;
mod fieldcheck;
mod filter;
mod jsonpath;
mod openapi;
mod path;
mod resource;
mod scale;
mod table;
mod watch;

use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::faults::FaultInjector;
use crate::stats::Stats;
use crate::store::{ApiError, Store};

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct ServerState {
    pub store: Store,
    pub stats: Stats,
    pub faults: FaultInjector,
    /// Cancelled when the sim shuts down; open watch streams end with it.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// The API server's routes. Other parts of the sim may `merge` their own routes into it.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/sim/stats", get(stats))
        .route("/openapi/v3", get(openapi::index))
        .route("/openapi/v3/{*rest}", get(openapi::group_version))
        .fallback(api)
        .with_state(state)
}

/// Query parameters (last value wins, as in the real server).
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    pub fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value for {key}: {v:?} (must be a non-negative integer)"
                    ))
                })
            })
            .transpose()
    }
}

/// A JSON response with the given status code.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut resp = (code, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A `Status` error response.
pub fn error_response(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(code, &err.to_status());
    if let Some(secs) = err.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

async fn ok() -> &'static str {
    "ok"
}

async fn version(State(st): State<ServerState>) -> Response {
    st.stats.request();
    // The gcloud kubectl dispatcher picks the kubectl build by `minor`: "32" runs the embedded
    // v1.32 (see reference/kubectl-wire.md section 0).
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "fledge-sim",
            "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23",
            "compiler": "gc", "platform": "linux/amd64"
        }),
    )
}

async fn stats(State(st): State<ServerState>) -> Response {
    let snap = st
        .stats
        .snapshot(st.store.object_count(), st.store.resource_version());
    json_response(
        StatusCode::OK,
        &serde_json::to_value(snap).unwrap_or_default(),
    )
}

async fn api(
    State(st): State<ServerState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.stats.request();
    let latency = st.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let query = Query::parse(uri.query());
    let registry = st.store.registry();
    let parsed = path::parse(uri.path(), |g, v, p| {
        registry.find(g, v, p).is_some_and(|d| d.namespaced)
    });
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match parsed {
        None => error_response(&ApiError::no_route()),
        Some(path::ApiPath::Root { core }) => discovery::root(&registry, core, accept),
        Some(path::ApiPath::Group { group }) => discovery::group(&registry, &group),
        Some(path::ApiPath::GroupVersion { group, version }) => {
            discovery::group_version(&registry, &group, &version)
        }
        Some(path::ApiPath::Resource(rp)) => {
            match resource::handle(&st, &registry, rp, method, query, &headers, body).await {
                Ok(resp) => resp,
                Err(err) => error_response(&err),
            }
        }
    }
}

/// A streaming response body fed from a channel of chunks (watch streams).
pub fn streaming_body(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<Bytes, std::convert::Infallible>(chunk), rx))
    });
    Body::from_stream(stream)
}
