//! Judging the canary against its primary (`comparePrimary`), once both sides have a value:
//! the difference or the ratio of the two values against its bounds, and, for error-rate
//! metrics with a `significance`, a one-sided two-proportion z-test. Pure and table-tested.
//!
//! The test: with `difference: {min: -m}` a lower value is worse (a success rate, in percent),
//! so each side's bad share is `1 - value/100`; with `difference: {max: m}` a higher one is
//! (an error rate), and the bad share is `value/100`. The null hypothesis is "the canary's bad
//! share exceeds the primary's by at most the margin m/100"; the check fails only when the
//! data reject it at the given level, so a difference past the bound that a small sample
//! can't tell from noise passes. The standard error is the unpooled
//! `sqrt(pc(1-pc)/nc + pp(1-pp)/np)`, which holds for a non-zero margin too.

use fledge_api::{PrimaryComparison, RelativeBound, ThresholdRange, Verdict, Worse};

use crate::evaluate::{Num, check_bounds, threshold_text};

/// The comparison as text: `canary - primary >= -1 (significance 0.05)`.
pub fn describe(comparison: &PrimaryComparison) -> String {
    let (what, range) = match comparison.bound() {
        Some(RelativeBound::Difference(r)) => ("canary - primary", r),
        Some(RelativeBound::Ratio(r)) => ("canary / primary", r),
        None => return "canary vs primary (no bound)".into(),
    };
    let bound = match (range.min, range.max) {
        (Some(min), Some(max)) => format!("{} <= {what} <= {}", Num(min), Num(max)),
        _ => format!("{what} {}", threshold_text(&range).unwrap_or_default()),
    };
    match comparison.significance {
        Some(level) => format!("{bound} (significance {})", Num(level)),
        None => bound,
    }
}

/// The comparison's own mistakes, which fail the check (the validator and the CRD refuse them
/// too, so only a Canary written past both gets here).
pub fn check(comparison: &PrimaryComparison, min_sample_count: Option<i64>) -> Result<(), String> {
    let range = match (&comparison.difference, &comparison.ratio) {
        (Some(_), Some(_)) => {
            return Err("comparePrimary sets both difference and ratio; keep one".into());
        }
        (Some(r), None) | (None, Some(r)) => r,
        (None, None) => {
            return Err(
                "comparePrimary needs difference or ratio, e.g. difference: {min: -1}".into(),
            );
        }
    };
    check_bounds(range).map_err(|e| format!("comparePrimary: {e}"))?;
    if let Some(level) = comparison.significance {
        if !(level > 0.0 && level < 0.5) {
            return Err(format!(
                "comparePrimary.significance must be above 0 and below 0.5 (got {})",
                Num(level)
            ));
        }
        if comparison.worse_direction().is_none() {
            return Err(
                "comparePrimary.significance needs a difference with only min or only max".into(),
            );
        }
        if min_sample_count.is_none() {
            return Err("comparePrimary.significance needs minSampleCount".into());
        }
    }
    Ok(())
}

/// Judges `canary` against `primary`; `counts` are both sides' sample counts (canary first),
/// which the significance test needs. The message follows `metric <name>: `.
pub fn judge(
    comparison: &PrimaryComparison,
    canary: f64,
    primary: f64,
    counts: Option<(f64, f64)>,
) -> (Verdict, String) {
    let both = format!("canary {}, primary {}", Num(canary), Num(primary));
    let (what, measured, range) = match comparison.bound() {
        Some(RelativeBound::Difference(range)) => ("difference", canary - primary, range),
        Some(RelativeBound::Ratio(range)) => {
            if canary < 0.0 || primary < 0.0 {
                return (
                    Verdict::Fail,
                    format!(
                        "{both}: a ratio compares values that can't be negative; use comparePrimary.difference"
                    ),
                );
            }
            ("ratio", ratio(canary, primary), range)
        }
        None => return (Verdict::Fail, "comparePrimary has no bound".into()),
    };
    let Some(broken) = broken_bound(&range, measured) else {
        let within = threshold_text(&range).unwrap_or_default();
        return (
            Verdict::Pass,
            format!("{both}: {what} {} within {within}", Num(measured)),
        );
    };
    let out = format!("{both}: {what} {} {broken}", Num(measured));
    let (Some(level), Some(worse)) = (comparison.significance, comparison.worse_direction()) else {
        return (Verdict::Fail, out);
    };
    let Some((nc, np)) = counts else {
        return (
            Verdict::Fail,
            format!("{out}; the significance test needs both sides' sample counts"),
        );
    };
    let margin = match (worse, comparison.difference.as_ref()) {
        (Worse::Lower, Some(d)) => -d.min.unwrap_or(0.0),
        (Worse::Higher, Some(d)) => d.max.unwrap_or(0.0),
        _ => 0.0,
    };
    match p_worse(worse, canary, primary, margin, nc, np) {
        Err(e) => (Verdict::Fail, format!("{out}; {e}")),
        Ok(p) if p < level => (
            Verdict::Fail,
            format!(
                "{out}, and significant: p = {} < {} over {} canary and {} primary requests",
                p_text(p),
                Num(level),
                Num(nc),
                Num(np)
            ),
        ),
        Ok(p) => (
            Verdict::Pass,
            format!(
                "{out} but not significant: p = {} >= {} over {} canary and {} primary requests",
                p_text(p),
                Num(level),
                Num(nc),
                Num(np)
            ),
        ),
    }
}

/// A p-value for humans: 6 decimals, or two significant digits below 0.001 (`1.2e-5`).
fn p_text(p: f64) -> String {
    if p > 0.0 && p < 0.001 {
        format!("{p:.1e}")
    } else {
        Num(p).to_string()
    }
}

/// `canary / primary`; 0/0 is 1 (the same), x/0 is +Inf.
fn ratio(canary: f64, primary: f64) -> f64 {
    if primary == 0.0 {
        if canary == 0.0 { 1.0 } else { f64::INFINITY }
    } else {
        canary / primary
    }
}

/// `< min` or `> max` when `value` is outside `range` (inclusive), else `None`.
fn broken_bound(range: &ThresholdRange, value: f64) -> Option<String> {
    if value.is_nan() {
        // +Inf - +Inf: nothing to compare, so nothing passes.
        return Some(format!(
            "is outside {}",
            threshold_text(range).unwrap_or_default()
        ));
    }
    if let Some(min) = range.min.filter(|min| value < *min) {
        return Some(format!("< {}", Num(min)));
    }
    if let Some(max) = range.max.filter(|max| value > *max) {
        return Some(format!("> {}", Num(max)));
    }
    None
}

/// The p-value of "the canary is worse than the primary by more than `margin` points", from
/// percentages and request counts: a one-sided two-proportion z-test.
pub fn p_worse(
    worse: Worse,
    canary: f64,
    primary: f64,
    margin: f64,
    canary_requests: f64,
    primary_requests: f64,
) -> Result<f64, String> {
    let percent = 0.0..=100.0;
    if !percent.contains(&canary) || !percent.contains(&primary) {
        return Err(format!(
            "the significance test needs percentages from 0 to 100 (got canary {}, primary {})",
            Num(canary),
            Num(primary)
        ));
    }
    if !(canary_requests >= 1.0 && primary_requests >= 1.0) {
        return Err(format!(
            "the significance test needs at least one request on each side (got canary {}, primary {})",
            Num(canary_requests),
            Num(primary_requests)
        ));
    }
    let bad = |v: f64| match worse {
        Worse::Lower => 1.0 - v / 100.0,
        Worse::Higher => v / 100.0,
    };
    let (pc, pp) = (bad(canary), bad(primary));
    let excess = pc - pp - margin / 100.0;
    let se = (pc * (1.0 - pc) / canary_requests + pp * (1.0 - pp) / primary_requests).sqrt();
    if se == 0.0 {
        // Every request on both sides went the same way: no sampling noise to weigh.
        return Ok(if excess > 0.0 { 0.0 } else { 1.0 });
    }
    Ok(upper_tail(excess / se))
}

/// P(Z > z) for a standard normal Z.
fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, to a relative error below 1.2e-7 (the Chebyshev fit in
/// Numerical Recipes, §6.2): ample for comparing a p-value with a significance level.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests;
