//! `comparePrimary` rules: one relative bound, a usable significance level, the sample count
//! the significance test needs, and no user variable hiding the side fledge sets.

use super::Findings;
use crate::analysis::{CanaryMetric, ThresholdRange};
use crate::comparison::{SIDE_VARIABLE, WORKLOAD_VARIABLE};

/// A bound range (`thresholdRange`, `comparePrimary.difference` or `.ratio`) no value can
/// meet, or that bounds nothing.
pub(super) fn range_rules(range: &ThresholdRange, path: &str, f: &mut Findings) {
    match (range.min, range.max) {
        (None, None) => f.error(path.to_string(), "set min, max or both"),
        (Some(min), Some(max)) if min > max => f.error(
            path.to_string(),
            format!("min ({min}) must not exceed max ({max})"),
        ),
        _ => {}
    }
}

pub(super) fn compare_primary_rules(m: &CanaryMetric, path: &str, f: &mut Findings) {
    let Some(c) = &m.compare_primary else {
        return;
    };
    let cpath = format!("{path}.comparePrimary");
    match (&c.difference, &c.ratio) {
        (None, None) => f.error(
            cpath.clone(),
            "set difference (canary minus primary) or ratio (canary divided by primary), e.g. difference: {min: -1}",
        ),
        (Some(_), Some(_)) => f.error(
            cpath.clone(),
            "set only one of difference and ratio; use two metrics to bound both",
        ),
        _ => {}
    }
    if let Some(d) = &c.difference {
        range_rules(d, &format!("{cpath}.difference"), f);
    }
    if let Some(r) = &c.ratio {
        range_rules(r, &format!("{cpath}.ratio"), f);
        if r.max.is_some_and(|max| max < 0.0) {
            f.error(
                format!("{cpath}.ratio.max"),
                "must not be negative: a ratio compares values that can't be negative",
            );
        }
    }
    if let Some(level) = c.significance {
        let spath = format!("{cpath}.significance");
        if !(level > 0.0 && level < 0.5) {
            f.error(
                spath.clone(),
                format!("must be above 0 and below 0.5 (got {level}); 0.05 is usual"),
            );
        }
        if c.worse_direction().is_none() {
            f.error(
                spath,
                "needs a difference with only min (lower is worse, e.g. a success rate in percent) or only max (higher is worse, e.g. an error rate in percent)",
            );
        }
        if m.min_sample_count.is_none() {
            f.error(
                format!("{path}.minSampleCount"),
                "required with comparePrimary.significance: the fewest requests on each side worth testing, e.g. 100",
            );
        }
    }
    for key in [SIDE_VARIABLE, WORKLOAD_VARIABLE] {
        if m.template_variables.contains_key(key) {
            f.error(
                format!("{path}.templateVariables"),
                format!(
                    "{key} is reserved with comparePrimary: fledge sets {{{{ variables.{key} }}}} to the side it queries; rename the variable"
                ),
            );
        }
    }
}
