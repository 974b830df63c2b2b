//! `type: load`: the native load generator. Sends `rps` requests per second to `url` for
//! `duration` from `concurrency` workers, in the background (202 at once, deduplicated per canary
//! and target like `cmd`), and counts the answers in `fledge_loadtester_load_requests_total`.
//! No external tool: it needs nothing but this binary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{Reply, TaskKind};
use crate::args::parse_duration;
use crate::metrics::{Outcome, TaskResult};
use crate::server::AppState;

const MAX_RPS: f64 = 10_000.0;
/// One request every 1000 s: below that a worker's tick would not fit in a `Duration`.
const MIN_RPS: f64 = 0.001;
const MAX_CONCURRENCY: u32 = 1_000;

/// A validated `type: load` request.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    pub url: reqwest::Url,
    pub rps: f64,
    pub duration: Duration,
    pub concurrency: u32,
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Option<String>,
    pub request_timeout: Duration,
}

fn field<'a>(m: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    m.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl LoadSpec {
    /// Reads the spec from hook metadata; `max_duration` is the service's `--timeout`.
    pub fn from_metadata(
        m: &BTreeMap<String, String>,
        max_duration: Duration,
    ) -> Result<Self, String> {
        let url = field(m, "url").ok_or("metadata.url is required for task type \"load\"")?;
        let url = reqwest::Url::parse(url)
            .map_err(|e| format!("metadata.url: invalid URL {url:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "metadata.url: scheme must be http or https (got {:?})",
                url.scheme()
            ));
        }
        let rps = match field(m, "rps") {
            None => 10.0,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|r| (MIN_RPS..=MAX_RPS).contains(r))
                .ok_or(format!(
                    "metadata.rps: must be a number from {MIN_RPS} to {MAX_RPS} (got {v:?})"
                ))?,
        };
        let duration = match field(m, "duration") {
            None => Duration::from_secs(60),
            Some(v) => parse_duration(v).map_err(|e| format!("metadata.duration: {e}"))?,
        };
        if duration > max_duration {
            return Err(format!(
                "metadata.duration: {}s is longer than this load tester's --timeout ({}s)",
                duration.as_secs_f64(),
                max_duration.as_secs_f64()
            ));
        }
        let concurrency = match field(m, "concurrency") {
            None => 10,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|c| (1..=MAX_CONCURRENCY).contains(c))
                .ok_or(format!(
                    "metadata.concurrency: must be a whole number from 1 to {MAX_CONCURRENCY} (got {v:?})"
                ))?,
        };
        let method = match field(m, "method") {
            None => Method::GET,
            Some(v) => Method::from_bytes(v.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("metadata.method: invalid HTTP method {v:?}"))?,
        };
        let headers = parse_headers(m.get("headers").map(String::as_str).unwrap_or(""))?;
        let request_timeout = match field(m, "requestTimeout") {
            None => Duration::from_secs(10),
            Some(v) => parse_duration(v).map_err(|e| format!("metadata.requestTimeout: {e}"))?,
        };
        Ok(LoadSpec {
            url,
            rps,
            duration,
            concurrency,
            method,
            headers,
            body: m.get("body").cloned(),
            request_timeout,
        })
    }

    /// Time between two requests of one worker; the workers together make `rps`.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.concurrency) / self.rps)
    }
}

/// `headers` holds one `Name: value` per line (a YAML block scalar in the Canary).
fn parse_headers(text: &str) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(format!(
            "metadata.headers: expected \"Name: value\" (got {line:?})"
        ))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("metadata.headers: invalid header name {:?}", name.trim()))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("metadata.headers: invalid value for header {name}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Starts `spec`'s load for `canary` (`name.namespace`) unless it is already running.
pub fn start(state: Arc<AppState>, canary: String, spec: LoadSpec) -> Reply {
    let kind = TaskKind::Load;
    let key = format!("{canary}\nload {} {}", spec.method, spec.url);
    let Some(claim) = state.running.claim(key) else {
        state.metrics.finished(kind, TaskResult::Deduplicated);
        tracing::info!(canary, url = %spec.url, "load already running, skipped");
        return Reply::new(StatusCode::ACCEPTED, "load already running");
    };
    let client = match reqwest::Client::builder()
        .timeout(spec.request_timeout)
        .default_headers(spec.headers.clone())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            state.metrics.finished(kind, TaskResult::Failure);
            return Reply::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("could not build the HTTP client: {e}"),
            );
        }
    };
    tracing::info!(canary, url = %spec.url, rps = spec.rps, duration_s = spec.duration.as_secs_f64(),
        concurrency = spec.concurrency, "load started");
    tokio::spawn(async move {
        let _claim = claim;
        let _running = state.metrics.running(kind);
        let spec = Arc::new(spec);
        let deadline = tokio::time::Instant::now() + spec.duration;
        let period = spec.period();
        let mut workers = tokio::task::JoinSet::new();
        for i in 0..spec.concurrency {
            // Stagger the workers so the requests are spread over each period, not bunched.
            let start = tokio::time::Instant::now()
                + period.mul_f64(f64::from(i) / f64::from(spec.concurrency));
            workers.spawn(worker(
                Arc::clone(&state),
                Arc::clone(&spec),
                client.clone(),
                canary.clone(),
                start,
                deadline,
            ));
        }
        let sent: u64 = workers.join_all().await.into_iter().sum();
        state.metrics.finished(kind, TaskResult::Success);
        tracing::info!(canary, url = %spec.url, requests = sent, "load finished");
    });
    Reply::new(StatusCode::ACCEPTED, "load started")
}

async fn worker(
    state: Arc<AppState>,
    spec: Arc<LoadSpec>,
    client: reqwest::Client,
    canary: String,
    start: tokio::time::Instant,
    deadline: tokio::time::Instant,
) -> u64 {
    let mut ticker = tokio::time::interval_at(start, spec.period());
    // A slow target lowers the rate instead of causing a burst of catch-up requests.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0;
    loop {
        ticker.tick().await;
        if tokio::time::Instant::now() >= deadline {
            return sent;
        }
        let mut request = client.request(spec.method.clone(), spec.url.clone());
        if let Some(body) = &spec.body {
            request = request.body(body.clone());
        }
        let began = Instant::now();
        let outcome = match request.send().await {
            Ok(resp) => {
                let outcome = Outcome::from_status(resp.status().as_u16());
                // Drain the body so the connection can be reused.
                let _ = resp.bytes().await;
                outcome
            }
            Err(_) => Outcome::Error,
        };
        state
            .metrics
            .load_request(&canary, outcome, began.elapsed().as_secs_f64());
        sent += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn defaults() {
        let spec =
            LoadSpec::from_metadata(&meta(&[("url", "http://podinfo-canary.test:9898/")]), HOUR)
                .unwrap();
        assert_eq!(spec.rps, 10.0);
        assert_eq!(spec.duration, Duration::from_secs(60));
        assert_eq!(spec.concurrency, 10);
        assert_eq!(spec.method, Method::GET);
        assert!(spec.headers.is_empty());
        assert_eq!(spec.period(), Duration::from_secs(1));
    }

    #[test]
    fn full_spec() {
        let spec = LoadSpec::from_metadata(
            &meta(&[
                ("url", "http://127.0.0.1:8080/api"),
                ("rps", "50"),
                ("duration", "30s"),
                ("concurrency", "5"),
                ("method", "post"),
                (
                    "headers",
                    "X-Canary: insider\nContent-Type: application/json\n",
                ),
                ("body", "{}"),
            ]),
            HOUR,
        )
        .unwrap();
        assert_eq!(spec.method, Method::POST);
        assert_eq!(spec.headers["x-canary"], "insider");
        assert_eq!(spec.headers["content-type"], "application/json");
        assert_eq!(spec.period(), Duration::from_millis(100));
        assert_eq!(spec.body.as_deref(), Some("{}"));
    }

    #[test]
    fn errors_name_the_field() {
        for (pairs, want) in [
            (vec![], "metadata.url is required"),
            (vec![("url", "ftp://x/")], "metadata.url: scheme"),
            (vec![("url", "http://x/"), ("rps", "0")], "metadata.rps"),
            (vec![("url", "http://x/"), ("rps", "NaN")], "metadata.rps"),
            // A worker's tick of 1000 / 1e-300 s panicked in the server (kept in
            // crates/fuzz/regressions/loadtester_request).
            (
                vec![("url", "http://x/"), ("rps", "1e-300")],
                "metadata.rps",
            ),
            (
                vec![("url", "http://x/"), ("duration", "soon")],
                "metadata.duration",
            ),
            (
                vec![("url", "http://x/"), ("duration", "2h")],
                "longer than this load tester's --timeout",
            ),
            (
                vec![("url", "http://x/"), ("concurrency", "0")],
                "metadata.concurrency",
            ),
            (
                vec![("url", "http://x/"), ("method", "GE T")],
                "metadata.method",
            ),
            (
                vec![("url", "http://x/"), ("headers", "NoColon")],
                "metadata.headers",
            ),
        ] {
            let err = LoadSpec::from_metadata(&meta(&pairs), HOUR).unwrap_err();
            assert!(err.contains(want), "{pairs:?}: {err}");
        }
    }
}
