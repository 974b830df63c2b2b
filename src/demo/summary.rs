//! The end of `fledge demo`: how each release went against what it should have done, as the
//! summary block and the verdict that decides the exit code. Pure, like [`super::progress`].

use std::time::Duration;

use fledge_api::{AnalysisRecord, CanaryPhase, Verdict};

use super::progress::{Style, format_value};

/// What a release was meant to end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Promoted,
    RolledBack,
}

impl Expect {
    fn phase(self) -> CanaryPhase {
        match self {
            Expect::Promoted => CanaryPhase::Succeeded,
            Expect::RolledBack => CanaryPhase::Failed,
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Expect::Promoted => "promoted",
            Expect::RolledBack => "rolled back",
        }
    }
}

/// How one release went, gathered while following it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub image: String,
    pub expect: Expect,
    /// The phase it ended in; `None` when the demo gave up waiting.
    pub end: Option<CanaryPhase>,
    /// Canary weights seen during the analysis, in order, without repeats.
    pub weights: Vec<i32>,
    pub failed_checks: i32,
    pub threshold: i32,
    /// The analysis history when the release ended.
    pub history: Vec<AnalysisRecord>,
    pub took: Duration,
}

impl Outcome {
    pub fn as_expected(&self) -> bool {
        self.end == Some(self.expect.phase())
    }

    /// Records the weights as they change.
    pub fn saw_weight(&mut self, weight: i32) {
        if self.weights.last() != Some(&weight) {
            self.weights.push(weight);
        }
    }
}

fn weights_text(weights: &[i32]) -> String {
    let steps: Vec<String> = weights
        .iter()
        .filter(|w| **w > 0)
        .map(|w| format!("{w}%"))
        .collect();
    if steps.is_empty() {
        "no traffic shifted".to_string()
    } else {
        steps.join(" → ")
    }
}

/// The summary block: one paragraph per release and a closing verdict line.
pub fn summary(style: Style, outcomes: &[Outcome], total: Duration) -> Vec<String> {
    let mut lines = vec![style.bold("Summary")];
    for (i, o) in outcomes.iter().enumerate() {
        let what = match o.end {
            Some(CanaryPhase::Succeeded) => style.green("promoted"),
            Some(CanaryPhase::Failed) => style.red("rolled back"),
            Some(other) => format!("stopped in phase {other}"),
            None => "did not finish in time".to_string(),
        };
        let verdict = if o.as_expected() {
            style.green("as expected")
        } else {
            style.red(&format!(
                "WRONG: it should have been {}",
                o.expect.describe()
            ))
        };
        lines.push(format!(
            "  release {}: {} {what} after {:.1}s ({verdict})",
            i + 1,
            o.image,
            o.took.as_secs_f64()
        ));
        lines.push(format!(
            "    traffic: {}; failed checks {}/{}",
            weights_text(&o.weights),
            o.failed_checks,
            o.threshold
        ));
        let passed = o
            .history
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .count();
        let failing: Vec<&AnalysisRecord> = o
            .history
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .collect();
        if failing.is_empty() {
            lines.push(format!("    checks: {passed} passed, none failed"));
        } else {
            lines.push(format!(
                "    checks: {passed} passed, {} failed:",
                failing.len()
            ));
            for r in failing {
                let value = r
                    .value
                    .map(format_value)
                    .unwrap_or_else(|| "no data".to_string());
                let want = r.threshold.as_deref().unwrap_or("?");
                lines.push(format!("      {} = {value} (want {want})", r.name));
            }
        }
    }
    let all_good = !outcomes.is_empty() && outcomes.iter().all(Outcome::as_expected);
    lines.push(if all_good {
        style.green(&format!(
            "demo passed in {:.0}s: the healthy release was promoted and the faulty one rolled back",
            total.as_secs_f64()
        ))
    } else {
        style.red(&format!(
            "demo FAILED after {:.0}s: a release did not end as expected (see above)",
            total.as_secs_f64()
        ))
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_api::status::Time;

    const PLAIN: Style = Style { color: false };

    fn record(name: &str, value: Option<f64>, threshold: &str, verdict: Verdict) -> AnalysisRecord {
        AnalysisRecord {
            time: Time(jiff::Timestamp::from_second(1).unwrap()),
            kind: "metric".into(),
            name: name.into(),
            value,
            primary_value: None,
            threshold: Some(threshold.into()),
            verdict,
            message: None,
        }
    }

    fn outcome(expect: Expect, end: Option<CanaryPhase>, history: Vec<AnalysisRecord>) -> Outcome {
        Outcome {
            image: "podinfo:x".into(),
            expect,
            end,
            weights: vec![0, 20, 40, 60, 0],
            failed_checks: 0,
            threshold: 2,
            history,
            took: Duration::from_millis(12_340),
        }
    }

    #[test]
    fn summary_names_outcomes_and_failing_values() {
        let good = outcome(
            Expect::Promoted,
            Some(CanaryPhase::Succeeded),
            vec![record(
                "request-success-rate",
                Some(99.9),
                ">= 99",
                Verdict::Pass,
            )],
        );
        let mut bad = outcome(
            Expect::RolledBack,
            Some(CanaryPhase::Failed),
            vec![
                record("request-success-rate", Some(70.0), ">= 99", Verdict::Fail),
                record("latency-p99", Some(240.0), "<= 500", Verdict::Pass),
            ],
        );
        bad.weights = vec![0, 20, 0];
        bad.failed_checks = 2;
        let lines = summary(PLAIN, &[good, bad], Duration::from_secs(61));
        let text = lines.join("\n");
        assert!(
            text.contains("release 1: podinfo:x promoted after 12.3s (as expected)"),
            "{text}"
        );
        assert!(
            text.contains("traffic: 20% → 40% → 60%; failed checks 0/2"),
            "{text}"
        );
        assert!(text.contains("checks: 1 passed, none failed"), "{text}");
        assert!(
            text.contains("release 2: podinfo:x rolled back after 12.3s (as expected)"),
            "{text}"
        );
        assert!(text.contains("traffic: 20%; failed checks 2/2"), "{text}");
        assert!(
            text.contains("request-success-rate = 70.00 (want >= 99)"),
            "{text}"
        );
        assert_eq!(
            lines.last().unwrap(),
            "demo passed in 61s: the healthy release was promoted and the faulty one rolled back"
        );
    }

    #[test]
    fn summary_fails_on_a_wrong_or_missing_outcome() {
        for end in [
            Some(CanaryPhase::Failed),
            None,
            Some(CanaryPhase::Progressing),
        ] {
            let o = outcome(Expect::Promoted, end, vec![]);
            assert!(!o.as_expected());
            let lines = summary(PLAIN, &[o], Duration::from_secs(5));
            let text = lines.join("\n");
            assert!(
                text.contains("WRONG: it should have been promoted"),
                "{text}"
            );
            assert!(lines.last().unwrap().starts_with("demo FAILED"), "{text}");
        }
        assert!(
            summary(PLAIN, &[], Duration::ZERO)
                .last()
                .unwrap()
                .starts_with("demo FAILED")
        );
    }
}
