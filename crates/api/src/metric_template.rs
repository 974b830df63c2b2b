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
}

/// Flagger's metric providers. fledge queries `prometheus` (others are accepted by the schema
/// so Flagger manifests load; the controller reports them as unsupported).
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
}

/// A Secret in the object's namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    pub name: String,
}
