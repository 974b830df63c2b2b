//! One analysis step: run every planned metric check concurrently and return one
//! [`AnalysisRecord`] per metric, in the Canary's order. Nothing stops on the first failure:
//! every check is recorded, and the state machine (crates/core) decides what the step means.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fledge_api::{AnalysisRecord, MetricProviderType, MetricTemplate, Verdict};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::credentials::Credentials;
use crate::evaluate::{Measurement, QueryOutcome, evaluate, evaluate_against_primary};
use crate::plan::{PlanError, PlannedCheck, PlannedQuery, QuerySource, TemplateKey};
use crate::prometheus::{PrometheusConfig, PrometheusProvider};
use crate::provider::{MetricProvider, ProviderError};
use crate::web::{WebConfig, WebProvider};

/// The providers one canary's checks may use, built by the controller (it resolves Secrets and
/// may cache providers across steps).
#[derive(Clone, Default)]
pub struct Providers {
    /// For builtin metrics, inline queries and the builtin request count.
    pub metrics_server: Option<Arc<dyn MetricProvider>>,
    /// One entry per MetricTemplate the plan refers to; `Err` says why it could not be built
    /// (e.g. its Secret is missing), and that message ends up in the failed check.
    pub templates: BTreeMap<TemplateKey, Result<Arc<dyn MetricProvider>, String>>,
}

impl Providers {
    fn get(&self, source: &QuerySource) -> Result<&Arc<dyn MetricProvider>, String> {
        match source {
            QuerySource::MetricsServer => self.metrics_server.as_ref().ok_or_else(|| {
                "no metrics server is configured; set the Canary's spec.metricsServer or the \
                 controller's --metrics-server"
                    .to_string()
            }),
            QuerySource::Template(key) => match self.templates.get(key) {
                Some(Ok(provider)) => Ok(provider),
                Some(Err(e)) => Err(format!("provider of MetricTemplate {key}: {e}")),
                None => Err(format!("no provider was set up for MetricTemplate {key}")),
            },
        }
    }
}

/// Builds the provider a MetricTemplate describes. `credentials` come from the Secret in
/// `spec.provider.secretRef` (see [`Credentials::from_secret_data`]); `timeout` bounds each
/// query (Flagger: 5s, [`crate::prometheus::DEFAULT_TIMEOUT`]).
pub fn template_provider(
    template: &MetricTemplate,
    credentials: Option<Credentials>,
    timeout: Duration,
) -> Result<Arc<dyn MetricProvider>, ProviderError> {
    let spec = &template.spec.provider;
    let headers: Vec<(String, String)> = spec
        .headers
        .iter()
        .flat_map(|(name, values)| values.iter().map(move |v| (name.clone(), v.clone())))
        .collect();
    let address = spec.address.clone().unwrap_or_default();
    let insecure_skip_verify = spec.insecure_skip_verify.unwrap_or(false);
    match spec.type_ {
        MetricProviderType::Prometheus => {
            Ok(Arc::new(PrometheusProvider::new(PrometheusConfig {
                address,
                headers,
                credentials,
                insecure_skip_verify,
                timeout,
            })?))
        }
        MetricProviderType::Web => Ok(Arc::new(WebProvider::new(WebConfig {
            address,
            method: spec.method.unwrap_or_default(),
            headers,
            credentials,
            json_path: spec.json_path_expr().unwrap_or_default(),
            insecure_skip_verify,
            timeout,
        })?)),
        other => Err(ProviderError::Unsupported {
            provider_type: serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{other:?}")),
        }),
    }
}

/// One check of an analysis step: the record for the Canary's status, and whether it has no
/// value because the check could not be measured at all (a query failed, or its template,
/// Secret or provider is missing), for the controller's error metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub record: AnalysisRecord,
    pub unmeasured: bool,
}

/// Runs every check of one analysis step concurrently, evaluated at `at` (also the records'
/// time). A plan error or an unavailable provider is a failed check, never a skipped one.
pub async fn analyze(
    checks: &[Result<PlannedCheck, PlanError>],
    providers: &Providers,
    at: Timestamp,
) -> Vec<Measured> {
    let runs = checks.iter().map(|check| async move {
        match check {
            Ok(check) => run_check(check, providers, at).await,
            Err(e) => Measured {
                record: AnalysisRecord {
                    time: Time(at),
                    kind: "metric".into(),
                    name: e.metric.clone(),
                    value: None,
                    primary_value: None,
                    threshold: None,
                    verdict: Verdict::Fail,
                    message: Some(e.to_string()),
                },
                unmeasured: true,
            },
        }
    });
    futures::future::join_all(runs).await
}

async fn run_check(check: &PlannedCheck, providers: &Providers, at: Timestamp) -> Measured {
    let primary = check.primary.as_ref();
    // Both sides at the same instant, for the same window.
    let (outcome, count, primary_outcome, primary_count) = tokio::join!(
        run_query(&check.query, providers, at),
        run_optional(check.count.as_ref(), providers, at),
        run_optional(primary.map(|p| &p.query), providers, at),
        run_optional(primary.and_then(|p| p.count.as_ref()), providers, at),
    );
    let canary = Measurement {
        value: &outcome,
        count: count.as_ref(),
    };
    let result = match &primary_outcome {
        Some(value) => evaluate_against_primary(
            &check.criteria,
            canary,
            Measurement {
                value,
                count: primary_count.as_ref(),
            },
        ),
        None => evaluate(&check.criteria, &outcome, count.as_ref()),
    };
    tracing::debug!(
        metric = %check.criteria.name,
        query = %check.query.query,
        verdict = ?result.verdict,
        message = %result.message,
        "metric check"
    );
    let unmeasured = result.query_failed;
    Measured {
        record: result.into_record(&check.criteria.name, Time(at)),
        unmeasured,
    }
}

async fn run_optional(
    query: Option<&PlannedQuery>,
    providers: &Providers,
    at: Timestamp,
) -> Option<QueryOutcome> {
    match query {
        Some(query) => Some(run_query(query, providers, at).await),
        None => None,
    }
}

async fn run_query(query: &PlannedQuery, providers: &Providers, at: Timestamp) -> QueryOutcome {
    let provider = match providers.get(&query.source) {
        Ok(p) => p,
        Err(e) => return QueryOutcome::Error(format!("{}: {e}", query.origin)),
    };
    match QueryOutcome::from(provider.query(&query.query, at).await) {
        QueryOutcome::Error(e) => {
            tracing::warn!(origin = %query.origin, query = %query.query, error = %e, "metric query failed");
            QueryOutcome::Error(format!("{}: {e}", query.origin))
        }
        other => other,
    }
}
