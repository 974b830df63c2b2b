//! `fledge plan`: what a Canary will do when every check passes, produced by driving the real
//! state machine ([`crate::decide`]) tick by tick with all-passing observations, so the plan
//! and the controller can't disagree. Pure: the clock is simulated from a fixed origin.

use std::time::Duration;

use fledge_api::{Canary, CanaryPhase, CanaryStatus, HookType, Strategy};
use jiff::Timestamp;
use serde::Serialize;

use crate::action::Action;
use crate::checks::CheckStage;
use crate::input::{CheckResults, Config, Input, Observed, Readiness, Revision, Routes};
use crate::machine::{checks_due, decide, release_under_way};
use crate::settings::Settings;

/// The whole schedule of one release.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// `<namespace>/<name>`.
    pub canary: String,
    /// `canary`, `blue-green` or `ab-testing`.
    pub strategy: &'static str,
    pub mirroring: bool,
    /// False with the kubernetes provider: no weights move, the canary is reached through
    /// its own Service.
    pub traffic_shifting: bool,
    pub skip_analysis: bool,
    pub suspended: bool,
    pub interval_seconds: u64,
    pub threshold: i32,
    /// Canary strategy only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_weight: Option<i32>,
    /// Blue/green and A/B only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<i32>,
    #[serde(skip_serializing_if = "is_zero")]
    pub step_weight_promotion: i32,
    pub steps: Vec<PlanStep>,
    /// From the new revision being detected to Succeeded, if every check passes.
    pub min_duration_seconds: u64,
    /// A release whose checks all fail from some step on is rolled back this long after the
    /// last passing step: threshold × interval.
    pub rollback_after_seconds: u64,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// One reconcile that did something.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    pub offset_seconds: u64,
    /// The phase after this step.
    pub phase: CanaryPhase,
    pub canary_weight: i32,
    pub primary_weight: i32,
    pub mirrored: bool,
    /// Blue/green and A/B: the iteration after this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<i32>,
    /// Gates, webhooks and metrics checked in this step, in order.
    pub checks: Vec<PlanCheck>,
    /// Fire-and-forget webhooks called in this step (post-rollout).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<PlanCheck>,
    /// The Events recorded, in order: what happens, in the controller's own words.
    pub events: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanCheck {
    /// A webhook type (`confirm-rollout`, `pre-rollout`, ...) or `metric`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

/// More steps than any valid spec needs (100 weights + 100 promotion steps + gates); a
/// bound so a bug can't loop forever.
const MAX_TICKS: usize = 1000;

pub fn plan(canary: &Canary, config: &Config) -> Plan {
    let generation = canary.metadata.generation.or(Some(1));
    let mut canary = canary.clone();
    canary.metadata.generation = generation;
    // A Canary that was initialized with revision "promoted" and now sees "next".
    canary.status = Some(CanaryStatus {
        phase: Some(CanaryPhase::Initialized),
        last_applied_spec: Some("promoted".into()),
        last_promoted_spec: Some("promoted".into()),
        observed_generation: generation,
        ..Default::default()
    });
    let observed = observed_revision("next", Routes::ALL_PRIMARY);
    run_plan(canary, config, observed, Timestamp::UNIX_EPOCH)
}

/// What a live Canary will do from `now` if every check passes: the rest of the release
/// under way (steps count from `now`), or, between releases, the whole of the next one (steps
/// count from the new revision's detection, as with [`plan`]).
pub fn plan_live(canary: &Canary, config: &Config, now: Timestamp) -> Plan {
    let status = canary.status.clone().unwrap_or_default();
    let under_way = release_under_way(status.phase);
    match status.last_applied_spec.as_deref() {
        Some(revision) if under_way => {
            let routes = Routes::canary(status.canary_weight, status.mirrored);
            let mut observed = observed_revision(revision, routes);
            // The revision under test, configs included: nothing new to restart for.
            if let Some(target) = observed.target.as_mut() {
                target.configs = status.tracked_configs.clone();
            }
            let mut canary = canary.clone();
            // Paused by a request: the plan shows what resuming would lead to.
            if let Some(st) = canary.status.as_mut() {
                st.paused = false;
            }
            run_plan(canary, config, observed, now)
        }
        _ => plan(canary, config),
    }
}

/// Every pod ready, fledge's routes in place, the target at `revision`.
fn observed_revision(revision: &str, routes: Routes) -> Observed {
    Observed {
        target: Some(Revision {
            spec: revision.into(),
            ..Revision::default()
        }),
        primary: Readiness::Ready,
        canary: Readiness::Ready,
        routes: Some(routes),
        has_finalizer: true,
        target_marked: true,
        ..Default::default()
    }
}

/// Drives the machine tick by tick from `origin` with every check passing.
fn run_plan(
    mut canary: Canary,
    config: &Config,
    mut observed: Observed,
    origin: Timestamp,
) -> Plan {
    let settings = Settings::from_canary(&canary, config);
    let mut now = origin;
    let mut steps = Vec::new();
    for _ in 0..MAX_TICKS {
        let mut input = Input {
            canary: &canary,
            config,
            observed: &observed,
            checks: &CheckResults::default(),
        };
        let request = checks_due(&input, now);
        let results = CheckResults::all_passing(&request, &settings);
        input.checks = &results;
        let decision = decide(&input, now);
        let before = canary.status.clone().unwrap_or_default();
        let after = decision.status.phase;
        let moved = before.phase != after
            || before.canary_weight != decision.status.canary_weight
            || before.iterations != decision.status.iterations
            || before.mirrored != decision.status.mirrored;
        if moved || !decision.actions.is_empty() || !request.is_empty() {
            steps.push(step_row(
                &settings,
                &decision.status,
                &decision.actions,
                &request.stages,
                offset(origin, now),
            ));
        }
        for action in &decision.actions {
            if let Action::SetRoutes(routes) = action {
                observed.routes = Some(*routes);
            }
        }
        let done = matches!(after, Some(CanaryPhase::Succeeded | CanaryPhase::Failed));
        let requeue = decision.requeue_after;
        canary.status = Some(decision.status);
        let Some(wait) = requeue.filter(|_| !done) else {
            break;
        };
        now = now.checked_add(wait).unwrap_or(now);
    }
    let min_duration_seconds = steps.last().map(|s| s.offset_seconds).unwrap_or(0);
    let interval = settings.interval.as_secs();
    Plan {
        canary: format!(
            "{}/{}",
            canary.metadata.namespace.as_deref().unwrap_or("default"),
            canary.metadata.name.as_deref().unwrap_or_default()
        ),
        strategy: strategy_name(settings.strategy),
        mirroring: settings.mirror,
        traffic_shifting: settings.shifts_traffic,
        skip_analysis: settings.skip_analysis,
        suspended: settings.suspend,
        interval_seconds: interval,
        threshold: settings.threshold,
        max_weight: (settings.strategy == Strategy::Canary).then_some(settings.max_weight),
        iterations: (settings.strategy != Strategy::Canary).then_some(settings.iterations),
        step_weight_promotion: settings.step_weight_promotion,
        steps,
        min_duration_seconds,
        rollback_after_seconds: u64::try_from(settings.threshold.max(1)).unwrap_or(1) * interval,
    }
}

/// The strategy as `fledge plan` and the issue spell it.
pub fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Canary => "canary",
        Strategy::BlueGreen => "blue-green",
        Strategy::ABTesting => "ab-testing",
    }
}

fn offset(origin: Timestamp, now: Timestamp) -> u64 {
    Duration::try_from(now.duration_since(origin))
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn step_row(
    s: &Settings,
    status: &CanaryStatus,
    actions: &[Action],
    stages: &[CheckStage],
    offset_seconds: u64,
) -> PlanStep {
    let mut checks = Vec::new();
    for stage in stages {
        match stage {
            CheckStage::Hooks(t) => checks.extend(s.hooks_of(*t).map(|h| PlanCheck {
                kind: t.as_str().into(),
                name: h.name.clone(),
            })),
            CheckStage::Metrics => checks.extend(s.metrics.iter().map(|m| PlanCheck {
                kind: "metric".into(),
                name: m.clone(),
            })),
        }
    }
    let mut hooks = Vec::new();
    let mut events = Vec::new();
    for action in actions {
        match action {
            Action::CallHooks {
                hook_type: HookType::PostRollout,
                ..
            } => hooks.extend(s.hooks_of(HookType::PostRollout).map(|h| PlanCheck {
                kind: "post-rollout".into(),
                name: h.name.clone(),
            })),
            Action::Event(e) => events.push(e.message.clone()),
            _ => {}
        }
    }
    PlanStep {
        offset_seconds,
        phase: status.phase.unwrap_or(CanaryPhase::Initializing),
        canary_weight: status.canary_weight,
        primary_weight: 100 - status.canary_weight,
        mirrored: status.mirrored,
        iteration: (s.strategy != Strategy::Canary).then_some(status.iterations),
        checks,
        hooks,
        events,
    }
}
