//! Weight arithmetic: the next canary weight, the promotion traffic shift, and the routes a
//! status stands for. Unlike Flagger, the canary weight never passes `maxWeight`:
//! stepWeight 20 with maxWeight 50 gives 20, 40, 50 (Flagger: 20, 40, 60).

use fledge_api::{CanaryPhase, CanaryStatus};

use crate::input::Routes;
use crate::settings::Settings;

/// The weight after one successful canary step from `current`: the next `stepWeights` entry
/// above `current`, or `current + stepWeight`, capped at `maxWeight`. With neither set (the
/// validator rejects that) it goes straight to `maxWeight`.
pub fn next_canary_weight(settings: &Settings, current: i32) -> i32 {
    let max = settings.max_weight.clamp(1, 100);
    let next = if !settings.step_weights.is_empty() {
        settings
            .step_weights
            .iter()
            .copied()
            .find(|w| *w > current)
            .unwrap_or(max)
    } else if settings.step_weight > 0 {
        current.saturating_add(settings.step_weight)
    } else {
        max
    };
    next.min(max).max(current.min(max))
}

/// The canary weight after one promotion step (`stepWeightPromotion`; 0 means all at once).
pub fn promotion_weight(settings: &Settings, current: i32) -> i32 {
    if !settings.shifts_traffic || settings.step_weight_promotion <= 0 {
        0
    } else {
        (current - settings.step_weight_promotion).max(0)
    }
}

/// The routes a status stands for; `None` before routing exists (initialization) or after
/// the Canary is gone.
pub fn desired_routes(status: &CanaryStatus) -> Option<Routes> {
    match status.phase? {
        CanaryPhase::Initializing | CanaryPhase::Terminating | CanaryPhase::Terminated => None,
        CanaryPhase::Initialized | CanaryPhase::Succeeded | CanaryPhase::Waiting => {
            Some(Routes::ALL_PRIMARY)
        }
        // Failed after a failed promotion keeps the canary serving (Flagger 1.44).
        CanaryPhase::Failed if status.canary_weight >= 100 => Some(Routes::ALL_CANARY),
        CanaryPhase::Failed => Some(Routes::ALL_PRIMARY),
        CanaryPhase::Progressing
        | CanaryPhase::WaitingPromotion
        | CanaryPhase::Promoting
        | CanaryPhase::Finalising => Some(Routes::canary(status.canary_weight, status.mirrored)),
    }
}
