//! The transition table runner: each row is a status, observations and check results, and
//! the phase, weight, non-event actions and conditions that must follow one `decide`.
#![allow(dead_code)]

use fledge_api::status::Time;
use fledge_api::{Canary, CanaryPhase, CanaryPhase::*, CanaryStatus, HookType, Verdict};
use fledge_core::{
    Action, CheckResults, Config, HookOutcome, Input, Observed, Readiness, Routes, decide,
};

use super::*;

pub struct Row {
    pub name: &'static str,
    pub canary: Canary,
    pub status: CanaryStatus,
    pub observed: Observed,
    pub checks: CheckResults,
    /// Seconds after the last step.
    pub at: i64,
    pub phase: Option<CanaryPhase>,
    pub weight: i32,
    /// Every action except Events, Alerts and event hooks, in order.
    pub actions: Vec<Action>,
    /// (condition, status, reason) that must hold afterwards.
    pub conditions: Vec<(&'static str, &'static str, &'static str)>,
}

pub fn st(phase: Option<CanaryPhase>, weight: i32, iterations: i32, failed: i32) -> CanaryStatus {
    CanaryStatus {
        phase,
        canary_weight: weight,
        iterations,
        failed_checks: failed,
        last_applied_spec: Some("v2".into()),
        last_promoted_spec: Some("v1".into()),
        last_step_time: Some(Time(t(0))),
        observed_generation: Some(1),
        ..Default::default()
    }
}

pub fn terminal(phase: CanaryPhase) -> CanaryStatus {
    CanaryStatus {
        last_applied_spec: Some("v1".into()),
        ..st(Some(phase), 0, 0, 0)
    }
}

pub fn seen() -> Observed {
    Observed {
        target: Some(rev("v2")),
        primary: Readiness::Ready,
        canary: Readiness::Ready,
        has_finalizer: true,
        target_marked: true,
        ..Default::default()
    }
}

pub fn row(name: &'static str) -> Row {
    Row {
        name,
        canary: canary(|_| {}),
        status: st(Some(Progressing), 10, 0, 0),
        observed: seen(),
        checks: CheckResults::default(),
        at: 60,
        phase: Some(Progressing),
        weight: 10,
        actions: vec![],
        conditions: vec![],
    }
}

pub fn pass_metrics() -> CheckResults {
    CheckResults {
        hooks: vec![],
        metrics: vec![
            metric("request-success-rate", Verdict::Pass),
            metric("request-duration", Verdict::Pass),
        ],
    }
}

pub fn fail_metrics() -> CheckResults {
    CheckResults {
        hooks: vec![],
        metrics: vec![
            metric("request-success-rate", Verdict::Fail),
            metric("request-duration", Verdict::Pass),
        ],
    }
}

pub fn with_hooks(hooks: &[(&str, HookType)]) -> Canary {
    let hooks: Vec<_> = hooks.iter().map(|(n, t)| hook(n, *t)).collect();
    canary(move |a| a.webhooks = hooks)
}

pub fn answer(base: CheckResults, name: &str, t: HookType, outcome: HookOutcome) -> CheckResults {
    let mut r = base;
    r.hooks.push(hook_result(name, t, outcome));
    r
}

pub fn refused() -> HookOutcome {
    HookOutcome::Refused("no".into())
}

pub fn p(primary: i32, canary: i32) -> Action {
    Action::SetRoutes(Routes {
        primary,
        canary,
        mirrored: false,
    })
}

pub fn check(rows: Vec<Row>) {
    let config = Config {
        default_provider: fledge_api::Provider::Istio,
        ..Config::default()
    };
    let mut failures = Vec::new();
    for mut r in rows {
        r.canary.status = Some(r.status.clone());
        let input = Input {
            canary: &r.canary,
            config: &config,
            observed: &r.observed,
            checks: &r.checks,
        };
        let d = decide(&input, t(r.at));
        let actions: Vec<_> = d
            .actions
            .iter()
            .filter(|a| {
                !matches!(
                    a,
                    Action::Event(_)
                        | Action::Alert(_)
                        | Action::CallHooks {
                            hook_type: HookType::Event,
                            ..
                        }
                )
            })
            .filter(|a| {
                !matches!(
                    a,
                    Action::CallHooks {
                        hook_type: HookType::PostRollout,
                        ..
                    }
                )
            })
            .cloned()
            .collect();
        let mut problems = Vec::new();
        if d.status.phase != r.phase {
            problems.push(format!("phase {:?}, want {:?}", d.status.phase, r.phase));
        }
        if d.status.canary_weight != r.weight {
            problems.push(format!(
                "weight {}, want {}",
                d.status.canary_weight, r.weight
            ));
        }
        if actions != r.actions {
            problems.push(format!("actions {actions:?}, want {:?}", r.actions));
        }
        for (type_, status, reason) in &r.conditions {
            let got = d.status.conditions.iter().find(|c| c.type_ == *type_);
            let ok =
                got.is_some_and(|c| c.status == *status && c.reason.as_deref() == Some(*reason));
            if !ok {
                problems.push(format!(
                    "condition {type_}: got {got:?}, want {status}/{reason}"
                ));
            }
        }
        if d.status.phase != r.status.phase
            && d.status.last_transition_time == r.status.last_transition_time
        {
            problems.push("phase changed but lastTransitionTime didn't".into());
        }
        if d.status.phase == r.status.phase
            && d.status.last_transition_time != r.status.last_transition_time
        {
            problems.push("lastTransitionTime changed without a phase change".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", r.name, problems.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
