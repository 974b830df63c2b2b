//! Logs and the controller's own metrics. Metric names keep Flagger's (`flagger_canary_*`)
//! under a `fledge_` prefix; labels are bounded to namespace and name (never pods or
//! revisions), so the series count grows with Canaries, not with releases.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

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

/// Drops the series of Canaries that are gone, and of analysis metrics a Canary no longer
/// has. `live` maps each existing Canary (namespace, name) to its metric names.
pub fn forget_deleted(metrics: &Metrics, live: &BTreeMap<(String, String), BTreeSet<String>>) {
    let mut series = metrics.series.lock().unwrap_or_else(|p| p.into_inner());
    series.retain(|(namespace, name), metric_names| {
        let current = live.get(&(namespace.clone(), name.clone()));
        metric_names.retain(|metric| {
            let keep = current.is_some_and(|names| names.contains(metric));
            if !keep {
                forget_metric(metrics, namespace, name, metric);
            }
            keep
        });
        if current.is_none() {
            tracing::debug!(namespace, name, "Canary deleted; dropping its metrics");
            forget_canary(metrics, namespace, name);
        }
        current.is_some()
    });
}

impl Metrics {
    /// Remembers that `namespace/name` has series (and of which metrics), for [`forget_deleted`].
    pub fn track(&self, namespace: &str, name: &str, metric: Option<&str>) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let names = series
            .entry((namespace.to_string(), name.to_string()))
            .or_default();
        if let Some(metric) = metric {
            names.insert(metric.to_string());
        }
    }
}

/// Drops every per-Canary series of a deleted Canary.
fn forget_canary(metrics: &Metrics, namespace: &str, name: &str) {
    let labels = CanaryLabels {
        namespace: namespace.to_string(),
        name: name.to_string(),
    };
    metrics.canary_status.remove(&labels);
    metrics.canary_weight.remove(&labels);
    metrics.reconcile_errors.remove(&labels);
    metrics.last_step.remove(&labels);
    metrics.interval.remove(&labels);
}

/// Drops the series of one analysis metric of a Canary (deleted, or the metric removed).
fn forget_metric(metrics: &Metrics, namespace: &str, name: &str, metric: &str) {
    let labels = MetricLabels {
        namespace: namespace.to_string(),
        name: name.to_string(),
        metric: metric.to_string(),
    };
    metrics.metric_analysis.remove(&labels);
    metrics.checks_failed.remove(&labels);
    metrics.checks_passed.remove(&labels);
    metrics.query_errors.remove(&labels);
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
pub struct WatchLabels {
    pub watch: String,
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
    /// Metric checks that could not be measured (a query failed; its template, Secret or
    /// provider is missing). Each is also a failed check.
    pub query_errors: Family<MetricLabels, Counter>,
    /// Failed list/watch calls to the API server, by watched kind.
    pub watch_errors: Family<WatchLabels, Counter>,
    /// `status.lastStepTime` as unix seconds; absent until the first step.
    pub last_step: Family<CanaryLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// The analysis interval in seconds.
    pub interval: Family<CanaryLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// `flagger_canary_duration_seconds` becomes per-outcome rollout durations.
    pub rollout_duration: Family<OutcomeLabels, Histogram>,
    pub reconcile_duration: Histogram,
    pub reconcile_errors: Family<CanaryLabels, Counter>,
    /// Writes this controller made to the API server, by verb and kind.
    pub api_writes: Family<WriteLabels, Counter>,
    /// The Canaries (and their metrics) that have series, so a deleted one's can be dropped.
    series: Mutex<BTreeMap<(String, String), BTreeSet<String>>>,
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
            query_errors: Family::default(),
            watch_errors: Family::default(),
            last_step: Family::default(),
            interval: Family::default(),
            rollout_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(10.0, 2.0, 12))
            }),
            reconcile_duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            reconcile_errors: Family::default(),
            api_writes: Family::default(),
            series: Mutex::new(BTreeMap::new()),
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
            "metric_query_errors",
            "Metric checks that could not be measured (query failed; template, Secret or provider missing); each is also a failed check",
            metrics.query_errors.clone(),
        );
        r.register(
            "watch_errors",
            "Failed list/watch calls to the Kubernetes API, by watched kind",
            metrics.watch_errors.clone(),
        );
        r.register(
            "canary_last_step_timestamp_seconds",
            "Unix time of the Canary's last analysis step (status.lastStepTime)",
            metrics.last_step.clone(),
        );
        r.register(
            "canary_interval_seconds",
            "The Canary's analysis interval",
            metrics.interval.clone(),
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
            "Writes attempted against the Kubernetes API, by verb and kind",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).expect("encode");
        text
    }

    #[test]
    fn a_deleted_canarys_series_go_and_a_removed_metrics_too() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        for name in ["kept", "gone"] {
            let labels = CanaryLabels {
                namespace: "test".into(),
                name: name.into(),
            };
            metrics.canary_status.get_or_create(&labels).set(2);
            metrics.track("test", name, None);
            for metric in ["errors", "latency"] {
                let labels = MetricLabels {
                    namespace: "test".into(),
                    name: name.into(),
                    metric: metric.into(),
                };
                metrics.checks_failed.get_or_create(&labels).inc();
                metrics.track("test", name, Some(metric));
            }
        }
        // "kept" still exists but no longer has its latency metric; "gone" was deleted.
        let live = BTreeMap::from([(
            ("test".to_string(), "kept".to_string()),
            BTreeSet::from(["errors".to_string()]),
        )]);
        forget_deleted(&metrics, &live);
        let text = scrape(&registry);
        assert!(
            text.contains(r#"fledge_canary_status{namespace="test",name="kept"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"name="kept",metric="errors"}"#), "{text}");
        assert!(!text.contains(r#"name="kept",metric="latency""#), "{text}");
        assert!(!text.contains(r#"name="gone""#), "{text}");
    }
}
