//! fledge-hooks: the HTTP side of webhooks and alerts. It builds Flagger-compatible webhook
//! payloads, calls hooks with timeouts and retries, classifies their answers, and formats and
//! sends alerts to chat services.
//!
//! It must never decide rollout logic: it reports what a hook answered and what that answer means
//! for its hook type; the controller decides what to do with the canary.

pub mod payload;

pub use payload::{CanaryEvent, CanaryRef, EventType, WebhookPayload};
