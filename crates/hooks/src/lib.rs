//! fledge-hooks: the HTTP side of webhooks and alerts. It builds Flagger-compatible webhook
//! payloads, calls hooks with timeouts and retries, classifies their answers, and formats and
//! sends alerts to chat services.
//!
//! It must never decide rollout logic: it reports what a hook answered and what that answer means
//! for its hook type ([`Verdict`]); the controller decides what to do with the canary. It never
//! reads Kubernetes objects either: Secrets are resolved by the caller, and secret values are
//! wrapped in [`Secret`] so they never reach a log, Event or error.

pub mod alerts;
mod http;
pub mod payload;
mod redact;
pub mod retry;
pub mod verdict;
pub mod webhook;

pub use alerts::{
    AlertError, AlertMessage, AlertRoute, AlertSender, AlertTarget, Field, ReleaseDetails,
    alert_fields, routing_summary,
};
pub use payload::{CanaryEvent, CanaryRef, EventType, WebhookPayload};
pub use redact::Secret;
pub use retry::{RetryPolicy, SlowHook, slow_hooks, worst_case_duration};
pub use verdict::{Verdict, classify};
pub use webhook::{
    ClientError, GLOBAL_EVENT_HOOK_NAME, HookError, HookOutcome, Response, WebhookClient,
    event_hooks,
};
