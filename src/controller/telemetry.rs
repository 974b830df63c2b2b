//! Logs and the controller's own metrics. Metric names keep Flagger's (`flagger_canary_*`)
//! under a `fledge_` prefix; labels are bounded to namespace and name (never pods or
//! revisions), so the series count grows with Canaries, not with releases.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::config::LogFormat;
use super::error::RunError;

pub fn init_logging(format: LogFormat, level: &str) -> Result<(), RunError> {
    let filter = EnvFilter::try_new(level).map_err(|e| {
        RunError::flag(
            "--log-level",
            level,
            format!("{e}; try `info` or `fledge=debug`"),
        )
    })?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| RunError::other("setting up logging", e))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CanaryLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NamespaceLabels {
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MetricLabels {
    pub namespace: String,
    pub name: String,
    pub metric: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Outcome {
    Succeeded,
    Failed,
    Skipped,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    pub verb: String,
    pub kind: String,
}

/// Everything the controller exports on `/metrics`.
pub struct Metrics {
    /// `flagger_canary_status`: 0 running, 1 successful, 2 failed.
    pub canary_status: Family<CanaryLabels, Gauge>,
    /// `flagger_canary_weight`: the canary's current traffic weight.
    pub canary_weight: Family<CanaryLabels, Gauge>,
    /// `flagger_canary_total`: Canaries per namespace.
    pub canary_total: Family<NamespaceLabels, Gauge>,
    /// `flagger_canary_metric_analysis`: the last value of each metric check.
    pub metric_analysis: Family<MetricLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Analysis check verdicts, by canary and metric (pass/fail counted separately).
    pub checks_failed: Family<MetricLabels, Counter>,
    pub checks_passed: Family<MetricLabels, Counter>,
    /// `flagger_canary_duration_seconds` becomes per-outcome rollout durations.
    pub rollout_duration: Family<OutcomeLabels, Histogram>,
    pub reconcile_duration: Histogram,
    pub reconcile_errors: Family<CanaryLabels, Counter>,
    /// Writes this controller made to the API server, by verb and kind.
    pub api_writes: Family<WriteLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let metrics = Metrics {
            canary_status: Family::default(),
            canary_weight: Family::default(),
            canary_total: Family::default(),
            metric_analysis: Family::default(),
            checks_failed: Family::default(),
            checks_passed: Family::default(),
            rollout_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(10.0, 2.0, 12))
            }),
            reconcile_duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            reconcile_errors: Family::default(),
            api_writes: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("fledge");
        r.register(
            "canary_status",
            "Last rollout outcome per canary: 0 running, 1 successful, 2 failed",
            metrics.canary_status.clone(),
        );
        r.register(
            "canary_weight",
            "Canary traffic weight (percent)",
            metrics.canary_weight.clone(),
        );
        r.register(
            "canary_total",
            "Canaries per namespace",
            metrics.canary_total.clone(),
        );
        r.register(
            "canary_metric_analysis",
            "Last value of each analysis metric",
            metrics.metric_analysis.clone(),
        );
        r.register(
            "analysis_checks_failed",
            "Failed analysis checks",
            metrics.checks_failed.clone(),
        );
        r.register(
            "analysis_checks_passed",
            "Passed analysis checks",
            metrics.checks_passed.clone(),
        );
        r.register(
            "canary_duration_seconds",
            "Time from a new revision to its promotion or rollback, by outcome",
            metrics.rollout_duration.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            metrics.reconcile_duration.clone(),
        );
        r.register(
            "reconcile_errors",
            "Reconciles that ended in an error",
            metrics.reconcile_errors.clone(),
        );
        r.register(
            "api_writes",
            "Writes to the Kubernetes API by verb and kind",
            metrics.api_writes.clone(),
        );
        Arc::new(metrics)
    }

    pub fn count_write(&self, verb: &str, kind: &str) {
        self.api_writes
            .get_or_create(&WriteLabels {
                verb: verb.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }
}
