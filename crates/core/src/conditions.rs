//! Status conditions: Flagger's `Promoted` plus `Ready`, `Reconciling` and `Stalled` with
//! kstatus semantics, per the status contract in DESIGN.md. A condition's
//! `lastTransitionTime` changes only when its `status` changes, and nothing changes at all
//! when the computed condition equals the stored one (no churn on every reconcile).

use fledge_api::status::Time;
use fledge_api::{CanaryCondition, CanaryPhase, CanaryStatus};
use jiff::Timestamp;

pub const CONDITION_PROMOTED: &str = "Promoted";
pub const CONDITION_READY: &str = "Ready";
pub const CONDITION_RECONCILING: &str = "Reconciling";
pub const CONDITION_STALLED: &str = "Stalled";

/// Why a release ended in `Failed`; the `Stalled` condition's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// failedChecks reached the threshold.
    FailedChecks,
    /// The canary (or primary) didn't become ready before the progress deadline.
    ProgressDeadlineExceeded,
    /// A rollback webhook said yes.
    RollbackHook,
    /// Someone asked for it (`fledge abort`).
    Aborted,
    /// The primary failed while promoting; traffic stays on the canary.
    PromotionFailed,
    /// The primary never became ready during initialization.
    InitializationFailed,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::FailedChecks => "FailedChecks",
            FailureReason::ProgressDeadlineExceeded => "ProgressDeadlineExceeded",
            FailureReason::RollbackHook => "RollbackHook",
            FailureReason::Aborted => "Aborted",
            FailureReason::PromotionFailed => "PromotionFailed",
            FailureReason::InitializationFailed => "InitializationFailed",
        }
    }
}

/// What the conditions should say.
pub(crate) enum View<'a> {
    /// The normal case: conditions follow the phase. `failure` is set when the phase just
    /// became `Failed` (otherwise the stored Stalled reason is kept).
    Phase {
        phase: CanaryPhase,
        kind: &'a str,
        message: &'a str,
        failure: Option<(FailureReason, &'a str)>,
    },
    /// The spec is invalid: Stalled(InvalidSpec); Promoted left as it is.
    InvalidSpec { message: &'a str },
}

struct Want {
    type_: &'static str,
    status: &'static str,
    reason: String,
    message: String,
}

/// Flagger's `Promoted` condition per phase (`pkg/canary/status.go`).
fn promoted(phase: CanaryPhase, kind: &str) -> (&'static str, String) {
    use CanaryPhase::*;
    match phase {
        Initialized => ("True", format!("{kind} initialization completed.")),
        Waiting | WaitingPromotion => ("Unknown", "Waiting for approval.".into()),
        Progressing => (
            "Unknown",
            "New revision detected, progressing canary analysis.".into(),
        ),
        Promoting => (
            "Unknown",
            "Canary analysis completed, starting primary rolling update.".into(),
        ),
        Finalising => (
            "Unknown",
            "Canary analysis completed, routing all traffic to primary.".into(),
        ),
        Succeeded => (
            "True",
            "Canary analysis completed successfully, promotion finished.".into(),
        ),
        Failed => (
            "False",
            format!("Canary analysis failed, {kind} scaled to zero."),
        ),
        Initializing | Terminating | Terminated => (
            "Unknown",
            format!("New {kind} detected, starting initialization."),
        ),
    }
}

fn wants(view: &View<'_>, existing: &[CanaryCondition]) -> Vec<Want> {
    let w = |type_, status, reason: &str, message: &str| Want {
        type_,
        status,
        reason: reason.to_string(),
        message: message.to_string(),
    };
    match view {
        View::InvalidSpec { message } => vec![
            w(CONDITION_READY, "False", "InvalidSpec", message),
            w(CONDITION_RECONCILING, "False", "InvalidSpec", message),
            w(CONDITION_STALLED, "True", "InvalidSpec", message),
        ],
        View::Phase {
            phase,
            kind,
            message,
            failure,
        } => {
            let (p_status, p_message) = promoted(*phase, kind);
            let mut out = vec![w(CONDITION_PROMOTED, p_status, phase.as_str(), &p_message)];
            let reason = phase.as_str();
            match phase {
                CanaryPhase::Initialized | CanaryPhase::Succeeded => {
                    out.push(w(CONDITION_READY, "True", reason, message));
                    out.push(w(CONDITION_RECONCILING, "False", reason, message));
                    out.push(w(CONDITION_STALLED, "False", reason, message));
                }
                CanaryPhase::Failed => {
                    let (s_reason, s_message) = match failure {
                        Some((r, m)) => (r.as_str().to_string(), m.to_string()),
                        None => existing
                            .iter()
                            .find(|c| c.type_ == CONDITION_STALLED && c.status == "True")
                            .map(|c| {
                                (
                                    c.reason.clone().unwrap_or_else(|| "Failed".into()),
                                    c.message.clone().unwrap_or_default(),
                                )
                            })
                            .unwrap_or_else(|| ("Failed".into(), message.to_string())),
                    };
                    out.push(w(CONDITION_READY, "False", reason, message));
                    out.push(w(CONDITION_RECONCILING, "False", reason, message));
                    out.push(w(CONDITION_STALLED, "True", &s_reason, &s_message));
                }
                CanaryPhase::Terminated => {
                    out.push(w(CONDITION_READY, "False", reason, message));
                    out.push(w(CONDITION_RECONCILING, "False", reason, message));
                    out.push(w(CONDITION_STALLED, "False", reason, message));
                }
                _ => {
                    out.push(w(CONDITION_READY, "False", reason, message));
                    out.push(w(CONDITION_RECONCILING, "True", reason, message));
                    out.push(w(CONDITION_STALLED, "False", reason, message));
                }
            }
            out
        }
    }
}

/// Brings `status.conditions` in line with `view`, stamping `generation` as the conditions'
/// observedGeneration. Conditions not mentioned by the view are left alone.
pub(crate) fn update(
    status: &mut CanaryStatus,
    view: View<'_>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let wanted = wants(&view, &status.conditions);
    for want in wanted {
        let pos = status.conditions.iter().position(|c| c.type_ == want.type_);
        let fresh = CanaryCondition {
            type_: want.type_.to_string(),
            status: want.status.to_string(),
            reason: Some(want.reason),
            message: Some(want.message),
            last_update_time: Some(Time(now)),
            last_transition_time: Some(Time(now)),
            observed_generation: generation,
        };
        match pos {
            None => status.conditions.push(fresh),
            Some(i) => {
                let old = &status.conditions[i];
                let same = old.status == fresh.status
                    && old.reason == fresh.reason
                    && old.message == fresh.message
                    && old.observed_generation == fresh.observed_generation;
                if same {
                    continue;
                }
                let transition = if old.status == fresh.status {
                    old.last_transition_time.clone().or(Some(Time(now)))
                } else {
                    Some(Time(now))
                };
                status.conditions[i] = CanaryCondition {
                    last_transition_time: transition,
                    ..fresh
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn get<'a>(st: &'a CanaryStatus, t: &str) -> &'a CanaryCondition {
        st.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    fn phase(p: CanaryPhase, msg: &str) -> View<'_> {
        View::Phase {
            phase: p,
            kind: "Deployment",
            message: msg,
            failure: None,
        }
    }

    #[test]
    fn contract_per_phase() {
        use CanaryPhase::*;
        // (phase, Promoted, Ready, Reconciling, Stalled)
        let table = [
            (Initializing, "Unknown", "False", "True", "False"),
            (Initialized, "True", "True", "False", "False"),
            (Succeeded, "True", "True", "False", "False"),
            (Waiting, "Unknown", "False", "True", "False"),
            (Progressing, "Unknown", "False", "True", "False"),
            (WaitingPromotion, "Unknown", "False", "True", "False"),
            (Promoting, "Unknown", "False", "True", "False"),
            (Finalising, "Unknown", "False", "True", "False"),
            (Failed, "False", "False", "False", "True"),
        ];
        for (p, promoted, ready, reconciling, stalled) in table {
            let mut st = CanaryStatus::default();
            update(&mut st, phase(p, "m"), Some(3), ts(10));
            assert_eq!(
                get(&st, CONDITION_PROMOTED).status,
                promoted,
                "{p} Promoted"
            );
            assert_eq!(get(&st, CONDITION_READY).status, ready, "{p} Ready");
            assert_eq!(
                get(&st, CONDITION_RECONCILING).status,
                reconciling,
                "{p} Reconciling"
            );
            assert_eq!(get(&st, CONDITION_STALLED).status, stalled, "{p} Stalled");
            assert_eq!(
                get(&st, CONDITION_PROMOTED).reason.as_deref(),
                Some(p.as_str())
            );
            assert!(
                st.conditions
                    .iter()
                    .all(|c| c.observed_generation == Some(3))
            );
        }
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut st = CanaryStatus::default();
        update(
            &mut st,
            phase(CanaryPhase::Progressing, "w10"),
            Some(1),
            ts(10),
        );
        // Same status, new message: Ready stays False, so its transition time stays.
        update(
            &mut st,
            phase(CanaryPhase::Progressing, "w20"),
            Some(1),
            ts(20),
        );
        let ready = get(&st, CONDITION_READY);
        assert_eq!(ready.last_transition_time, Some(Time(ts(10))));
        assert_eq!(ready.last_update_time, Some(Time(ts(20))));
        assert_eq!(ready.message.as_deref(), Some("w20"));
        // Identical input: nothing changes, not even lastUpdateTime.
        let before = st.clone();
        update(
            &mut st,
            phase(CanaryPhase::Progressing, "w20"),
            Some(1),
            ts(30),
        );
        assert_eq!(st, before);
        // Promoting → Succeeded: Ready flips, so its transition time moves.
        update(
            &mut st,
            phase(CanaryPhase::Succeeded, "done"),
            Some(1),
            ts(40),
        );
        assert_eq!(
            get(&st, CONDITION_READY).last_transition_time,
            Some(Time(ts(40)))
        );
    }

    #[test]
    fn failed_keeps_its_stalled_reason_and_invalid_spec_leaves_promoted() {
        let mut st = CanaryStatus::default();
        update(&mut st, phase(CanaryPhase::Succeeded, "ok"), Some(1), ts(1));
        update(
            &mut st,
            View::Phase {
                phase: CanaryPhase::Failed,
                kind: "Deployment",
                message: "rolled back",
                failure: Some((
                    FailureReason::FailedChecks,
                    "failed checks threshold reached 5",
                )),
            },
            Some(1),
            ts(2),
        );
        update(
            &mut st,
            phase(CanaryPhase::Failed, "still failed"),
            Some(2),
            ts(3),
        );
        let stalled = get(&st, CONDITION_STALLED);
        assert_eq!(stalled.reason.as_deref(), Some("FailedChecks"));
        assert_eq!(stalled.last_transition_time, Some(Time(ts(2))));

        let promoted_before = get(&st, CONDITION_PROMOTED).clone();
        update(
            &mut st,
            View::InvalidSpec {
                message: "spec.analysis.stepWeight: bad",
            },
            Some(4),
            ts(5),
        );
        assert_eq!(get(&st, CONDITION_PROMOTED), &promoted_before);
        assert_eq!(
            get(&st, CONDITION_STALLED).reason.as_deref(),
            Some("InvalidSpec")
        );
        assert_eq!(get(&st, CONDITION_READY).status, "False");
        assert_eq!(get(&st, CONDITION_RECONCILING).status, "False");
    }
}
