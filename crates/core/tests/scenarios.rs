//! Multi-step scenarios: drive the machine tick by tick (like Flagger's
//! `TestScheduler_DeploymentAnalysisPhases`) and assert phase and weight at every tick.

mod common;

use common::*;
use fledge_api::service::HttpMatchRequest;
use fledge_api::{CanaryPhase::*, HookType, Verdict};
use fledge_core::{Action, HookOutcome, Readiness, Routes};

/// (phase, canary weight) after each tick.
fn drive(w: &mut World, ticks: usize) -> Vec<(fledge_api::CanaryPhase, i32)> {
    (0..ticks)
        .map(|_| {
            w.next();
            (w.phase().unwrap(), w.weight())
        })
        .collect()
}

#[test]
fn initialization_waits_for_the_primary_then_routes_and_scales_down() {
    let mut w = World::fresh(canary(|_| {}));
    let d = w.tick();
    assert_eq!(w.phase(), Some(Initializing));
    assert_eq!(d.actions.first(), Some(&Action::InitializePrimary));
    assert!(!has(&d, |a| matches!(
        a,
        Action::ScaleTargetToZero | Action::ReconcileRouting
    )));
    assert!(d.requeue_after.is_some());

    w.observed.primary = Readiness::Ready;
    let d = w.tick();
    assert_eq!(w.phase(), Some(Initialized));
    let order: Vec<_> = d
        .actions
        .iter()
        .filter(|a| !matches!(a, Action::Event(_) | Action::Alert(_)))
        .cloned()
        .collect();
    assert_eq!(
        order,
        vec![
            Action::InitializePrimary,
            Action::ReconcileRouting,
            Action::ScaleTargetToZero
        ]
    );
    assert_eq!(events(&d), vec!["Initialization done! podinfo.test"]);
    let st = w.status();
    assert_eq!(st.last_applied_spec.as_deref(), Some("v1"));
    assert_eq!(st.last_promoted_spec.as_deref(), Some("v1"));
    assert_eq!(condition(&st, "Ready").0, "True");
    assert_eq!(condition(&st, "Promoted").0, "True");
    assert_eq!(
        d.requeue_after, None,
        "nothing to do until something changes"
    );
}

/// Flagger's TestScheduler_DeploymentAnalysisPhases: stepWeight 100, stepWeightPromotion 50.
#[test]
fn analysis_phases_like_flagger() {
    let mut w = World::initialized(canary(|a| {
        a.max_weight = None;
        a.step_weight = Some(100);
        a.step_weight_promotion = Some(50);
    }));
    w.observed.target = Some(rev("v2"));
    let d = w.tick();
    assert_eq!((w.phase(), w.weight()), (Some(Progressing), 0));
    assert!(has(&d, |a| a == &Action::ScaleTargetFromZero));
    assert_eq!(d.requeue_after, Some(MINUTE));
    assert_eq!(
        drive(&mut w, 5),
        vec![
            (Progressing, 100),
            (Promoting, 100),
            (Promoting, 50),
            (Finalising, 0),
            (Succeeded, 0)
        ]
    );
    assert_eq!(w.status().last_promoted_spec.as_deref(), Some("v2"));
    assert_eq!(w.routes(), Some(Routes::ALL_PRIMARY));
    assert_eq!(w.last.as_ref().unwrap().requeue_after, None);
}

#[test]
fn canary_weights_stop_at_max_weight() {
    // Flagger: 20, 40, 60. We stop at 50.
    let mut w = World::initialized(canary(|a| a.step_weight = Some(20)));
    w.observed.target = Some(rev("v2"));
    w.tick();
    let got = drive(&mut w, 7);
    assert_eq!(
        got,
        vec![
            (Progressing, 20),
            (Progressing, 40),
            (Progressing, 50),
            (Promoting, 50),
            (Finalising, 0),
            (Succeeded, 0),
            (Succeeded, 0),
        ]
    );
}

#[test]
fn step_weights_schedule_and_checks_per_step() {
    let mut w = World::initialized(canary(|a| {
        a.step_weight = None;
        a.max_weight = None;
        a.step_weights = vec![1, 5, 25];
        a.webhooks = vec![
            hook("smoke", HookType::PreRollout),
            hook("load", HookType::Rollout),
        ];
    }));
    w.observed.target = Some(rev("v2"));
    w.tick();
    let got = drive(&mut w, 4);
    assert_eq!(
        got,
        vec![
            (Progressing, 1),
            (Progressing, 5),
            (Progressing, 25),
            (Promoting, 25)
        ]
    );
    let stages: Vec<_> = w.requests.iter().map(stage_types).collect();
    // init, detection, w0 step, w1, w5, w25
    assert_eq!(stages[2], vec!["pre-rollout"]);
    assert_eq!(stages[3], vec!["rollout", "metrics"]);
    assert_eq!(stages[5], vec!["rollout", "metrics"]);
    assert_eq!(
        w.routes(),
        Some(Routes {
            primary: 75,
            canary: 25,
            mirrored: false
        })
    );
}

#[test]
fn failed_checks_reach_the_threshold_and_roll_back() {
    let mut w = World::initialized(canary(|a| {
        a.threshold = Some(3);
        a.webhooks = vec![hook("notify", HookType::PostRollout)];
    }));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.next(); // weight 10 (metrics aren't evaluated at weight 0)
    w.checker = metrics_say(Verdict::Fail);
    let got: Vec<_> = (0..3)
        .map(|_| {
            w.next();
            (w.phase().unwrap(), w.weight(), w.status().failed_checks)
        })
        .collect();
    assert_eq!(
        got,
        vec![(Progressing, 10, 1), (Progressing, 10, 2), (Failed, 0, 3)]
    );
    let d = w.last.clone().unwrap();
    assert!(has(&d, |a| a == &Action::SetRoutes(Routes::ALL_PRIMARY)));
    assert!(has(&d, |a| a == &Action::ScaleTargetToZero));
    assert!(has(&d, |a| matches!(
        a,
        Action::CallHooks {
            hook_type: HookType::PostRollout,
            phase: Failed,
            ..
        }
    )));
    assert!(
        events(&d)
            .contains(&"Rolling back podinfo.test failed checks threshold reached 3".to_string())
    );
    let st = w.status();
    assert_eq!(
        condition(&st, "Stalled"),
        ("True".into(), Some("FailedChecks".into()))
    );
    assert_eq!(condition(&st, "Promoted").0, "False");
    assert!(
        st.analysis_history
            .iter()
            .any(|r| r.verdict == Verdict::Fail && r.kind == "metric")
    );
    // The failed revision doesn't re-trigger; re-applying it doesn't either.
    let d = w.next();
    assert!(d.actions.is_empty());
    assert_eq!(w.phase(), Some(Failed));
}

#[test]
fn inconclusive_metrics_hold_without_counting() {
    let mut w = World::initialized(canary(|_| {}));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.next();
    assert_eq!(w.weight(), 10);
    w.checker = metrics_say(Verdict::Inconclusive);
    for _ in 0..10 {
        w.next();
        assert_eq!(
            (w.phase(), w.weight(), w.status().failed_checks),
            (Some(Progressing), 10, 0)
        );
    }
    w.checker = metrics_say(Verdict::Skipped);
    w.next();
    assert_eq!(w.weight(), 20, "skipped metrics don't block");
    assert!(w.status().analysis_history.len() <= fledge_api::status::ANALYSIS_HISTORY_LIMIT);
}

#[test]
fn blue_green_iterations_then_switch_then_promote() {
    let mut w = World::initialized(canary(|a| {
        a.step_weight = None;
        a.max_weight = None;
        a.iterations = Some(3);
    }));
    w.observed.target = Some(rev("v2"));
    w.tick();
    let got: Vec<_> = (0..8)
        .map(|_| {
            w.next();
            (w.phase().unwrap(), w.weight(), w.status().iterations)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Progressing, 0, 1),
            (Progressing, 0, 2),
            (Progressing, 0, 3),
            (Progressing, 100, 4),
            (Promoting, 100, 4),
            (Finalising, 0, 4),
            (Succeeded, 0, 0),
            (Succeeded, 0, 0),
        ]
    );
}

#[test]
fn blue_green_with_kubernetes_provider_moves_no_traffic() {
    let mut c = canary(|a| {
        a.step_weight = None;
        a.max_weight = None;
        a.iterations = Some(2);
    });
    c.spec.provider = Some(fledge_api::Provider::Kubernetes);
    let mut w = World::initialized(c);
    w.observed.target = Some(rev("v2"));
    w.tick();
    for _ in 0..6 {
        w.next();
        assert_eq!(w.weight(), 0);
        assert!(!has(
            w.last.as_ref().unwrap(),
            |a| matches!(a, Action::SetRoutes(r) if r.canary > 0)
        ));
    }
    assert_eq!(w.phase(), Some(Succeeded));
}

#[test]
fn ab_testing_routes_matching_traffic_then_promotes() {
    let mut w = World::initialized(canary(|a| {
        a.step_weight = None;
        a.max_weight = None;
        a.iterations = Some(2);
        a.r#match = vec![HttpMatchRequest::default()];
        a.webhooks = vec![hook("approve", HookType::ConfirmPromotion)];
    }));
    w.observed.target = Some(rev("v2"));
    w.tick();
    let got: Vec<_> = (0..5)
        .map(|_| {
            w.next();
            (w.phase().unwrap(), w.weight(), w.status().iterations)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Progressing, 100, 1),
            (Progressing, 100, 2),
            (Promoting, 100, 2),
            (Finalising, 0, 2),
            (Succeeded, 0, 0)
        ]
    );
    let stages: Vec<_> = w.requests.iter().map(stage_types).collect();
    assert_eq!(stages[4], vec!["metrics", "confirm-promotion"]);
}

#[test]
fn mirroring_takes_one_mirrored_step_before_weights() {
    let mut w = World::initialized(canary(|a| {
        a.mirror = Some(true);
        a.webhooks = vec![hook("more", HookType::ConfirmTrafficIncrease)];
    }));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.next();
    assert_eq!(
        w.routes(),
        Some(Routes {
            primary: 100,
            canary: 0,
            mirrored: true
        })
    );
    assert!(w.status().mirrored);
    assert_eq!(
        stage_types(w.requests.last().unwrap()),
        Vec::<String>::new(),
        "pre-rollout only; no traffic increase gate for mirroring"
    );
    w.next();
    assert_eq!(
        w.routes(),
        Some(Routes {
            primary: 90,
            canary: 10,
            mirrored: false
        })
    );
    assert_eq!(
        stage_types(w.requests.last().unwrap()),
        vec!["metrics", "confirm-traffic-increase"]
    );
}

#[test]
fn skip_analysis_promotes_once_the_canary_is_ready() {
    let mut c = canary(|a| a.webhooks = vec![hook("load", HookType::Rollout)]);
    c.spec.skip_analysis = Some(true);
    let mut w = World::initialized(c);
    w.observed.target = Some(rev("v2"));
    w.observed.canary = Readiness::Waiting("0 of 1 updated replicas are available".into());
    w.tick();
    assert_eq!(w.phase(), Some(Progressing));
    w.next();
    assert_eq!(w.phase(), Some(Progressing), "waits for the canary");
    w.observed.canary = Readiness::Ready;
    assert_eq!(
        drive(&mut w, 3),
        vec![(Promoting, 0), (Finalising, 0), (Succeeded, 0)]
    );
    assert!(
        w.requests.iter().all(|r| r.is_empty()),
        "no checks with skipAnalysis"
    );
}

#[test]
fn new_revision_mid_analysis_restarts_at_weight_zero() {
    let mut w = World::initialized(canary(|_| {}));
    w.observed.target = Some(rev("v2"));
    w.tick();
    drive(&mut w, 2);
    assert_eq!(w.weight(), 20);
    w.observed.target = Some(rev("v3"));
    w.advance(std::time::Duration::from_secs(5));
    let d = w.tick();
    assert_eq!((w.phase(), w.weight()), (Some(Progressing), 0));
    assert!(has(&d, |a| a == &Action::SetRoutes(Routes::ALL_PRIMARY)));
    assert_eq!(
        events(&d),
        vec!["New revision detected! Restarting analysis for podinfo.test"]
    );
    assert_eq!(w.status().last_applied_spec.as_deref(), Some("v3"));
    assert_eq!(drive(&mut w, 2), vec![(Progressing, 10), (Progressing, 20)]);
}

#[test]
fn a_revision_equal_to_the_promoted_one_is_not_analysed() {
    let mut w = World::initialized(canary(|a| a.threshold = Some(1)));
    w.observed.target = Some(rev("bad"));
    w.tick();
    w.next();
    w.checker = metrics_say(Verdict::Fail);
    w.next();
    assert_eq!(w.phase(), Some(Failed));
    // Back to v1, which the primary runs: nothing to analyse.
    w.observed.target = Some(rev("v1"));
    let d = w.next();
    assert_eq!(w.phase(), Some(Failed));
    assert!(!has(&d, |a| a == &Action::ScaleTargetFromZero));
    // The bad one again is a new run (Flagger's test-lifecycle.sh).
    w.checker = all_pass();
    w.observed.target = Some(rev("bad"));
    w.next();
    assert_eq!(w.phase(), Some(Progressing));
    // And reverting mid-analysis cancels it.
    w.observed.target = Some(rev("v1"));
    let d = w.next();
    assert_eq!((w.phase(), w.weight()), (Some(Succeeded), 0));
    assert!(has(&d, |a| a == &Action::ScaleTargetToZero));
}

#[test]
fn primary_failing_during_promotion_keeps_the_canary_serving() {
    let mut w = World::initialized(canary(|a| a.step_weight = Some(50)));
    w.observed.target = Some(rev("v2"));
    w.tick();
    assert_eq!(drive(&mut w, 2), vec![(Progressing, 50), (Promoting, 50)]);
    w.observed.primary = Readiness::Failed("ProgressDeadlineExceeded".into());
    let d = w.next();
    assert_eq!((w.phase(), w.weight()), (Some(Failed), 100));
    assert_eq!(w.routes(), Some(Routes::ALL_CANARY));
    assert!(
        !has(&d, |a| a == &Action::ScaleTargetToZero),
        "the canary keeps serving"
    );
    let st = w.status();
    assert_eq!(
        condition(&st, "Stalled"),
        ("True".into(), Some("PromotionFailed".into()))
    );
    assert!(
        st.message
            .unwrap()
            .contains("all traffic stays on the canary")
    );
    // A new revision doesn't start while the primary is broken: traffic would go to it.
    w.observed.target = Some(rev("v3"));
    let d = w.next();
    assert_eq!(w.phase(), Some(Failed));
    assert!(!has(&d, |a| matches!(
        a,
        Action::SetRoutes(_) | Action::ScaleTargetFromZero
    )));
    // Primary fixed (e.g. by hand): the new revision starts, traffic back on the primary.
    w.observed.primary = Readiness::Ready;
    let d = w.next();
    assert_eq!((w.phase(), w.weight()), (Some(Progressing), 0));
    assert!(has(&d, |a| a == &Action::SetRoutes(Routes::ALL_PRIMARY)));
}

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
    w.next();
    assert_eq!(
        (w.phase(), w.weight(), w.status().failed_checks),
        (Some(Progressing), 0, 1)
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

#[test]
fn canary_past_its_deadline_is_rolled_back_immediately() {
    let mut w = World::initialized(canary(|_| {}));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.observed.canary = Readiness::Waiting("0 of 1 updated replicas are available".into());
    w.next();
    assert_eq!(w.phase(), Some(Progressing));
    w.observed.canary = Readiness::Failed("ProgressDeadlineExceeded".into());
    w.advance(std::time::Duration::from_secs(1));
    w.tick();
    assert_eq!(w.phase(), Some(Failed));
    assert_eq!(
        condition(&w.status(), "Stalled").1.as_deref(),
        Some("ProgressDeadlineExceeded")
    );
}

#[test]
fn steps_wait_for_the_interval_and_a_restart_neither_skips_nor_repeats() {
    let mut w = World::initialized(canary(|_| {}));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.next();
    assert_eq!(w.weight(), 10);
    // A watch event 20s later: nothing is due.
    w.advance(std::time::Duration::from_secs(20));
    let d = w.tick();
    assert!(d.actions.is_empty());
    assert_eq!(w.weight(), 10);
    assert_eq!(d.requeue_after, Some(std::time::Duration::from_secs(40)));
    assert!(
        w.requests.last().unwrap().is_empty(),
        "no checks before the step is due"
    );
    // A "restarted controller" is just another call with the stored status.
    w.advance(std::time::Duration::from_secs(40));
    w.tick();
    assert_eq!(w.weight(), 20);
    w.tick();
    assert_eq!(w.weight(), 20, "same time again: the step isn't repeated");
}

#[test]
fn route_drift_is_repaired_from_the_status() {
    let mut w = World::initialized(canary(|_| {}));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.next();
    w.observed.routes = Some(Routes::ALL_PRIMARY); // someone edited the VirtualService
    w.advance(std::time::Duration::from_secs(1));
    let d = w.tick();
    assert_eq!(
        d.actions,
        vec![Action::SetRoutes(Routes {
            primary: 90,
            canary: 10,
            mirrored: false
        })]
    );
}

#[test]
fn plan_timings_match_the_machine() {
    let c = canary(|a| a.threshold = Some(3));
    let config = fledge_core::Config {
        default_provider: fledge_api::Provider::Istio,
        ..Default::default()
    };
    let plan = fledge_core::plan(&c, &config);
    assert_eq!(plan.rollback_after_seconds, 180);

    // All passing: promotion takes exactly minDurationSeconds after detection.
    let mut w = World::initialized(c.clone());
    w.observed.target = Some(rev("v2"));
    w.tick();
    let start = w.now;
    while w.phase() != Some(Succeeded) {
        w.next();
    }
    assert_eq!(
        w.now.duration_since(start).as_secs() as u64,
        plan.min_duration_seconds
    );

    // Failing from some step on: rolled back threshold × interval after the last pass.
    let mut w = World::initialized(c);
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.next();
    w.next();
    let last_pass = w.now;
    w.checker = metrics_say(Verdict::Fail);
    while w.phase() != Some(Failed) {
        w.next();
    }
    assert_eq!(
        w.now.duration_since(last_pass).as_secs() as u64,
        plan.rollback_after_seconds
    );
}
