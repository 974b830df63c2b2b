//! The `MetricTemplate` custom resource: a provider (where to query) and a query template
//! rendered by [`crate::template`]. Flagger's schema plus our optional `countQuery`.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "fledge.dev",
    version = "v1beta1",
    kind = "MetricTemplate",
    plural = "metrictemplates",
    namespaced,
    doc = "MetricTemplate is a metric query a Canary's analysis can refer to (Flagger-compatible schema).",
    printcolumn = r#"{"name":"Provider","type":"string","jsonPath":".spec.provider.type"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MetricTemplateSpec {
    pub provider: MetricProvider,
    /// Query template; see the variables in docs/canary.md.
    pub query: String,
    /// fledge: query returning the number of samples behind `query`, for `minSampleCount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_query: Option<String>,
}

/// Where a template's query runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.type) || self.type != 'web' || has(self.jsonPath)", "message": "required for web: where the value is in the JSON answer, e.g. $.data.errorRate", "fieldPath": ".jsonPath", "reason": "FieldValueRequired"},
    {"rule": "!has(self.type) || self.type != 'web' || has(self.address)", "message": "required for web: the URL to call", "fieldPath": ".address", "reason": "FieldValueRequired"},
    {"rule": "(has(self.type) && self.type == 'web') || !has(self.jsonPath)", "message": "only for provider type web; remove it", "fieldPath": ".jsonPath"},
    {"rule": "(has(self.type) && self.type == 'web') || !has(self.method)", "message": "only for provider type web; remove it", "fieldPath": ".method"},
]))]
pub struct MetricProvider {
    #[serde(rename = "type")]
    pub type_: MetricProviderType,
    /// Base URL of the metrics server (Prometheus: `http://prometheus:9090`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Extra HTTP headers sent with each query.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Vec<String>>,
    /// Secret with credentials (`address`, `username`/`password`, `token`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// Cloud region (CloudWatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// fledge, `web` only: `GET` (the default; the rendered query is appended to `address`)
    /// or `POST` (the rendered query is the JSON body sent to `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<WebMethod>,
    /// fledge, `web` only: where the value is in the JSON answer, as an RFC 9535 JSONPath
    /// (`$.data.errorRate`); the Kubernetes form `{.data.errorRate}` is accepted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
}

impl MetricProvider {
    /// `jsonPath` as RFC 9535 wants it: `{.a.b}` and `.a.b` become `$.a.b`.
    pub fn json_path_expr(&self) -> Option<String> {
        self.json_path.as_deref().map(normalize_json_path)
    }
}

/// `{.a.b}`, `.a.b` and `$.a.b` all become `$.a.b` (Argo Rollouts' `web` metrics and kubectl
/// write the braced form).
pub fn normalize_json_path(path: &str) -> String {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path)
        .trim();
    if path.starts_with('.') || path.starts_with('[') {
        format!("${path}")
    } else {
        path.to_string()
    }
}

/// Whether `path` (normalized) parses as an RFC 9535 JSONPath; the error is one line: the
/// position and what the parser expected there.
pub fn check_json_path(path: &str) -> Result<(), String> {
    let Err(e) = jsonpath_rust::parser::parse_json_path(path) else {
        return Ok(());
    };
    let text = e.to_string();
    let position = text
        .split("--> ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|p| format!("at {p}: "));
    let expected = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .unwrap_or(text.lines().next().unwrap_or_default());
    Err(format!(
        "{}{}",
        position.unwrap_or_default(),
        expected.trim()
    ))
}

/// The request a `web` provider sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum WebMethod {
    #[default]
    Get,
    Post,
}

/// Flagger's metric providers, plus fledge's `web`. fledge queries `prometheus` and `web`
/// (the others are accepted by the schema so Flagger manifests load; the controller reports
/// them as unsupported).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricProviderType {
    #[default]
    Prometheus,
    Influxdb,
    Datadog,
    Externalmetrics,
    Stackdriver,
    Cloudwatch,
    Newrelic,
    Graphite,
    Dynatrace,
    Keptn,
    Splunk,
    /// fledge: an HTTP GET or POST to `address`, the value read from the JSON answer at
    /// `jsonPath` (like Argo Rollouts' `web` metric).
    Web,
}

/// A Secret in the object's namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    pub name: String,
}
