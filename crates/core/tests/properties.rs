//! Invariants under random specs and random observations, tick after tick:
//! the weight stays in 0..=maxWeight during a canary analysis, nothing is promoted with
//! failedChecks >= threshold, every terminal phase routes 100% to one side, check results
//! asked for are always enough, and (in `World::tick`) decide is deterministic.

mod common;

use std::time::Duration;

use common::*;
use fledge_api::service::HttpMatchRequest;
use fledge_api::{CanaryPhase::*, HookType, Provider, Strategy as Rollout, Verdict};
use fledge_core::{Action, CheckResults, HookOutcome, Readiness, Routes};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Spec {
    step_weight: Option<i32>,
    step_weights: Vec<i32>,
    max_weight: i32,
    iterations: i32,
    ab: bool,
    mirror: bool,
    threshold: i32,
    promotion_step: i32,
    kubernetes: bool,
    hooks: Vec<HookType>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let weights = prop_oneof![
        (1..=100i32).prop_map(|s| (Some(s), vec![])),
        proptest::collection::btree_set(1..=100i32, 1..6)
            .prop_map(|s| (None, s.into_iter().collect())),
    ];
    let hooks = proptest::sample::subsequence(
        vec![
            HookType::ConfirmRollout,
            HookType::PreRollout,
            HookType::Rollout,
            HookType::ConfirmTrafficIncrease,
            HookType::ConfirmPromotion,
            HookType::Rollback,
            HookType::PostRollout,
            HookType::Event,
        ],
        0..8,
    );
    (
        weights,
        1..=100i32,
        prop_oneof![Just(0), 1..=4i32],
        any::<bool>(),
        any::<bool>(),
        1..=4i32,
        0..=60i32,
        prop::bool::weighted(0.15),
        hooks,
    )
        .prop_map(
            |(
                (step_weight, step_weights),
                max_weight,
                iterations,
                ab,
                mirror,
                threshold,
                promotion_step,
                kubernetes,
                hooks,
            )| Spec {
                step_weight,
                step_weights,
                max_weight,
                iterations,
                ab,
                mirror,
                threshold,
                promotion_step,
                kubernetes,
                hooks,
            },
        )
}

#[derive(Clone, Debug)]
struct Tick {
    verdict: Verdict,
    gates_ok: bool,
    rollback: bool,
    hooks_ok: bool,
    primary: Readiness,
    canary: Readiness,
    new_revision: bool,
    request: Option<&'static str>,
    /// 0: wait for the requeue; else a watch event this many seconds later.
    early: u64,
}

fn readiness() -> impl Strategy<Value = Readiness> {
    prop_oneof![
        8 => Just(Readiness::Ready),
        2 => Just(Readiness::Waiting("1 of 2 updated replicas are available".into())),
        1 => Just(Readiness::Failed("ProgressDeadlineExceeded".into())),
    ]
}

fn tick() -> impl Strategy<Value = Tick> {
    let verdict = prop_oneof![
        10 => Just(Verdict::Pass),
        2 => Just(Verdict::Fail),
        1 => Just(Verdict::Inconclusive),
        1 => Just(Verdict::Skipped),
    ];
    let request = prop_oneof![
        20 => Just(None),
        1 => Just(Some("promote")),
        1 => Just(Some("abort")),
        1 => Just(Some("retry")),
    ];
    (
        verdict,
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.03),
        prop::bool::weighted(0.9),
        readiness(),
        readiness(),
        prop::bool::weighted(0.05),
        request,
        prop_oneof![4 => Just(0u64), 1 => 1..30u64],
    )
        .prop_map(
            |(
                verdict,
                gates_ok,
                rollback,
                hooks_ok,
                primary,
                canary,
                new_revision,
                request,
                early,
            )| Tick {
                verdict,
                gates_ok,
                rollback,
                hooks_ok,
                primary,
                canary,
                new_revision,
                request,
                early,
            },
        )
}

fn build(s: &Spec) -> fledge_api::Canary {
    let s2 = s.clone();
    let mut c = canary(move |a| {
        a.step_weight = s2.step_weight;
        a.step_weights = s2.step_weights.clone();
        a.max_weight = Some(s2.max_weight);
        a.iterations = (s2.iterations > 0).then_some(s2.iterations);
        a.r#match = if s2.ab {
            vec![HttpMatchRequest::default()]
        } else {
            vec![]
        };
        a.mirror = Some(s2.mirror);
        a.threshold = Some(s2.threshold);
        a.step_weight_promotion = Some(s2.promotion_step);
        a.webhooks = s2.hooks.iter().map(|t| hook(t.as_str(), *t)).collect();
    });
    if s.kubernetes {
        c.spec.provider = Some(Provider::Kubernetes);
    }
    c
}

fn checker_for(t: &Tick) -> Checker {
    let t = t.clone();
    Box::new(move |req, s| {
        let mut r = CheckResults::all_passing(req, s);
        for m in &mut r.metrics {
            m.verdict = t.verdict;
        }
        for h in &mut r.hooks {
            h.outcome = match h.hook_type {
                HookType::Rollback if t.rollback => HookOutcome::Accepted,
                HookType::Rollback => HookOutcome::Refused("no".into()),
                HookType::ConfirmRollout
                | HookType::ConfirmPromotion
                | HookType::ConfirmTrafficIncrease
                    if !t.gates_ok =>
                {
                    HookOutcome::Refused("closed".into())
                }
                HookType::PreRollout | HookType::Rollout if !t.hooks_ok => {
                    HookOutcome::Refused("500".into())
                }
                _ => HookOutcome::Accepted,
            };
        }
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold_tick_after_tick(s in spec(), ticks in proptest::collection::vec(tick(), 1..80)) {
        let mut w = World::initialized(build(&s));
        let settings = w.settings();
        w.observed.target = Some(rev("r1"));
        let mut revision = 1;
        let mut nonce = 0;
        for t in &ticks {
            w.checker = checker_for(t);
            w.observed.primary = t.primary.clone();
            w.observed.canary = t.canary.clone();
            if t.new_revision {
                revision += 1;
                w.observed.target = Some(rev(&format!("r{revision}")));
            }
            if let Some(kind) = t.request {
                nonce += 1;
                w.observed.request = Some(format!("{kind}@{nonce}"));
            }
            let wait = if t.early > 0 {
                Duration::from_secs(t.early)
            } else {
                w.last.as_ref().and_then(|d| d.requeue_after).unwrap_or(MINUTE)
            };
            w.advance(wait);
            let before = w.status();
            w.tick();
            let st = w.status();
            let phase = st.phase.unwrap();

            prop_assert!((0..=100).contains(&st.canary_weight), "weight {} out of 0..=100", st.canary_weight);
            if settings.strategy == Rollout::Canary && matches!(phase, Progressing | WaitingPromotion) {
                prop_assert!(st.canary_weight <= settings.max_weight,
                    "weight {} > maxWeight {} in {phase}", st.canary_weight, settings.max_weight);
            }
            if matches!(phase, Promoting | Finalising) || (phase == Succeeded && before.phase == Some(Finalising)) {
                prop_assert!(st.failed_checks < settings.threshold,
                    "{phase} with failedChecks {} >= threshold {}", st.failed_checks, settings.threshold);
            }
            if matches!(phase, Initialized | Succeeded | Failed) {
                let routes = w.routes().expect("routes exist after initialization");
                prop_assert!(routes == Routes::ALL_PRIMARY || routes == Routes::ALL_CANARY,
                    "terminal {phase} routes {routes:?}");
            }
            if let (Some(routes), Some(want)) = (w.routes(), fledge_core::desired_routes(&st)) {
                prop_assert_eq!(routes, want, "routes disagree with the status in {}", phase);
            }
            prop_assert_ne!(st.message.as_deref(), Some("waiting for the results of this step's checks"),
                "checks_due asked for less than decide needed");
            prop_assert!(st.analysis_history.len() <= fledge_api::status::ANALYSIS_HISTORY_LIMIT);

            // Conditions: lastTransitionTime moves only with the condition's status.
            for c in &st.conditions {
                if let Some(old) = before.conditions.iter().find(|o| o.type_ == c.type_) {
                    if old.status == c.status {
                        prop_assert_eq!(&old.last_transition_time, &c.last_transition_time, "{} moved", &c.type_);
                    } else {
                        prop_assert_ne!(&old.last_transition_time, &c.last_transition_time, "{} didn't move", &c.type_);
                    }
                }
            }
            if before.phase == st.phase {
                prop_assert_eq!(&before.last_transition_time, &st.last_transition_time);
            }

            // Reconciling again at the same instant (a restart, a watch event) repeats no step:
            // without a phase change it touches no workload or route (it may still report a
            // wait the first reconcile didn't get to). A third reconcile does nothing at all.
            let again = w.tick();
            if again.status.phase == st.phase {
                let acted: Vec<_> = again.actions.iter().filter(|a| !matches!(a, Action::InitializePrimary | Action::Event(_) | Action::CallHooks { hook_type: HookType::Event, .. })).collect();
                prop_assert!(acted.is_empty(), "second reconcile at {phase} repeated {:?}", acted);
                prop_assert_eq!(again.status.canary_weight, st.canary_weight);
                prop_assert_eq!(again.status.iterations, st.iterations);
                prop_assert_eq!(again.status.failed_checks, st.failed_checks);
                prop_assert_eq!(&again.status.last_step_time, &st.last_step_time);
            }
            let third = w.tick();
            if third.status.phase == again.status.phase {
                let acted: Vec<_> = third.actions.iter().filter(|a| !matches!(a, Action::InitializePrimary)).collect();
                prop_assert!(acted.is_empty(), "third reconcile at {phase} still acts: {:?}", acted);
                prop_assert_eq!(&third.status, &again.status, "third reconcile changed the status");
            }
        }
    }
}
