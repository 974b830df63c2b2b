use super::*;

const INF: f64 = f64::INFINITY;

fn criteria(
    min: Option<f64>,
    max: Option<f64>,
    on_no_data: OnNoData,
    min_samples: Option<i64>,
) -> Criteria {
    Criteria {
        name: "m".into(),
        bounds: ThresholdRange { min, max },
        on_no_data,
        min_sample_count: min_samples,
        comparison: None,
    }
}

use OnNoData::{Fail as NdFail, Pass as NdPass, Skip as NdSkip};
use QueryOutcome::{Error, NoData, Value};
use Verdict::{Fail, Inconclusive, Pass, Skipped};

#[test]
fn thresholds_are_inclusive_and_judge_the_value() {
    let r = |min, max| criteria(min, max, NdFail, None);
    #[rustfmt::skip]
    let cases: Vec<(Criteria, QueryOutcome, Verdict, Option<f64>, &str)> = vec![
        // min only
        (r(Some(99.0), None), Value(99.5), Pass, Some(99.5), "metric m: 99.5 within >= 99"),
        (r(Some(99.0), None), Value(99.0), Pass, Some(99.0), "within >= 99"),
        (r(Some(99.0), None), Value(98.999), Fail, Some(98.999), "metric m: 98.999 < 99"),
        (r(Some(99.0), None), Value(INF), Pass, None, "+Inf within >= 99"),
        (r(Some(99.0), None), Value(-INF), Fail, None, "-Inf < 99"),
        // max only
        (r(None, Some(500.0)), Value(500.0), Pass, Some(500.0), "500 within <= 500"),
        (r(None, Some(500.0)), Value(500.000001), Fail, Some(500.000001), "500.000001 > 500"),
        (r(None, Some(500.0)), Value(INF), Fail, None, "metric m: +Inf > 500"),
        (r(None, Some(0.0)), Value(0.0), Pass, Some(0.0), "0 within <= 0"),
        (r(None, Some(0.0)), Value(-0.0), Pass, Some(-0.0), "0 within <= 0"),
        // both
        (r(Some(1.0), Some(2.0)), Value(1.0), Pass, Some(1.0), "within 1..2"),
        (r(Some(1.0), Some(2.0)), Value(2.0), Pass, Some(2.0), "within 1..2"),
        (r(Some(1.0), Some(2.0)), Value(0.5), Fail, Some(0.5), "0.5 < 1"),
        (r(Some(1.0), Some(2.0)), Value(2.5), Fail, Some(2.5), "2.5 > 2"),
        (r(Some(1.5), Some(1.5)), Value(1.5), Pass, Some(1.5), "within 1.5..1.5"),
        // configuration errors fail whatever the value
        (r(None, None), Value(1.0), Fail, Some(1.0), "no threshold: set thresholdRange.min and/or thresholdRange.max"),
        (r(Some(3.0), Some(2.0)), Value(2.5), Fail, Some(2.5), "thresholdRange.min (3) is greater than thresholdRange.max (2)"),
        (r(Some(f64::NAN), None), Value(2.5), Fail, Some(2.5), "thresholdRange holds NaN"),
        (r(None, None), NoData, Fail, None, "no threshold"),
        // errors never pass
        (r(Some(0.0), None), Error("prometheus http://p:9090: request failed: connection refused".into()), Fail, None,
            "metric m: query failed: prometheus http://p:9090: request failed: connection refused"),
    ];
    for (c, outcome, verdict, value, message) in cases {
        let got = evaluate(&c, &outcome, None);
        assert_eq!(got.verdict, verdict, "{c:?} {outcome:?}: {}", got.message);
        assert_eq!(got.value, value, "{c:?} {outcome:?}");
        assert!(
            got.message.contains(message),
            "{c:?} {outcome:?}: {:?} lacks {message:?}",
            got.message
        );
    }
}

#[test]
fn no_data_follows_the_policy() {
    #[rustfmt::skip]
    let cases: Vec<(OnNoData, QueryOutcome, Verdict, &str)> = vec![
        (NdFail, NoData, Fail, "no values found (empty result or NaN); the canary is probably not receiving traffic"),
        (NdFail, Value(f64::NAN), Fail, "no values found"),
        (NdSkip, NoData, Skipped, "skipped (onNoData: skip)"),
        (NdSkip, Value(f64::NAN), Skipped, "skipped (onNoData: skip)"),
        (NdPass, NoData, Pass, "counted as passed (onNoData: pass)"),
        (NdPass, Value(f64::NAN), Pass, "counted as passed"),
        // The policy is about missing data only: errors still fail.
        (NdPass, Error("boom".into()), Fail, "query failed: boom"),
        (NdSkip, Error("boom".into()), Fail, "query failed: boom"),
        // ... and real values are still judged.
        (NdPass, Value(50.0), Fail, "50 < 99"),
        (NdSkip, Value(100.0), Pass, "100 within >= 99"),
    ];
    for (policy, outcome, verdict, message) in cases {
        let got = evaluate(&criteria(Some(99.0), None, policy, None), &outcome, None);
        assert_eq!(
            got.verdict, verdict,
            "{policy:?} {outcome:?}: {}",
            got.message
        );
        let want_value = match outcome {
            Value(v) if v.is_finite() => Some(v),
            _ => None,
        };
        assert_eq!(got.value, want_value, "{policy:?} {outcome:?}");
        assert!(
            got.message.contains(message),
            "{policy:?} {outcome:?}: {:?} lacks {message:?}",
            got.message
        );
        assert_eq!(got.threshold.as_deref(), Some(">= 99"));
    }
}

#[test]
fn min_sample_count_makes_small_samples_inconclusive() {
    #[rustfmt::skip]
    let cases: Vec<(OnNoData, QueryOutcome, Option<QueryOutcome>, Verdict, &str)> = vec![
        // enough samples: judged as usual (equal counts as enough)
        (NdFail, Value(99.5), Some(Value(150.0)), Pass, "99.5 within >= 99"),
        (NdFail, Value(99.5), Some(Value(100.0)), Pass, "within"),
        (NdFail, Value(50.0), Some(Value(100.0)), Fail, "50 < 99"),
        (NdFail, NoData, Some(Value(100.0)), Fail, "no values found"),
        (NdSkip, NoData, Some(Value(100.0)), Skipped, "skipped"),
        // too few: neither pass nor fail, whatever the value or the no-data policy
        (NdFail, Value(50.0), Some(Value(99.9)), Inconclusive, "metric m: only 99.9 samples, fewer than minSampleCount 100; not judged (value 50)"),
        (NdFail, Value(100.0), Some(Value(3.0)), Inconclusive, "only 3 samples"),
        (NdFail, Value(INF), Some(Value(3.0)), Inconclusive, "(value +Inf)"),
        (NdFail, NoData, Some(NoData), Inconclusive, "only 0 samples, fewer than minSampleCount 100; not judged"),
        (NdPass, NoData, Some(Value(f64::NAN)), Inconclusive, "only 0 samples"),
        (NdPass, Value(100.0), Some(Value(0.0)), Inconclusive, "only 0 samples"),
        // a count that could not be measured is a failure, never a pass
        (NdPass, Value(100.0), Some(Error("timeout".into())), Fail, "sample count query failed: timeout"),
        (NdPass, Value(100.0), None, Fail, "minSampleCount is 100 but no sample count was measured"),
        // a failed main query fails before the count is looked at
        (NdFail, Error("down".into()), Some(Value(0.0)), Fail, "query failed: down"),
    ];
    for (policy, outcome, count, verdict, message) in cases {
        let got = evaluate(
            &criteria(Some(99.0), None, policy, Some(100)),
            &outcome,
            count.as_ref(),
        );
        assert_eq!(
            got.verdict, verdict,
            "{policy:?} {outcome:?} {count:?}: {}",
            got.message
        );
        assert!(
            got.message.contains(message),
            "{policy:?} {outcome:?} {count:?}: {:?} lacks {message:?}",
            got.message
        );
    }
}

#[test]
fn without_min_sample_count_the_count_is_ignored() {
    let c = criteria(Some(99.0), None, NdFail, None);
    let got = evaluate(&c, &Value(100.0), Some(&Value(0.0)));
    assert_eq!(got.verdict, Pass);
}

#[test]
fn deprecated_threshold_keeps_flaggers_meaning() {
    let metric = |name: &str, threshold: Option<f64>, range: Option<ThresholdRange>| CanaryMetric {
        name: name.into(),
        threshold,
        threshold_range: range,
        ..Default::default()
    };
    let range = |min, max| ThresholdRange { min, max };
    #[rustfmt::skip]
    let cases = [
        // success rate: threshold is a minimum
        (metric("request-success-rate", Some(99.0), None), range(Some(99.0), None)),
        // everything else: a maximum
        (metric("request-duration", Some(500.0), None), range(None, Some(500.0))),
        (metric("error-count", Some(0.0), None), range(None, Some(0.0))),
        // thresholdRange wins over threshold
        (metric("request-success-rate", Some(50.0), Some(range(Some(99.0), Some(100.0)))), range(Some(99.0), Some(100.0))),
        (metric("custom", None, None), range(None, None)),
    ];
    for (m, want) in cases {
        let c = Criteria::for_metric(&m);
        assert_eq!(c.bounds, want, "{m:?}");
        assert_eq!(c.on_no_data, OnNoData::Fail, "default policy");
    }
    // And the resulting checks judge as Flagger would.
    let sr = Criteria::for_metric(&metric("request-success-rate", Some(99.0), None));
    assert_eq!(evaluate(&sr, &Value(98.0), None).verdict, Fail);
    assert_eq!(evaluate(&sr, &Value(99.0), None).verdict, Pass);
    let dur = Criteria::for_metric(&metric("request-duration", Some(500.0), None));
    assert_eq!(evaluate(&dur, &Value(501.0), None).verdict, Fail);
    assert_eq!(evaluate(&dur, &Value(500.0), None).verdict, Pass);
}

#[test]
fn provider_results_map_to_outcomes() {
    let err = ProviderError::Unsupported {
        provider_type: "datadog".into(),
    };
    let cases: Vec<(Result<Option<f64>, ProviderError>, QueryOutcome)> = vec![
        (Ok(Some(1.5)), Value(1.5)),
        (Ok(Some(INF)), Value(INF)),
        (Ok(Some(f64::NAN)), NoData),
        (Ok(None), NoData),
        (
            Err(err),
            Error(
                "metric provider type \"datadog\" is not supported by fledge; use \"prometheus\" or \"web\""
                    .into(),
            ),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(QueryOutcome::from(input), want);
    }
}

#[test]
fn records_carry_value_threshold_and_verdict() {
    let c = criteria(None, Some(500.0), NdFail, None);
    let time = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap());
    let record = evaluate(&c, &Value(612.5), None).into_record("request-duration", time.clone());
    assert_eq!(
        record,
        AnalysisRecord {
            time,
            kind: "metric".into(),
            name: "request-duration".into(),
            value: Some(612.5),
            primary_value: None,
            threshold: Some("<= 500".into()),
            verdict: Fail,
            message: Some("metric m: 612.5 > 500".into()),
        }
    );
}

#[test]
fn numbers_print_short() {
    let cases = [
        (99.0, "99"),
        (95.238095238, "95.238095"),
        (0.1 + 0.2, "0.3"),
        (-0.0, "0"),
        (1e-9, "0"),
        (-2.5, "-2.5"),
        (INF, "+Inf"),
        (-INF, "-Inf"),
        (f64::NAN, "NaN"),
    ];
    for (v, want) in cases {
        assert_eq!(Num(v).to_string(), want, "{v}");
    }
}
