//! `fledge plan`: explain what a Canary will do, step by step, when every check passes. The
//! schedule comes from `fledge_core::plan`, which drives the real state machine, so it can't
//! disagree with the controller. This module only reads the file, validates it with the
//! rules `fledge validate` and the controller use, and prints.
//!
//! Exit codes: 0 planned, 1 invalid (no Canary, or a Canary with errors), 2 unreadable.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fledge_api::validate::{Level, ValidateOptions, check_document};
use fledge_api::{Canary, Provider};
use fledge_core::{Config, Plan, PlanStep};
use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    /// The manifest file with the Canary (`-` for stdin). Other documents are ignored.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    file: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    output: Format,
    /// Routing provider for a Canary without `spec.provider` (the controller's
    /// `--mesh-provider`; `kubernetes` makes every release blue/green).
    #[arg(long, env = "FLEDGE_MESH_PROVIDER", default_value = "kubernetes", value_parser = parse_provider)]
    mesh_provider: Provider,
    /// Shortest analysis interval (the controller's `--min-interval`).
    #[arg(long, env = "FLEDGE_MIN_INTERVAL", default_value = "10s", value_parser = parse_interval)]
    min_interval: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

fn parse_provider(s: &str) -> Result<Provider, String> {
    Provider::ALL
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| {
            let all: Vec<_> = Provider::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown provider {s:?}; use one of {}", all.join(", "))
        })
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    fledge_api::parse_duration(s).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = if args.file.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        args.file.display().to_string()
    };
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(&args.file)
    };
    let text = match text {
        Ok(text) => text,
        Err(err) => {
            eprintln!("{name}: cannot read: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let docs: Vec<Value> = match serde_saphyr::from_multiple(&text) {
        Ok(docs) => docs,
        Err(err) => {
            eprintln!("{name}: not valid YAML: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let opts = ValidateOptions {
        min_interval: args.min_interval,
    };
    let config = Config {
        default_provider: args.mesh_provider,
        min_interval: args.min_interval,
    };
    let mut plans = Vec::new();
    let mut invalid = false;
    for (i, doc) in docs.iter().enumerate() {
        let Some(checked) = check_document(doc, &opts) else {
            continue;
        };
        if checked.kind != "Canary" {
            continue;
        }
        for problem in &checked.problems {
            let prefix = if problem.severity == Level::Warning {
                "warning: "
            } else {
                ""
            };
            eprintln!("{name}:{}: {prefix}{problem}", i + 1);
        }
        if !checked.is_valid() {
            invalid = true;
            continue;
        }
        // Flagger's apiVersion is accepted as is; the schema is the same.
        let mut doc = doc.clone();
        doc["apiVersion"] = Value::String(fledge_api::API_VERSION.into());
        match serde_json::from_value::<Canary>(doc) {
            Ok(canary) => plans.push((fledge_core::plan(&canary, &config), judged(&canary))),
            Err(err) => {
                eprintln!("{name}:{}: Canary {}: {err}", i + 1, checked.object);
                invalid = true;
            }
        }
    }
    if invalid {
        return Ok(ExitCode::from(1));
    }
    if plans.is_empty() {
        eprintln!(
            "{name}: no Canary found (kind Canary, apiVersion fledge.dev/v1beta1 or flagger.app/v1beta1)"
        );
        return Ok(ExitCode::from(1));
    }
    let out = match args.output {
        // One Canary: one object; several: an array, in file order.
        Format::Json => {
            let plans: Vec<&Plan> = plans.iter().map(|(plan, _)| plan).collect();
            let json = match plans.as_slice() {
                [one] => serde_json::to_string_pretty(one)?,
                many => serde_json::to_string_pretty(many)?,
            };
            json + "\n"
        }
        Format::Text => plans
            .iter()
            .map(|(plan, metrics)| render(plan, metrics))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    match std::io::stdout().write_all(out.as_bytes()) {
        // `fledge plan ... | head` is fine.
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Each metric's name and what it is judged against, as the analysis history will say it.
fn judged(canary: &Canary) -> Vec<(String, String)> {
    let metrics = canary.spec.analysis().map(|a| a.metrics.as_slice());
    metrics
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let criteria = fledge_metrics::Criteria::for_metric(m);
            let mut how = criteria.describe().unwrap_or_else(|| {
                "no threshold: every check fails until thresholdRange is set".into()
            });
            if let Some(min) = m.min_sample_count {
                let each = if m.compare_primary.is_some() {
                    " on each side"
                } else {
                    ""
                };
                how.push_str(&format!("; judged from {min} samples{each}"));
            }
            (m.name.clone(), how)
        })
        .collect()
}

fn render(plan: &Plan, metrics: &[(String, String)]) -> String {
    let mut out = String::new();
    let interval = human(plan.interval_seconds);
    let shape = match (plan.strategy, plan.max_weight, plan.iterations) {
        ("canary", Some(max), _) => format!("canary, weights up to {max}%"),
        (strategy, _, Some(n)) => format!("{strategy}, {n} iterations"),
        (strategy, _, _) => strategy.to_string(),
    };
    let mirroring = if plan.mirroring {
        ", with traffic mirroring"
    } else {
        ""
    };
    out.push_str(&format!(
        "Canary {}: {shape}{mirroring}; a step every {interval}; rollback after {} failed checks\n",
        plan.canary, plan.threshold
    ));
    if !plan.traffic_shifting {
        out.push_str("Provider kubernetes: no traffic shifting; the canary is tested through its -canary Service, then promoted.\n");
    }
    if plan.skip_analysis {
        out.push_str("skipAnalysis: promoted without checks as soon as the canary is ready.\n");
    }
    if plan.suspended {
        out.push_str("spec.suspend is true: nothing happens until it is unset.\n");
        return out;
    }
    out.push('\n');
    let with_iterations = plan.iterations.is_some();
    let rows: Vec<[String; 5]> = plan.steps.iter().map(|s| row(s, with_iterations)).collect();
    let header = [
        "OFFSET",
        "PHASE",
        "PRIMARY/CANARY",
        if with_iterations { "ITERATION" } else { "" },
        "CHECKS",
    ];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5], what: &str| {
        let mut s = String::from("  ");
        for (cell, w) in cells.iter().zip(widths) {
            if w > 0 {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.push_str(what);
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header, "WHAT HAPPENS"));
    for (r, step) in rows.iter().zip(&plan.steps) {
        out.push_str(&line(
            [&r[0], &r[1], &r[2], &r[3], &r[4]],
            &step.events.join("; "),
        ));
    }
    if !metrics.is_empty() {
        out.push_str("\nMetrics:\n");
        let width = metrics
            .iter()
            .map(|(name, _)| name.len())
            .max()
            .unwrap_or(0);
        for (name, how) in metrics {
            out.push_str(&format!("  {name:<width$}  {how}\n"));
        }
    }
    out.push('\n');
    out.push_str(&format!(
        "Shortest time to promotion: {} ({}s)\n",
        human(plan.min_duration_seconds),
        plan.min_duration_seconds
    ));
    out.push_str(&format!(
        "A failing release is rolled back {} ({}s) after its last passing step: threshold {} × interval {interval}\n",
        human(plan.rollback_after_seconds),
        plan.rollback_after_seconds,
        plan.threshold
    ));
    out
}

fn row(step: &PlanStep, with_iterations: bool) -> [String; 5] {
    let mut routes = format!("{}/{}", step.primary_weight, step.canary_weight);
    if step.mirrored {
        routes.push_str(" +mirror");
    }
    let mut checks: Vec<String> = step
        .checks
        .iter()
        .map(|c| format!("{} {}", c.kind, c.name))
        .collect();
    checks.extend(step.hooks.iter().map(|c| format!("{} {}", c.kind, c.name)));
    [
        format!("+{}", human(step.offset_seconds)),
        step.phase.to_string(),
        routes,
        match (with_iterations, step.iteration) {
            (true, Some(i)) => i.to_string(),
            _ => String::new(),
        },
        checks.join(", "),
    ]
}

/// `0s`, `45s`, `8m`, `1h2m30s`.
fn human(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}
