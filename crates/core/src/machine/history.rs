//! The bounded release history in the status (`releases`, `steps`), derived from what one
//! decision changed: a revision entering analysis opens a release, a promotion or rollback
//! closes it, a newer revision mid-analysis supersedes it, and every step taken is recorded.

use fledge_api::CanaryPhase;
use fledge_api::status::{
    RELEASE_HISTORY_LIMIT, ReleaseRecord, STEP_HISTORY_LIMIT, StepCheck, StepRecord, Time,
};

use super::Machine;
use crate::conditions::CONDITION_STALLED;

/// A release is under way: a revision is being analysed, promoted or finalised.
pub fn release_under_way(phase: Option<CanaryPhase>) -> bool {
    use CanaryPhase::*;
    matches!(
        phase,
        Some(Waiting | Progressing | WaitingPromotion | Promoting | Finalising)
    )
}

impl Machine<'_> {
    pub(super) fn record_history(&mut self) {
        let now = Time(self.now);
        let open = self
            .st
            .releases
            .last()
            .filter(|r| r.ended.is_none())
            .map(|r| r.revision.clone());
        let phase = self.st.phase;
        // Only a decision that started analysing a revision opens a release; one that merely
        // found an analysis under way (an invalid spec, a status from before this history)
        // leaves the history alone.
        let entered = !release_under_way(self.old.phase)
            || self.old.last_applied_spec != self.st.last_applied_spec;
        if release_under_way(phase)
            && let Some(revision) = self.st.last_applied_spec.clone()
        {
            if entered && open.as_ref() != Some(&revision) {
                if open.is_some() {
                    self.close_release(now.clone(), "Superseded", Some("a newer revision".into()));
                }
                self.st.releases.push(ReleaseRecord {
                    revision,
                    images: self
                        .rev
                        .as_ref()
                        .map(|r| r.images.clone())
                        .unwrap_or_default(),
                    configs: self.st.tracked_configs.clone(),
                    started: now.clone(),
                    ended: None,
                    outcome: None,
                    reason: None,
                });
            }
        } else if open.is_some()
            && let Some(outcome @ (CanaryPhase::Succeeded | CanaryPhase::Failed)) = phase
        {
            let reason = self
                .st
                .conditions
                .iter()
                .find(|c| c.type_ == CONDITION_STALLED && c.status == "True")
                .and_then(|c| c.reason.clone())
                .filter(|_| outcome == CanaryPhase::Failed)
                .or_else(|| self.st.message.clone());
            self.close_release(now.clone(), outcome.as_str(), reason);
        }
        let excess = self.st.releases.len().saturating_sub(RELEASE_HISTORY_LIMIT);
        self.st.releases.drain(..excess);

        if self.st.last_step_time != self.old.last_step_time
            && let (Some(phase), Some(revision)) = (phase, self.st.last_applied_spec.clone())
        {
            // The checks this decision recorded are the ones that ran in this step.
            let checks = self
                .st
                .analysis_history
                .iter()
                .filter(|r| r.time == now)
                .map(|r| StepCheck {
                    name: r.name.clone(),
                    value: r.value,
                    verdict: r.verdict,
                })
                .collect();
            self.st.steps.push(StepRecord {
                time: now,
                revision,
                phase,
                canary_weight: self.st.canary_weight,
                iterations: self.st.iterations,
                failed_checks: self.st.failed_checks,
                checks,
            });
        }
        self.keep_recent_steps();
    }

    /// Steps of the current and the last release only, and at most [`STEP_HISTORY_LIMIT`].
    fn keep_recent_steps(&mut self) {
        let recent: Vec<&str> = self
            .st
            .releases
            .iter()
            .rev()
            .take(2)
            .map(|r| r.revision.as_str())
            .collect();
        if !recent.is_empty() {
            self.st
                .steps
                .retain(|s| recent.contains(&s.revision.as_str()));
        }
        let excess = self.st.steps.len().saturating_sub(STEP_HISTORY_LIMIT);
        self.st.steps.drain(..excess);
    }

    fn close_release(&mut self, now: Time, outcome: &str, reason: Option<String>) {
        if let Some(open) = self.st.releases.last_mut().filter(|r| r.ended.is_none()) {
            open.ended = Some(now);
            open.outcome = Some(outcome.to_string());
            open.reason = reason;
        }
    }
}
