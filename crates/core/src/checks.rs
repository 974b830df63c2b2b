//! Which webhooks and metrics a step needs, and whether the results the controller brought
//! are enough to take it.
//!
//! Checks are I/O, so the machine can't run them. Instead each reconcile is two pure calls
//! on the same input: [`crate::checks_due`] says which stages to run (from the status alone),
//! the controller runs them, and [`crate::decide`] takes the step with the results. Nothing
//! is carried between reconciles except the status, so a restart just runs the checks again.

use fledge_api::{CanaryPhase, CanaryStatus, HookType, Strategy, Verdict};

use crate::input::{CheckResults, HookOutcome};
use crate::settings::Settings;

/// A group of checks; stages run in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckStage {
    /// Call every webhook of this type (spec order) and report each answer.
    Hooks(HookType),
    /// Query and judge every metric of `spec.analysis.metrics`.
    Metrics,
}

/// The checks due now, in order. Empty when no step is due.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckRequest {
    pub stages: Vec<CheckStage>,
}

impl CheckRequest {
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }
}

impl CheckStage {
    /// True when these results end the step, so later stages needn't run: a rollback hook
    /// said yes, another webhook said no, or a metric failed or was inconclusive.
    pub fn halts(&self, results: &CheckResults) -> bool {
        match self {
            CheckStage::Hooks(HookType::Rollback) => results
                .hooks
                .iter()
                .any(|h| h.hook_type == HookType::Rollback && h.outcome == HookOutcome::Accepted),
            CheckStage::Hooks(t) => results
                .hooks
                .iter()
                .any(|h| h.hook_type == *t && matches!(h.outcome, HookOutcome::Refused(_))),
            CheckStage::Metrics => results
                .metrics
                .iter()
                .any(|m| matches!(m.verdict, Verdict::Fail | Verdict::Inconclusive)),
        }
    }
}

/// The kinds of step the machine takes; each is taken at most once per interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A new revision waits for confirm-rollout, then the target is scaled up.
    StartRevision,
    /// One analysis step: hooks, metrics, then the strategy moves traffic or promotes.
    Analysis,
    /// `skipAnalysis`: promote as soon as the canary is ready.
    SkipAnalysis,
    /// Promoting: move traffic back to the (promoted) primary.
    Promotion,
    /// Finalising: scale the target down; Succeeded.
    Finalise,
}

/// Weight 0, iteration 0, not mirrored: the step that runs pre-rollout hooks.
pub(crate) fn at_start(status: &CanaryStatus) -> bool {
    status.phase == Some(CanaryPhase::Progressing)
        && status.canary_weight == 0
        && status.iterations == 0
        && !status.mirrored
}

pub(crate) fn stages_for(step: Step, s: &Settings, status: &CanaryStatus) -> CheckRequest {
    let mut stages = Vec::new();
    let hooks = |t: HookType, stages: &mut Vec<CheckStage>| {
        if s.has_hooks(t) {
            stages.push(CheckStage::Hooks(t));
        }
    };
    match step {
        Step::StartRevision => {
            if status.phase == Some(CanaryPhase::Waiting) {
                hooks(HookType::Rollback, &mut stages);
            }
            hooks(HookType::ConfirmRollout, &mut stages);
        }
        Step::Analysis => {
            hooks(HookType::Rollback, &mut stages);
            if at_start(status) {
                hooks(HookType::PreRollout, &mut stages);
            } else {
                hooks(HookType::Rollout, &mut stages);
                if !s.metrics.is_empty() {
                    stages.push(CheckStage::Metrics);
                }
            }
            match next_move(s, status) {
                Move::Mirror | Move::Iterate => {}
                Move::Weight => hooks(HookType::ConfirmTrafficIncrease, &mut stages),
                Move::Promote => hooks(HookType::ConfirmPromotion, &mut stages),
            }
        }
        Step::SkipAnalysis | Step::Promotion | Step::Finalise => {}
    }
    CheckRequest { stages }
}

/// What a successful analysis step does next, by strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Move {
    /// Canary strategy with mirroring: one mirrored step at weight 0.
    Mirror,
    /// Canary strategy: raise the weight (after confirm-traffic-increase).
    Weight,
    /// Blue/green or A/B: count an iteration (blue/green's last one switches traffic).
    Iterate,
    /// Analysis complete: confirm-promotion, then promote.
    Promote,
}

pub(crate) fn next_move(s: &Settings, status: &CanaryStatus) -> Move {
    match s.strategy {
        Strategy::Canary => {
            if status.canary_weight >= s.max_weight {
                Move::Promote
            } else if s.mirror && status.canary_weight == 0 && !status.mirrored {
                Move::Mirror
            } else {
                Move::Weight
            }
        }
        Strategy::ABTesting if status.iterations < s.iterations => Move::Iterate,
        // Blue/green takes one more step than A/B: iteration N switches all traffic to the
        // canary, iteration N+1 checks it there before promoting (as Flagger does).
        Strategy::BlueGreen if status.iterations <= s.iterations => Move::Iterate,
        Strategy::ABTesting | Strategy::BlueGreen => Move::Promote,
    }
}

/// True when `results` answer every stage up to (and including) the first one that halts.
pub(crate) fn complete(request: &CheckRequest, s: &Settings, results: &CheckResults) -> bool {
    for stage in &request.stages {
        let answered = match stage {
            CheckStage::Hooks(t) => s.hooks_of(*t).all(|h| {
                results
                    .hooks
                    .iter()
                    .any(|r| r.hook_type == *t && r.name == h.name)
            }),
            CheckStage::Metrics => s
                .metrics
                .iter()
                .all(|m| results.metrics.iter().any(|r| &r.name == m)),
        };
        if !answered {
            return false;
        }
        if stage.halts(results) {
            return true;
        }
    }
    true
}
