//! MetricTemplate rules: the query must render, the provider must be reachable by URL, and a
//! `web` provider must say where its value is.

use super::{Findings, Problem, is_http_url};
use crate::metric_template::{MetricProviderType, MetricTemplate, check_json_path};
use crate::template::check;

pub fn validate_metric_template(template: &MetricTemplate) -> Vec<Problem> {
    let mut f = Findings::new("MetricTemplate", &template.metadata);
    let spec = &template.spec;
    if spec.query.trim().is_empty() {
        f.error(
            "spec.query",
            "required: the query to run (see docs/canary.md for its variables)",
        );
    } else if let Err(e) = check(&spec.query) {
        f.error("spec.query", e.to_string());
    }
    if let Some(count) = &spec.count_query {
        if count.trim().is_empty() {
            f.error(
                "spec.countQuery",
                "empty: remove it or give the query that returns the sample count",
            );
        } else if let Err(e) = check(count) {
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
    web_fields(&mut f, template);
    f.problems
}

/// `web` needs its own address (the metrics server is a Prometheus) and a JSONPath; the web
/// fields mean nothing to the other providers.
fn web_fields(f: &mut Findings, template: &MetricTemplate) {
    let provider = &template.spec.provider;
    if provider.type_ != MetricProviderType::Web {
        if provider.method.is_some() {
            f.error(
                "spec.provider.method",
                "only for provider type web; remove it",
            );
        }
        if provider.json_path.is_some() {
            f.error(
                "spec.provider.jsonPath",
                "only for provider type web; remove it",
            );
        }
        return;
    }
    if provider.address.is_none() {
        f.error(
            "spec.provider.address",
            "required for web: the URL to call, e.g. http://slo.monitoring:8080/api/error-rate",
        );
    }
    match provider.json_path_expr() {
        None => f.error(
            "spec.provider.jsonPath",
            "required for web: where the value is in the JSON answer, e.g. $.data.errorRate",
        ),
        Some(path) => {
            if let Err(e) = check_json_path(&path) {
                f.error(
                    "spec.provider.jsonPath",
                    format!("not a JSONPath ({path:?}: {e}); write e.g. $.data.errorRate"),
                );
            }
        }
    }
}
