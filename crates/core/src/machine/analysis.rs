//! The analysis: starting a revision (confirm-rollout, scale-up), and each analysis step
//! (rollback hooks, pre-rollout or rollout hooks and metrics, then the strategy's move).

use fledge_api::{AnalysisRecord, CanaryPhase, HookType, Severity, Strategy, Verdict};

use super::Machine;
use crate::action::{Action, EventType};
use crate::checks::{Move, Step, at_start, next_move};
use crate::conditions::FailureReason;
use crate::input::{HookOutcome, Readiness, Routes};
use crate::weights::next_canary_weight;

/// How the checks of one step came out.
enum Verdicts {
    Pass,
    /// Inconclusive: no failure counted, but no advance either.
    Held,
    /// A failure was counted (and maybe the release rolled back).
    Failed,
}

impl Machine<'_> {
    /// Progressing / WaitingPromotion: the interval must be up and both workloads ready; a
    /// workload past its deadline rolls back at once.
    pub(super) fn ready_to_analyse(&mut self) -> Option<Step> {
        let primary = self.input.observed.primary.clone();
        let canary = self.input.observed.canary.clone();
        if let Readiness::Failed(why) = primary {
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
        if let Readiness::Failed(why) = canary {
            self.rollback(
                FailureReason::ProgressDeadlineExceeded,
                format!(
                    "Rolling back {} progress deadline exceeded: {why}",
                    self.s.id
                ),
            );
            return None;
        }
        if self.st.failed_checks >= self.s.threshold {
            // Only reachable when the threshold was lowered mid-analysis.
            self.rollback(
                FailureReason::FailedChecks,
                format!(
                    "Rolling back {} failed checks threshold reached {}",
                    self.s.id, self.st.failed_checks
                ),
            );
            return None;
        }
        // Failures act at once; waits only matter once a step is due.
        if !self.due() {
            return None;
        }
        if let Readiness::Waiting(why) = primary {
            self.hold(format!("waiting for {}: {why}", self.s.primary_id()));
            return None;
        }
        if let Readiness::Waiting(why) = canary {
            self.hold(format!("waiting for {}: {why}", self.s.target_id()));
            return None;
        }
        Some(if self.s.skip_analysis {
            Step::SkipAnalysis
        } else {
            Step::Analysis
        })
    }

    /// confirm-rollout said yes (or there is none): scale the target up and start.
    pub(super) fn start_revision_step(&mut self) {
        self.mark_step();
        if self.st.phase == Some(CanaryPhase::Waiting) && self.rollback_hook_fired() {
            return;
        }
        if self.old_routes() != Some(Routes::ALL_PRIMARY) {
            // Failed after a failed promotion: the canary served; the ready primary takes over.
            self.set_routes(Routes::ALL_PRIMARY);
        }
        if !self.gate(HookType::ConfirmRollout, "approval") {
            // A new release waits: the previous one's failed checks don't count against it.
            self.reset_progress();
            self.st.failed_checks = 0;
            self.set_phase(CanaryPhase::Waiting);
            self.ack_pending();
            return;
        }
        self.ack_pending();
        self.adopt_revision();
        self.reset_progress();
        self.st.failed_checks = 0;
        self.st.analysis_history.clear();
        self.set_phase(CanaryPhase::Progressing);
        self.act(Action::ScaleTargetFromZero);
        self.event(
            EventType::Normal,
            format!("New revision detected! Scaling up {}", self.s.target_id()),
        );
        self.alert(
            Severity::Info,
            "New revision detected, progressing canary analysis.".into(),
        );
    }

    pub(super) fn analysis_step(&mut self) {
        self.mark_step();
        if self.rollback_hook_fired() {
            return;
        }
        if at_start(&self.st) {
            self.event(
                EventType::Normal,
                format!("Starting canary analysis for {}", self.s.id),
            );
            if !self.counting_hooks(HookType::PreRollout) {
                return;
            }
        } else {
            if !self.counting_hooks(HookType::Rollout) {
                return;
            }
            match self.metrics() {
                Verdicts::Pass => {}
                Verdicts::Held | Verdicts::Failed => return,
            }
        }
        match next_move(&self.s, &self.st) {
            Move::Mirror => {
                self.st.mirrored = true;
                self.set_routes(Routes {
                    primary: 100,
                    canary: 0,
                    mirrored: true,
                });
                self.set_phase(CanaryPhase::Progressing);
                self.event(
                    EventType::Normal,
                    format!("Advance {} canary weight 0 (traffic mirrored)", self.s.id),
                );
            }
            Move::Weight => {
                if !self.gate(HookType::ConfirmTrafficIncrease, "traffic increase") {
                    return;
                }
                let next = next_canary_weight(&self.s, self.st.canary_weight);
                self.st.canary_weight = next;
                self.st.mirrored = false;
                self.set_routes(Routes::canary(next, false));
                self.set_phase(CanaryPhase::Progressing);
                self.event(
                    EventType::Normal,
                    format!("Advance {} canary weight {next}", self.s.id),
                );
            }
            Move::Iterate => self.iterate(),
            Move::Promote => {
                if !self.gate(HookType::ConfirmPromotion, "promotion") {
                    self.set_phase(CanaryPhase::WaitingPromotion);
                    return;
                }
                self.promote();
            }
        }
    }

    /// Blue/green and A/B: one more iteration.
    fn iterate(&mut self) {
        let n = self.s.iterations;
        match self.s.strategy {
            Strategy::ABTesting => {
                if self.st.canary_weight != 100 || self.st.mirrored {
                    self.set_routes(Routes::ALL_CANARY);
                }
                self.st.canary_weight = 100;
                self.st.mirrored = false;
            }
            _ if self.st.iterations == n => {
                // Last blue/green iteration: switch all traffic to the canary.
                if self.s.shifts_traffic {
                    self.st.canary_weight = 100;
                    self.st.mirrored = false;
                    self.set_routes(Routes::ALL_CANARY);
                    self.event(
                        EventType::Normal,
                        format!("Routing all traffic to canary {}", self.s.id),
                    );
                } else {
                    // No router (kubernetes provider): one more check, then promotion.
                    self.event(
                        EventType::Normal,
                        format!(
                            "Canary {} passed {n} iterations; promoting after one more check",
                            self.s.id
                        ),
                    );
                }
            }
            _ => {
                if self.s.mirror && self.s.shifts_traffic && !self.st.mirrored {
                    self.st.mirrored = true;
                    self.set_routes(Routes {
                        primary: 100,
                        canary: 0,
                        mirrored: true,
                    });
                }
            }
        }
        self.st.iterations += 1;
        self.set_phase(CanaryPhase::Progressing);
        if self.st.iterations <= n {
            self.event(
                EventType::Normal,
                format!(
                    "Advance {} canary iteration {}/{n}",
                    self.s.id, self.st.iterations
                ),
            );
        }
    }

    /// A rollback webhook said yes: roll back now.
    fn rollback_hook_fired(&mut self) -> bool {
        let fired = self
            .s
            .hooks_of(HookType::Rollback)
            .find(|h| self.outcome(HookType::Rollback, &h.name) == Some(HookOutcome::Accepted))
            .map(|h| h.name.clone());
        match fired {
            Some(name) => {
                self.rollback(
                    FailureReason::RollbackHook,
                    format!("Rolling back {} manual webhook invoked ({name})", self.s.id),
                );
                true
            }
            None => false,
        }
    }

    /// A gate: every webhook of `hook_type` must say yes. A refusal holds without counting
    /// a failure, and alerts unless the hook is muted.
    fn gate(&mut self, hook_type: HookType, what: &str) -> bool {
        let hooks: Vec<_> = self.s.hooks_of(hook_type).cloned().collect();
        for hook in hooks {
            if let Some(HookOutcome::Refused(_)) | None = self.outcome(hook_type, &hook.name) {
                let message = format!(
                    "Halt {} advancement waiting for {what} {}",
                    self.s.id, hook.name
                );
                self.event(EventType::Warning, message.clone());
                if !hook.mute_alert {
                    self.alert(Severity::Warn, message);
                }
                return false;
            }
        }
        true
    }

    /// pre-rollout / rollout hooks: a refusal counts as a failed check.
    fn counting_hooks(&mut self, hook_type: HookType) -> bool {
        let hooks: Vec<_> = self.s.hooks_of(hook_type).cloned().collect();
        for hook in hooks {
            let outcome = self
                .outcome(hook_type, &hook.name)
                .unwrap_or_else(|| HookOutcome::Refused("no result".into()));
            match outcome {
                HookOutcome::Accepted => {
                    self.record(self.check_record("webhook", &hook.name, Verdict::Pass));
                    if hook_type == HookType::PreRollout {
                        self.event(
                            EventType::Normal,
                            format!("Pre-rollout check {} passed", hook.name),
                        );
                    }
                }
                HookOutcome::Refused(why) => {
                    let check = if hook_type == HookType::PreRollout {
                        "pre-rollout"
                    } else {
                        "external"
                    };
                    self.record(AnalysisRecord {
                        message: Some(why.clone()),
                        ..self.check_record("webhook", &hook.name, Verdict::Fail)
                    });
                    let message = format!(
                        "Halt {} advancement {check} check {} failed {why}",
                        self.s.id, hook.name
                    );
                    self.event(EventType::Warning, message.clone());
                    // Flagger only logs these (#1663); a failing pre-rollout check is exactly
                    // what an on-call channel wants to hear about.
                    if hook_type == HookType::PreRollout && !hook.mute_alert {
                        self.alert(Severity::Warn, message);
                    }
                    self.count_failure();
                    return false;
                }
            }
        }
        true
    }

    fn metrics(&mut self) -> Verdicts {
        let mut failed = false;
        let mut held = false;
        for name in self.s.metrics.clone() {
            let Some(result) = self
                .input
                .checks
                .metrics
                .iter()
                .find(|m| m.name == name)
                .cloned()
            else {
                continue;
            };
            self.record(AnalysisRecord {
                value: result.value,
                primary_value: result.primary_value,
                threshold: result.threshold.clone(),
                message: result.message.clone(),
                ..self.check_record("metric", &name, result.verdict)
            });
            let detail =
                result
                    .message
                    .clone()
                    .unwrap_or_else(|| match (result.value, &result.threshold) {
                        (Some(v), Some(t)) => format!("{v} not {t}"),
                        (Some(v), None) => format!("value {v}"),
                        _ => "no value".into(),
                    });
            // The metrics crate's messages already name the metric; don't say it twice.
            let subject = if detail.contains(name.as_str()) {
                String::new()
            } else {
                format!("{name} ")
            };
            match result.verdict {
                Verdict::Pass | Verdict::Skipped => {}
                Verdict::Fail => {
                    failed = true;
                    self.event(
                        EventType::Warning,
                        format!("Halt {} advancement {subject}{detail}", self.s.id),
                    );
                }
                Verdict::Inconclusive => {
                    held = true;
                    self.event(
                        EventType::Warning,
                        format!(
                            "Halt {} advancement {subject}inconclusive: {detail}",
                            self.s.id
                        ),
                    );
                }
            }
        }
        if failed {
            self.count_failure();
            Verdicts::Failed
        } else if held {
            Verdicts::Held
        } else {
            Verdicts::Pass
        }
    }

    /// One more failed check; at the threshold the release is rolled back in this same step
    /// (Flagger waits for the next tick), so it is never promoted with failedChecks >= threshold.
    fn count_failure(&mut self) {
        self.st.failed_checks += 1;
        if self.st.failed_checks >= self.s.threshold {
            self.rollback(
                FailureReason::FailedChecks,
                format!(
                    "Rolling back {} failed checks threshold reached {}",
                    self.s.id, self.st.failed_checks
                ),
            );
        }
    }

    fn outcome(&self, hook_type: HookType, name: &str) -> Option<HookOutcome> {
        self.input
            .checks
            .hooks
            .iter()
            .find(|r| r.hook_type == hook_type && r.name == name)
            .map(|r| r.outcome.clone())
    }
}
