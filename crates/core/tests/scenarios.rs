//! Multi-step scenarios: drive the machine tick by tick (like Flagger's
//! `TestScheduler_DeploymentAnalysisPhases`) and assert phase and weight at every tick.
//! Initialization, the canary strategy, failures, revisions, timers. Strategies other than
//! canary are in `scenarios_strategies.rs`, gates and hooks in `scenarios_gates.rs`.

mod common;

use common::*;
use fledge_api::{CanaryPhase::*, HookType, Verdict};
use fledge_core::{Action, Readiness, Routes};

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
        vec![
            Action::Event(fledge_core::Event {
                event_type: fledge_core::EventType::Warning,
                reason: fledge_core::EVENT_REASON,
                message: "traffic split changed outside fledge (primary 100%, canary 0%); restoring primary 90%, canary 10%".into(),
            }),
            Action::SetRoutes(Routes {
                primary: 90,
                canary: 10,
                mirrored: false
            })
        ]
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

#[test]
fn waits_are_reported_once_and_only_when_a_step_is_due() {
    let mut w = World::initialized(canary(|_| {}));
    w.observed.target = Some(rev("v2"));
    w.tick();
    w.observed.canary = Readiness::Waiting("0 of 1 updated replicas are available".into());
    w.advance(std::time::Duration::from_secs(20));
    let d = w.tick();
    assert!(d.actions.is_empty(), "not due yet: {:?}", d.actions);
    assert_eq!(d.requeue_after, Some(std::time::Duration::from_secs(40)));
    w.advance(std::time::Duration::from_secs(40));
    let d = w.tick();
    assert_eq!(
        events(&d),
        vec!["waiting for podinfo.test: 0 of 1 updated replicas are available"]
    );
    w.advance(std::time::Duration::from_secs(5));
    assert!(w.tick().actions.is_empty(), "same wait, no new Event");
    w.observed.canary = Readiness::Ready;
    w.advance(std::time::Duration::from_secs(5));
    w.tick();
    assert_eq!(
        w.weight(),
        10,
        "the overdue step runs as soon as the canary is ready"
    );
}

#[test]
fn the_release_history_records_each_release_and_its_steps_within_bounds() {
    use fledge_api::status::{RELEASE_HISTORY_LIMIT, STEP_HISTORY_LIMIT};
    let mut w = World::initialized(canary(|a| a.threshold = Some(2)));
    // A promoted release.
    w.observed.target = Some(rev("v2"));
    while w.phase() != Some(Succeeded) {
        w.next();
    }
    let st = w.status();
    let release = st.releases.last().expect("a release").clone();
    assert_eq!(release.revision, "v2");
    assert_eq!(release.images, ["ghcr.io/stefanprodan/podinfo:v2"]);
    assert_eq!(release.outcome.as_deref(), Some("Succeeded"));
    assert!(release.ended.is_some() && release.started.0 < release.ended.clone().unwrap().0);
    let weights: Vec<i32> = st
        .steps
        .iter()
        .filter(|s| s.revision == "v2")
        .map(|s| s.canary_weight)
        .collect();
    assert!(
        weights.contains(&10) && weights.contains(&50),
        "{weights:?}"
    );

    // A rolled-back release says why.
    w.observed.target = Some(rev("v3"));
    w.tick();
    w.next();
    w.checker = metrics_say(Verdict::Fail);
    while w.phase() != Some(Failed) {
        w.next();
    }
    let release = w.status().releases.last().expect("a release").clone();
    assert_eq!(
        (
            release.revision.as_str(),
            release.outcome.as_deref(),
            release.reason.as_deref()
        ),
        ("v3", Some("Failed"), Some("FailedChecks"))
    );
    // Each step keeps what its checks said.
    let failing: Vec<_> = w
        .status()
        .steps
        .iter()
        .filter(|s| s.revision == "v3")
        .flat_map(|s| s.checks.clone())
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    assert!(!failing.is_empty(), "the failed checks are in the steps");

    // A newer revision mid-analysis supersedes the one under test.
    w.checker = all_pass();
    w.observed.target = Some(rev("v4"));
    w.tick();
    w.next();
    assert_eq!(w.phase(), Some(Progressing));
    w.observed.target = Some(rev("v5"));
    w.tick();
    let releases = w.status().releases;
    let n = releases.len();
    assert_eq!(releases[n - 2].revision, "v4");
    assert_eq!(releases[n - 2].outcome.as_deref(), Some("Superseded"));
    assert_eq!(releases[n - 1].revision, "v5");
    assert!(releases[n - 1].ended.is_none(), "open while it runs");

    // Bounded, however many releases run.
    for i in 6..30 {
        w.observed.target = Some(rev(&format!("v{i}")));
        w.tick();
        while w.phase() != Some(Succeeded) {
            w.next();
        }
    }
    let st = w.status();
    assert_eq!(st.releases.len(), RELEASE_HISTORY_LIMIT);
    assert_eq!(st.releases.last().map(|r| r.revision.as_str()), Some("v29"));
    assert!(st.steps.len() <= STEP_HISTORY_LIMIT);
    assert!(
        st.steps
            .iter()
            .all(|s| s.revision == "v28" || s.revision == "v29"),
        "only the current and the last release's steps are kept"
    );
    let size = serde_json::to_vec(&st).expect("json").len();
    assert!(size < 10 * 1024, "status is {size} bytes");
}

#[test]
fn a_live_plan_continues_the_release_under_way_and_matches_the_machine() {
    let c = canary(|_| {});
    let mut w = World::initialized(c);
    w.observed.target = Some(rev("v2"));
    w.tick();
    while w.weight() < 20 {
        w.next();
    }
    // Half an interval after the step to 20%.
    w.advance(std::time::Duration::from_secs(30));
    let mut live = w.canary.clone();
    live.status = Some(w.status());
    let plan = fledge_core::plan_live(&live, &w.config, w.now);
    let weights: Vec<i32> = plan.steps.iter().map(|s| s.canary_weight).collect();
    assert_eq!(weights.first(), Some(&30), "{weights:?}");
    assert!(weights.contains(&50));
    assert_eq!(
        plan.steps[0].offset_seconds, 30,
        "the next step is due in 30 s"
    );
    assert_eq!(plan.steps.last().map(|s| s.phase), Some(Succeeded));

    // The machine takes exactly as long (a tick now learns when the next step is due).
    let start = w.now;
    w.tick();
    while w.phase() != Some(Succeeded) {
        w.next();
    }
    assert_eq!(
        w.now.duration_since(start).as_secs() as u64,
        plan.min_duration_seconds
    );

    // Between releases the live plan is the next release's plan.
    let mut idle = w.canary.clone();
    idle.status = Some(w.status());
    assert_eq!(
        fledge_core::plan_live(&idle, &w.config, w.now),
        fledge_core::plan(&w.canary, &w.config)
    );
}

/// `RequestKind::refusal` (what the CLI and the dashboard say before sending) agrees with
/// what the machine does with each request in each state.
#[test]
fn request_refusals_agree_with_the_machine() {
    use fledge_core::RequestKind;
    type State = (&'static str, fn() -> World);
    let states: [State; 5] = [
        ("initialized", || World::initialized(canary(|_| {}))),
        ("progressing", || {
            let mut w = World::initialized(canary(|_| {}));
            w.observed.target = Some(rev("v2"));
            w.tick();
            w.next();
            w
        }),
        ("paused", || {
            let mut w = World::initialized(canary(|_| {}));
            w.observed.target = Some(rev("v2"));
            w.tick();
            w.observed.request = Some("pause@0".into());
            w.next();
            w
        }),
        ("succeeded", || {
            let mut w = World::initialized(canary(|_| {}));
            w.observed.target = Some(rev("v2"));
            w.tick();
            while w.phase() != Some(Succeeded) {
                w.next();
            }
            w
        }),
        ("failed", || {
            let mut w = World::initialized(canary(|a| a.threshold = Some(1)));
            w.observed.target = Some(rev("v2"));
            w.tick();
            w.checker = metrics_say(Verdict::Fail);
            while w.phase() != Some(Failed) {
                w.next();
            }
            w
        }),
    ];
    for (state, make) in states {
        for kind in RequestKind::ALL {
            let mut w = make();
            let before = w.status();
            let mut live = w.canary.clone();
            live.status = Some(before.clone());
            let refusal = kind.refusal(&live);
            let request = format!("{kind}@1");
            w.observed.request = Some(request.clone());
            let d = w.tick();
            let after = w.status();
            let ignored = events(&d).iter().any(|e| e.contains("Ignoring request"));
            let acted = !ignored
                && (after.phase != before.phase
                    || after.paused != before.paused
                    || after.last_handled_request.as_deref() == Some(request.as_str()));
            assert_eq!(
                !acted,
                refusal.is_some(),
                "{kind} in {state}: refusal {refusal:?}, events {:?}",
                events(&d)
            );
        }
    }
}
