//! A webhook receiver: a real axum server on 127.0.0.1:0 that records every request (path,
//! query, JSON body, when) and answers each path with the status (and JSON body) the test
//! sets (200 until told otherwise). Stopped on drop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::oneshot;

use super::net;

#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    /// The query string, without `?` (empty when there was none).
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body as JSON (`Value::Null` when it wasn't JSON).
    pub body: Value,
    pub raw: String,
    pub at: Instant,
}

#[derive(Default)]
struct Shared {
    answers: Mutex<HashMap<String, u16>>,
    /// JSON bodies set by `answer_json`, by path.
    bodies: Mutex<HashMap<String, String>>,
    calls: Mutex<Vec<Call>>,
}

pub struct Receiver {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:40001`.
    pub base: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        let listener = net::runtime()
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        net::runtime().spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Receiver {
            base: format!("http://{addr}"),
            shared,
            stop: Some(stop),
        }
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// From now on, `path` answers `status`.
    pub fn answer(&self, path: &str, status: u16) {
        self.shared
            .answers
            .lock()
            .expect("answers")
            .insert(path.to_string(), status);
    }

    /// From now on, `path` answers `status` with the JSON `body`.
    pub fn answer_json(&self, path: &str, status: u16, body: &str) {
        self.answer(path, status);
        self.shared
            .bodies
            .lock()
            .expect("bodies")
            .insert(path.to_string(), body.to_string());
    }

    /// The calls to `path`, oldest first.
    pub fn calls(&self, path: &str) -> Vec<Call> {
        self.all_calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.calls(path).len()
    }

    pub fn all_calls(&self) -> Vec<Call> {
        self.shared.calls.lock().expect("calls").clone()
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let call = Call {
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_string(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
        at: Instant::now(),
    };
    shared.calls.lock().expect("calls").push(call);
    let status = shared
        .answers
        .lock()
        .expect("answers")
        .get(&path)
        .copied()
        .unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(json) = shared.bodies.lock().expect("bodies").get(&path) {
        return (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json.clone(),
        )
            .into_response();
    }
    let text = if status.is_success() {
        "ok"
    } else {
        "refused by the test receiver"
    };
    (status, text.to_string()).into_response()
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
