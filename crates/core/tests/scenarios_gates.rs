//! Tick-by-tick scenarios for gates (confirm-rollout, confirm-promotion,
//! confirm-traffic-increase) and hooks that count (pre-rollout) or roll back (rollback).

mod common;

use common::*;
use fledge_api::{CanaryPhase::*, HookType, Verdict};
use fledge_core::{Action, HookOutcome, Routes};

#[test]
fn confirm_rollout_holds_in_waiting_without_counting() {
    let mut w = World::initialized(canary(|a| {
        a.webhooks = vec![hook("gate", HookType::ConfirmRollout)]
    }));
    w.checker = hooks_say(
        HookType::ConfirmRollout,
        HookOutcome::Refused("closed".into()),
    );
    w.observed.target = Some(rev("v2"));
    let d = w.tick();
    assert_eq!(w.phase(), Some(Waiting));
    assert!(!has(&d, |a| a == &Action::ScaleTargetFromZero));
    assert!(has(&d, |a| matches!(a, Action::Alert(_))));
    for _ in 0..3 {
        w.next();
        assert_eq!((w.phase(), w.status().failed_checks), (Some(Waiting), 0));
    }
    w.checker = all_pass();
    let d = w.next();
    assert_eq!(w.phase(), Some(Progressing));
    assert!(has(&d, |a| a == &Action::ScaleTargetFromZero));
}

#[test]
fn confirm_promotion_holds_in_waiting_promotion_while_checks_go_on() {
    let mut w = World::initialized(canary(|a| {
        a.step_weight = Some(50);
        a.threshold = Some(2);
        a.webhooks = vec![hook("promote", HookType::ConfirmPromotion)];
    }));
    w.checker = hooks_say(
        HookType::ConfirmPromotion,
        HookOutcome::Refused("not yet".into()),
    );
    w.observed.target = Some(rev("v2"));
    w.tick();
    assert_eq!(
        drive(&mut w, 3),
        vec![
            (Progressing, 50),
            (WaitingPromotion, 50),
            (WaitingPromotion, 50)
        ]
    );
    assert_eq!(
        w.routes(),
        Some(Routes {
            primary: 50,
            canary: 50,
            mirrored: false
        }),
        "traffic stays at max"
    );
    assert_eq!(condition(&w.status(), "Promoted").0, "Unknown");
    // Metrics still count while waiting.
    w.checker = metrics_say(Verdict::Fail);
    assert_eq!(drive(&mut w, 2), vec![(WaitingPromotion, 50), (Failed, 0)]);
}

#[test]
fn confirm_traffic_increase_holds_the_weight() {
    let mut w = World::initialized(canary(|a| {
        a.webhooks = vec![hook("more", HookType::ConfirmTrafficIncrease)]
    }));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.next();
    assert_eq!(w.weight(), 10);
    w.checker = hooks_say(
        HookType::ConfirmTrafficIncrease,
        HookOutcome::Refused("wait".into()),
    );
    assert_eq!(drive(&mut w, 2), vec![(Progressing, 10), (Progressing, 10)]);
    assert_eq!(w.status().failed_checks, 0);
    w.checker = all_pass();
    assert_eq!(drive(&mut w, 1), vec![(Progressing, 20)]);
}

#[test]
fn pre_rollout_failure_counts_and_rollback_hook_rolls_back_now() {
    let mut w = World::initialized(canary(|a| {
        a.webhooks = vec![
            hook("smoke", HookType::PreRollout),
            hook("panic", HookType::Rollback),
        ];
    }));
    w.checker = Box::new(|req, s| {
        let mut r = fledge_core::CheckResults::all_passing(req, s);
        for h in &mut r.hooks {
            if h.hook_type == HookType::PreRollout {
                h.outcome = HookOutcome::Refused("502".into());
            }
        }
        r
    });
    w.observed.target = Some(rev("v2"));
    w.tick();
    let failed = w.next();
    assert_eq!(
        (w.phase(), w.weight(), w.status().failed_checks),
        (Some(Progressing), 0, 1)
    );
    // Unlike Flagger (#1663), a failing pre-rollout check alerts.
    assert!(
        failed.actions.iter().any(|a| matches!(a,
            fledge_core::Action::Alert(alert)
                if alert.severity == fledge_api::Severity::Warn
                    && alert.message.contains("pre-rollout check smoke failed"))),
        "{:?}",
        failed.actions
    );
    assert_eq!(
        stage_types(w.requests.last().unwrap()),
        vec!["rollback", "pre-rollout"]
    );
    w.checker = hooks_say(HookType::Rollback, HookOutcome::Accepted);
    let d = w.next();
    assert_eq!(w.phase(), Some(Failed));
    assert_eq!(
        condition(&w.status(), "Stalled").1.as_deref(),
        Some("RollbackHook")
    );
    assert!(events(&d)[0].contains("manual webhook invoked"));
}
