//! The decision function. One call = one reconcile: [`Machine::prepare`] handles everything
//! that doesn't wait for the analysis interval (deletion, invalid spec, suspend,
//! initialization, manual requests, revision changes, readiness), and returns the step that
//! is due, if any; the step modules take it. Steps are paced by `status.lastStepTime` +
//! interval, never by a ticker.

mod analysis;
mod history;
pub use history::release_under_way;
mod lifecycle;
mod promotion;

use std::time::Duration;

use fledge_api::status::{ANALYSIS_HISTORY_LIMIT, Time};
use fledge_api::{AnalysisRecord, CanaryPhase, CanaryStatus, HookType, Severity, Verdict};
use jiff::Timestamp;

use crate::action::{Action, Alert, Event, EventType};
use crate::checks::{self, CheckRequest, Step};
use crate::conditions::{self, FailureReason, View};
use crate::input::{Input, Revision, Routes};
use crate::settings::Settings;
use crate::weights::desired_routes;
use crate::{EVENT_REASON, INVALID_SPEC_REASON};

/// What to do after one reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write (`/status` subresource), after carrying out `actions`.
    pub status: CanaryStatus,
    /// In order. Absolute and idempotent, so safe to re-apply.
    pub actions: Vec<Action>,
    /// Carried out after `status` is written (acknowledgements that must not run ahead of the
    /// status that records them).
    pub after_status: Vec<Action>,
    /// Reconcile again after this long even if nothing changes (the next step is due, or a
    /// wait should be re-checked). `None`: only a watch event needs to wake us.
    pub requeue_after: Option<Duration>,
}

/// The next status and actions for `input` at `now`. Pure: the same input and time always
/// give the same decision.
pub fn decide(input: &Input<'_>, now: Timestamp) -> Decision {
    let mut m = Machine::new(input, now);
    if let Some(step) = m.prepare() {
        let request = checks::stages_for(step, &m.s, &m.st);
        if checks::complete(&request, &m.s, input.checks) {
            m.take(step);
        } else {
            m.hold("waiting for the results of this step's checks".into());
        }
    }
    m.finish()
}

/// The webhooks and metrics the controller must run before calling [`decide`] with the same
/// input and time. Empty when no step is due.
pub fn checks_due(input: &Input<'_>, now: Timestamp) -> CheckRequest {
    let mut m = Machine::new(input, now);
    match m.prepare() {
        Some(step) => checks::stages_for(step, &m.s, &m.st),
        None => CheckRequest::default(),
    }
}

pub(crate) struct Machine<'a> {
    input: &'a Input<'a>,
    s: Settings,
    now: Timestamp,
    generation: Option<i64>,
    old: CanaryStatus,
    st: CanaryStatus,
    actions: Vec<Action>,
    requeue: Option<Duration>,
    /// Set when the phase just became Failed: the Stalled reason.
    failure: Option<(FailureReason, String)>,
    invalid: Option<String>,
    /// Past the early exits (deletion, invalid, suspend): routes may be repaired.
    repair_routes: bool,
    routes_set: bool,
    /// A retry request to acknowledge once it takes effect.
    pending_ack: Option<String>,
    rev: Option<Revision>,
}

impl<'a> Machine<'a> {
    fn new(input: &'a Input<'a>, now: Timestamp) -> Self {
        let old = input.canary.status.clone().unwrap_or_default();
        Machine {
            s: Settings::from_canary(input.canary, input.config),
            input,
            now,
            generation: input.canary.metadata.generation,
            st: old.clone(),
            old,
            actions: Vec::new(),
            requeue: None,
            failure: None,
            invalid: None,
            repair_routes: false,
            routes_set: false,
            pending_ack: None,
            rev: input.observed.target.clone(),
        }
    }

    /// Everything before the step, in order. Returns the step that is due now.
    fn prepare(&mut self) -> Option<Step> {
        self.st.observed_generation = self.generation;
        let obs = self.input.observed;
        if obs.deleting {
            self.terminate();
            return None;
        }
        if let Some(problem) = obs.invalid_spec.as_ref().or(obs.invalid_target.as_ref()) {
            self.invalid = Some(problem.clone());
            // Said once per distinct problem, not on every reconcile.
            if self.old.message.as_deref() != Some(problem.as_str()) {
                self.event_with_reason(EventType::Warning, INVALID_SPEC_REASON, problem.clone());
            }
            self.st.message = Some(problem.clone());
            return None;
        }
        if self.s.revert_on_deletion && !obs.has_finalizer {
            self.act(Action::AddFinalizer);
        }
        self.handle_pause_request();
        if self.s.suspend || self.st.paused {
            let why = if self.s.suspend { SUSPENDED } else { PAUSED };
            if self.old.observed_generation != self.generation
                || self.old.message.as_deref() != Some(why)
            {
                self.event(
                    EventType::Normal,
                    format!(
                        "skipping canary run as object is {} ({})",
                        if self.s.suspend {
                            "suspended"
                        } else {
                            "paused"
                        },
                        self.s.id
                    ),
                );
            }
            self.st.message = Some(why.into());
            return None;
        }
        let Some(rev) = self.rev.clone() else {
            self.hold(format!(
                "waiting for {} {} to exist",
                self.s.target_kind,
                self.s.target_id()
            ));
            return None;
        };
        match self.st.phase {
            None | Some(CanaryPhase::Initializing) => {
                self.initialize(&rev);
                return None;
            }
            Some(CanaryPhase::Terminating | CanaryPhase::Terminated) => return None,
            _ => {}
        }
        self.repair_routes = true;
        if self.old.observed_generation != self.generation {
            // The spec changed: hosts, match, gateways... may need new routing objects.
            self.act(Action::ReconcileRouting);
        }
        if let Some(step) = self.handle_request() {
            return step;
        }
        self.follow_revision(&rev)
    }

    fn take(&mut self, step: Step) {
        match step {
            Step::StartRevision => self.start_revision_step(),
            Step::Analysis => self.analysis_step(),
            Step::SkipAnalysis => self.skip_analysis_step(),
            Step::Promotion => self.promotion_step(),
            Step::Finalise => self.finalise_step(),
        }
    }

    fn finish(mut self) -> Decision {
        if self.repair_routes
            && !self.routes_set
            && let (Some(seen), Some(want)) = (self.input.observed.routes, desired_routes(&self.st))
            && seen != want
        {
            // Said as an Event but kept out of status.message: the release's own message stays.
            self.actions.push(Action::Event(Event {
                event_type: EventType::Warning,
                reason: EVENT_REASON,
                message: format!(
                    "traffic split changed outside fledge (primary {}%, canary {}%); restoring primary {}%, canary {}%",
                    seen.primary, seen.canary, want.primary, want.canary
                ),
            }));
            self.actions.push(Action::SetRoutes(want));
        }
        let obs = self.input.observed;
        if self.invalid.is_none() && !obs.deleting && obs.target.is_some() && !obs.target_marked {
            self.actions.push(Action::MarkTarget);
        }
        let message = self.st.message.clone().unwrap_or_default();
        match (&self.invalid, self.st.phase) {
            (Some(problem), _) => conditions::update(
                &mut self.st,
                View::InvalidSpec { message: problem },
                self.generation,
                self.now,
            ),
            (None, Some(phase)) => {
                let failure = self.failure.as_ref().map(|(r, m)| (*r, m.as_str()));
                conditions::update(
                    &mut self.st,
                    View::Phase {
                        phase,
                        kind: &self.s.target_kind,
                        message: &message,
                        failure,
                    },
                    self.generation,
                    self.now,
                )
            }
            (None, None) => {}
        }
        self.record_history();
        let requeue_after = self.requeue.or_else(|| self.until_next_step());
        // Every request the machine has seen (malformed ones included, with an Event saying
        // why they were ignored) is stored in lastHandledRequest; then the annotation goes.
        let after_status = match &self.input.observed.request {
            Some(request) if self.st.last_handled_request.as_ref() == Some(request) => {
                vec![Action::ClearRequest]
            }
            _ => Vec::new(),
        };
        Decision {
            status: self.st,
            actions: self.actions,
            after_status,
            requeue_after,
        }
    }

    /// Time until the next step for phases that step on their own.
    fn until_next_step(&self) -> Option<Duration> {
        if self.invalid.is_some() {
            // A spec is fixed by editing the Canary, which wakes the controller; a live
            // object it doesn't watch is looked at again.
            let obs = self.input.observed;
            return (obs.invalid_spec.is_none() && obs.invalid_target.is_some())
                .then_some(self.s.interval);
        }
        if self.s.suspend || self.st.paused || self.input.observed.deleting {
            return None;
        }
        match self.st.phase? {
            CanaryPhase::Waiting
            | CanaryPhase::Progressing
            | CanaryPhase::WaitingPromotion
            | CanaryPhase::Promoting
            | CanaryPhase::Finalising => {}
            _ => return None,
        }
        let remaining = self.remaining();
        Some(if remaining.is_zero() {
            self.s.interval
        } else {
            remaining
        })
    }

    fn remaining(&self) -> Duration {
        let Some(last) = &self.st.last_step_time else {
            return Duration::ZERO;
        };
        let due = last.0.checked_add(self.s.interval).unwrap_or(last.0);
        let left = due.duration_since(self.now);
        Duration::try_from(left).unwrap_or(Duration::ZERO)
    }

    /// The interval has passed since the last step (or there was none).
    fn due(&self) -> bool {
        self.remaining().is_zero()
    }

    // ---- helpers shared by the step modules ----

    fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    fn set_routes(&mut self, routes: Routes) {
        self.routes_set = true;
        self.actions.push(Action::SetRoutes(routes));
    }

    fn set_phase(&mut self, phase: CanaryPhase) {
        if self.st.phase != Some(phase) {
            self.st.phase = Some(phase);
            self.st.last_transition_time = Some(Time(self.now));
        }
    }

    fn mark_step(&mut self) {
        self.st.last_step_time = Some(Time(self.now));
    }

    /// Records a Kubernetes Event (and sends it to `event` webhooks); it also becomes the
    /// status message.
    fn event(&mut self, event_type: EventType, message: String) {
        self.event_with_reason(event_type, EVENT_REASON, message);
    }

    fn event_with_reason(&mut self, event_type: EventType, reason: &'static str, message: String) {
        let event = Event {
            event_type,
            reason,
            message: message.clone(),
        };
        self.actions.push(Action::Event(event.clone()));
        if self.s.has_hooks(HookType::Event) {
            let phase = self.st.phase.unwrap_or(CanaryPhase::Initializing);
            self.actions.push(Action::CallHooks {
                hook_type: HookType::Event,
                phase,
                event: Some(event),
            });
        }
        self.st.message = Some(message);
    }

    fn alert(&mut self, severity: Severity, message: String) {
        self.actions
            .push(Action::Alert(Alert { severity, message }));
    }

    fn post_rollout(&mut self, phase: CanaryPhase) {
        if self.s.has_hooks(HookType::PostRollout) {
            self.act(Action::CallHooks {
                hook_type: HookType::PostRollout,
                phase,
                event: None,
            });
        }
    }

    /// Waiting for something outside our control: say so (an Event only when the reason is
    /// new, so watch-driven reconciles don't flood) and look again after an interval.
    fn hold(&mut self, message: String) {
        if self.old.message.as_deref() != Some(message.as_str()) {
            self.event(EventType::Warning, message.clone());
        }
        self.st.message = Some(message);
        self.requeue = Some(self.s.interval);
    }

    /// A record of one check at this step, with nothing measured.
    fn check_record(&self, kind: &str, name: &str, verdict: Verdict) -> AnalysisRecord {
        AnalysisRecord {
            time: Time(self.now),
            kind: kind.into(),
            name: name.into(),
            value: None,
            primary_value: None,
            threshold: None,
            verdict,
            message: None,
        }
    }

    fn record(&mut self, record: AnalysisRecord) {
        self.st.analysis_history.push(record);
        let excess = self
            .st
            .analysis_history
            .len()
            .saturating_sub(ANALYSIS_HISTORY_LIMIT);
        self.st.analysis_history.drain(..excess);
    }

    /// Makes the current target revision the one under analysis.
    fn adopt_revision(&mut self) {
        if let Some(rev) = &self.rev {
            self.st.last_applied_spec = Some(rev.spec.clone());
            self.st.tracked_configs = rev.configs.clone();
        }
    }

    fn ack_pending(&mut self) {
        if let Some(raw) = self.pending_ack.take() {
            self.st.last_handled_request = Some(raw);
        }
    }

    /// Failed after a failed promotion: the canary still serves all traffic.
    fn canary_serving(&self) -> bool {
        self.st.phase == Some(CanaryPhase::Failed) && self.st.canary_weight >= 100
    }
}

const SUSPENDED: &str = "suspended: spec.suspend is true";
const PAUSED: &str = "paused by request: resume with a resume request";
