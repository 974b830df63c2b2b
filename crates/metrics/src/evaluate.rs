//! Judging one measured value: thresholds, the "no data" policy and the minimum sample count.
//! Pure and table-tested; no I/O and no clock.
//!
//! The rules, in order:
//! 1. bounds that can't be met or are missing are a configuration error: **Fail**;
//! 2. a provider error (down, refused, bad query) is **Fail**, never a pass;
//! 3. with `minSampleCount`, fewer samples than that (no data counts as 0) is
//!    **Inconclusive**: not judged either way, and the release does not advance on it;
//! 4. no data (empty result or NaN) follows `onNoData`: **Fail** (default), **Skipped** or
//!    **Pass**;
//! 5. otherwise the value is compared with `thresholdRange` (inclusive at both ends).

use std::fmt;

use fledge_api::{AnalysisRecord, CanaryMetric, OnNoData, ThresholdRange, Verdict};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::provider::ProviderError;

/// What a query produced.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryOutcome {
    Value(f64),
    /// An empty result or NaN.
    NoData,
    /// The provider could not answer; the message names the provider and the cause.
    Error(String),
}

impl From<Result<Option<f64>, ProviderError>> for QueryOutcome {
    fn from(result: Result<Option<f64>, ProviderError>) -> Self {
        match result {
            Ok(Some(v)) if v.is_nan() => Self::NoData,
            Ok(Some(v)) => Self::Value(v),
            Ok(None) => Self::NoData,
            Err(e) => Self::Error(e.to_string()),
        }
    }
}

/// How one metric is judged: the metric's bounds and policies, nothing about where it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Criteria {
    /// The metric's name, for messages.
    pub name: String,
    /// `thresholdRange`, or the deprecated `threshold` turned into a bound.
    pub bounds: ThresholdRange,
    pub on_no_data: OnNoData,
    pub min_sample_count: Option<i64>,
}

impl Criteria {
    /// Flagger's reading of a metric: `thresholdRange` wins; else `threshold` is a minimum
    /// for `request-success-rate` and a maximum for everything else.
    pub fn for_metric(metric: &CanaryMetric) -> Self {
        Self {
            name: metric.name.clone(),
            bounds: metric.bounds(),
            on_no_data: metric.on_no_data(),
            min_sample_count: metric.min_sample_count,
        }
    }
}

/// The verdict on one check, with what it was based on.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub verdict: Verdict,
    /// The measured value when there was a finite one (JSON, and so the Canary's status, can't
    /// hold NaN or infinities; those are spelled out in `message`).
    pub value: Option<f64>,
    /// The bounds as text: `>= 99`, `<= 500` or `99..101` (inclusive).
    pub threshold: Option<String>,
    /// One sentence for the Event and `kubectl describe`.
    pub message: String,
    /// No value because a query failed (provider unreachable, timeout, HTTP or parse error),
    /// as opposed to a value out of bounds or no data.
    pub query_failed: bool,
}

impl CheckResult {
    /// The record the controller keeps in `status.analysisHistory`.
    pub fn into_record(self, name: &str, time: Time) -> AnalysisRecord {
        AnalysisRecord {
            time,
            kind: "metric".to_string(),
            name: name.to_string(),
            value: self.value,
            threshold: self.threshold,
            verdict: self.verdict,
            message: Some(self.message),
        }
    }
}

/// Judges one check. `sample_count` is the outcome of the count query; it is only looked at
/// when `criteria.min_sample_count` is set, and must then be present.
pub fn evaluate(
    criteria: &Criteria,
    outcome: &QueryOutcome,
    sample_count: Option<&QueryOutcome>,
) -> CheckResult {
    let name = &criteria.name;
    let threshold = threshold_text(&criteria.bounds);
    let value = match outcome {
        QueryOutcome::Value(v) if v.is_finite() => Some(*v),
        _ => None,
    };
    let result = |verdict, message: String| CheckResult {
        verdict,
        value,
        threshold: threshold.clone(),
        message,
        query_failed: false,
    };
    let failed_query = |message: String| CheckResult {
        query_failed: true,
        ..result(Verdict::Fail, message)
    };

    if let Err(problem) = check_bounds(&criteria.bounds) {
        return result(Verdict::Fail, format!("metric {name}: {problem}"));
    }
    if let QueryOutcome::Error(e) = outcome {
        return failed_query(format!("metric {name}: query failed: {e}"));
    }
    if let Some(min) = criteria.min_sample_count {
        let count = match sample_count {
            None => {
                return result(
                    Verdict::Fail,
                    format!(
                        "metric {name}: minSampleCount is {min} but no sample count was measured"
                    ),
                );
            }
            Some(QueryOutcome::Error(e)) => {
                return failed_query(format!("metric {name}: sample count query failed: {e}"));
            }
            Some(QueryOutcome::NoData) => 0.0,
            Some(QueryOutcome::Value(c)) if c.is_nan() => 0.0,
            Some(QueryOutcome::Value(c)) => *c,
        };
        // i64 → f64 is exact for any count anyone will configure (< 2^53).
        if count < min as f64 {
            let measured = match outcome {
                QueryOutcome::Value(v) if !v.is_nan() => format!(" (value {})", Num(*v)),
                _ => String::new(),
            };
            return result(
                Verdict::Inconclusive,
                format!(
                    "metric {name}: only {} samples, fewer than minSampleCount {min}; not judged{measured}",
                    Num(count)
                ),
            );
        }
    }
    let v = match outcome {
        QueryOutcome::Value(v) if !v.is_nan() => *v,
        _ => {
            let base = format!(
                "metric {name}: no values found (empty result or NaN); the canary is probably not receiving traffic"
            );
            return match criteria.on_no_data {
                OnNoData::Fail => result(Verdict::Fail, base),
                OnNoData::Skip => result(
                    Verdict::Skipped,
                    format!("{base}; skipped (onNoData: skip)"),
                ),
                OnNoData::Pass => result(
                    Verdict::Pass,
                    format!("{base}; counted as passed (onNoData: pass)"),
                ),
            };
        }
    };
    let bounds = &criteria.bounds;
    if let Some(min) = bounds.min.filter(|min| v < *min) {
        return result(
            Verdict::Fail,
            format!("metric {name}: {} < {}", Num(v), Num(min)),
        );
    }
    if let Some(max) = bounds.max.filter(|max| v > *max) {
        return result(
            Verdict::Fail,
            format!("metric {name}: {} > {}", Num(v), Num(max)),
        );
    }
    let within = threshold.as_deref().unwrap_or_default();
    result(
        Verdict::Pass,
        format!("metric {name}: {} within {within}", Num(v)),
    )
}

/// A range that no value can meet, or none at all, is a mistake in the Canary, not a verdict
/// on the release; saying so beats silently passing or failing every check.
fn check_bounds(bounds: &ThresholdRange) -> Result<(), String> {
    match (bounds.min, bounds.max) {
        (None, None) => {
            Err("no threshold: set thresholdRange.min and/or thresholdRange.max".into())
        }
        (Some(b), _) | (_, Some(b)) if b.is_nan() => {
            Err("thresholdRange holds NaN; use numbers".into())
        }
        (Some(min), Some(max)) if min > max => Err(format!(
            "thresholdRange.min ({}) is greater than thresholdRange.max ({}); no value can pass",
            Num(min),
            Num(max)
        )),
        _ => Ok(()),
    }
}

fn threshold_text(bounds: &ThresholdRange) -> Option<String> {
    match (bounds.min, bounds.max) {
        (Some(min), Some(max)) => Some(format!("{}..{}", Num(min), Num(max))),
        (Some(min), None) => Some(format!(">= {}", Num(min))),
        (None, Some(max)) => Some(format!("<= {}", Num(max))),
        (None, None) => None,
    }
}

/// A number for humans: at most 6 decimals, no trailing zeros, Prometheus' `+Inf`/`-Inf`.
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("NaN");
        }
        if v.is_infinite() {
            return f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        }
        let text = format!("{v:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if text == "-0" { "0" } else { text })
    }
}

#[cfg(test)]
mod tests;
