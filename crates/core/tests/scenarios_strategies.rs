//! Tick-by-tick scenarios for blue/green, A/B testing, mirroring and skipAnalysis.

mod common;

use common::*;
use fledge_api::service::HttpMatchRequest;
use fledge_api::{CanaryPhase::*, HookType};
use fledge_core::{Action, Readiness, Routes};

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
