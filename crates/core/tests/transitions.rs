//! One row per transition: a status, what was observed and what the checks said, and the
//! phase, weight, non-event actions and conditions that must follow.

mod common;

use common::*;
use fledge_api::service::HttpMatchRequest;
use fledge_api::status::Time;
use fledge_api::{Canary, CanaryPhase, CanaryPhase::*, CanaryStatus, HookType, Verdict};
use fledge_core::{
    Action, CheckResults, Config, HookOutcome, Input, Observed, Readiness, Routes, decide,
};

struct Row {
    name: &'static str,
    canary: Canary,
    status: CanaryStatus,
    observed: Observed,
    checks: CheckResults,
    /// Seconds after the last step.
    at: i64,
    phase: Option<CanaryPhase>,
    weight: i32,
    /// Every action except Events, Alerts and event hooks, in order.
    actions: Vec<Action>,
    /// (condition, status, reason) that must hold afterwards.
    conditions: Vec<(&'static str, &'static str, &'static str)>,
}

fn st(phase: Option<CanaryPhase>, weight: i32, iterations: i32, failed: i32) -> CanaryStatus {
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

fn terminal(phase: CanaryPhase) -> CanaryStatus {
    CanaryStatus {
        last_applied_spec: Some("v1".into()),
        ..st(Some(phase), 0, 0, 0)
    }
}

fn seen() -> Observed {
    Observed {
        target: Some(rev("v2")),
        primary: Readiness::Ready,
        canary: Readiness::Ready,
        has_finalizer: true,
        ..Default::default()
    }
}

fn row(name: &'static str) -> Row {
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

fn pass_metrics() -> CheckResults {
    CheckResults {
        hooks: vec![],
        metrics: vec![
            metric("request-success-rate", Verdict::Pass),
            metric("request-duration", Verdict::Pass),
        ],
    }
}

fn fail_metrics() -> CheckResults {
    CheckResults {
        hooks: vec![],
        metrics: vec![
            metric("request-success-rate", Verdict::Fail),
            metric("request-duration", Verdict::Pass),
        ],
    }
}

fn with_hooks(hooks: &[(&str, HookType)]) -> Canary {
    let hooks: Vec<_> = hooks.iter().map(|(n, t)| hook(n, *t)).collect();
    canary(move |a| a.webhooks = hooks)
}

fn answer(base: CheckResults, name: &str, t: HookType, outcome: HookOutcome) -> CheckResults {
    let mut r = base;
    r.hooks.push(hook_result(name, t, outcome));
    r
}

fn refused() -> HookOutcome {
    HookOutcome::Refused("no".into())
}

fn p(primary: i32, canary: i32) -> Action {
    Action::SetRoutes(Routes {
        primary,
        canary,
        mirrored: false,
    })
}

#[allow(clippy::vec_init_then_push)] // one push per row reads as a table
fn rows() -> Vec<Row> {
    let mut v = Vec::new();

    // ---- initialization ----
    v.push(Row {
        status: CanaryStatus::default(),
        observed: Observed {
            primary: Readiness::Waiting("0/1".into()),
            ..seen()
        },
        phase: Some(Initializing),
        weight: 0,
        actions: vec![Action::InitializePrimary],
        conditions: vec![
            ("Ready", "False", "Initializing"),
            ("Reconciling", "True", "Initializing"),
            ("Promoted", "Unknown", "Initializing"),
        ],
        ..row("new canary → Initializing while the primary starts")
    });
    v.push(Row {
        status: CanaryStatus {
            phase: Some(Initializing),
            ..Default::default()
        },
        phase: Some(Initialized),
        weight: 0,
        actions: vec![
            Action::InitializePrimary,
            Action::ReconcileRouting,
            Action::ScaleTargetToZero,
        ],
        conditions: vec![
            ("Ready", "True", "Initialized"),
            ("Promoted", "True", "Initialized"),
            ("Stalled", "False", "Initialized"),
        ],
        ..row("Initializing → Initialized when the primary is ready")
    });
    v.push(Row {
        status: CanaryStatus {
            phase: Some(Initializing),
            ..Default::default()
        },
        observed: Observed {
            primary: Readiness::Failed("ProgressDeadlineExceeded".into()),
            ..seen()
        },
        phase: Some(Failed),
        weight: 0,
        actions: vec![Action::InitializePrimary],
        conditions: vec![
            ("Stalled", "True", "InitializationFailed"),
            ("Reconciling", "False", "Failed"),
        ],
        ..row("Initializing → Failed when the primary never becomes ready")
    });
    v.push(Row {
        status: CanaryStatus {
            last_promoted_spec: None,
            ..terminal(Failed)
        },
        observed: Observed {
            primary: Readiness::Waiting("0/1".into()),
            ..seen()
        },
        phase: Some(Initializing),
        weight: 0,
        actions: vec![Action::InitializePrimary],
        ..row("Failed initialization + new target revision → Initializing again")
    });

    // ---- a new revision ----
    for from in [Initialized, Succeeded, Failed] {
        v.push(Row {
            status: terminal(from),
            at: 1,
            phase: Some(Progressing),
            weight: 0,
            actions: vec![Action::ScaleTargetFromZero],
            conditions: vec![
                ("Promoted", "Unknown", "Progressing"),
                ("Reconciling", "True", "Progressing"),
                ("Stalled", "False", "Progressing"),
            ],
            ..row(match from {
                Initialized => "Initialized → Progressing on a new revision (no interval wait)",
                Succeeded => "Succeeded → Progressing on a new revision",
                _ => "Failed → Progressing on a new revision",
            })
        });
    }
    v.push(Row {
        status: terminal(Succeeded),
        observed: Observed {
            target: Some(rev("v1")),
            ..seen()
        },
        phase: Some(Succeeded),
        weight: 0,
        ..row("Succeeded, target unchanged → nothing")
    });
    v.push(Row {
        canary: with_hooks(&[("gate", HookType::ConfirmRollout)]),
        status: terminal(Succeeded),
        checks: answer(
            CheckResults::default(),
            "gate",
            HookType::ConfirmRollout,
            refused(),
        ),
        phase: Some(Waiting),
        weight: 0,
        actions: vec![],
        conditions: vec![
            ("Promoted", "Unknown", "Waiting"),
            ("Reconciling", "True", "Waiting"),
        ],
        ..row("Succeeded → Waiting when confirm-rollout refuses")
    });
    v.push(Row {
        canary: with_hooks(&[("gate", HookType::ConfirmRollout)]),
        status: CanaryStatus {
            last_applied_spec: Some("v1".into()),
            ..st(Some(Waiting), 0, 0, 0)
        },
        checks: answer(
            CheckResults::default(),
            "gate",
            HookType::ConfirmRollout,
            HookOutcome::Accepted,
        ),
        phase: Some(Progressing),
        weight: 0,
        actions: vec![Action::ScaleTargetFromZero],
        ..row("Waiting → Progressing when confirm-rollout approves")
    });
    v.push(Row {
        canary: with_hooks(&[
            ("gate", HookType::ConfirmRollout),
            ("stop", HookType::Rollback),
        ]),
        status: CanaryStatus {
            last_applied_spec: Some("v1".into()),
            ..st(Some(Waiting), 0, 0, 0)
        },
        checks: answer(
            CheckResults::default(),
            "stop",
            HookType::Rollback,
            HookOutcome::Accepted,
        ),
        phase: Some(Failed),
        weight: 0,
        actions: vec![p(100, 0), Action::ScaleTargetToZero],
        conditions: vec![("Stalled", "True", "RollbackHook")],
        ..row("Waiting → Failed when a rollback hook says yes")
    });
    v.push(Row {
        canary: with_hooks(&[("gate", HookType::ConfirmRollout)]),
        status: CanaryStatus {
            last_applied_spec: Some("v1".into()),
            ..st(Some(Waiting), 0, 0, 0)
        },
        observed: Observed {
            target: Some(rev("v1")),
            ..seen()
        },
        phase: Some(Succeeded),
        weight: 0,
        ..row("Waiting → Succeeded when the target is back at the promoted revision")
    });

    // ---- analysis, canary strategy ----
    v.push(Row {
        status: st(Some(Progressing), 0, 0, 0),
        phase: Some(Progressing),
        weight: 10,
        actions: vec![p(90, 10)],
        ..row("Progressing w0 → w10 (pre-rollout step, no metrics at weight 0)")
    });
    v.push(Row {
        canary: with_hooks(&[("smoke", HookType::PreRollout)]),
        status: st(Some(Progressing), 0, 0, 0),
        checks: answer(
            CheckResults::default(),
            "smoke",
            HookType::PreRollout,
            refused(),
        ),
        phase: Some(Progressing),
        weight: 0,
        ..row("Progressing w0: pre-rollout fails → failedChecks+1, weight held")
    });
    v.push(Row {
        checks: pass_metrics(),
        phase: Some(Progressing),
        weight: 20,
        actions: vec![p(80, 20)],
        ..row("Progressing w10 → w20 when metrics pass")
    });
    v.push(Row {
        checks: pass_metrics(),
        at: 59,
        phase: Some(Progressing),
        weight: 10,
        ..row("Progressing: interval not up → nothing")
    });
    v.push(Row {
        status: st(Some(Progressing), 10, 0, 4),
        checks: fail_metrics(),
        phase: Some(Failed),
        weight: 0,
        actions: vec![p(100, 0), Action::ScaleTargetToZero],
        conditions: vec![
            ("Stalled", "True", "FailedChecks"),
            ("Ready", "False", "Failed"),
            ("Promoted", "False", "Failed"),
            ("Reconciling", "False", "Failed"),
        ],
        ..row("Progressing → Failed when failedChecks reaches the threshold")
    });
    v.push(Row {
        canary: with_hooks(&[("load", HookType::Rollout)]),
        checks: answer(pass_metrics(), "load", HookType::Rollout, refused()),
        phase: Some(Progressing),
        weight: 10,
        ..row("Progressing: rollout hook fails → failedChecks+1, weight held")
    });
    v.push(Row {
        status: st(Some(Progressing), 50, 0, 0),
        checks: pass_metrics(),
        phase: Some(Promoting),
        weight: 50,
        actions: vec![Action::PromoteToPrimary],
        conditions: vec![("Promoted", "Unknown", "Promoting")],
        ..row("Progressing at maxWeight → Promoting")
    });
    v.push(Row {
        canary: with_hooks(&[("ok", HookType::ConfirmPromotion)]),
        status: st(Some(Progressing), 50, 0, 0),
        checks: answer(pass_metrics(), "ok", HookType::ConfirmPromotion, refused()),
        phase: Some(WaitingPromotion),
        weight: 50,
        conditions: vec![("Promoted", "Unknown", "WaitingPromotion")],
        ..row("Progressing at maxWeight → WaitingPromotion when confirm-promotion refuses")
    });
    v.push(Row {
        canary: with_hooks(&[("ok", HookType::ConfirmPromotion)]),
        status: st(Some(WaitingPromotion), 50, 0, 0),
        checks: answer(
            pass_metrics(),
            "ok",
            HookType::ConfirmPromotion,
            HookOutcome::Accepted,
        ),
        phase: Some(Promoting),
        weight: 50,
        actions: vec![Action::PromoteToPrimary],
        ..row("WaitingPromotion → Promoting when confirm-promotion approves")
    });
    v.push(Row {
        canary: with_hooks(&[("more", HookType::ConfirmTrafficIncrease)]),
        checks: answer(
            pass_metrics(),
            "more",
            HookType::ConfirmTrafficIncrease,
            refused(),
        ),
        phase: Some(Progressing),
        weight: 10,
        ..row("Progressing: confirm-traffic-increase refuses → weight held, no failure")
    });
    v.push(Row {
        canary: canary(|a| a.mirror = Some(true)),
        status: st(Some(Progressing), 0, 0, 0),
        phase: Some(Progressing),
        weight: 0,
        actions: vec![Action::SetRoutes(Routes {
            primary: 100,
            canary: 0,
            mirrored: true,
        })],
        ..row("Progressing w0 with mirror → mirrored step")
    });
    v.push(Row {
        observed: Observed {
            target: Some(rev("v3")),
            ..seen()
        },
        at: 5,
        phase: Some(Progressing),
        weight: 0,
        actions: vec![p(100, 0)],
        ..row("Progressing + new revision → restart at weight 0")
    });
    v.push(Row {
        observed: Observed {
            target: Some(rev("v1")),
            ..seen()
        },
        at: 5,
        phase: Some(Succeeded),
        weight: 0,
        actions: vec![p(100, 0), Action::ScaleTargetToZero],
        ..row("Progressing + target back at the promoted revision → analysis cancelled")
    });
    v.push(Row {
        observed: Observed {
            canary: Readiness::Waiting("1 of 2".into()),
            ..seen()
        },
        phase: Some(Progressing),
        weight: 10,
        ..row("Progressing: canary not ready yet → hold")
    });
    v.push(Row {
        observed: Observed {
            canary: Readiness::Failed("ProgressDeadlineExceeded".into()),
            ..seen()
        },
        at: 5,
        phase: Some(Failed),
        weight: 0,
        actions: vec![p(100, 0), Action::ScaleTargetToZero],
        conditions: vec![("Stalled", "True", "ProgressDeadlineExceeded")],
        ..row("Progressing → Failed when the canary passes its progress deadline")
    });
    v.push(Row {
        observed: Observed {
            primary: Readiness::Failed("ProgressDeadlineExceeded".into()),
            ..seen()
        },
        phase: Some(Failed),
        weight: 0,
        actions: vec![p(100, 0), Action::ScaleTargetToZero],
        ..row("Progressing → Failed when the primary fails")
    });
    v.push(Row {
        canary: with_hooks(&[("stop", HookType::Rollback)]),
        checks: answer(
            CheckResults::default(),
            "stop",
            HookType::Rollback,
            HookOutcome::Accepted,
        ),
        phase: Some(Failed),
        weight: 0,
        actions: vec![p(100, 0), Action::ScaleTargetToZero],
        conditions: vec![("Stalled", "True", "RollbackHook")],
        ..row("Progressing → Failed when a rollback hook says yes")
    });
    v.push(Row {
        canary: {
            let mut c = canary(|_| {});
            c.spec.skip_analysis = Some(true);
            c
        },
        status: st(Some(Progressing), 0, 0, 0),
        phase: Some(Promoting),
        weight: 0,
        actions: vec![Action::PromoteToPrimary],
        ..row("Progressing with skipAnalysis → Promoting once the canary is ready")
    });

    // ---- blue/green and A/B ----
    let bg = canary(|a| {
        a.step_weight = None;
        a.max_weight = None;
        a.iterations = Some(3);
    });
    v.push(Row {
        canary: bg.clone(),
        status: st(Some(Progressing), 0, 3, 0),
        checks: pass_metrics(),
        phase: Some(Progressing),
        weight: 100,
        actions: vec![p(0, 100)],
        ..row("blue/green: last iteration switches all traffic to the canary")
    });
    v.push(Row {
        canary: bg,
        status: st(Some(Progressing), 100, 4, 0),
        checks: pass_metrics(),
        phase: Some(Promoting),
        weight: 100,
        actions: vec![Action::PromoteToPrimary],
        ..row("blue/green: checked at full traffic → Promoting")
    });
    v.push(Row {
        canary: canary(|a| {
            a.step_weight = None;
            a.max_weight = None;
            a.iterations = Some(3);
            a.r#match = vec![HttpMatchRequest::default()];
        }),
        status: st(Some(Progressing), 0, 0, 0),
        phase: Some(Progressing),
        weight: 100,
        actions: vec![p(0, 100)],
        ..row("A/B: first iteration routes matching requests to the canary")
    });

    // ---- promotion ----
    v.push(Row {
        status: st(Some(Promoting), 50, 0, 0),
        phase: Some(Finalising),
        weight: 0,
        actions: vec![p(100, 0)],
        conditions: vec![("Promoted", "Unknown", "Finalising")],
        ..row("Promoting → Finalising: all traffic back to the primary")
    });
    v.push(Row {
        canary: canary(|a| a.step_weight_promotion = Some(20)),
        status: st(Some(Promoting), 50, 0, 0),
        phase: Some(Promoting),
        weight: 30,
        actions: vec![p(70, 30)],
        ..row("Promoting with stepWeightPromotion 20: 50 → 30")
    });
    v.push(Row {
        status: st(Some(Promoting), 50, 0, 0),
        observed: Observed {
            primary: Readiness::Waiting("1 of 2 updated replicas".into()),
            ..seen()
        },
        phase: Some(Promoting),
        weight: 50,
        ..row("Promoting waits for the primary's rollout")
    });
    v.push(Row {
        status: st(Some(Promoting), 50, 0, 0),
        observed: Observed {
            primary: Readiness::Failed("ProgressDeadlineExceeded".into()),
            ..seen()
        },
        at: 1,
        phase: Some(Failed),
        weight: 100,
        actions: vec![p(0, 100)],
        conditions: vec![("Stalled", "True", "PromotionFailed")],
        ..row("Promoting → Failed when the primary fails: the canary keeps serving")
    });
    v.push(Row {
        status: st(Some(Finalising), 0, 0, 0),
        observed: Observed {
            primary: Readiness::Failed("ProgressDeadlineExceeded".into()),
            ..seen()
        },
        phase: Some(Failed),
        weight: 100,
        actions: vec![p(0, 100)],
        ..row("Finalising → Failed when the primary fails")
    });
    v.push(Row {
        status: st(Some(Finalising), 0, 0, 0),
        phase: Some(Succeeded),
        weight: 0,
        actions: vec![Action::ScaleTargetToZero],
        conditions: vec![
            ("Ready", "True", "Succeeded"),
            ("Promoted", "True", "Succeeded"),
            ("Reconciling", "False", "Succeeded"),
        ],
        ..row("Finalising → Succeeded")
    });

    // ---- manual requests ----
    v.push(Row {
        observed: Observed {
            request: Some("promote@1".into()),
            ..seen()
        },
        at: 5,
        phase: Some(Promoting),
        weight: 10,
        actions: vec![Action::PromoteToPrimary],
        ..row("Progressing + promote request → Promoting now")
    });
    v.push(Row {
        observed: Observed {
            request: Some("abort@1".into()),
            ..seen()
        },
        at: 5,
        phase: Some(Failed),
        weight: 0,
        actions: vec![p(100, 0), Action::ScaleTargetToZero],
        conditions: vec![("Stalled", "True", "Aborted")],
        ..row("Progressing + abort request → Failed now")
    });
    v.push(Row {
        status: CanaryStatus {
            last_handled_request: Some("abort@1".into()),
            ..st(Some(Progressing), 10, 0, 0)
        },
        observed: Observed {
            request: Some("abort@1".into()),
            ..seen()
        },
        at: 5,
        phase: Some(Progressing),
        weight: 10,
        ..row("an already handled request does nothing")
    });
    v.push(Row {
        status: st(Some(Failed), 0, 0, 3),
        observed: Observed {
            request: Some("retry@1".into()),
            ..seen()
        },
        at: 5,
        phase: Some(Progressing),
        weight: 0,
        actions: vec![Action::ScaleTargetFromZero],
        ..row("Failed + retry request → the same revision runs again")
    });
    v.push(Row {
        status: terminal(Succeeded),
        observed: Observed {
            request: Some("promote@1".into()),
            target: Some(rev("v1")),
            ..seen()
        },
        phase: Some(Succeeded),
        weight: 0,
        ..row("Succeeded + promote request → acknowledged, ignored")
    });
    v.push(Row {
        status: st(Some(Failed), 100, 0, 0),
        observed: Observed {
            request: Some("promote@1".into()),
            primary: Readiness::Failed("crash".into()),
            ..seen()
        },
        phase: Some(Promoting),
        weight: 100,
        actions: vec![Action::PromoteToPrimary],
        ..row("Failed with the canary serving + promote request → Promoting")
    });

    // ---- spec-level ----
    v.push(Row {
        observed: Observed {
            invalid_spec: Some(
                "spec.analysis.stepWeight: must be between 1 and 100 (got 0)".into(),
            ),
            ..seen()
        },
        phase: Some(Progressing),
        weight: 10,
        conditions: vec![
            ("Stalled", "True", "InvalidSpec"),
            ("Ready", "False", "InvalidSpec"),
            ("Reconciling", "False", "InvalidSpec"),
        ],
        ..row("invalid spec → Stalled(InvalidSpec), nothing else touched")
    });
    v.push(Row {
        canary: {
            let mut c = canary(|_| {});
            c.spec.suspend = Some(true);
            c
        },
        checks: pass_metrics(),
        phase: Some(Progressing),
        weight: 10,
        ..row("suspended → nothing moves")
    });
    let revert = {
        let mut c = canary(|_| {});
        c.spec.revert_on_deletion = Some(true);
        c
    };
    v.push(Row {
        canary: revert.clone(),
        status: terminal(Succeeded),
        observed: Observed {
            has_finalizer: false,
            target: Some(rev("v1")),
            ..seen()
        },
        phase: Some(Succeeded),
        weight: 0,
        actions: vec![Action::AddFinalizer],
        ..row("revertOnDeletion → finalizer added")
    });
    v.push(Row {
        canary: revert.clone(),
        status: terminal(Succeeded),
        observed: Observed {
            deleting: true,
            ..seen()
        },
        phase: Some(Terminating),
        weight: 0,
        actions: vec![Action::RestoreTarget],
        ..row("deleted with revertOnDeletion → Terminating, target restored")
    });
    v.push(Row {
        canary: revert.clone(),
        status: st(Some(Terminating), 0, 0, 0),
        observed: Observed {
            deleting: true,
            ..seen()
        },
        phase: Some(Terminated),
        weight: 0,
        actions: vec![Action::RevertRouting, Action::RemoveFinalizer],
        ..row("Terminating → Terminated once the target is ready")
    });
    v.push(Row {
        canary: revert.clone(),
        status: terminal(Succeeded),
        observed: Observed {
            deleting: true,
            target: None,
            ..seen()
        },
        phase: Some(Terminated),
        weight: 0,
        actions: vec![Action::RevertRouting, Action::RemoveFinalizer],
        ..row("deleted with revertOnDeletion after the target → Terminated at once")
    });
    v.push(Row {
        status: terminal(Succeeded),
        observed: Observed {
            deleting: true,
            ..seen()
        },
        phase: Some(Succeeded),
        weight: 0,
        ..row("deleted without revertOnDeletion → left to garbage collection")
    });
    v
}

#[test]
fn every_transition() {
    let config = Config {
        default_provider: fledge_api::Provider::Istio,
        ..Config::default()
    };
    let mut failures = Vec::new();
    for mut r in rows() {
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

#[test]
fn invalid_spec_leaves_everything_but_conditions_alone() {
    let config = Config::default();
    let mut c = canary(|_| {});
    let before = st(Some(Progressing), 30, 0, 2);
    c.status = Some(before.clone());
    let observed = Observed {
        invalid_spec: Some("canary test/podinfo: spec.analysis.interval: bad".into()),
        ..seen()
    };
    let d = decide(
        &Input {
            canary: &c,
            config: &config,
            observed: &observed,
            checks: &CheckResults::default(),
        },
        t(600),
    );
    assert!(d.actions.is_empty());
    assert_eq!(d.requeue_after, None);
    let mut after = d.status.clone();
    after.conditions.clear();
    after.message = None;
    assert_eq!(after, before);
    assert_eq!(
        d.status.message.as_deref(),
        Some("canary test/podinfo: spec.analysis.interval: bad")
    );
}
