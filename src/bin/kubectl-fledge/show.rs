//! `list` and `status`: what a Canary is doing, read from its status.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use fledge_api::{Canary, CanaryPhase};
use kube::api::ListParams;
use kube::runtime::wait::await_condition;
use kube::{Api, ResourceExt};

use crate::requests::explain;

pub async fn list(api: &Api<Canary>, all_namespaces: bool) -> anyhow::Result<ExitCode> {
    let canaries = api
        .list(&ListParams::default())
        .await
        .map_err(|e| explain(e, "list", "", ""))?;
    let mut rows = vec![vec![
        "NAMESPACE".to_string(),
        "NAME".into(),
        "PHASE".into(),
        "WEIGHT".into(),
        "FAILED".into(),
        "MESSAGE".into(),
    ]];
    for c in &canaries.items {
        let status = c.status.clone().unwrap_or_default();
        let threshold = c.spec.analysis().map(|a| a.threshold()).unwrap_or(1);
        rows.push(vec![
            c.namespace().unwrap_or_default(),
            c.name_any(),
            phase(c),
            format!("{}%", status.canary_weight),
            format!("{}/{threshold}", status.failed_checks),
            status.message.unwrap_or_default(),
        ]);
    }
    if !all_namespaces {
        rows.iter_mut().for_each(|r| {
            r.remove(0);
        });
    }
    if rows.len() == 1 {
        println!("no Canaries found");
        return Ok(ExitCode::SUCCESS);
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
