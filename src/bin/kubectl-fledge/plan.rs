//! `plan NAME`: what the live Canary will do next and when, if every check passes (the
//! planner drives fledge's own state machine from the Canary's status).

use std::process::ExitCode;

use fledge_api::Canary;
use fledge_core::{Config, plan_live, release_under_way};
use jiff::{SignedDuration, Timestamp};
use kube::Api;

use crate::get::Output;
use crate::requests::explain;
use crate::show::table;
use crate::tree::duration;

pub async fn plan(
    api: &Api<Canary>,
    ns: &str,
    name: &str,
    output: Output,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    let canary = api
        .get(name)
        .await
        .map_err(|e| explain(e, "get", ns, name))?;
    let now = Timestamp::now();
    let plan = plan_live(&canary, config, now);
    match output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&plan)?);
            return Ok(ExitCode::SUCCESS);
        }
        Output::Yaml => {
            print!("{}", serde_saphyr::to_string(&plan)?);
            return Ok(ExitCode::SUCCESS);
        }
        Output::Text => {}
    }
    let under_way = release_under_way(canary.status.as_ref().and_then(|s| s.phase));
    if under_way {
        println!(
            "canary {ns}/{name}: the rest of the release under way, if every check passes (done in about {}):",
            duration(plan.min_duration_seconds)
        );
    } else {
        println!(
            "canary {ns}/{name}: no release under way; a new revision would go like this (about {} from its detection):",
            duration(plan.min_duration_seconds)
        );
    }
    let mut rows = vec![vec![
        "WHEN".to_string(),
        "PHASE".into(),
        "WEIGHT".into(),
        "CHECKS".into(),
        "WHAT HAPPENS".into(),
    ]];
    for step in &plan.steps {
        let offset = i64::try_from(step.offset_seconds).unwrap_or(i64::MAX);
        let when = if under_way {
            let at = now
                .checked_add(SignedDuration::from_secs(offset))
                .map(|t| t.strftime("%H:%M:%S").to_string())
                .unwrap_or_default();
            format!("in {} ({at} UTC)", duration(step.offset_seconds))
        } else {
            format!("+{}", duration(step.offset_seconds))
        };
        let weight = match step.iteration {
            Some(i) => format!("{}% it {i}", step.canary_weight),
            None => format!("{}%", step.canary_weight),
        };
        let checks: Vec<&str> = step.checks.iter().map(|c| c.name.as_str()).collect();
        rows.push(vec![
            when,
            step.phase.to_string(),
            weight,
            checks.join(", "),
            step.events.join("; "),
        ]);
    }
    print!("{}", table(&rows));
    Ok(ExitCode::SUCCESS)
}
