//! One row per transition outside the analysis itself: initialization, new revisions and
//! the Waiting gate, manual requests, invalid spec, suspend, deletion.

mod common;

use common::table::*;
use common::*;
use fledge_api::{CanaryPhase::*, CanaryStatus, HookType};
use fledge_core::{
    Action, CheckResults, Event, EventType, HookOutcome, INVALID_SPEC_REASON, Observed, Readiness,
};
use fledge_core::{Config, Input, decide};

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
    // ---- no tug-of-war with a GitOps sync ----
    for from in [Initialized, Succeeded, Failed] {
        v.push(Row {
            status: terminal(from),
            observed: Observed {
                target: Some(rev("v1")),
                target_replicas: Some(2),
                ..seen()
            },
            phase: Some(from),
            weight: 0,
            actions: vec![Action::ScaleTargetToZero],
            ..row(match from {
                Initialized => "Initialized, target scaled up by a sync → scaled back to zero",
                Succeeded => "Succeeded, target scaled up by a sync → scaled back to zero",
                _ => "Failed, target scaled up by a sync → scaled back to zero",
            })
        });
    }
    v.push(Row {
        status: terminal(Succeeded),
        observed: Observed {
            target: Some(rev("v1")),
            target_replicas: Some(0),
            ..seen()
        },
        phase: Some(Succeeded),
        weight: 0,
        ..row("Succeeded, target at zero → nothing")
    });
    v.push(Row {
        status: CanaryStatus {
            last_promoted_spec: None,
            ..terminal(Failed)
        },
        observed: Observed {
            target: Some(rev("v1")),
            target_replicas: Some(1),
            primary: Readiness::Failed("ProgressDeadlineExceeded".into()),
            ..seen()
        },
        phase: Some(Failed),
        weight: 0,
        ..row("initialization failed: the target keeps serving, never scaled down")
    });
    v.push(Row {
        status: CanaryStatus {
            canary_weight: 100,
            ..terminal(Failed)
        },
        observed: Observed {
            target: Some(rev("v1")),
            target_replicas: Some(1),
            ..seen()
        },
        phase: Some(Failed),
        weight: 100,
        ..row("Failed with the canary serving: the target stays up")
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
fn every_lifecycle_transition() {
    check(rows());
}

/// A live object the router can't route through stalls the Canary like an invalid spec, says
/// so once, touches nothing, and is looked at again every interval (nothing watches it); an
/// invalid spec wins over it and waits for an edit of the Canary.
#[test]
fn an_invalid_target_stalls_and_is_rechecked_every_interval() {
    let config = Config::default();
    let mut c = canary(|_| {});
    let before = st(Some(Progressing), 30, 0, 2);
    c.status = Some(before.clone());
    let problem = "Ingress test/podinfo: rules[0].http.paths[1] (host app.example.com, path /x): points at Service other";
    let observed = Observed {
        invalid_target: Some(problem.into()),
        ..seen()
    };
    let none = CheckResults::default();
    let input = |observed| Input {
        canary: &c,
        config: &config,
        observed,
        checks: &none,
    };
    let d = decide(&input(&observed), t(600));
    assert_eq!(
        d.actions,
        [Action::Event(Event {
            event_type: EventType::Warning,
            reason: INVALID_SPEC_REASON,
            message: problem.into(),
        })]
    );
    assert_eq!(d.status.message.as_deref(), Some(problem));
    let stalled = d.status.conditions.iter().find(|c| c.type_ == "Stalled");
    assert_eq!(stalled.map(|c| c.status.as_str()), Some("True"));
    assert_eq!(
        d.requeue_after,
        Some(c.spec.analysis().map(|a| a.interval()).unwrap_or_default())
    );
    assert_eq!(
        d.status.canary_weight, before.canary_weight,
        "nothing moves"
    );

    let both = Observed {
        invalid_spec: Some("canary test/podinfo: spec.analysis.interval: bad".into()),
        ..observed.clone()
    };
    let d = decide(&input(&both), t(600));
    assert_eq!(d.requeue_after, None);
    assert_eq!(
        d.status.message.as_deref(),
        Some("canary test/podinfo: spec.analysis.interval: bad")
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
    // One Warning Event says why; nothing else is touched.
    assert_eq!(
        d.actions,
        [Action::Event(Event {
            event_type: EventType::Warning,
            reason: INVALID_SPEC_REASON,
            message: "canary test/podinfo: spec.analysis.interval: bad".into(),
        })]
    );
    assert_eq!(d.requeue_after, None);
    // Said once: the next reconcile, with the problem already in status, says nothing.
    c.status = Some(d.status.clone());
    let again = decide(
        &Input {
            canary: &c,
            config: &config,
            observed: &observed,
            checks: &CheckResults::default(),
        },
        t(660),
    );
    assert_eq!(again.actions, []);
    let mut after = d.status.clone();
    after.conditions.clear();
    after.message = None;
    assert_eq!(after, before);
    assert_eq!(
        d.status.message.as_deref(),
        Some("canary test/podinfo: spec.analysis.interval: bad")
    );
}

/// The writes outside the release itself: marking the target, and clearing a handled request
/// after the status that records it.
#[test]
#[rustfmt::skip]
fn target_marking_and_request_acknowledgement() {
    struct Case {
        name: &'static str,
        observed: Observed,
        deleting: bool,
        handled: Option<&'static str>,
        mark: bool,
        clear: bool,
    }
    let marked = |m: bool| Observed { target_marked: m, ..seen() };
    let request = |r: &str, m: bool| Observed { request: Some(r.into()), target_marked: m, ..seen() };
    let cases = vec![
        Case { name: "unmarked target is marked", observed: marked(false), deleting: false, handled: None, mark: true, clear: false },
        Case { name: "marked target is left alone", observed: marked(true), deleting: false, handled: None, mark: false, clear: false },
        Case { name: "no target, nothing to mark", observed: Observed { target: None, target_marked: false, ..seen() }, deleting: false, handled: None, mark: false, clear: false },
        Case { name: "invalid spec marks nothing", observed: Observed { invalid_spec: Some("bad".into()), target_marked: false, ..seen() }, deleting: false, handled: None, mark: false, clear: false },
        Case { name: "a deleted Canary marks nothing", observed: Observed { deleting: true, target_marked: false, ..seen() }, deleting: true, handled: None, mark: false, clear: false },
        Case { name: "a request handled now is cleared after the status", observed: request("abort@1", true), deleting: false, handled: None, mark: false, clear: true },
        Case { name: "a request handled before is cleared (crash after the status write)", observed: request("abort@1", true), deleting: false, handled: Some("abort@1"), mark: false, clear: true },
        Case { name: "a malformed request is acknowledged and cleared", observed: request("bogus", true), deleting: false, handled: None, mark: false, clear: true },
        Case { name: "no request, nothing to clear", observed: marked(true), deleting: false, handled: Some("abort@1"), mark: false, clear: false },
    ];
    let config = Config::default();
    let mut failures = Vec::new();
    for case in cases {
        let mut c = canary(|_| {});
        if case.deleting {
            c.metadata.deletion_timestamp = Some(fledge_api::status::Time(t(0)));
        }
        let mut status = st(Some(Progressing), 10, 0, 0);
        status.last_handled_request = case.handled.map(str::to_string);
        c.status = Some(status);
        let d = decide(
            &Input { canary: &c, config: &config, observed: &case.observed, checks: &CheckResults::default() },
            t(30),
        );
        let mark = d.actions.contains(&Action::MarkTarget);
        let clear = d.after_status == [Action::ClearRequest];
        if d.actions.contains(&Action::ClearRequest) {
            failures.push(format!("{}: ClearRequest must come after the status, not before", case.name));
        }
        if mark != case.mark || clear != case.clear {
            failures.push(format!("{}: mark {mark} clear {clear}, want {} {}", case.name, case.mark, case.clear));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_sync_scaling_the_target_up_is_undone_and_said_once() {
    let config = Config::default();
    let mut c = canary(|_| {});
    c.status = Some(terminal(Succeeded));
    let observed = Observed {
        target: Some(common::rev("v1")),
        target_replicas: Some(3),
        ..seen()
    };
    let input = |c: &fledge_api::Canary| {
        decide(
            &Input {
                canary: c,
                config: &config,
                observed: &observed,
                checks: &CheckResults::default(),
            },
            t(60),
        )
    };
    let first = input(&c);
    assert!(first.actions.contains(&Action::ScaleTargetToZero));
    let said = |d: &fledge_core::Decision| {
        d.actions.iter().filter(|a| matches!(a, Action::Event(e) if e.message.contains("scaled up outside a release"))).count()
    };
    assert_eq!(said(&first), 1);
    // The cache still shows the old count on the next reconcile: scale again, say nothing.
    c.status = Some(first.status.clone());
    let second = input(&c);
    assert!(second.actions.contains(&Action::ScaleTargetToZero));
    assert_eq!(said(&second), 0);
}

/// Pause and resume requests: kept in `status.paused`, so a sync re-applying the Canary (which
/// only touches the spec) neither resumes nor unpauses it.
#[test]
#[rustfmt::skip]
fn pause_and_resume_requests() {
    use fledge_core::Decision;
    /// (name, spec.suspend, status.paused before, request, paused after, weight moves, message contains)
    type Case = (&'static str, bool, bool, Option<&'static str>, bool, bool, &'static str);
    let cases: Vec<Case> = vec![
        ("pause mid-analysis holds the release", false, false, Some("pause@1"), true, false, "paused by request"),
        ("paused, a step is due: nothing moves", false, true, None, true, false, "paused by request"),
        ("resume lets the step run", false, true, Some("resume@2"), false, true, ""),
        ("a second pause is acknowledged and ignored", false, true, Some("pause@3"), true, false, "paused by request"),
        ("resume while spec.suspend is set: still suspended", true, true, Some("resume@4"), false, false, "spec.suspend"),
        ("promote waits while paused", false, true, Some("promote@5"), true, false, "paused by request"),
    ];
    let config = Config::default();
    let mut failures = Vec::new();
    for (name, suspend, paused, request, want_paused, moves, message) in cases {
        let mut c = canary(|_| {});
        c.spec.suspend = Some(suspend);
        let mut status = st(Some(Progressing), 10, 0, 0);
        status.paused = paused;
        c.status = Some(status);
        let observed = Observed { request: request.map(str::to_string), ..seen() };
        let d: Decision = decide(
            &Input { canary: &c, config: &config, observed: &observed, checks: &pass_metrics() },
            t(60),
        );
        let moved = d.status.canary_weight != 10;
        let said = d.status.message.clone().unwrap_or_default();
        if d.status.paused != want_paused || moved != moves || !said.contains(message) {
            failures.push(format!("{name}: paused {} moved {moved} message {said:?}", d.status.paused));
        }
        let handled_promote = request == Some("promote@5") && d.status.last_handled_request.as_deref() == Some("promote@5");
        if handled_promote {
            failures.push(format!("{name}: the promote request must wait, not be handled"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
