//! What `fledge demo` prints while a release runs: one line per change (phase and weight bar,
//! route weights, each new analysis record, each new Event). Pure: it turns Canary
//! statuses and Events into text and never talks to a cluster, so every line is table-tested.
//! Lines must read well in a CI log, so there is no cursor movement; colour only on request.

use fledge_api::{AnalysisRecord, CanaryPhase, CanaryStatus, Verdict};
use std::collections::{BTreeMap, BTreeSet};

/// ANSI colours, or none (CI logs, pipes, `NO_COLOR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// `[##........]  20%`: one `#` per 10% of canary traffic.
pub fn weight_bar(weight: i32) -> String {
    let weight = weight.clamp(0, 100);
    let filled = (weight / 10) as usize;
    format!(
        "[{}{}] {weight:>3}%",
        "#".repeat(filled),
        ".".repeat(10 - filled)
    )
}

/// A metric value as people read it: two decimals, no trailing noise.
pub fn format_value(value: f64) -> String {
    format!("{value:.2}")
}

/// One Event as the demo shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventView {
    /// Unique per Event object; with `count` it tells a repeat from a new one.
    pub name: String,
    pub count: i32,
    pub type_: String,
    pub reason: String,
    pub message: String,
}

/// Remembers what was already printed, so each change is printed once. Analysis records are
/// keyed by time and name, so the previous release's history, which stays on the status until
/// the controller starts the next revision, is not printed again.
#[derive(Debug, Default)]
pub struct Tracker {
    last_state: Option<(Option<CanaryPhase>, i32, i32)>,
    seen_records: BTreeSet<(String, String, String)>,
    seen_events: BTreeMap<String, i32>,
    last_route: Option<String>,
}

impl Tracker {
    /// Lines for what changed in the status since the last call: the phase/weight line when
    /// phase, weight or failed checks changed, then one line per new analysis record.
    pub fn status(&mut self, style: Style, status: &CanaryStatus, threshold: i32) -> Vec<String> {
        let mut lines = Vec::new();
        let state = (status.phase, status.canary_weight, status.failed_checks);
        if self.last_state != Some(state) {
            self.last_state = Some(state);
            lines.push(phase_line(style, status, threshold));
        }
        for record in &status.analysis_history {
            let key = (
                record.time.0.to_string(),
                record.kind.clone(),
                record.name.clone(),
            );
            if self.seen_records.insert(key) {
                lines.push(check_line(style, record));
            }
        }
        lines
    }

    /// The route line when the HTTPRoute's backends or weights changed.
    pub fn route(&mut self, route: &serde_json::Value) -> Option<String> {
        let line = route_line(route)?;
        if self.last_route.as_deref() == Some(line.as_str()) {
            return None;
        }
        self.last_route = Some(line.clone());
        Some(line)
    }

    /// Lines for Events not printed yet (a repeat of an aggregated Event counts as new).
    pub fn events(&mut self, style: Style, events: &[EventView]) -> Vec<String> {
        let mut lines = Vec::new();
        for event in events {
            if self.seen_events.get(&event.name) != Some(&event.count) {
                self.seen_events.insert(event.name.clone(), event.count);
                lines.push(event_line(style, event));
            }
        }
        lines
    }
}

fn phase_name(phase: Option<CanaryPhase>) -> &'static str {
    phase.map(CanaryPhase::as_str).unwrap_or("(no status yet)")
}

/// `phase   Progressing      [##........]  20%  failed checks 0/2`
pub fn phase_line(style: Style, status: &CanaryStatus, threshold: i32) -> String {
    let name = format!("{:<16}", phase_name(status.phase));
    let name = match status.phase {
        Some(CanaryPhase::Succeeded | CanaryPhase::Initialized) => style.green(&name),
        Some(CanaryPhase::Failed) => style.red(&name),
        _ => style.bold(&name),
    };
    // No status message here: the controller publishes the same sentence as an Event, which
    // is printed on its own line.
    format!(
        "phase   {name} {}  failed checks {}/{threshold}",
        weight_bar(status.canary_weight),
        status.failed_checks
    )
}

/// `check   request-success-rate      70.00  want >= 99   Fail`
pub fn check_line(style: Style, record: &AnalysisRecord) -> String {
    let value = record
        .value
        .map(format_value)
        .unwrap_or_else(|| "no data".to_string());
    let threshold = record
        .threshold
        .as_deref()
        .map(|t| format!("want {t}"))
        .unwrap_or_default();
    let verdict = match record.verdict {
        Verdict::Pass => style.green("Pass"),
        Verdict::Fail => style.red("Fail"),
        Verdict::Skipped => style.yellow("Skipped"),
        Verdict::Inconclusive => style.yellow("Inconclusive"),
    };
    let mut line = format!(
        "check   {:<24} {value:>8}  {threshold:<12} {verdict}",
        record.name
    );
    if record.verdict != Verdict::Pass
        && let Some(message) = record.message.as_deref().filter(|m| !m.is_empty())
    {
        line.push_str(&style.dim(&format!("  ({message})")));
    }
    line
}

/// `route   podinfo-primary 80  podinfo-canary 20`: the backends of the HTTPRoute's first rule
/// with their weights (Gateway API's default weight is 1), as the controller wrote them and the
/// simulated gateway splits traffic. `None` for a route without backends.
pub fn route_line(route: &serde_json::Value) -> Option<String> {
    let refs = route["spec"]["rules"][0]["backendRefs"].as_array()?;
    let parts: Vec<String> = refs
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["name"].as_str().unwrap_or("?"),
                r["weight"].as_i64().unwrap_or(1)
            )
        })
        .collect();
    (!parts.is_empty()).then(|| format!("route   {}", parts.join("  ")))
}

/// `event   Normal   Advance podinfo.demo canary weight 20`
pub fn event_line(style: Style, event: &EventView) -> String {
    let kind = format!("{:<8}", event.type_);
    let kind = if event.type_ == "Warning" {
        style.yellow(&kind)
    } else {
        style.dim(&kind)
    };
    let repeat = if event.count > 1 {
        style.dim(&format!(" (x{})", event.count))
    } else {
        String::new()
    };
    format!("event   {kind} {}{repeat}", event.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_api::status::Time;

    const PLAIN: Style = Style { color: false };

    fn record(
        name: &str,
        value: Option<f64>,
        threshold: &str,
        verdict: Verdict,
        at: i64,
    ) -> AnalysisRecord {
        AnalysisRecord {
            time: Time(jiff::Timestamp::from_second(at).unwrap()),
            kind: "metric".into(),
            name: name.into(),
            value,
            primary_value: None,
            threshold: Some(threshold.into()),
            verdict,
            message: None,
        }
    }

    fn status(
        phase: CanaryPhase,
        weight: i32,
        failed: i32,
        history: Vec<AnalysisRecord>,
    ) -> CanaryStatus {
        CanaryStatus {
            phase: Some(phase),
            canary_weight: weight,
            failed_checks: failed,
            analysis_history: history,
            ..CanaryStatus::default()
        }
    }

    #[test]
    fn weight_bars() {
        for (weight, want) in [
            (0, "[..........]   0%"),
            (20, "[##........]  20%"),
            (55, "[#####.....]  55%"),
            (100, "[##########] 100%"),
            (150, "[##########] 100%"),
            (-5, "[..........]   0%"),
        ] {
            assert_eq!(weight_bar(weight), want, "weight {weight}");
        }
    }

    #[test]
    fn check_lines_show_value_threshold_and_verdict() {
        let cases = [
            (
                record(
                    "request-success-rate",
                    Some(70.0),
                    ">= 99",
                    Verdict::Fail,
                    1,
                ),
                "check   request-success-rate        70.00  want >= 99   Fail",
            ),
            (
                record("latency-p99", Some(48.123), "<= 500", Verdict::Pass, 1),
                "check   latency-p99                 48.12  want <= 500  Pass",
            ),
            (
                record("latency-p99", None, "<= 500", Verdict::Skipped, 1),
                "check   latency-p99               no data  want <= 500  Skipped",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(check_line(PLAIN, &r), want);
        }
        let mut with_message = record("x", None, "<= 1", Verdict::Fail, 1);
        with_message.message = Some("query failed".into());
        assert!(check_line(PLAIN, &with_message).ends_with("Fail  (query failed)"));
    }

    #[test]
    fn colour_only_when_asked() {
        let r = record("x", Some(1.0), "<= 1", Verdict::Pass, 1);
        assert!(!check_line(PLAIN, &r).contains('\x1b'));
        assert!(check_line(Style { color: true }, &r).contains("\x1b[32mPass\x1b[0m"));
    }

    #[test]
    fn tracker_prints_each_change_once() {
        let mut t = Tracker::default();
        let first = status(CanaryPhase::Progressing, 20, 0, vec![]);
        assert_eq!(
            t.status(PLAIN, &first, 2),
            vec!["phase   Progressing      [##........]  20%  failed checks 0/2"]
        );
        assert!(
            t.status(PLAIN, &first, 2).is_empty(),
            "unchanged status prints nothing"
        );

        let r1 = record(
            "request-success-rate",
            Some(70.0),
            ">= 99",
            Verdict::Fail,
            10,
        );
        let failed_once = status(CanaryPhase::Progressing, 20, 1, vec![r1.clone()]);
        let lines = t.status(PLAIN, &failed_once, 2);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("failed checks 1/2"));
        assert!(lines[1].contains("70.00"));

        let r2 = record(
            "request-success-rate",
            Some(71.0),
            ">= 99",
            Verdict::Fail,
            12,
        );
        let failed_twice = status(CanaryPhase::Progressing, 20, 1, vec![r1, r2]);
        let lines = t.status(PLAIN, &failed_twice, 2);
        assert_eq!(
            lines,
            vec![check_line(PLAIN, &failed_twice.analysis_history[1])]
        );
    }

    #[test]
    fn tracker_prints_new_events_and_repeats() {
        let mut t = Tracker::default();
        let ev = |name: &str, count: i32, message: &str| EventView {
            name: name.into(),
            count,
            type_: "Normal".into(),
            reason: "Synced".into(),
            message: message.into(),
        };
        let a = ev(
            "podinfo.1",
            1,
            "New revision detected! Scaling up podinfo.demo",
        );
        assert_eq!(
            t.events(PLAIN, std::slice::from_ref(&a)),
            vec!["event   Normal   New revision detected! Scaling up podinfo.demo"]
        );
        assert!(t.events(PLAIN, std::slice::from_ref(&a)).is_empty());
        let again = ev(
            "podinfo.1",
            2,
            "New revision detected! Scaling up podinfo.demo",
        );
        let b = ev("podinfo.2", 1, "Advance podinfo.demo canary weight 20");
        assert_eq!(
            t.events(PLAIN, &[again, b]),
            vec![
                "event   Normal   New revision detected! Scaling up podinfo.demo (x2)",
                "event   Normal   Advance podinfo.demo canary weight 20",
            ]
        );
    }

    #[test]
    fn route_lines_follow_the_backend_weights() {
        let route = |refs: serde_json::Value| serde_json::json!({"spec": {"rules": [{"backendRefs": refs}]}});
        let before = route(serde_json::json!([{"name": "podinfo", "port": 9898}]));
        let split = route(serde_json::json!([
            {"name": "podinfo-primary", "port": 9898, "weight": 80},
            {"name": "podinfo-canary", "port": 9898, "weight": 20},
        ]));
        assert_eq!(route_line(&before).as_deref(), Some("route   podinfo 1"));
        assert_eq!(
            route_line(&split).as_deref(),
            Some("route   podinfo-primary 80  podinfo-canary 20")
        );
        assert_eq!(route_line(&route(serde_json::json!([]))), None);
        assert_eq!(route_line(&serde_json::json!({})), None);

        let mut t = Tracker::default();
        assert!(t.route(&split).is_some());
        assert_eq!(t.route(&split), None, "unchanged route prints nothing");
        assert!(t.route(&before).is_some());
    }
}
