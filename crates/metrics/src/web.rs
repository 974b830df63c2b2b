//! The `web` provider: one HTTP request per query, the value read from the JSON answer at the
//! template's JSONPath, like Argo Rollouts' `web` metric. For an SLO service, an error budget
//! API or anything else that answers JSON over HTTP.
//!
//! `GET` appends the rendered query to the address (a path and query string that name the
//! canary); `POST` sends it as a JSON body. The endpoint answers for "now": the analysis time
//! is not sent. A timeout, an HTTP error, an answer that isn't JSON, or a JSONPath that finds
//! several values or something other than a number is an error, so a failed check; a JSONPath
//! that finds nothing (or `null`) is "no data", which the metric's `onNoData` decides.

use std::fmt;
use std::time::Duration;

use fledge_api::WebMethod;
use fledge_api::metric_template::check_json_path;
use jsonpath_rust::JsonPath;
use k8s_openapi::jiff::Timestamp;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;

use crate::credentials::Credentials;
use crate::http::{Endpoint, snippet};
use crate::provider::{BoxFuture, MetricProvider, ProviderError};

const KIND: &str = "web";

/// Everything needed to call one endpoint; built from a `web` MetricTemplate's
/// `spec.provider` and the Secret it references.
#[derive(Clone)]
pub struct WebConfig {
    /// The URL; a GET appends the rendered query to it.
    pub address: String,
    pub method: WebMethod,
    /// `spec.provider.headers`; a name may repeat.
    pub headers: Vec<(String, String)>,
    pub credentials: Option<Credentials>,
    /// RFC 9535 JSONPath (see [`fledge_api::metric_template::normalize_json_path`]).
    pub json_path: String,
    pub insecure_skip_verify: bool,
    /// Limit for one request, connection included.
    pub timeout: Duration,
}

// Header values may carry API keys, so only names are shown.
impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("WebConfig")
            .field("address", &crate::http::redact_address(&self.address))
            .field("method", &self.method)
            .field("headers", &header_names)
            .field("credentials", &self.credentials)
            .field("json_path", &self.json_path)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A ready client for one endpoint; share it as `Arc<dyn MetricProvider>`.
pub struct WebProvider {
    client: reqwest::Client,
    /// The address as written (it may hold user info, which the URL parser keeps for the
    /// request); messages use `endpoint.address`.
    address: String,
    method: WebMethod,
    headers: HeaderMap,
    json_path: String,
    endpoint: Endpoint,
    timeout: Duration,
}

impl fmt::Debug for WebProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebProvider")
            .field("address", &self.endpoint.address)
            .field("method", &self.method)
            .field("json_path", &self.json_path)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WebProvider {
    /// Checks the address, headers, credentials and JSONPath, and builds the client.
    pub fn new(config: WebConfig) -> Result<Self, ProviderError> {
        let endpoint = Endpoint::new(KIND, &config.address);
        endpoint.url(&config.address)?;
        if let Err(e) = check_json_path(&config.json_path) {
            return Err(endpoint.invalid_json_path(&config.json_path, e));
        }
        let mut headers = endpoint.headers(&config.headers, config.credentials.as_ref())?;
        if config.method == WebMethod::Post && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let client = endpoint.client(config.timeout, config.insecure_skip_verify)?;
        Ok(Self {
            client,
            address: config.address.trim().to_string(),
            method: config.method,
            headers,
            json_path: config.json_path,
            endpoint,
            timeout: config.timeout,
        })
    }

    async fn call(&self, query: &str) -> Result<Option<f64>, ProviderError> {
        let request = match self.method {
            WebMethod::Get => {
                let url = self
                    .endpoint
                    .url(&format!("{}{}", self.address, query.trim()))?;
                self.client.get(url)
            }
            WebMethod::Post => self
                .client
                .post(self.endpoint.url(&self.address)?)
                .body(query.to_string()),
        };
        let response = request
            .headers(self.headers.clone())
            .send()
            .await
            .map_err(|e| self.endpoint.request_error(&e, self.timeout))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.endpoint.request_error(&e, self.timeout))?;
        if !status.is_success() {
            return Err(self
                .endpoint
                .bad_response(format!("HTTP {status}: {}", snippet(&body))));
        }
        let json: Value = serde_json::from_slice(&body).map_err(|e| {
            self.endpoint
                .bad_response(format!("not JSON ({e}): {}", snippet(&body)))
        })?;
        value_at(&json, &self.json_path).map_err(|reason| self.endpoint.bad_response(reason))
    }
}

impl MetricProvider for WebProvider {
    fn query<'a>(
        &'a self,
        query: &'a str,
        _at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<f64>, ProviderError>> {
        Box::pin(self.call(query))
    }

    /// Reachable: the address answers HTTP at all (any status below 500).
    fn health_check(&self) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let url = self.endpoint.url(&self.address)?;
            let response = self
                .client
                .get(url)
                .headers(self.headers.clone())
                .send()
                .await
                .map_err(|e| self.endpoint.request_error(&e, self.timeout))?;
            if response.status().is_server_error() {
                return Err(self
                    .endpoint
                    .bad_response(format!("HTTP {}", response.status())));
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("{KIND} {}", self.endpoint.address)
    }
}

/// The number at `path` in `json`: a JSON number, a string holding one, or a boolean (1 or 0,
/// for endpoints that answer "ok: true"). Nothing found, or `null`, is no data; several values,
/// or anything else, is an error that says what was found.
pub fn value_at(json: &Value, path: &str) -> Result<Option<f64>, String> {
    let found = json
        .query(path)
        .map_err(|e| format!("JSONPath {path:?}: {e}"))?;
    let value = match found.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        many => {
            return Err(format!(
                "JSONPath {path:?} found {} values; make it select one (e.g. an index or a \
                 filter)",
                many.len()
            ));
        }
    };
    let number = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Array(_) | Value::Object(_) => None,
    };
    match number {
        Some(n) if n.is_nan() => Ok(None),
        Some(n) => Ok(Some(n)),
        None => Err(format!(
            "JSONPath {path:?} found {}, not a number",
            snippet(value.to_string().as_bytes())
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_read_at_the_path() {
        let body = json!({
            "data": {"rate": 0.25, "text": " 99.5 ", "ok": true, "none": null, "nan": "NaN",
                     "list": [1, 2], "obj": {"a": 1}, "word": "high"},
            "items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}],
        });
        let cases: [(&str, Result<Option<f64>, &str>); 11] = [
            ("$.data.rate", Ok(Some(0.25))),
            ("$.data.text", Ok(Some(99.5))),
            ("$.data.ok", Ok(Some(1.0))),
            ("$.data.none", Ok(None)),
            ("$.data.nan", Ok(None)),
            ("$.data.missing", Ok(None)),
            ("$.items[?@.name == 'b'].v", Ok(Some(2.0))),
            ("$.items[*].v", Err("found 2 values")),
            ("$.data.obj", Err("not a number")),
            ("$.data.word", Err("\"high\", not a number")),
            ("$.data.list", Err("[1,2], not a number")),
        ];
        for (path, want) in cases {
            let got = value_at(&body, path);
            match (&got, want) {
                (Ok(v), Ok(w)) => assert_eq!(*v, w, "{path}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{path}: {e}"),
                _ => panic!("{path}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = |address: &str, json_path: &str| WebConfig {
            address: address.into(),
            method: WebMethod::Get,
            headers: Vec::new(),
            credentials: None,
            json_path: json_path.into(),
            insecure_skip_verify: false,
            timeout: Duration::from_secs(1),
        };
        let cases = [
            (config("slo:8080", "$.a"), "is not http or https"),
            (
                config("http://slo:8080", "$[?"),
                "jsonPath \"$[?\" is not a JSONPath",
            ),
        ];
        for (config, want) in cases {
            let err = WebProvider::new(config.clone()).expect_err("must be refused");
            assert!(err.to_string().contains(want), "{config:?}: {err}");
        }
    }
}
