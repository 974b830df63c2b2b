//! The results of a bench run, the targets judged against them, and the Markdown that
//! goes to `docs/benchmarks.md`. Pure: rendering and judging never measure anything.

use serde::Serialize;

use crate::counts::Delta;

/// A window of wall time: what the controller cost while it lasted.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Window {
    pub secs: f64,
    /// Controller CPU, percent of one core.
    pub cpu_pct: f64,
    /// Requests other than watch starts, per second.
    pub requests_per_sec: f64,
}

/// The controller on a cluster without canaries.
#[derive(Clone, Debug, Serialize)]
pub struct Empty {
    pub rss_mib: f64,
    pub idle: Window,
    pub idle_requests: Delta,
}

/// One run at `n` canaries.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub n: usize,
    pub create_secs: f64,
    /// Time to every canary Initialized, or the timeout when some were not.
    pub init_secs: f64,
    /// Canaries Initialized when initialization was done or timed out.
    pub initialized: usize,
    pub init_cpu_secs: f64,
    /// The sim's CPU while the controller initialized: who was the bottleneck.
    pub sim_init_cpu_secs: f64,
    pub sim_rss_mib: f64,
    pub rss_initialized_mib: f64,
    pub rss_end_mib: f64,
    pub rss_peak_mib: f64,
    pub total_cpu_secs: f64,
    pub idle: Window,
    pub idle_requests: Delta,
    pub released: usize,
    pub detection_ms: Vec<f64>,
    pub detection_p50_ms: f64,
    pub detection_p99_ms: f64,
    pub steps_window: Window,
    pub steps: u64,
    pub step_requests: Delta,
    pub succeeded: usize,
    pub release_secs: f64,
    pub release_requests: Delta,
    pub objects_stored: usize,
    pub watches_open: i64,
}

impl Run {
    pub fn writes_per_step(&self) -> Option<f64> {
        (self.steps > 0).then(|| self.step_requests.writes as f64 / self.steps as f64)
    }

    pub fn reads_per_step(&self) -> Option<f64> {
        (self.steps > 0).then(|| self.step_requests.reads as f64 / self.steps as f64)
    }
}

/// How the runs were made, for the report's header.
#[derive(Clone, Debug, Serialize)]
pub struct Setup {
    pub date: String,
    pub nproc: usize,
    pub memory_gib: f64,
    pub cpu: String,
    pub interval_secs: u64,
    pub iterations: u32,
    pub samples: usize,
    pub spacing_ms: u64,
    pub idle_window_secs: f64,
    pub steps_window_secs: f64,
}

/// One target of the issue, judged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: bool,
    /// How far off a missed target is ("" when met).
    pub by: String,
}

/// Idle traffic below this counts as "~0 requests/s" (one request every 10 s).
pub const IDLE_RPS_LIMIT: f64 = 0.1;

/// The run a target "at 1,000 canaries" is judged on: N = 1,000, else the largest N.
fn at_thousand(runs: &[Run]) -> Option<&Run> {
    runs.iter()
        .find(|r| r.n == 1000)
        .or_else(|| runs.iter().max_by_key(|r| r.n))
}

fn upper(target: &str, measured: f64, limit: f64, unit: &str) -> Verdict {
    let met = measured <= limit;
    let by = if met {
        String::new()
    } else if limit > 0.0 {
        format!(
            "+{:.2} {unit} ({:.1}x the target)",
            measured - limit,
            measured / limit
        )
    } else {
        format!("+{measured:.2} {unit}")
    };
    Verdict {
        target: target.to_string(),
        measured: format!("{measured:.2} {unit}"),
        met,
        by,
    }
}

/// Every target the issue sets, judged on these runs.
pub fn judge(runs: &[Run], empty: Option<&Empty>) -> Vec<Verdict> {
    let mut out = Vec::new();
    if let Some(r) = at_thousand(runs) {
        out.push(upper(
            &format!("p99 detection <= 1 s at N = {}", r.n),
            r.detection_p99_ms / 1000.0,
            1.0,
            "s",
        ));
        out.push(upper(
            &format!("RSS <= 150 MiB at N = {} (peak)", r.n),
            r.rss_peak_mib,
            150.0,
            "MiB",
        ));
    }
    for r in runs {
        match (r.writes_per_step(), r.reads_per_step()) {
            (Some(w), Some(rd)) => {
                out.push(upper(
                    &format!("writes per canary per step <= 3 (N = {})", r.n),
                    w,
                    3.0,
                    "writes",
                ));
                out.push(upper(
                    &format!("reads per canary per step = 0 (N = {})", r.n),
                    rd,
                    0.0,
                    "reads",
                ));
            }
            _ => out.push(Verdict {
                target: format!("requests per canary per step (N = {})", r.n),
                measured: "no step completed in the window".to_string(),
                met: false,
                by: "not measurable".to_string(),
            }),
        }
        out.push(upper(
            &format!("~0 requests/s idle beyond watches (N = {})", r.n),
            r.idle.requests_per_sec,
            IDLE_RPS_LIMIT,
            "req/s",
        ));
    }
    for r in runs.iter().filter(|r| r.initialized < r.n) {
        out.push(Verdict {
            target: format!("every canary Initialized (N = {})", r.n),
            measured: format!("{} of {} after {:.0} s", r.initialized, r.n, r.init_secs),
            met: false,
            by: format!("{} canaries", r.n - r.initialized),
        });
    }
    if let Some(e) = empty {
        out.push(upper(
            "RSS <= 30 MiB idle with no canaries",
            e.rss_mib,
            30.0,
            "MiB",
        ));
        out.push(upper(
            "~0 requests/s idle with no canaries",
            e.idle.requests_per_sec,
            IDLE_RPS_LIMIT,
            "req/s",
        ));
    }
    out
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
}

fn top(d: &Delta, n: usize) -> String {
    let t = d.top(n);
    if t.is_empty() {
        return "none".to_string();
    }
    t.iter()
        .map(|(k, v)| format!("`{k}` {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The generated part of `docs/benchmarks.md`.
pub fn markdown(
    setup: &Setup,
    runs: &[Run],
    empty: Option<&Empty>,
    sim_section: Option<&str>,
) -> String {
    let mut s = String::new();
    let push = |s: &mut String, line: &str| {
        s.push_str(line);
        s.push('\n');
    };
    push(&mut s, "## Results\n");
    push(
        &mut s,
        &format!(
            "Generated by `make bench` on {}: {} CPUs ({}), {:.1} GiB memory.",
            setup.date, setup.nproc, setup.cpu, setup.memory_gib
        ),
    );
    push(
        &mut s,
        &format!(
            "Canaries: blue/green, kubernetes provider, no metrics, `interval: {}s`, `iterations: {}`; controller `--min-interval 1s`. \
             {} canaries released per N (all of them when N is smaller), one every {} ms. Idle window {:.0} s, step window {:.0} s.\n",
            setup.interval_secs,
            setup.iterations,
            setup.samples,
            setup.spacing_ms,
            setup.idle_window_secs,
            setup.steps_window_secs
        ),
    );
    let header = |label: &str| {
        format!(
            "| {label} | {} |",
            runs.iter()
                .map(|r| format!("N = {}", r.n))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    push(&mut s, &header("measure"));
    push(&mut s, &format!("|---|{}", "---|".repeat(runs.len())));
    let row = |s: &mut String, label: &str, f: &dyn Fn(&Run) -> String| {
        push(
            s,
            &format!(
                "| {label} | {} |",
                runs.iter().map(f).collect::<Vec<_>>().join(" | ")
            ),
        );
    };
    row(
        &mut s,
        "creating the Deployments and Canaries (bench client)",
        &|r| format!("{:.1} s", r.create_secs),
    );
    row(
        &mut s,
        "controller start to every canary Initialized",
        &|r| {
            if r.initialized == r.n {
                format!("{:.1} s", r.init_secs)
            } else {
                format!(
                    "**not reached**: {} of {} after {:.0} s",
                    r.initialized, r.n, r.init_secs
                )
            }
        },
    );
    row(&mut s, "CPU until then: controller / sim", &|r| {
        format!("{:.1} s / {:.1} s", r.init_cpu_secs, r.sim_init_cpu_secs)
    });
    row(
        &mut s,
        "detection (update to Progressing), p50 / p99 / max",
        &|r| {
            let max = r.detection_ms.iter().copied().fold(0.0, f64::max);
            format!(
                "{:.0} / {:.0} / {max:.0} ms",
                r.detection_p50_ms, r.detection_p99_ms
            )
        },
    );
    row(&mut s, "released canaries detected / promoted", &|r| {
        format!(
            "{} / {} of {}",
            r.detection_ms.len(),
            r.succeeded,
            r.released
        )
    });
    row(&mut s, "analysis steps counted in the step window", &|r| {
        r.steps.to_string()
    });
    row(&mut s, "writes per canary per step", &|r| {
        opt(r.writes_per_step())
    });
    row(&mut s, "reads per canary per step", &|r| {
        opt(r.reads_per_step())
    });
    row(
        &mut s,
        "requests per release (detection to promotion), reads / writes",
        &|r| {
            let n = r.released.max(1) as f64;
            format!(
                "{:.1} / {:.1}",
                r.release_requests.reads as f64 / n,
                r.release_requests.writes as f64 / n
            )
        },
    );
    row(
        &mut s,
        "idle: requests/s beyond watches (watch starts in window)",
        &|r| {
            format!(
                "{:.2} ({})",
                r.idle.requests_per_sec, r.idle_requests.watches
            )
        },
    );
    row(&mut s, "idle: controller CPU", &|r| {
        format!("{:.1} %", r.idle.cpu_pct)
    });
    row(&mut s, "during steps: controller CPU", &|r| {
        format!("{:.1} %", r.steps_window.cpu_pct)
    });
    row(
        &mut s,
        "controller RSS: all Initialized / end / peak",
        &|r| {
            format!(
                "{:.0} / {:.0} / {:.0} MiB",
                r.rss_initialized_mib, r.rss_end_mib, r.rss_peak_mib
            )
        },
    );
    row(
        &mut s,
        "objects in the sim / watches open (incl. the bench's 1) / sim RSS",
        &|r| {
            format!(
                "{} / {} / {:.0} MiB",
                r.objects_stored, r.watches_open, r.sim_rss_mib
            )
        },
    );
    push(&mut s, "");
    if let Some(e) = empty {
        push(
            &mut s,
            &format!(
                "No canaries: controller RSS {:.1} MiB, {:.2} requests/s beyond watches, {:.1} % CPU over {:.0} s.\n",
                e.rss_mib, e.idle.requests_per_sec, e.idle.cpu_pct, e.idle.secs
            ),
        );
    }
    push(&mut s, "### Targets\n");
    push(
        &mut s,
        "| target | measured | met | missed by |\n|---|---|---|---|",
    );
    for v in judge(runs, empty) {
        push(
            &mut s,
            &format!(
                "| {} | {} | {} | {} |",
                v.target,
                v.measured,
                if v.met { "yes" } else { "**no**" },
                v.by
            ),
        );
    }
    push(&mut s, "");
    push(&mut s, "### Which requests\n");
    for r in runs {
        push(
            &mut s,
            &format!(
                "- N = {}, step window ({} steps): {}",
                r.n,
                r.steps,
                top(&r.step_requests, 8)
            ),
        );
        push(
            &mut s,
            &format!(
                "- N = {}, one release each for {} canaries: {}",
                r.n,
                r.released,
                top(&r.release_requests, 8)
            ),
        );
        push(
            &mut s,
            &format!("- N = {}, idle window: {}", r.n, top(&r.idle_requests, 8)),
        );
    }
    push(&mut s, "");
    if let Some(sim) = sim_section {
        s.push_str(sim.trim_end());
        s.push('\n');
    }
    s
}

/// Where the generated part starts in `docs/benchmarks.md`; text above it is kept.
pub const MARKER: &str =
    "<!-- Everything below is generated by `make bench`; edit the text above. -->";

/// `existing` with everything after the marker replaced by `generated` (the marker is added at
/// the end when missing).
pub fn splice(existing: &str, generated: &str) -> String {
    let head = match existing.find(MARKER) {
        Some(i) => &existing[..i],
        None => existing,
    };
    let head = head.trim_end();
    let sep = if head.is_empty() { "" } else { "\n\n" };
    format!("{head}{sep}{MARKER}\n\n{generated}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: usize) -> Run {
        Run {
            n,
            create_secs: 1.0,
            init_secs: 2.0,
            initialized: n,
            init_cpu_secs: 0.5,
            sim_init_cpu_secs: 1.0,
            sim_rss_mib: 50.0,
            rss_initialized_mib: 40.0,
            rss_end_mib: 41.0,
            rss_peak_mib: 42.0,
            total_cpu_secs: 3.0,
            idle: Window {
                secs: 20.0,
                cpu_pct: 0.1,
                requests_per_sec: 0.0,
            },
            idle_requests: Delta::default(),
            released: 10,
            detection_ms: vec![10.0, 20.0],
            detection_p50_ms: 10.0,
            detection_p99_ms: 20.0,
            steps_window: Window::default(),
            steps: 20,
            step_requests: Delta {
                writes: 40,
                ..Delta::default()
            },
            succeeded: 10,
            release_secs: 30.0,
            release_requests: Delta::default(),
            objects_stored: 100,
            watches_open: 7,
        }
    }

    #[test]
    fn targets_met_and_missed_say_by_how_much() {
        let mut slow = run(1000);
        slow.detection_p99_ms = 2500.0;
        slow.rss_peak_mib = 100.0;
        slow.step_requests = Delta {
            writes: 80,
            reads: 10,
            ..Delta::default()
        };
        let empty = Empty {
            rss_mib: 12.0,
            idle: Window::default(),
            idle_requests: Delta::default(),
        };
        let verdicts = judge(&[run(100), slow], Some(&empty));
        let find = |t: &str| {
            verdicts
                .iter()
                .find(|v| v.target.starts_with(t))
                .cloned()
                .unwrap_or_else(|| panic!("{t} in {verdicts:?}"))
        };
        let det = find("p99 detection");
        assert!(!det.met);
        assert_eq!(det.target, "p99 detection <= 1 s at N = 1000");
        assert_eq!(det.by, "+1.50 s (2.5x the target)");
        assert!(find("RSS <= 150").met);
        assert!(find("writes per canary per step <= 3 (N = 100)").met);
        let w = find("writes per canary per step <= 3 (N = 1000)");
        assert_eq!((w.met, w.measured.as_str()), (false, "4.00 writes"));
        let r = find("reads per canary per step = 0 (N = 1000)");
        assert_eq!((r.met, r.by.as_str()), (false, "+0.50 reads"));
        assert!(find("RSS <= 30 MiB").met);
    }

    #[test]
    fn without_steps_the_per_step_target_is_reported_unmeasurable() {
        let mut r = run(5);
        r.steps = 0;
        let v = judge(&[r], None);
        assert!(
            v.iter()
                .any(|v| v.measured == "no step completed in the window" && !v.met)
        );
        // Judged on the largest N when 1,000 was not run.
        assert!(
            v.iter()
                .any(|v| v.target == "p99 detection <= 1 s at N = 5")
        );
    }

    #[test]
    fn markdown_has_a_column_per_n_and_the_sim_section() {
        let setup = Setup {
            date: "2026-01-01T00:00:00Z".into(),
            nproc: 2,
            memory_gib: 23.5,
            cpu: "test cpu".into(),
            interval_secs: 5,
            iterations: 8,
            samples: 50,
            spacing_ms: 100,
            idle_window_secs: 20.0,
            steps_window_secs: 20.0,
        };
        let md = markdown(
            &setup,
            &[run(100), run(1000)],
            None,
            Some("## Simulated API server\n\n| a | b |\n"),
        );
        assert!(md.contains("| measure | N = 100 | N = 1000 |"), "{md}");
        assert!(
            md.contains("| writes per canary per step | 2.00 | 2.00 |"),
            "{md}"
        );
        assert!(md.contains("## Simulated API server"));
        assert!(md.contains("2 CPUs (test cpu), 23.5 GiB"));
    }

    #[test]
    fn splice_keeps_the_hand_written_part() {
        let doc = format!(
            "# Benchmarks\n\nWhy the numbers are what they are.\n\n{MARKER}\n\nold results\n"
        );
        let out = splice(&doc, "new results\n");
        assert!(out.starts_with("# Benchmarks\n\nWhy the numbers"));
        assert!(out.ends_with(&format!("{MARKER}\n\nnew results\n")));
        assert!(!out.contains("old results"));
        assert_eq!(splice("", "r\n"), format!("{MARKER}\n\nr\n"));
    }
}
