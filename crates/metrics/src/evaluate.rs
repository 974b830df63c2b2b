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
//! 5. otherwise the value is compared with `thresholdRange` (inclusive at both ends);
//! 6. with `comparePrimary`, rules 2 to 4 hold for both sides, and the canary is then judged
//!    against the primary ([`crate::compare`]).

use std::fmt;

use fledge_api::{
    AnalysisRecord, CanaryMetric, OnNoData, PrimaryComparison, Side, ThresholdRange, Verdict,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::compare;
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
    /// `comparePrimary`: the canary is also judged against the primary.
    pub comparison: Option<PrimaryComparison>,
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
            comparison: metric.compare_primary.clone(),
        }
    }

    /// Everything the value is judged against, for records, `fledge plan` and messages:
    /// `>= 99`, `canary - primary >= -1 (significance 0.05)`, or both joined by `; `.
    pub fn describe(&self) -> Option<String> {
        let absolute = threshold_text(&self.bounds);
        let relative = self.comparison.as_ref().map(compare::describe);
        match (absolute, relative) {
            (Some(a), Some(r)) => Some(format!("{a}; {r}")),
            (a, r) => a.or(r),
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
    /// The primary's value, for a comparison, when finite.
    pub primary_value: Option<f64>,
    /// What it was judged against, as [`Criteria::describe`].
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
            primary_value: self.primary_value,
            threshold: self.threshold,
            verdict: self.verdict,
            message: Some(self.message),
        }
    }
}

/// What one side of a check measured: its value and, with `minSampleCount`, its sample count.
#[derive(Clone, Copy, Debug)]
pub struct Measurement<'a> {
    pub value: &'a QueryOutcome,
    pub count: Option<&'a QueryOutcome>,
}

/// Judges one check. `sample_count` is the outcome of the count query; it is only looked at
/// when `criteria.min_sample_count` is set, and must then be present.
pub fn evaluate(
    criteria: &Criteria,
    outcome: &QueryOutcome,
    sample_count: Option<&QueryOutcome>,
) -> CheckResult {
    let canary = Measurement {
        value: outcome,
        count: sample_count,
    };
    judge(criteria, &[(None, canary)])
}

/// Judges a check with `comparePrimary`: the same steps as [`evaluate`] for both sides (a
/// failed query, too few samples or no data on either side decides first), then the canary's
/// `thresholdRange` if any, then the relative bound (see [`compare`]).
pub fn evaluate_against_primary(
    criteria: &Criteria,
    canary: Measurement<'_>,
    primary: Measurement<'_>,
) -> CheckResult {
    judge(
        criteria,
        &[(Some(Side::Canary), canary), (Some(Side::Primary), primary)],
    )
}

/// A verdict reached before the values are compared with any bound.
struct Early {
    verdict: Verdict,
    message: String,
    query_failed: bool,
}

fn judge(criteria: &Criteria, sides: &[(Option<Side>, Measurement<'_>)]) -> CheckResult {
    let finite = |side: Option<Side>| match sides.iter().find(|(s, _)| *s == side) {
        Some((_, m)) => match m.value {
            QueryOutcome::Value(v) if v.is_finite() => Some(*v),
            _ => None,
        },
        None => None,
    };
    let (value, primary_value) = match sides {
        [(None, _)] => (finite(None), None),
        _ => (finite(Some(Side::Canary)), finite(Some(Side::Primary))),
    };
    let result = |verdict, message: String| CheckResult {
        verdict,
        value,
        primary_value,
        threshold: criteria.describe(),
        message,
        query_failed: false,
    };
    let name = &criteria.name;
    if let Err(problem) = check_criteria(criteria) {
        return result(Verdict::Fail, format!("metric {name}: {problem}"));
    }
    let values = match measured(criteria, sides) {
        Ok(values) => values,
        Err(early) => {
            return CheckResult {
                query_failed: early.query_failed,
                ..result(early.verdict, early.message)
            };
        }
    };
    let v = values[0];
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
    match (&criteria.comparison, values.get(1)) {
        (Some(comparison), Some(p)) => {
            let counts = sample_counts(sides);
            let (verdict, message) = compare::judge(comparison, v, *p, counts);
            result(verdict, format!("metric {name}: {message}"))
        }
        _ => {
            let within = threshold_text(bounds).unwrap_or_default();
            result(
                Verdict::Pass,
                format!("metric {name}: {} within {within}", Num(v)),
            )
        }
    }
}

/// `"canary "`, `"primary "`, or nothing for a check without a comparison.
fn label(side: Option<Side>) -> String {
    side.map(|s| format!("{s} ")).unwrap_or_default()
}

/// Rules 2 to 4 for every side, each rule across all sides before the next: the values, or
/// the verdict without them.
fn measured(
    criteria: &Criteria,
    sides: &[(Option<Side>, Measurement<'_>)],
) -> Result<Vec<f64>, Early> {
    let name = &criteria.name;
    let fail = |message: String, query_failed| Early {
        verdict: Verdict::Fail,
        message,
        query_failed,
    };
    for (side, m) in sides {
        if let QueryOutcome::Error(e) = m.value {
            return Err(fail(
                format!("metric {name}: {}query failed: {e}", label(*side)),
                true,
            ));
        }
    }
    if let Some(min) = criteria.min_sample_count {
        let mut short = Vec::new();
        for (side, m) in sides {
            let count = match m.count {
                None => {
                    return Err(fail(
                        format!(
                            "metric {name}: minSampleCount is {min} but no {}sample count was measured",
                            label(*side)
                        ),
                        false,
                    ));
                }
                Some(QueryOutcome::Error(e)) => {
                    return Err(fail(
                        format!(
                            "metric {name}: {}sample count query failed: {e}",
                            label(*side)
                        ),
                        true,
                    ));
                }
                Some(QueryOutcome::NoData) => 0.0,
                Some(QueryOutcome::Value(c)) if c.is_nan() => 0.0,
                Some(QueryOutcome::Value(c)) => *c,
            };
            // i64 → f64 is exact for any count anyone will configure (< 2^53).
            if count < min as f64 {
                short.push(format!("{} {}samples", Num(count), label(*side)));
            }
        }
        if !short.is_empty() {
            let values: Vec<String> = sides
                .iter()
                .filter_map(|(side, m)| match m.value {
                    QueryOutcome::Value(v) if !v.is_nan() => Some(match side {
                        None => format!("value {}", Num(*v)),
                        Some(s) => format!("{s} {}", Num(*v)),
                    }),
                    _ => None,
                })
                .collect();
            let measured = if values.is_empty() {
                String::new()
            } else {
                format!(" ({})", values.join(", "))
            };
            return Err(Early {
                verdict: Verdict::Inconclusive,
                message: format!(
                    "metric {name}: only {}, fewer than minSampleCount {min}; not judged{measured}",
                    short.join(" and ")
                ),
                query_failed: false,
            });
        }
    }
    let mut values = Vec::new();
    for (side, m) in sides {
        match m.value {
            QueryOutcome::Value(v) if !v.is_nan() => values.push(*v),
            _ => {
                let who = match side {
                    Some(Side::Primary) => "the primary",
                    _ => "the canary",
                };
                let base = format!(
                    "metric {name}: no values found{} (empty result or NaN); {who} is probably not receiving traffic",
                    match side {
                        Some(s) => format!(" for the {s}"),
                        None => String::new(),
                    }
                );
                let (verdict, message) = match criteria.on_no_data {
                    OnNoData::Fail => (Verdict::Fail, base),
                    OnNoData::Skip => (
                        Verdict::Skipped,
                        format!("{base}; skipped (onNoData: skip)"),
                    ),
                    OnNoData::Pass => (
                        Verdict::Pass,
                        format!("{base}; counted as passed (onNoData: pass)"),
                    ),
                };
                return Err(Early {
                    verdict,
                    message,
                    query_failed: false,
                });
            }
        }
    }
    Ok(values)
}

/// Both sides' sample counts, when both were measured.
fn sample_counts(sides: &[(Option<Side>, Measurement<'_>)]) -> Option<(f64, f64)> {
    let count = |i: usize| match sides.get(i).and_then(|(_, m)| m.count) {
        Some(QueryOutcome::Value(c)) if c.is_finite() => Some(*c),
        _ => None,
    };
    Some((count(0)?, count(1)?))
}

/// The criteria's own mistakes: bounds no value can meet, none at all, or a comparison that
/// can't be judged.
fn check_criteria(criteria: &Criteria) -> Result<(), String> {
    match &criteria.comparison {
        None => check_bounds(&criteria.bounds),
        Some(comparison) => {
            if criteria.bounds.min.is_some() || criteria.bounds.max.is_some() {
                check_bounds(&criteria.bounds)?;
            }
            compare::check(comparison, criteria.min_sample_count)
        }
    }
}

/// A range that no value can meet, or none at all, is a mistake in the Canary, not a verdict
/// on the release; saying so beats silently passing or failing every check.
pub(crate) fn check_bounds(bounds: &ThresholdRange) -> Result<(), String> {
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

pub(crate) fn threshold_text(bounds: &ThresholdRange) -> Option<String> {
    match (bounds.min, bounds.max) {
        (Some(min), Some(max)) => Some(format!("{}..{}", Num(min), Num(max))),
        (Some(min), None) => Some(format!(">= {}", Num(min))),
        (None, Some(max)) => Some(format!("<= {}", Num(max))),
        (None, None) => None,
    }
}

/// A number for humans: at most 6 decimals, no trailing zeros, Prometheus' `+Inf`/`-Inf`.
pub(crate) struct Num(pub(crate) f64);

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
