//! `get`'s text: a header and a tree of metrics, webhooks, generated objects and Events, drawn
//! from a [`Detail`]. Colour only when asked (a terminal); otherwise plain text for pipes.

use std::fmt::Write as _;

use fledge_api::{AnalysisRecord, CanaryPhase, CanaryStatus, Verdict};

use crate::view::{Detail, Summary};

const BAR_WIDTH: usize = 20;
/// Recent values shown per metric.
const RECENT: usize = 5;

struct Paint {
    colour: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
}

/// The status symbol: ✔ done, ✖ failed, ॥ held, ◌ under way.
pub fn symbol(s: &Summary) -> &'static str {
    match s.phase {
        _ if s.paused || s.suspended => "॥",
        Some(CanaryPhase::Succeeded | CanaryPhase::Initialized) => "✔",
        Some(CanaryPhase::Failed) => "✖",
        _ => "◌",
    }
}

pub fn bar(weight: i32) -> String {
    let filled = usize::try_from(weight.clamp(0, 100)).unwrap_or(0) * BAR_WIDTH / 100;
    format!("[{}{}]", "█".repeat(filled), "░".repeat(BAR_WIDTH - filled))
}

pub fn duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn render(d: &Detail, colour: bool) -> String {
    let p = Paint { colour };
    let s = &d.summary;
    let status: CanaryStatus =
        serde_json::from_value(d.canary["status"].clone()).unwrap_or_default();
    let mut out = String::new();
    let phase = s
        .phase
        .map(|p| p.to_string())
        .unwrap_or_else(|| "Pending".into());
    let sym = symbol(s);
    let sym = match s.phase {
        _ if sym == "॥" => p.yellow(sym),
        Some(CanaryPhase::Failed) => p.red(sym),
        _ if sym == "✔" => p.green(sym),
        _ => p.yellow(sym),
    };
    let held = if s.suspended {
        " (suspended)"
    } else if s.paused {
        " (paused)"
    } else {
        ""
    };
    let _ = writeln!(out, "{} {}", p.bold("Name:"), s.name);
    let _ = writeln!(out, "{} {}", p.bold("Namespace:"), s.namespace);
    let _ = writeln!(out, "{} {sym} {phase}{held}", p.bold("Status:"));
    let progress = match (s.max_weight, s.total_iterations) {
        (Some(max), _) => format!(
            "step {} of {}  weight {}% of {max}%  {}",
            s.step.unwrap_or(0),
            s.total_steps.unwrap_or(0),
            s.canary_weight,
            bar(s.canary_weight)
        ),
        (None, Some(total)) => format!("iteration {}/{total}", s.iterations),
        _ => String::new(),
    };
    let _ = writeln!(out, "{} {}  {progress}", p.bold("Strategy:"), s.strategy);
    let failed = format!("{}/{}", s.failed_checks, s.threshold);
    let failed = if s.failed_checks > 0 {
        p.red(&failed)
    } else {
        failed
    };
    let _ = writeln!(out, "{} {failed}", p.bold("Failed checks:"));
    let revision = status.last_applied_spec.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {} {}",
        p.bold("Revision:"),
        s.images.join(", "),
        revision.get(..10).unwrap_or(&revision)
    );
    let time = if d.plan.from_now {
        format!(
            "{} in this release, about {} left if every check passes",
            duration(u64::try_from(s.age_seconds).unwrap_or(0)),
            duration(d.plan.min_duration_seconds)
        )
    } else {
        format!(
            "a new revision would take about {}",
            duration(d.plan.min_duration_seconds)
        )
    };
    let _ = writeln!(out, "{} {time}", p.bold("Time:"));
    if let Some(message) = &s.message {
        let _ = writeln!(out, "{} {message}", p.bold("Message:"));
    }

    let mut metrics = Vec::new();
    let name_width = d.metrics.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for band in &d.metrics {
        let mine: Vec<&AnalysisRecord> = status
            .analysis_history
            .iter()
            .filter(|r| r.kind == "metric" && r.name == band.name)
            .collect();
        let from_steps: Vec<Option<f64>> = status
            .steps
            .iter()
            .filter(|st| Some(&st.revision) == status.last_applied_spec.as_ref())
            .flat_map(|st| st.checks.iter().filter(|c| c.name == band.name))
            .map(|c| c.value)
            .collect();
        let last = mine.last();
        let threshold = last
            .and_then(|r| r.threshold.clone())
            .unwrap_or_else(|| band_text(band.min, band.max));
        let mut value = last
            .and_then(|r| r.value)
            .map(number)
            .unwrap_or_else(|| "-".into());
        // comparePrimary: the primary's value for the same window, next to the canary's.
        if let Some(primary) = last.and_then(|r| r.primary_value) {
            value.push_str(&format!(" vs primary {}", number(primary)));
        }
        let verdict = last.map(|r| verdict(&p, r.verdict)).unwrap_or_default();
        let recent: Vec<String> = from_steps
            .iter()
            .rev()
            .take(RECENT)
            .rev()
            .map(|v| v.map(number).unwrap_or_else(|| "-".into()))
            .collect();
        metrics.push(format!(
            "{:<name_width$}  {value} ({threshold}) {verdict}  this release: {}",
            band.name,
            recent.join(" ")
        ));
    }
    section(&mut out, &p, "Metrics", &metrics);

    let webhooks: Vec<String> = status_webhooks(&d.canary)
        .into_iter()
        .map(|(name, kind)| {
            let last = status
                .analysis_history
                .iter()
                .rev()
                .find(|r| r.kind == "webhook" && r.name == name);
            let state = last
                .map(|r| verdict(&p, r.verdict))
                .unwrap_or_else(|| "not called yet".into());
            format!("{name} ({kind})  {state}")
        })
        .collect();
    section(&mut out, &p, "Webhooks and gates", &webhooks);

    let mut objects: Vec<String> = d
        .objects
        .iter()
        .map(|o| match (o.ready, o.desired) {
            (Some(ready), Some(desired)) => {
                let text = format!("{ready}/{desired} ready");
                let text = if ready < desired {
                    p.yellow(&text)
                } else {
                    text
                };
                format!("{} {}  {text}", o.kind, o.name)
            }
            _ => format!("{} {}", o.kind, o.name),
        })
        .collect();
    if let Some(route) = d.route {
        let mirrored = if route.mirrored { ", mirrored" } else { "" };
        objects.push(format!(
            "Route  primary {}% / canary {}%{mirrored}",
            route.primary, route.canary
        ));
    }
    section(&mut out, &p, "Objects", &objects);

    let events: Vec<String> = d
        .events
        .iter()
        .rev()
        .take(5)
        .map(|e| {
            let time = e.time.as_deref().and_then(|t| t.get(11..19)).unwrap_or("");
            let kind = if e.type_ == "Warning" {
                p.red("Warning")
            } else {
                e.type_.clone()
            };
            format!("{time} {kind} {}", e.message)
        })
        .collect();
    section(&mut out, &p, "Events (newest first)", &events);
    out
}

fn section(out: &mut String, p: &Paint, title: &str, lines: &[String]) {
    let _ = writeln!(out, "\n{}", p.bold(title));
    if lines.is_empty() {
        let _ = writeln!(out, "└── none");
    }
    for (i, line) in lines.iter().enumerate() {
        let branch = if i + 1 == lines.len() {
            "└──"
        } else {
            "├──"
        };
        let _ = writeln!(out, "{branch} {line}");
    }
}

fn verdict(p: &Paint, v: Verdict) -> String {
    match v {
        Verdict::Pass => p.green("✔ Pass"),
        Verdict::Fail => p.red("✖ Fail"),
        Verdict::Skipped => "Skipped".into(),
        Verdict::Inconclusive => p.yellow("Inconclusive"),
    }
}

/// At most two decimals, no trailing zeros.
pub fn number(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn band_text(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("{}..{}", number(min), number(max)),
        (Some(min), None) => format!(">= {}", number(min)),
        (None, Some(max)) => format!("<= {}", number(max)),
        (None, None) => "no threshold".into(),
    }
}

/// `(name, type)` of each webhook in the spec.
fn status_webhooks(canary: &serde_json::Value) -> Vec<(String, String)> {
    canary["spec"]["analysis"]["webhooks"]
        .as_array()
        .map(|hooks| {
            hooks
                .iter()
                .map(|h| {
                    (
                        h["name"].as_str().unwrap_or_default().to_string(),
                        h["type"].as_str().unwrap_or("rollout").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_durations_and_numbers() {
        assert_eq!(bar(0), format!("[{}]", "░".repeat(20)));
        assert_eq!(bar(50), format!("[{}{}]", "█".repeat(10), "░".repeat(10)));
        assert_eq!(bar(150), format!("[{}]", "█".repeat(20)));
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(61), "1m01s");
        assert_eq!(duration(3720), "1h02m");
        assert_eq!(number(99.5), "99.5");
        assert_eq!(number(100.0), "100");
        assert_eq!(band_text(Some(99.0), None), ">= 99");
    }

    #[test]
    fn plain_text_has_no_escape_codes_and_colour_has() {
        let p = Paint { colour: false };
        assert_eq!(p.red("x"), "x");
        let p = Paint { colour: true };
        assert_eq!(p.red("x"), "\x1b[31mx\x1b[0m");
    }
}
