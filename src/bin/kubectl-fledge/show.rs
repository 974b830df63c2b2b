//! `list` and `status`: what a Canary is doing, read from its status.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use fledge_api::{Canary, CanaryPhase};
use kube::runtime::wait::await_condition;
use kube::{Api, ResourceExt};

use fledge_core::Config;
use jiff::Timestamp;

use crate::get::Output;
use crate::live::Live;
use crate::requests::explain;
use crate::tree::{duration, symbol};
use crate::view;

pub async fn list(
    client: &kube::Client,
    namespace: Option<&str>,
    output: Output,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    let live = Live::start(client, namespace)
        .await
        .map_err(|e| e.context("listing canaries"))?;
    let snapshot = live.snapshot();
    let canaries: Vec<&Canary> = snapshot.canaries.iter().map(|c| c.as_ref()).collect();
    let summaries = view::summaries(&canaries, &snapshot.around(None), config, Timestamp::now());
    match output {
        Output::Json => {
            let items = serde_json::json!({ "items": summaries });
            println!("{}", serde_json::to_string_pretty(&items)?);
            return Ok(ExitCode::SUCCESS);
        }
        Output::Yaml => {
            let items = serde_json::json!({ "items": summaries });
            print!("{}", serde_saphyr::to_string(&items)?);
            return Ok(ExitCode::SUCCESS);
        }
        Output::Text => {}
    }
    if summaries.is_empty() {
        println!("no Canaries found");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![vec![
        "NAMESPACE".to_string(),
        "NAME".into(),
        "PHASE".into(),
        "WEIGHT".into(),
        "STEP".into(),
        "FAILED".into(),
        "AGE".into(),
        "LAST EVENT".into(),
    ]];
    for s in &summaries {
        let phase = s
            .phase
            .map(|p| p.to_string())
            .unwrap_or_else(|| "Pending".into());
        let held = if s.suspended {
            " (suspended)"
        } else if s.paused {
            " (paused)"
        } else {
            ""
        };
        let step = match (s.max_weight, s.total_iterations) {
            (Some(max), _) => format!("{}/{max}%", s.canary_weight),
            (None, Some(total)) => format!("{}/{total}", s.iterations),
            _ => "-".into(),
        };
        rows.push(vec![
            s.namespace.clone(),
            s.name.clone(),
            format!("{} {phase}{held}", symbol(s)),
            format!("{}%", s.canary_weight),
            step,
            format!("{}/{}", s.failed_checks, s.threshold),
            duration(u64::try_from(s.age_seconds).unwrap_or(0)),
            s.last_event
                .clone()
                .or(s.message.clone())
                .unwrap_or_default(),
        ]);
    }
    if namespace.is_some() {
        rows.iter_mut().for_each(|r| {
            r.remove(0);
        });
    }
    print!("{}", table(&rows));
    Ok(ExitCode::SUCCESS)
}

/// One line, and the exit code a CI gate wants: 0 done, 1 failed, 2 still going.
pub async fn status(
    api: &Api<Canary>,
    ns: &str,
    name: &str,
    wait: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let mut canary = api
        .get(name)
        .await
        .map_err(|e| explain(e, "get", ns, name))?;
    if let Some(timeout) = wait
        && code(&canary) == 2
    {
        let done: fn(Option<&Canary>) -> bool = |c| c.is_some_and(|c| code(c) != 2);
        if let Ok(found) =
            tokio::time::timeout(timeout, await_condition(api.clone(), name, done)).await
        {
            let found = found.with_context(|| format!("watching canary {ns}/{name}"))?;
            if let Some(c) = found {
                canary = c;
            }
        }
    }
    println!("{}", line(&canary));
    Ok(ExitCode::from(code(&canary)))
}

fn code(canary: &Canary) -> u8 {
    // A spec change the controller hasn't seen yet is still in progress.
    let observed = canary.status.as_ref().and_then(|s| s.observed_generation);
    if observed != canary.metadata.generation {
        return 2;
    }
    match canary.status.as_ref().and_then(|s| s.phase) {
        Some(CanaryPhase::Succeeded | CanaryPhase::Initialized) => 0,
        Some(CanaryPhase::Failed) => 1,
        _ => 2,
    }
}

fn phase(canary: &Canary) -> String {
    let status = canary.status.as_ref();
    let mut phase = status
        .and_then(|s| s.phase)
        .map(|p| p.to_string())
        .unwrap_or_else(|| "Pending".into());
    if canary.spec.suspend == Some(true) {
        phase.push_str(" (suspended)");
    } else if status.is_some_and(|s| s.paused) {
        phase.push_str(" (paused)");
    }
    phase
}

/// `podinfo.test Progressing, canary weight 20%, failed checks 0/5: Advance podinfo.test ...`
pub fn line(canary: &Canary) -> String {
    let status = canary.status.clone().unwrap_or_default();
    let threshold = canary.spec.analysis().map(|a| a.threshold()).unwrap_or(1);
    let mut out = format!(
        "{}.{} {}, canary weight {}%, failed checks {}/{threshold}",
        canary.name_any(),
        canary.namespace().unwrap_or_default(),
        phase(canary),
        status.canary_weight,
        status.failed_checks,
    );
    if let Some(message) = status.message.filter(|m| !m.is_empty()) {
        out.push_str(": ");
        out.push_str(&message);
    }
    out
}

pub fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}
