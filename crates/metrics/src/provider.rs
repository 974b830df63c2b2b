//! The one trait every metric provider implements, and the errors a provider can report.
//!
//! A provider answers "what is the value of this query at this time" and "are you reachable".
//! It never judges a value: thresholds, no-data policy and verdicts live in [`crate::evaluate`].

use std::future::Future;
use std::pin::Pin;

use k8s_openapi::jiff::Timestamp;

/// A boxed future, so that the controller can hold providers of different kinds as
/// `Arc<dyn MetricProvider>` (one per MetricTemplate or metrics server).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A metric backend: Prometheus ([`crate::prometheus`]) or an HTTP/JSON endpoint
/// ([`crate::web`]).
pub trait MetricProvider: Send + Sync {
    /// Runs one already-rendered query, evaluated at `at`.
    ///
    /// `Ok(None)` means "no data" (an empty result or NaN), which is not an error: the metric's
    /// `onNoData` policy decides what it means. Everything that prevents an answer is an `Err`,
    /// and the caller counts it as a failed check.
    fn query<'a>(
        &'a self,
        query: &'a str,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<f64>, ProviderError>>;

    /// Checks that the backend is reachable and answers queries (Flagger's `IsOnline`).
    fn health_check(&self) -> BoxFuture<'_, Result<(), ProviderError>>;

    /// Kind and address for messages, e.g. `prometheus http://prometheus:9090`. Never includes
    /// credentials.
    fn describe(&self) -> String;
}

/// Why a provider could not be built or could not answer. Messages name the provider's address
/// (with any `user:password@` part removed) and never contain a token or password.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "{kind} address {address:?} is not a valid URL ({reason}); set it to e.g. http://prometheus.monitoring:9090"
    )]
    InvalidAddress {
        kind: &'static str,
        address: String,
        reason: String,
    },
    #[error("{kind} {address}: header {name:?} is not a valid HTTP header ({reason})")]
    InvalidHeader {
        kind: &'static str,
        address: String,
        name: String,
        reason: String,
    },
    #[error(
        "{kind} {address}: jsonPath {path:?} is not a JSONPath ({reason}); write e.g. $.data.errorRate"
    )]
    InvalidJsonPath {
        kind: &'static str,
        address: String,
        path: String,
        reason: String,
    },
    #[error("{kind} {address}: credentials can't be sent as an HTTP header: {reason}")]
    InvalidCredentials {
        kind: &'static str,
        address: String,
        reason: &'static str,
    },
    #[error("{kind} {address}: can't build an HTTP client: {reason}")]
    Client {
        kind: &'static str,
        address: String,
        reason: String,
    },
    #[error("{kind} {address}: request failed: {reason}")]
    Unreachable {
        kind: &'static str,
        address: String,
        reason: String,
    },
    #[error("{kind} {address}: unexpected answer: {reason}")]
    BadResponse {
        kind: &'static str,
        address: String,
        reason: String,
    },
    #[error("{kind} {address} rejected the query ({error_type}): {message}")]
    QueryRejected {
        kind: &'static str,
        address: String,
        error_type: String,
        message: String,
    },
    #[error(
        "{kind} {address}: the query returned a range vector (several samples per series); \
         a metric query must return one value, e.g. wrap `metric[5m]` in `sum(rate(metric[5m]))`"
    )]
    RangeResult { kind: &'static str, address: String },
    #[error("{kind} {address} is not answering queries: `{query}` returned {got} instead of 1")]
    NotOnline {
        kind: &'static str,
        address: String,
        query: &'static str,
        got: String,
    },
    #[error(
        "metric provider type {provider_type:?} is not supported by fledge; use \"prometheus\" or \"web\""
    )]
    Unsupported { provider_type: String },
}
