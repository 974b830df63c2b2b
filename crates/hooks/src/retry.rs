//! How often and how patiently a failing webhook is retried, and the longest a call can take.
//!
//! The backoff is exponential without jitter (1s, 2s, 4s, ... capped at 30s, as go-retryablehttp
//! does for Flagger), so the worst case is a fixed number that validation can compare with the
//! analysis interval.

use std::time::Duration;

use std::fmt;

use backon::{BackoffBuilder, ExponentialBuilder};
use fledge_api::duration::format_duration;
use fledge_api::{CanaryWebhook, HookType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the first retry; doubles for each further retry.
    pub min_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The backoff for a hook with `retries` extra attempts.
    pub(crate) fn backoff(&self, retries: u32) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(retries as usize)
    }

    /// Sum of the waits between attempts when every retry is used.
    pub fn total_backoff(&self, retries: u32) -> Duration {
        self.backoff(retries).build().sum()
    }

    /// The longest a call to this hook can take: every attempt times out and every retry waits.
    pub fn worst_case_duration(&self, hook: &CanaryWebhook) -> Duration {
        let retries = retries(hook);
        hook.timeout().saturating_mul(retries.saturating_add(1)) + self.total_backoff(retries)
    }
}

/// Retries as a count; negative values in the spec mean none.
pub(crate) fn retries(hook: &CanaryWebhook) -> u32 {
    u32::try_from(hook.retries()).unwrap_or(0)
}

/// [`RetryPolicy::worst_case_duration`] with the default policy, which is what the controller
/// uses. Validation warns when this exceeds the analysis interval.
pub fn worst_case_duration(hook: &CanaryWebhook) -> Duration {
    RetryPolicy::default().worst_case_duration(hook)
}

/// A hook that can take longer than the analysis interval: a validation warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowHook {
    /// Position in `spec.analysis.webhooks`.
    pub index: usize,
    pub name: String,
    pub timeout: Duration,
    pub attempts: u32,
    pub backoff: Duration,
    pub worst_case: Duration,
    pub interval: Duration,
}

impl fmt::Display for SlowHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spec.analysis.webhooks[{}] ({}): can take up to {} (timeout {} x {} attempts",
            self.index,
            self.name,
            format_duration(self.worst_case),
            format_duration(self.timeout),
            self.attempts
        )?;
        if !self.backoff.is_zero() {
            write!(f, " + {} between retries", format_duration(self.backoff))?;
        }
        write!(
            f,
            "), longer than the {} analysis interval; lower its timeout or retries, or raise \
             spec.analysis.interval",
            format_duration(self.interval)
        )
    }
}

/// The hooks whose worst case (default policy) exceeds `interval`. Hooks of one step run
/// concurrently, so each is compared on its own. `post-rollout` is left out: it runs once after
/// the release and delays no step.
pub fn slow_hooks(hooks: &[CanaryWebhook], interval: Duration) -> Vec<SlowHook> {
    let policy = RetryPolicy::default();
    hooks
        .iter()
        .enumerate()
        .filter(|(_, h)| h.type_ != HookType::PostRollout)
        .filter_map(|(index, h)| {
            let worst_case = policy.worst_case_duration(h);
            (worst_case > interval).then(|| SlowHook {
                index,
                name: h.name.clone(),
                timeout: h.timeout(),
                attempts: retries(h).saturating_add(1),
                backoff: policy.total_backoff(retries(h)),
                worst_case,
                interval,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(timeout: Option<&str>, retries: Option<i32>) -> CanaryWebhook {
        CanaryWebhook {
            name: "h".into(),
            url: "http://127.0.0.1/".into(),
            timeout: timeout.map(str::to_owned),
            retries,
            ..Default::default()
        }
    }

    #[test]
    fn worst_case_table() {
        for (timeout, retries, want_secs) in [
            (None, None, 10), // default timeout, no retries
            (Some("5s"), Some(0), 5),
            (Some("5s"), Some(1), 5 * 2 + 1),
            (Some("5s"), Some(3), 5 * 4 + 1 + 2 + 4),
            (Some("1s"), Some(7), 8 + 1 + 2 + 4 + 8 + 16 + 30 + 30), // capped at 30s
            (Some("30s"), Some(-2), 30),                             // negative retries mean none
        ] {
            assert_eq!(
                worst_case_duration(&hook(timeout, retries)),
                Duration::from_secs(want_secs),
                "timeout {timeout:?} retries {retries:?}"
            );
        }
    }

    #[test]
    fn slow_hooks_name_the_field_and_the_fix() {
        let mut hooks = vec![
            hook(Some("5s"), None),
            hook(Some("30s"), Some(1)),
            hook(Some("2m"), None),
        ];
        hooks[1].name = "load-test".into();
        hooks[2].type_ = HookType::PostRollout;
        let slow = slow_hooks(&hooks, Duration::from_secs(60));
        assert_eq!(slow.len(), 1);
        assert_eq!(
            slow[0].to_string(),
            "spec.analysis.webhooks[1] (load-test): can take up to 1m1s (timeout 30s x 2 attempts \
             + 1s between retries), longer than the 1m analysis interval; lower its timeout or \
             retries, or raise spec.analysis.interval"
        );
        assert!(slow_hooks(&hooks, Duration::from_secs(61)).is_empty());
    }

    #[test]
    fn custom_policy() {
        let p = RetryPolicy {
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(15),
        };
        assert_eq!(p.total_backoff(3), Duration::from_millis(10 + 15 + 15));
    }
}
