//! `comparePrimary` on a metric (fledge's addition to Flagger's schema): the canary is judged
//! against its primary, both queried for the same window at the same moment, with a bound on
//! the difference or the ratio of the two values, and optionally a significance test for
//! error-rate metrics.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::ThresholdRange;

/// The side of a release a metric query is about. Templates read it as
/// `{{ variables.side }}`, and the side's Deployment as `{{ variables.workload }}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Canary,
    Primary,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canary => "canary",
            Self::Primary => "primary",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The template variable fledge sets to `canary` or `primary`.
pub const SIDE_VARIABLE: &str = "side";
/// The template variable fledge sets to the side's Deployment (`<target>` or
/// `<target>-primary`).
pub const WORKLOAD_VARIABLE: &str = "workload";

/// How the canary's value must relate to the primary's. Exactly one of `difference` and
/// `ratio`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.difference) != has(self.ratio)", "message": "set exactly one of difference and ratio"},
    {"rule": "!has(self.significance) || (self.significance > 0.0 && self.significance < 0.5)", "message": "significance must be above 0 and below 0.5, e.g. 0.05", "fieldPath": ".significance"},
    {"rule": "!has(self.significance) || (has(self.difference) && has(self.difference.min) != has(self.difference.max))", "message": "significance needs a difference with only min (lower is worse, e.g. a success rate) or only max (higher is worse, e.g. an error rate)", "fieldPath": ".significance"},
]))]
pub struct PrimaryComparison {
    /// Bounds on the canary's value minus the primary's (inclusive), e.g. `{min: -1}`: at most
    /// 1 point below the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<ThresholdRange>,
    /// Bounds on the canary's value divided by the primary's (inclusive), e.g. `{max: 1.2}`:
    /// at most 20% above the primary. For values that can't be negative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<ThresholdRange>,
    /// For metrics that are a percentage of requests (a success or error rate): fail only when
    /// a one-sided two-proportion z-test finds the canary worse than the primary by more than
    /// `difference` allows, at this level (e.g. `0.05`). Needs `minSampleCount`, and the
    /// sample counts of both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significance: Option<f64>,
}

/// Which bound a comparison puts on the two values.
#[derive(Clone, Debug, PartialEq)]
pub enum RelativeBound {
    /// `canary − primary` within the range.
    Difference(ThresholdRange),
    /// `canary ÷ primary` within the range.
    Ratio(ThresholdRange),
}

impl PrimaryComparison {
    /// The bound in force: `difference` wins if both are set (the validator reports that).
    pub fn bound(&self) -> Option<RelativeBound> {
        match (&self.difference, &self.ratio) {
            (Some(d), _) => Some(RelativeBound::Difference(d.clone())),
            (None, Some(r)) => Some(RelativeBound::Ratio(r.clone())),
            (None, None) => None,
        }
    }

    /// What the significance test calls worse, from the one bound of `difference`: only `min`
    /// means a lower value is worse (a success rate), only `max` a higher one (an error rate).
    /// `None` when `difference` doesn't have exactly one bound.
    pub fn worse_direction(&self) -> Option<Worse> {
        match self.difference.as_ref().map(|d| (d.min, d.max)) {
            Some((Some(_), None)) => Some(Worse::Lower),
            Some((None, Some(_))) => Some(Worse::Higher),
            _ => None,
        }
    }
}

/// Which way a value gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worse {
    Lower,
    Higher,
}
