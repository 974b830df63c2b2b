//! One row per transition of the analysis and promotion: canary steps, failures, gates,
//! revisions mid-analysis, readiness, blue/green and A/B, Promoting and Finalising.

mod common;

use common::table::*;
use common::*;
use fledge_api::service::HttpMatchRequest;
use fledge_api::{CanaryPhase::*, HookType};
use fledge_core::{Action, CheckResults, HookOutcome, Observed, Readiness, Routes};

#[allow(clippy::vec_init_then_push)] // one push per row reads as a table
fn rows() -> Vec<Row> {
    let mut v = Vec::new();

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

    v
}

#[test]
fn every_analysis_transition() {
    check(rows());
}
