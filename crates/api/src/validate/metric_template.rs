//! MetricTemplate rules: the query must render, the provider must be reachable by URL.

use super::{Findings, Problem, is_http_url};
use crate::metric_template::{MetricProviderType, MetricTemplate};
use crate::template::placeholders;

pub fn validate_metric_template(template: &MetricTemplate) -> Vec<Problem> {
    let mut f = Findings::new("MetricTemplate", &template.metadata);
    let spec = &template.spec;
    if spec.query.trim().is_empty() {
        f.error(
            "spec.query",
            "required: the query to run (see docs/canary.md for its variables)",
        );
    } else if let Err(e) = placeholders(&spec.query) {
        f.error("spec.query", e.to_string());
    }
    if let Some(count) = &spec.count_query {
        if count.trim().is_empty() {
            f.error(
                "spec.countQuery",
                "empty: remove it or give the query that returns the sample count",
            );
        } else if let Err(e) = placeholders(count) {
            f.error("spec.countQuery", e.to_string());
        }
    }
    match spec.provider.address.as_deref() {
        Some(address) if !is_http_url(address) => {
            f.error(
                "spec.provider.address",
                format!("must be an http:// or https:// URL (got {address:?})"),
            );
        }
        None if spec.provider.type_ == MetricProviderType::Prometheus
            && spec.provider.secret_ref.is_none() =>
        {
            f.error(
                "spec.provider.address",
                "required for prometheus (or a secretRef whose Secret has an `address` key), e.g. http://prometheus.monitoring:9090",
            );
        }
        _ => {}
    }
    if let Some(secret) = &spec.provider.secret_ref
        && secret.name.is_empty()
    {
        f.error("spec.provider.secretRef.name", "required");
    }
    f.problems
}
