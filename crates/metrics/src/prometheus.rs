//! The Prometheus provider: instant queries over Prometheus' HTTP API through
//! `prometheus-http-query`, on a reqwest client we build (auth, custom headers, TLS, timeout).
//!
//! It turns one query into one number or "no data". It must never guess a value: a range
//! result, an HTTP error or an unreadable answer is an error, and errors never name a secret.

use std::fmt;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use prometheus_http_query::response::{Data, PromqlResult};
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::credentials::Credentials;
use crate::http::{Endpoint, redact_address, snippet};
use crate::provider::{BoxFuture, MetricProvider, ProviderError};

const KIND: &str = "prometheus";

/// Flagger's query timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The query Flagger's `IsOnline` runs; a healthy server answers exactly 1.
pub const HEALTH_QUERY: &str = "vector(1)";

/// Everything needed to talk to one Prometheus server. Built by the controller from a
/// MetricTemplate's `spec.provider` (plus the Secret it references), from the Canary's
/// `spec.metricsServer`, or from `--metrics-server`.
#[derive(Clone)]
pub struct PrometheusConfig {
    /// Base URL of the HTTP API, e.g. `http://prometheus.monitoring:9090` (a path prefix such as
    /// `/prometheus` is kept).
    pub address: String,
    /// Extra headers sent with every query (`spec.provider.headers`), e.g. `X-Scope-OrgID`.
    /// A name may repeat.
    pub headers: Vec<(String, String)>,
    pub credentials: Option<Credentials>,
    /// Accept any TLS certificate (`spec.provider.insecureSkipVerify`).
    pub insecure_skip_verify: bool,
    /// Limit for one query, connection included; also sent to Prometheus as its evaluation
    /// timeout.
    pub timeout: Duration,
}

impl PrometheusConfig {
    /// A config with no auth, no extra headers, TLS verification on and [`DEFAULT_TIMEOUT`].
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            headers: Vec::new(),
            credentials: None,
            insecure_skip_verify: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

// Header values may carry API keys, so only names are shown.
impl fmt::Debug for PrometheusConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("PrometheusConfig")
            .field("address", &redact_address(&self.address))
            .field("headers", &header_names)
            .field("credentials", &self.credentials)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A ready Prometheus client; share it as `Arc<dyn MetricProvider>` (one per address/template).
pub struct PrometheusProvider {
    client: prometheus_http_query::Client,
    /// Custom headers and `Authorization`, added to each request: reqwest's default headers
    /// keep one value per name, and a template may repeat a header as Go's `http.Header` does.
    headers: HeaderMap,
    endpoint: Endpoint,
    timeout: Duration,
}

impl fmt::Debug for PrometheusProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusProvider")
            .field("address", &self.endpoint.address)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PrometheusProvider {
    /// Validates the config and builds the HTTP client. Needs a process-wide rustls crypto
    /// provider (fledge installs ring in `main`); without one this returns an error instead of
    /// letting reqwest panic.
    pub fn new(config: PrometheusConfig) -> Result<Self, ProviderError> {
        let endpoint = Endpoint::new(KIND, &config.address);
        let mut url = endpoint.url(&config.address)?;
        // prometheus-http-query appends `/api/v1/query` after a `/`, so a trailing slash on a
        // path prefix would give `//api`.
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        let headers = endpoint.headers(&config.headers, config.credentials.as_ref())?;
        let http = endpoint.client(config.timeout, config.insecure_skip_verify)?;
        let address = endpoint.address.clone();
        let client = prometheus_http_query::Client::from(http, url.as_str()).map_err(|e| {
            ProviderError::InvalidAddress {
                kind: KIND,
                address: address.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            client,
            headers,
            endpoint,
            timeout: config.timeout,
        })
    }

    async fn instant_query(
        &self,
        query: &str,
        at: Timestamp,
    ) -> Result<Option<f64>, ProviderError> {
        let query = collapse_whitespace(query);
        let timeout_ms = i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX);
        let mut request = self
            .client
            .query(&query)
            .at(at.as_second())
            .timeout(timeout_ms);
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        let response = request.get_raw().await.map_err(|e| self.send_error(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.reqwest_error(&e))?;
        let data = match serde_json::from_slice::<Envelope>(&body) {
            Ok(Envelope::Success { data }) => data.into_inner().0,
            Ok(Envelope::Error { error_type, error }) => {
                return Err(ProviderError::QueryRejected {
                    kind: KIND,
                    address: self.endpoint.address.clone(),
                    error_type,
                    message: error,
                });
            }
            Err(e) => {
                let reason = if status.is_success() {
                    format!(
                        "not a Prometheus API response ({e}); does the address point at \
                         Prometheus? body: {}",
                        snippet(&body)
                    )
                } else {
                    format!("HTTP {status}: {}", snippet(&body))
                };
                return Err(self.endpoint.bad_response(reason));
            }
        };
        match data {
            Data::Scalar(sample) => Ok(finite_or_nodata(sample.value())),
            Data::Vector(series) => {
                if series.len() > 1 {
                    // Flagger keeps the last series' value; we do the same so that existing
                    // templates behave alike, but say so because it is rarely intended.
                    tracing::warn!(
                        address = %self.endpoint.address,
                        query = %query,
                        series = series.len(),
                        "query returned several series; using the last one (aggregate with sum() or max() to choose)"
                    );
                }
                Ok(series
                    .last()
                    .and_then(|s| finite_or_nodata(s.sample().value())))
            }
            Data::Matrix(_) => Err(ProviderError::RangeResult {
                kind: KIND,
                address: self.endpoint.address.clone(),
            }),
        }
    }

    fn send_error(&self, error: &prometheus_http_query::Error) -> ProviderError {
        match error {
            prometheus_http_query::Error::Client(client) => match client.inner() {
                Some(e) => self.reqwest_error(e),
                None => self.unreachable(error.to_string()),
            },
            other => self.unreachable(other.to_string()),
        }
    }

    fn reqwest_error(&self, error: &reqwest::Error) -> ProviderError {
        self.endpoint.request_error(error, self.timeout)
    }

    fn unreachable(&self, reason: String) -> ProviderError {
        self.endpoint.unreachable(reason)
    }
}

impl MetricProvider for PrometheusProvider {
    fn query<'a>(
        &'a self,
        query: &'a str,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<f64>, ProviderError>> {
        Box::pin(self.instant_query(query, at))
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            match self.instant_query(HEALTH_QUERY, Timestamp::now()).await? {
                Some(1.0) => Ok(()),
                other => Err(ProviderError::NotOnline {
                    kind: KIND,
                    address: self.endpoint.address.clone(),
                    query: HEALTH_QUERY,
                    got: other.map_or_else(|| "no data".to_string(), |v| v.to_string()),
                }),
            }
        })
    }

    fn describe(&self) -> String {
        format!("{KIND} {}", self.endpoint.address)
    }
}

/// The JSON envelope of every Prometheus API answer.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Envelope {
    Success {
        data: PromqlResult,
    },
    Error {
        #[serde(rename = "errorType")]
        error_type: String,
        error: String,
    },
}

/// NaN is Prometheus' way of saying "nothing to divide"; Flagger treats it as no values found.
fn finite_or_nodata(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

/// Replaces each run of whitespace outside string literals with one space and trims the ends,
/// as Flagger does, so multi-line templates make short URLs and readable logs. Unlike Flagger,
/// whitespace inside `"..."`, `'...'` and `` `...` `` is kept: it is part of a label value.
pub fn collapse_whitespace(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut pending_space = false;
    for c in query.trim().chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' && q != '`' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => pending_space = true,
            None => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                if matches!(c, '"' | '\'' | '`') {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Auth;

    #[test]
    fn whitespace_is_collapsed_outside_strings_only() {
        let cases = [
            ("vector(1)", "vector(1)"),
            ("\n  sum(\n\trate(x[1m])\n  )  \n", "sum( rate(x[1m]) )"),
            (
                "a{l=\"two  spaces\",m='x\t y'} /  b{n=`raw  \\`}",
                "a{l=\"two  spaces\",m='x\t y'} / b{n=`raw  \\`}",
            ),
            (
                "a{l=\"esc \\\" still  in\"}  x",
                "a{l=\"esc \\\" still  in\"} x",
            ),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(collapse_whitespace(input), want, "{input:?}");
        }
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cases: Vec<(PrometheusConfig, &str)> = vec![
            (PrometheusConfig::new(""), "is not a valid URL"),
            (
                PrometheusConfig::new("prometheus:9090"),
                "is not http or https",
            ),
            (
                PrometheusConfig {
                    headers: vec![("bad header".into(), "v".into())],
                    ..PrometheusConfig::new("http://prom:9090")
                },
                "header \"bad header\" is not a valid HTTP header",
            ),
            (
                PrometheusConfig {
                    credentials: Some(Auth::BearerToken("a\nb".into()).into()),
                    ..PrometheusConfig::new("http://prom:9090")
                },
                "credentials can't be sent",
            ),
        ];
        for (config, want) in cases {
            let err = PrometheusProvider::new(config.clone()).expect_err("must be refused");
            assert!(err.to_string().contains(want), "{config:?}: {err}");
        }
    }

    #[test]
    fn config_debug_hides_header_values_and_credentials() {
        let config = PrometheusConfig {
            headers: vec![("X-Api-Key".into(), "k3y".into())],
            credentials: Some(Credentials::from(Auth::Basic {
                username: "u".into(),
                password: "pw".into(),
            })),
            ..PrometheusConfig::new("http://u:pw@prom:9090")
        };
        let debug = format!("{config:?}");
        assert!(debug.contains("X-Api-Key"), "{debug}");
        assert!(!debug.contains("k3y") && !debug.contains("pw"), "{debug}");
    }
}
