//! Everything outside the analysis itself: deletion with `revertOnDeletion`, initialization,
//! manual requests, and what a change of the target's revision does in each phase.

use fledge_api::{CanaryPhase, Severity};

use super::Machine;
use crate::action::{Action, EventType};
use crate::checks::Step;
use crate::conditions::FailureReason;
use crate::input::{Readiness, Revision, Routes};
use crate::request::{ManualRequest, RequestKind};
use crate::revision::{RevisionChange, classify};
use crate::weights::desired_routes;

impl Machine<'_> {
    /// The Canary is being deleted. Without `revertOnDeletion` (or our finalizer) garbage
    /// collection does the work; with it, hand the target back before letting go.
    pub(super) fn terminate(&mut self) {
        let obs = self.input.observed;
        if !self.s.revert_on_deletion || !obs.has_finalizer {
            return;
        }
        match self.st.phase {
            Some(CanaryPhase::Terminated) => {}
            Some(CanaryPhase::Terminating) => {
                match &obs.canary {
                    Readiness::Waiting(why) if obs.target.is_some() => {
                        self.hold(format!(
                            "waiting for {} to be ready before handing traffic back: {why}",
                            self.s.target_id()
                        ));
                    }
                    // Ready, past its deadline (don't block deletion forever), or gone.
                    _ => self.release(),
                }
            }
            // The target was deleted first (Flagger #1357): nothing to give back.
            _ if obs.target.is_none() => {
                self.release();
            }
            _ => {
                self.set_phase(CanaryPhase::Terminating);
                self.act(Action::RestoreTarget);
                self.event(
                    EventType::Normal,
                    format!(
                        "Reverting {} before deleting canary {}",
                        self.s.target_id(),
                        self.s.id
                    ),
                );
            }
        }
    }

    /// Hand routing back and let the Canary go.
    fn release(&mut self) {
        self.act(Action::RevertRouting);
        self.act(Action::RemoveFinalizer);
        self.set_phase(CanaryPhase::Terminated);
        self.event(
            EventType::Normal,
            format!("Terminated canary {}", self.s.id),
        );
    }

    /// Create the primary, wait for it, then route to it and scale the target down.
    pub(super) fn initialize(&mut self, rev: &Revision) {
        self.set_phase(CanaryPhase::Initializing);
        self.act(Action::InitializePrimary);
        match self.input.observed.primary.clone() {
            Readiness::Ready => {
                self.act(Action::ReconcileRouting);
                self.act(Action::ScaleTargetToZero);
                self.set_phase(CanaryPhase::Initialized);
                self.st.last_applied_spec = Some(rev.spec.clone());
                self.st.last_promoted_spec = Some(rev.spec.clone());
                self.st.tracked_configs = rev.configs.clone();
                self.st.canary_weight = 0;
                self.st.iterations = 0;
                self.st.failed_checks = 0;
                self.st.mirrored = false;
                self.event(
                    EventType::Normal,
                    format!("Initialization done! {}", self.s.id),
                );
                self.alert(
                    Severity::Info,
                    format!(
                        "New {} detected, initialization completed.",
                        self.s.target_kind
                    ),
                );
            }
            Readiness::Waiting(why) => {
                self.hold(format!(
                    "waiting for {} to become ready: {why}",
                    self.s.primary_id()
                ));
            }
            Readiness::Failed(why) => {
                let message = format!("Initialization of {} failed: {why}", self.s.primary_id());
                self.set_phase(CanaryPhase::Failed);
                self.adopt_revision();
                self.failure = Some((FailureReason::InitializationFailed, message.clone()));
                self.event(EventType::Warning, message.clone());
                self.alert(Severity::Error, message);
            }
        }
    }

    /// A `fledge.dev/request` not yet handled. `Some(step)` when it decided this reconcile.
    /// `pause` and `resume` are handled before suspension, so a paused Canary can be resumed;
    /// every other request waits until it is neither paused nor suspended.
    pub(super) fn handle_pause_request(&mut self) {
        let Some(raw) = self.input.observed.request.clone() else {
            return;
        };
        if self.st.last_handled_request.as_deref() == Some(raw.as_str()) {
            return;
        }
        let Ok(request) = ManualRequest::parse(&raw) else {
            return;
        };
        let pause = match request.kind {
            RequestKind::Pause => true,
            RequestKind::Resume => false,
            _ => return,
        };
        self.st.last_handled_request = Some(raw);
        if self.st.paused == pause {
            let state = if pause { "paused" } else { "not paused" };
            self.event(
                EventType::Normal,
                format!(
                    "Ignoring request {} for {}: already {state}",
                    request.kind, self.s.id
                ),
            );
            return;
        }
        self.st.paused = pause;
        let said = if pause {
            format!("{} paused by request", self.s.id)
        } else if self.s.suspend {
            format!(
                "{} resumed by request; still suspended by spec.suspend",
                self.s.id
            )
        } else {
            format!("{} resumed by request", self.s.id)
        };
        self.event(EventType::Normal, said);
    }

    pub(super) fn handle_request(&mut self) -> Option<Option<Step>> {
        let raw = self.input.observed.request.clone()?;
        if self.st.last_handled_request.as_deref() == Some(raw.as_str()) {
            return None;
        }
        let phase = self.st.phase?;
        let request = match ManualRequest::parse(&raw) {
            Ok(request) => request,
            Err(err) => {
                self.st.last_handled_request = Some(raw);
                self.event(EventType::Warning, format!("{}: {err}", self.s.id));
                return None;
            }
        };
        use CanaryPhase::*;
        match (request.kind, phase) {
            (RequestKind::Promote, Waiting | Progressing | WaitingPromotion) => {
                self.st.last_handled_request = Some(raw);
                self.event(
                    EventType::Normal,
                    format!(
                        "Promotion of {} requested: skipping the rest of the analysis",
                        self.s.id
                    ),
                );
                self.adopt_revision();
                self.promote();
                Some(None)
            }
            (RequestKind::Promote, Failed) if self.canary_serving() => {
                self.st.last_handled_request = Some(raw);
                self.event(
                    EventType::Normal,
                    format!(
                        "Promotion of {} requested while the canary serves all traffic",
                        self.s.id
                    ),
                );
                self.adopt_revision();
                self.promote();
                Some(None)
            }
            (RequestKind::Abort, Waiting | Progressing | WaitingPromotion) => {
                self.st.last_handled_request = Some(raw);
                self.rollback(
                    FailureReason::Aborted,
                    format!("Rolling back {}: abort requested", self.s.id),
                );
                Some(None)
            }
            (RequestKind::Retry, Failed) => {
                // Acknowledged only once the revision really starts (it may wait for the primary).
                self.pending_ack = Some(raw);
                Some(self.ready_to_start(true))
            }
            (kind, phase) => {
                self.st.last_handled_request = Some(raw);
                self.event(
                    EventType::Normal,
                    format!(
                        "Ignoring request {kind} for {}: nothing to {kind} in phase {phase}",
                        self.s.id
                    ),
                );
                None
            }
        }
    }

    /// What the target's revision means in the current phase; returns the due step.
    pub(super) fn follow_revision(&mut self, rev: &Revision) -> Option<Step> {
        use CanaryPhase::*;
        let change = classify(&self.st, rev);
        let phase = self.st.phase?;
        match (phase, change) {
            (Initialized | Succeeded | Failed, RevisionChange::Unchanged) => {
                self.keep_target_down();
                None
            }
            (Initialized | Succeeded | Failed, RevisionChange::BackToPromoted) => {
                self.keep_target_down();
                self.adopt_revision();
                self.event(
                    EventType::Normal,
                    format!(
                        "{} is back at the promoted revision; nothing to analyse",
                        self.s.target_id()
                    ),
                );
                None
            }
            (Failed, RevisionChange::New) if self.st.last_promoted_spec.is_none() => {
                // Never initialized: start over, so a fixed target becomes the primary.
                self.initialize(rev);
                None
            }
            (Initialized | Succeeded | Failed, RevisionChange::New) => self.ready_to_start(true),
            (Waiting, RevisionChange::New) => self.ready_to_start(false),
            (Waiting, _) => {
                self.adopt_revision();
                let back_to = if self.st.last_applied_spec == self.st.last_promoted_spec {
                    Succeeded
                } else {
                    Failed
                };
                self.set_phase(back_to);
                self.event(
                    EventType::Normal,
                    format!(
                        "{} no longer has a new revision; not starting an analysis",
                        self.s.target_id()
                    ),
                );
                None
            }
            (Progressing | WaitingPromotion, RevisionChange::New) => {
                self.restart();
                None
            }
            (Progressing | WaitingPromotion, RevisionChange::BackToPromoted) => {
                self.adopt_revision();
                self.set_routes(Routes::ALL_PRIMARY);
                self.act(Action::ScaleTargetToZero);
                self.reset_progress();
                self.set_phase(Succeeded);
                self.event(
                    EventType::Normal,
                    format!(
                        "{} is back at the promoted revision; analysis cancelled",
                        self.s.target_id()
                    ),
                );
                None
            }
            (Progressing | WaitingPromotion, RevisionChange::Unchanged) => self.ready_to_analyse(),
            (Promoting | Finalising, _) => self.ready_to_promote(),
            (Initializing | Terminating | Terminated, _) => None,
        }
    }

    /// Between releases the target runs no pods: the primary serves. A sync that scales it
    /// back up (Flux re-applying `replicas` from git) is undone, and said once in an Event (not
    /// again while the status still carries that message), so the two never flap.
    /// Never before the first initialization finished: until then the target is what serves.
    fn keep_target_down(&mut self) {
        if self.canary_serving()
            || self.st.last_promoted_spec.is_none()
            || self.input.observed.target_replicas.is_none_or(|r| r <= 0)
        {
            return;
        }
        self.act(Action::ScaleTargetToZero);
        let message = format!(
            "{} was scaled up outside a release; scaling it back to zero (leave replicas out of git: see docs/gitops.md)",
            self.s.target_id()
        );
        if self.old.message.as_deref() != Some(message.as_str()) {
            self.event(EventType::Normal, message);
        }
    }

    /// A new revision may start once the primary is ready; `now` skips the interval (a
    /// revision just detected, or a retry).
    pub(super) fn ready_to_start(&mut self, now: bool) -> Option<Step> {
        if !now && !self.due() {
            return None;
        }
        match self.input.observed.primary.clone() {
            Readiness::Ready => {}
            Readiness::Waiting(why) => {
                self.hold(format!(
                    "new revision of {} waits for {}: {why}",
                    self.s.target_id(),
                    self.s.primary_id()
                ));
                return None;
            }
            Readiness::Failed(why) if self.canary_serving() => {
                self.hold(format!(
                    "new revision of {} waits: {} is not ready ({why}) and the canary serves all traffic; fix the primary or request promote",
                    self.s.target_id(),
                    self.s.primary_id()
                ));
                return None;
            }
            Readiness::Failed(why) => {
                self.rollback(
                    FailureReason::ProgressDeadlineExceeded,
                    format!(
                        "Rolling back {}: {} is not ready: {why}",
                        self.s.id,
                        self.s.primary_id()
                    ),
                );
                return None;
            }
        }
        Some(Step::StartRevision)
    }

    /// The target changed during the analysis: start again at weight 0 (Flagger: no queue).
    fn restart(&mut self) {
        self.adopt_revision();
        self.set_routes(Routes::ALL_PRIMARY);
        self.reset_progress();
        self.st.failed_checks = 0;
        self.st.analysis_history.clear();
        self.set_phase(CanaryPhase::Progressing);
        self.mark_step();
        self.event(
            EventType::Normal,
            format!(
                "New revision detected! Restarting analysis for {}",
                self.s.id
            ),
        );
    }

    /// Weight, iterations and mirroring back to "nothing routed to the canary".
    pub(super) fn reset_progress(&mut self) {
        self.st.canary_weight = 0;
        self.st.iterations = 0;
        self.st.mirrored = false;
    }

    /// Routes for the status as it was before this reconcile.
    pub(super) fn old_routes(&self) -> Option<Routes> {
        desired_routes(&self.old)
    }
}
