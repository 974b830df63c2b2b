//! The webhook client: POSTs Flagger's payload to a hook with its timeout, retries and TLS
//! setting, and reports what happened. What the answer means for the rollout is in
//! [`crate::verdict`]; acting on it is the controller's job.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::Retryable;
use fledge_api::{CanaryWebhook, HookType};

use crate::http::{describe, read_body, snippet, status_text};
use crate::payload::{CanaryEvent, CanaryRef, WebhookPayload};
use crate::retry::{RetryPolicy, retries};
use crate::verdict::{Verdict, classify};

/// Name given to the hook built from the controller's `--event-webhook` flag (as in Flagger).
pub const GLOBAL_EVENT_HOOK_NAME: &str = "events";

/// A 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The body (up to 64 KiB): e.g. a load tester's `returnCmdOutput`.
    pub body: String,
}

/// Why a call did not get a 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// A non-2xx answer; `body` is the start of the response body.
    #[error("{}{}", status_text(*status), if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status { status: u16, body: String },
    #[error("no answer within the {}s timeout", timeout.as_secs_f64())]
    Timeout { timeout: Duration },
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("url {url:?} is not a valid http(s) URL")]
    InvalidUrl { url: String },
    #[error("request failed: {0}")]
    Request(String),
}

impl HookError {
    /// Worth another attempt: the hook may be briefly down or overloaded. A 4xx other than 429 is
    /// an answer (a gate saying no) and is never retried.
    fn is_retryable(&self) -> bool {
        match self {
            HookError::Status { status, .. } => {
                *status == 429 || (*status >= 500 && *status != 501)
            }
            HookError::Timeout { .. } | HookError::Connect(_) | HookError::Request(_) => true,
            HookError::InvalidUrl { .. } => false,
        }
    }
}

/// What one hook call came to, after retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    pub name: String,
    pub hook_type: HookType,
    /// `muteAlert`: the controller should not alert when this hook fails.
    pub mute_alert: bool,
    /// Attempts made: 1 plus the retries used.
    pub attempts: u32,
    pub result: Result<Response, HookError>,
}

impl HookOutcome {
    pub fn succeeded(&self) -> bool {
        self.result.is_ok()
    }

    /// What the answer means for this hook's type.
    pub fn verdict(&self) -> Verdict {
        classify(self.hook_type, self.succeeded())
    }
}

/// `webhook load-test (rollout) failed after 3 attempts: HTTP 500 Internal Server Error: boom`;
/// suitable for an Event or a log line.
impl fmt::Display for HookOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "webhook {} ({})", self.name, self.hook_type)?;
        match &self.result {
            Ok(resp) => write!(f, " answered {}", status_text(resp.status)),
            Err(err) if self.attempts > 1 => {
                write!(f, " failed after {} attempts: {err}", self.attempts)
            }
            Err(err) => write!(f, " failed: {err}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("building the webhook HTTP client failed: {0}")]
pub struct ClientError(String);

/// Calls webhooks. Cheap to clone; build one and share it.
#[derive(Clone)]
pub struct WebhookClient {
    verified: reqwest::Client,
    /// For hooks with `disableTLS: true`.
    unverified: reqwest::Client,
    retry: RetryPolicy,
}

impl fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookClient")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl WebhookClient {
    /// A client with the default [`RetryPolicy`]. Needs a rustls crypto provider installed.
    pub fn new() -> Result<Self, ClientError> {
        Self::with_retry_policy(RetryPolicy::default())
    }

    pub fn with_retry_policy(retry: RetryPolicy) -> Result<Self, ClientError> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(concat!("fledge/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
        };
        let verified = builder().build().map_err(|e| ClientError(describe(e)))?;
        let unverified = builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| ClientError(describe(e)))?;
        Ok(WebhookClient {
            verified,
            unverified,
            retry,
        })
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Calls a hook with `{name, namespace, phase, checksum, metadata}`.
    pub async fn call(&self, hook: &CanaryWebhook, canary: &CanaryRef) -> HookOutcome {
        let payload = WebhookPayload::new(canary, &hook.metadata);
        self.deliver(hook, &payload).await
    }

    /// Calls an `event` hook: the payload's metadata also carries the event.
    pub async fn call_event(
        &self,
        hook: &CanaryWebhook,
        canary: &CanaryRef,
        event: &CanaryEvent,
    ) -> HookOutcome {
        let payload = WebhookPayload::for_event(canary, &hook.metadata, event);
        self.deliver(hook, &payload).await
    }

    /// Calls all hooks at once and returns their outcomes in the order given, so that several
    /// slow hooks in one step take as long as the slowest, not the sum.
    pub async fn run_concurrently<'a>(
        &self,
        hooks: impl IntoIterator<Item = &'a CanaryWebhook>,
        canary: &CanaryRef,
    ) -> Vec<HookOutcome> {
        futures::future::join_all(hooks.into_iter().map(|h| self.call(h, canary))).await
    }

    /// Sends an event to every event target ([`event_hooks`]) at once.
    pub async fn send_event(
        &self,
        hooks: &[CanaryWebhook],
        canary: &CanaryRef,
        event: &CanaryEvent,
    ) -> Vec<HookOutcome> {
        futures::future::join_all(hooks.iter().map(|h| self.call_event(h, canary, event))).await
    }

    async fn deliver(&self, hook: &CanaryWebhook, payload: &WebhookPayload) -> HookOutcome {
        let attempts = AtomicU32::new(0);
        let result = match reqwest::Url::parse(&hook.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        {
            None => Err(HookError::InvalidUrl {
                url: hook.url.clone(),
            }),
            Some(url) => {
                let client = if hook.disable_tls() {
                    &self.unverified
                } else {
                    &self.verified
                };
                let timeout = hook.timeout();
                (|| {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    attempt(client, url.clone(), timeout, payload)
                })
                .retry(self.retry.backoff(retries(hook)))
                .when(HookError::is_retryable)
                .notify(|err, wait| {
                    tracing::debug!(hook = %hook.name, error = %err, wait_s = wait.as_secs_f64(), "webhook failed, retrying");
                })
                .await
            }
        };
        HookOutcome {
            name: hook.name.clone(),
            hook_type: hook.type_,
            mute_alert: hook.mute_alert(),
            attempts: attempts.load(Ordering::Relaxed).max(1),
            result,
        }
    }
}

async fn attempt(
    client: &reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
    payload: &WebhookPayload,
) -> Result<Response, HookError> {
    let sent = client.post(url).timeout(timeout).json(payload).send().await;
    let resp = sent.map_err(|e| classify_error(e, timeout))?;
    let status = resp.status().as_u16();
    let body = read_body(resp).await;
    if (200..300).contains(&status) {
        Ok(Response { status, body })
    } else {
        Err(HookError::Status {
            status,
            body: snippet(&body),
        })
    }
}

fn classify_error(err: reqwest::Error, timeout: Duration) -> HookError {
    if err.is_timeout() {
        HookError::Timeout { timeout }
    } else if err.is_connect() {
        HookError::Connect(describe(err))
    } else {
        HookError::Request(describe(err))
    }
}

/// Where a canary's events go: its own `event` hooks, or, when it has none, the global
/// `--event-webhook` (Flagger's override rule).
pub fn event_hooks(hooks: &[CanaryWebhook], global_url: Option<&str>) -> Vec<CanaryWebhook> {
    let own: Vec<CanaryWebhook> = hooks
        .iter()
        .filter(|h| h.type_ == HookType::Event)
        .cloned()
        .collect();
    match global_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) if own.is_empty() => vec![CanaryWebhook {
            name: GLOBAL_EVENT_HOOK_NAME.to_owned(),
            type_: HookType::Event,
            url: url.to_owned(),
            ..Default::default()
        }],
        _ => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(name: &str, type_: HookType) -> CanaryWebhook {
        CanaryWebhook {
            name: name.into(),
            type_,
            url: format!("http://hooks/{name}"),
            ..Default::default()
        }
    }

    #[test]
    fn retry_only_what_may_change() {
        let status = |s| HookError::Status {
            status: s,
            body: String::new(),
        };
        for (err, want) in [
            (status(500), true),
            (status(503), true),
            (status(429), true),
            (status(501), false),
            (status(403), false),
            (status(404), false),
            (
                HookError::Timeout {
                    timeout: Duration::from_secs(1),
                },
                true,
            ),
            (HookError::Connect("refused".into()), true),
            (HookError::InvalidUrl { url: "x".into() }, false),
        ] {
            assert_eq!(err.is_retryable(), want, "{err}");
        }
    }

    #[test]
    fn event_hooks_override_the_global_one() {
        let own = vec![
            hook("pre", HookType::PreRollout),
            hook("ev", HookType::Event),
        ];
        let names = |v: Vec<CanaryWebhook>| v.into_iter().map(|h| h.name).collect::<Vec<_>>();
        assert_eq!(names(event_hooks(&own, Some("http://global/"))), ["ev"]);
        let none = vec![hook("pre", HookType::PreRollout)];
        let global = event_hooks(&none, Some("http://global/"));
        assert_eq!(global.len(), 1);
        assert_eq!(global[0].name, "events");
        assert_eq!(global[0].url, "http://global/");
        assert_eq!(global[0].type_, HookType::Event);
        assert!(event_hooks(&none, None).is_empty());
        assert!(event_hooks(&none, Some(" ")).is_empty());
    }

    #[test]
    fn outcome_messages() {
        let mut o = HookOutcome {
            name: "load-test".into(),
            hook_type: HookType::Rollout,
            mute_alert: false,
            attempts: 3,
            result: Err(HookError::Status {
                status: 500,
                body: "boom".into(),
            }),
        };
        assert_eq!(
            o.to_string(),
            "webhook load-test (rollout) failed after 3 attempts: HTTP 500 Internal Server Error: boom"
        );
        o.attempts = 1;
        o.result = Err(HookError::Timeout {
            timeout: Duration::from_millis(1500),
        });
        assert_eq!(
            o.to_string(),
            "webhook load-test (rollout) failed: no answer within the 1.5s timeout"
        );
        o.result = Ok(Response {
            status: 202,
            body: String::new(),
        });
        assert_eq!(
            o.to_string(),
            "webhook load-test (rollout) answered HTTP 202 Accepted"
        );
    }
}
