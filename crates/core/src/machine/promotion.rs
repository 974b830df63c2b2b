//! Leaving the analysis: promotion (Promoting → Finalising → Succeeded), the skip-analysis
//! shortcut, rollback, and the primary failing during promotion (Flagger 1.44: keep the
//! canary serving, Failed, say so).

use fledge_api::{CanaryPhase, Severity};

use super::Machine;
use crate::action::{Action, EventType};
use crate::checks::Step;
use crate::conditions::FailureReason;
use crate::input::{Readiness, Routes};
use crate::weights::promotion_weight;

impl Machine<'_> {
    /// Promoting / Finalising wait for the primary's rollout; if it fails, the canary keeps
    /// serving.
    pub(super) fn ready_to_promote(&mut self) -> Option<Step> {
        if let Readiness::Failed(why) = self.input.observed.primary.clone() {
            self.failed_promotion(&why);
            return None;
        }
        if !self.due() {
            return None;
        }
        if let Readiness::Waiting(why) = self.input.observed.primary.clone() {
            self.hold(format!(
                "waiting for {} to roll out: {why}",
                self.s.primary_id()
            ));
            return None;
        }
        match self.st.phase {
            Some(CanaryPhase::Promoting) => Some(Step::Promotion),
            Some(CanaryPhase::Finalising) => Some(Step::Finalise),
            _ => None,
        }
    }

    /// Copy the canary's spec to the primary; the primary starts rolling out.
    pub(super) fn promote(&mut self) {
        self.mark_step();
        self.act(Action::PromoteToPrimary);
        self.set_phase(CanaryPhase::Promoting);
        self.event(
            EventType::Normal,
            format!(
                "Copying {} template spec to {}",
                self.s.target_id(),
                self.s.primary_id()
            ),
        );
    }

    pub(super) fn skip_analysis_step(&mut self) {
        if self.old_routes() != Some(Routes::ALL_PRIMARY) {
            self.set_routes(Routes::ALL_PRIMARY);
        }
        self.reset_progress();
        self.promote();
    }

    /// Move traffic back to the primary, all at once or by `stepWeightPromotion`.
    pub(super) fn promotion_step(&mut self) {
        self.mark_step();
        let next = promotion_weight(&self.s, self.st.canary_weight);
        if next != self.st.canary_weight || self.st.mirrored {
            self.set_routes(Routes::canary(next, false));
        }
        self.st.canary_weight = next;
        self.st.mirrored = false;
        if next == 0 {
            self.set_phase(CanaryPhase::Finalising);
            self.event(
                EventType::Normal,
                format!("Routing all traffic to primary {}", self.s.primary_id()),
            );
        } else {
            self.event(
                EventType::Normal,
                format!("Advance {} primary weight {}", self.s.id, 100 - next),
            );
        }
    }

    pub(super) fn finalise_step(&mut self) {
        self.mark_step();
        self.act(Action::ScaleTargetToZero);
        self.reset_progress();
        self.st.last_promoted_spec = self.st.last_applied_spec.clone();
        self.set_phase(CanaryPhase::Succeeded);
        self.event(
            EventType::Normal,
            format!("Promotion completed! Scaling down {}", self.s.target_id()),
        );
        self.alert(
            Severity::Info,
            "Canary analysis completed successfully, promotion finished.".into(),
        );
        self.post_rollout(CanaryPhase::Succeeded);
    }

    /// Route everything to the primary, scale the canary down, Failed.
    pub(super) fn rollback(&mut self, reason: FailureReason, message: String) {
        self.ack_pending();
        self.adopt_revision();
        self.event(EventType::Warning, message.clone());
        self.alert(Severity::Error, message.clone());
        self.set_routes(Routes::ALL_PRIMARY);
        self.act(Action::ScaleTargetToZero);
        self.reset_progress();
        self.set_phase(CanaryPhase::Failed);
        self.event(
            EventType::Warning,
            format!("Canary failed! Scaling down {}", self.s.target_id()),
        );
        self.st.message = Some(message.clone());
        self.failure = Some((reason, message));
        self.post_rollout(CanaryPhase::Failed);
    }

    /// The primary failed to roll out the promoted spec: don't send traffic to it.
    fn failed_promotion(&mut self, why: &str) {
        let message = format!(
            "Promotion of {} failed: {} is not ready ({why}); all traffic stays on the canary {}",
            self.s.id,
            self.s.primary_id(),
            self.s.target_id()
        );
        self.set_routes(Routes::ALL_CANARY);
        self.st.canary_weight = 100;
        self.st.iterations = 0;
        self.st.mirrored = false;
        self.set_phase(CanaryPhase::Failed);
        self.event(EventType::Warning, message.clone());
        self.alert(Severity::Error, message.clone());
        self.failure = Some((FailureReason::PromotionFailed, message));
        self.post_rollout(CanaryPhase::Failed);
    }
}
