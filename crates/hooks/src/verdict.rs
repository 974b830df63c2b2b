//! What a hook's answer means for its hook type (Flagger's semantics). Pure: the controller
//! applies the verdict to the canary.

use fledge_api::HookType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on: the gate is open or the check passed.
    Proceed,
    /// A gate said no (`confirm-rollout`, `confirm-traffic-increase`, `confirm-promotion`): stay
    /// where the release is and ask again next time. Not a failed check.
    Hold,
    /// A check failed (`pre-rollout`, `rollout`): counts toward `analysis.threshold`.
    FailedCheck,
    /// A `rollback` hook answered 2xx: roll back now.
    RollBack,
    /// The answer does not change the release (`post-rollout`, `event`, or a `rollback` hook that
    /// did not signal). Failures are still worth logging.
    Ignore,
}

/// `succeeded` is a 2xx answer; anything else (non-2xx, timeout, connection error) is not.
pub fn classify(hook_type: HookType, succeeded: bool) -> Verdict {
    match (hook_type, succeeded) {
        (
            HookType::ConfirmRollout
            | HookType::ConfirmTrafficIncrease
            | HookType::ConfirmPromotion,
            true,
        )
        | (HookType::PreRollout | HookType::Rollout, true) => Verdict::Proceed,
        (
            HookType::ConfirmRollout
            | HookType::ConfirmTrafficIncrease
            | HookType::ConfirmPromotion,
            false,
        ) => Verdict::Hold,
        (HookType::PreRollout | HookType::Rollout, false) => Verdict::FailedCheck,
        (HookType::Rollback, true) => Verdict::RollBack,
        (HookType::Rollback, false) | (HookType::PostRollout | HookType::Event, _) => {
            Verdict::Ignore
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flagger_semantics_table() {
        use HookType::*;
        use Verdict::*;
        let table = [
            (ConfirmRollout, Proceed, Hold),
            (PreRollout, Proceed, FailedCheck),
            (Rollout, Proceed, FailedCheck),
            (ConfirmTrafficIncrease, Proceed, Hold),
            (ConfirmPromotion, Proceed, Hold),
            (PostRollout, Ignore, Ignore),
            (HookType::Rollback, RollBack, Ignore),
            (Event, Ignore, Ignore),
        ];
        assert_eq!(table.len(), HookType::ALL.len());
        for (t, ok, failed) in table {
            assert_eq!(classify(t, true), ok, "{t} ok");
            assert_eq!(classify(t, false), failed, "{t} failed");
        }
    }
}
