use fledge_api::{OnNoData, PrimaryComparison, ThresholdRange, Verdict};

use super::*;
use crate::evaluate::{Criteria, Measurement, QueryOutcome, evaluate_against_primary};

fn range(min: Option<f64>, max: Option<f64>) -> ThresholdRange {
    ThresholdRange { min, max }
}

fn difference(min: Option<f64>, max: Option<f64>, significance: Option<f64>) -> PrimaryComparison {
    PrimaryComparison {
        difference: Some(range(min, max)),
        ratio: None,
        significance,
    }
}

fn ratio(min: Option<f64>, max: Option<f64>) -> PrimaryComparison {
    PrimaryComparison {
        difference: None,
        ratio: Some(range(min, max)),
        significance: None,
    }
}

use Verdict::{Fail, Inconclusive, Pass, Skipped};

#[test]
fn relative_bounds_judge_the_difference_or_the_ratio() {
    let at_most_one_below = difference(Some(-1.0), None, None);
    let at_most_20_percent_slower = ratio(None, Some(1.2));
    #[rustfmt::skip]
    let cases = [
        (&at_most_one_below, 99.5, 100.0, Pass, "canary 99.5, primary 100: difference -0.5 within >= -1"),
        (&at_most_one_below, 99.0, 100.0, Pass, "difference -1 within >= -1"),
        (&at_most_one_below, 97.0, 100.0, Fail, "canary 97, primary 100: difference -3 < -1"),
        // A canary better than a degraded primary passes.
        (&at_most_one_below, 80.0, 60.0, Pass, "difference 20 within >= -1"),
        (&at_most_20_percent_slower, 900.0, 880.0, Pass, "canary 900, primary 880: ratio 1.022727 within <= 1.2"),
        (&at_most_20_percent_slower, 1200.0, 800.0, Fail, "ratio 1.5 > 1.2"),
        (&at_most_20_percent_slower, 0.0, 0.0, Pass, "ratio 1 within <= 1.2"),
        (&at_most_20_percent_slower, 5.0, 0.0, Fail, "ratio +Inf > 1.2"),
        (&at_most_20_percent_slower, -1.0, 3.0, Fail, "can't be negative; use comparePrimary.difference"),
        (&at_most_one_below, f64::INFINITY, f64::INFINITY, Fail, "difference NaN is outside >= -1"),
    ];
    for (comparison, canary, primary, want, message) in cases {
        let (verdict, got) = judge(comparison, canary, primary, Some((1000.0, 1000.0)));
        assert_eq!(verdict, want, "{canary} vs {primary}: {got}");
        assert!(got.contains(message), "{got:?} lacks {message:?}");
    }
}

#[test]
fn significance_fails_only_what_the_data_show() {
    let success_rate = difference(Some(-1.0), None, Some(0.05));
    let error_rate = difference(None, Some(1.0), Some(0.05));
    #[rustfmt::skip]
    let cases = [
        // 3 points below a perfect primary over 600 canary requests: z = 2.87.
        (&success_rate, 97.0, 100.0, (600.0, 2400.0), Fail, "and significant: p = 0.002"),
        // The same rates over 30 requests: z = 0.64, could be noise.
        (&success_rate, 97.0, 100.0, (30.0, 120.0), Pass, "but not significant: p = 0.26"),
        // Within the margin: no test needed.
        (&success_rate, 99.5, 100.0, (30.0, 120.0), Pass, "difference -0.5 within >= -1"),
        // Error rate 5% against 1%, 1000 requests a side.
        (&error_rate, 5.0, 1.0, (1000.0, 1000.0), Fail, "p = 3.8e-5 < 0.05 over 1000 canary and 1000 primary requests"),
        (&error_rate, 2.5, 1.0, (50.0, 50.0), Pass, "not significant"),
        // Every canary request failed, every primary one succeeded: no noise to weigh.
        (&success_rate, 0.0, 100.0, (5.0, 5.0), Fail, "p = 0 < 0.05"),
        (&success_rate, 140.0, 100.0, (5.0, 5.0), Pass, "within"),
        (&error_rate, 140.0, 1.0, (500.0, 500.0), Fail, "needs percentages from 0 to 100"),
    ];
    for (comparison, canary, primary, counts, want, message) in cases {
        let (verdict, got) = judge(comparison, canary, primary, Some(counts));
        assert_eq!(
            verdict, want,
            "{canary} vs {primary} over {counts:?}: {got}"
        );
        assert!(got.contains(message), "{got:?} lacks {message:?}");
    }
    let (verdict, got) = judge(&success_rate, 90.0, 100.0, None);
    assert_eq!(verdict, Fail);
    assert!(got.contains("needs both sides' sample counts"), "{got}");
}

#[test]
fn the_normal_tail_is_accurate() {
    let cases = [
        (0.0, 0.5),
        (1.959_964, 0.025),
        (-1.644_854, 0.95),
        (3.0, 0.001_349_9),
        (-8.0, 1.0),
        (8.0, 6.2e-16),
    ];
    for (z, want) in cases {
        let got = upper_tail(z);
        assert!(
            (got - want).abs() <= 1e-6_f64.max(want * 1e-3),
            "P(Z > {z}) = {got}, want {want}"
        );
    }
}

#[test]
fn p_values_follow_the_direction_and_the_margin() {
    // The same shares, read as a success rate (lower is worse) and as an error rate.
    let lower = p_worse(Worse::Lower, 95.0, 98.0, 0.0, 400.0, 400.0).unwrap();
    let higher = p_worse(Worse::Higher, 5.0, 2.0, 0.0, 400.0, 400.0).unwrap();
    assert!((lower - higher).abs() < 1e-12, "{lower} vs {higher}");
    assert!(lower < 0.05, "{lower}");
    // A larger margin makes the same data less damning.
    let wide = p_worse(Worse::Lower, 95.0, 98.0, 2.5, 400.0, 400.0).unwrap();
    assert!(wide > 0.3, "{wide}");
    // A better canary is never significantly worse.
    let better = p_worse(Worse::Lower, 99.0, 95.0, 0.0, 5000.0, 5000.0).unwrap();
    assert!(better > 0.99, "{better}");
    assert!(p_worse(Worse::Lower, 99.0, 95.0, 0.0, 0.0, 10.0).is_err());
}

#[test]
fn comparisons_describe_themselves() {
    let cases = [
        (difference(Some(-1.0), None, None), "canary - primary >= -1"),
        (
            difference(None, Some(0.5), Some(0.01)),
            "canary - primary <= 0.5 (significance 0.01)",
        ),
        (ratio(None, Some(1.2)), "canary / primary <= 1.2"),
        (
            ratio(Some(0.8), Some(1.25)),
            "0.8 <= canary / primary <= 1.25",
        ),
    ];
    for (comparison, want) in cases {
        assert_eq!(describe(&comparison), want);
    }
}

#[test]
fn broken_comparisons_are_named() {
    let both = PrimaryComparison {
        difference: Some(range(Some(-1.0), None)),
        ratio: Some(range(None, Some(1.2))),
        significance: None,
    };
    let cases = [
        (both, Some(10), "both difference and ratio"),
        (
            PrimaryComparison::default(),
            Some(10),
            "needs difference or ratio",
        ),
        (difference(None, None, None), Some(10), "no threshold"),
        (
            difference(Some(-1.0), None, Some(0.7)),
            Some(10),
            "below 0.5 (got 0.7)",
        ),
        (
            difference(Some(-1.0), Some(1.0), Some(0.05)),
            Some(10),
            "only min or only max",
        ),
        (
            difference(Some(-1.0), None, Some(0.05)),
            None,
            "needs minSampleCount",
        ),
    ];
    for (comparison, min, want) in cases {
        let err = check(&comparison, min).unwrap_err();
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    }
}

fn criteria(comparison: PrimaryComparison, min_samples: Option<i64>) -> Criteria {
    Criteria {
        name: "m".into(),
        bounds: ThresholdRange::default(),
        on_no_data: OnNoData::Skip,
        min_sample_count: min_samples,
        comparison: Some(comparison),
    }
}

/// Both sides go through the same steps, and the message says which side decided.
#[test]
fn either_side_can_decide_before_the_comparison() {
    use QueryOutcome::{Error, NoData, Value};
    let c = criteria(difference(Some(-1.0), None, Some(0.05)), Some(100));
    let side = |value: &'static QueryOutcome, count: &'static QueryOutcome| Measurement {
        value,
        count: Some(count),
    };
    static V97: QueryOutcome = Value(97.0);
    static V100: QueryOutcome = Value(100.0);
    static N600: QueryOutcome = Value(600.0);
    static N2400: QueryOutcome = Value(2400.0);
    static N40: QueryOutcome = Value(40.0);
    static NONE: QueryOutcome = NoData;
    static DOWN: QueryOutcome = Error(String::new());
    #[rustfmt::skip]
    let cases = [
        (side(&V97, &N600), side(&DOWN, &N2400), Fail, "metric m: primary query failed"),
        (side(&V97, &DOWN), side(&V100, &N2400), Fail, "metric m: canary sample count query failed"),
        (side(&V97, &N40), side(&V100, &N2400), Inconclusive,
            "metric m: only 40 canary samples, fewer than minSampleCount 100; not judged (canary 97, primary 100)"),
        (side(&V97, &N40), side(&V100, &N40), Inconclusive, "only 40 canary samples and 40 primary samples"),
        (side(&V97, &N600), side(&NONE, &N2400), Skipped,
            "metric m: no values found for the primary (empty result or NaN); the primary is probably not receiving traffic; skipped"),
        (side(&V97, &N600), side(&V100, &N2400), Fail, "metric m: canary 97, primary 100: difference -3 < -1, and significant"),
    ];
    for (canary, primary, want, message) in cases {
        let got = evaluate_against_primary(&c, canary, primary);
        assert_eq!(got.verdict, want, "{}", got.message);
        assert!(
            got.message.contains(message),
            "{:?} lacks {message:?}",
            got.message
        );
        assert_eq!(
            got.threshold.as_deref(),
            Some("canary - primary >= -1 (significance 0.05)")
        );
    }
    let got = evaluate_against_primary(&c, side(&V97, &N600), side(&V100, &N2400));
    assert_eq!((got.value, got.primary_value), (Some(97.0), Some(100.0)));
}

/// A fixed bound set next to the comparison is judged first, on the canary's value.
#[test]
fn an_absolute_bound_still_holds() {
    use QueryOutcome::Value;
    let mut c = criteria(ratio(None, Some(1.2)), None);
    c.bounds = range(None, Some(2000.0));
    let side = |value: &'static QueryOutcome| Measurement { value, count: None };
    static SLOW: QueryOutcome = Value(2500.0);
    static SLOWER: QueryOutcome = Value(2400.0);
    let got = evaluate_against_primary(&c, side(&SLOW), side(&SLOWER));
    assert_eq!(got.verdict, Fail);
    assert_eq!(got.message, "metric m: 2500 > 2000");
    assert_eq!(
        got.threshold.as_deref(),
        Some("<= 2000; canary / primary <= 1.2")
    );
}
