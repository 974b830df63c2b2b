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

#[cfg(test)]
mod tests {
    use fledge_api::Strategy;

    use super::*;

    fn settings(step: i32, steps: &[i32], max: i32, promotion: i32) -> Settings {
        Settings {
            id: "podinfo.test".into(),
            target: "podinfo".into(),
            target_kind: "Deployment".into(),
            strategy: Strategy::Canary,
            mirror: false,
            iterations: 0,
            shifts_traffic: true,
            interval: std::time::Duration::from_secs(60),
            threshold: 5,
            max_weight: max,
            step_weight: step,
            step_weights: steps.to_vec(),
            step_weight_promotion: promotion,
            skip_analysis: false,
            suspend: false,
            revert_on_deletion: false,
            hooks: vec![],
            metrics: vec![],
        }
    }

    fn schedule(s: &Settings) -> Vec<i32> {
        let mut out = vec![];
        let mut w = 0;
        while w < s.max_weight {
            w = next_canary_weight(s, w);
            out.push(w);
        }
        out
    }

    #[test]
    fn canary_schedules() {
        // Flagger's docs example: 20, 40, 60 there; capped at 50 here.
        assert_eq!(schedule(&settings(20, &[], 50, 0)), vec![20, 40, 50]);
        assert_eq!(
            schedule(&settings(10, &[], 50, 0)),
            vec![10, 20, 30, 40, 50]
        );
        assert_eq!(schedule(&settings(100, &[], 100, 0)), vec![100]);
        assert_eq!(schedule(&settings(0, &[1, 5, 25], 25, 0)), vec![1, 5, 25]);
        // A maxWeight below the last stepWeights entry cuts the schedule.
        assert_eq!(
            schedule(&settings(0, &[10, 30, 60], 40, 0)),
            vec![10, 30, 40]
        );
        // Neither set (rejected by validation): straight to maxWeight.
        assert_eq!(schedule(&settings(0, &[], 30, 0)), vec![30]);
    }

    #[test]
    fn promotion_steps() {
        let s = settings(10, &[], 50, 20);
        assert_eq!(promotion_weight(&s, 50), 30);
        assert_eq!(promotion_weight(&s, 10), 0);
        assert_eq!(promotion_weight(&settings(10, &[], 50, 0), 50), 0);
        let mut nop = settings(10, &[], 50, 20);
        nop.shifts_traffic = false;
        assert_eq!(promotion_weight(&nop, 50), 0);
    }

    #[test]
    fn routes_per_phase() {
        let status = |phase, w, mirrored| CanaryStatus {
            phase: Some(phase),
            canary_weight: w,
            mirrored,
            ..Default::default()
        };
        use CanaryPhase::*;
        assert_eq!(desired_routes(&status(Initializing, 0, false)), None);
        assert_eq!(
            desired_routes(&status(Succeeded, 0, false)),
            Some(Routes::ALL_PRIMARY)
        );
        assert_eq!(
            desired_routes(&status(Failed, 0, false)),
            Some(Routes::ALL_PRIMARY)
        );
        assert_eq!(
            desired_routes(&status(Failed, 100, false)),
            Some(Routes::ALL_CANARY)
        );
        assert_eq!(
            desired_routes(&status(Progressing, 0, true)),
            Some(Routes {
                primary: 100,
                canary: 0,
                mirrored: true
            })
        );
        assert_eq!(
            desired_routes(&status(Promoting, 30, false)),
            Some(Routes {
                primary: 70,
                canary: 30,
                mirrored: false
            })
        );
    }
}
