//! `history NAME`: the releases the controller recorded (`status.releases`), newest last, and
//! the steps of the current and the last one with the checks that decided each
//! (`status.steps`).

use std::process::ExitCode;

use fledge_api::Canary;
use kube::Api;

use crate::requests::explain;
use crate::show::table;
use crate::tree::number;

pub async fn history(api: &Api<Canary>, ns: &str, name: &str) -> anyhow::Result<ExitCode> {
    let canary = api
        .get(name)
        .await
        .map_err(|e| explain(e, "get", ns, name))?;
    let status = canary.status.unwrap_or_default();
    if status.releases.is_empty() {
        println!("canary {ns}/{name} has no recorded release yet");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![vec![
        "REVISION".to_string(),
        "IMAGES".into(),
        "STARTED".into(),
        "ENDED".into(),
        "OUTCOME".into(),
        "REASON".into(),
    ]];
    for r in &status.releases {
        rows.push(vec![
            r.revision.clone(),
            r.images.join(","),
            r.started.0.to_string(),
            r.ended
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_else(|| "-".into()),
            r.outcome.clone().unwrap_or_else(|| "running".into()),
            r.reason.clone().unwrap_or_default(),
        ]);
    }
    print!("{}", table(&rows));
    // The steps are kept for the current and the last release: show each release's.
    for release in &status.releases {
        let steps: Vec<_> = status
            .steps
            .iter()
            .filter(|s| s.revision == release.revision && s.time >= release.started)
            .filter(|s| release.ended.as_ref().is_none_or(|end| s.time <= *end))
            .collect();
        if steps.is_empty() {
            continue;
        }
        println!(
            "\nsteps of {} ({}, {}):",
            release.revision,
            release.images.join(","),
            release.outcome.as_deref().unwrap_or("running")
        );
        let mut rows = vec![vec![
            "TIME".to_string(),
            "PHASE".into(),
            "WEIGHT".into(),
            "ITERATION".into(),
            "FAILED".into(),
            "CHECKS".into(),
        ]];
        for step in steps {
            let checks: Vec<String> = step
                .checks
                .iter()
                .map(|r| {
                    let value = r
                        .value
                        .map(|v| format!(" {}", number(v)))
                        .unwrap_or_default();
                    format!("{}{value} {:?}", r.name, r.verdict)
                })
                .collect();
            rows.push(vec![
                step.time.0.to_string(),
                step.phase.to_string(),
                format!("{}%", step.canary_weight),
                step.iterations.to_string(),
                step.failed_checks.to_string(),
                checks.join(", "),
            ]);
        }
        print!("{}", table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}
