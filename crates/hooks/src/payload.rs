//! The JSON body of every webhook call, in Flagger's wire format, so that receivers written for
//! Flagger (its load tester, approval services, chat bridges) keep working unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metadata keys that an event hook always sets; a user's metadata cannot override them.
pub const EVENT_MESSAGE_KEY: &str = "eventMessage";
/// See [`EVENT_MESSAGE_KEY`].
pub const EVENT_TYPE_KEY: &str = "eventType";
/// See [`EVENT_MESSAGE_KEY`].
pub const TIMESTAMP_KEY: &str = "timestamp";

/// `{name, namespace, phase, checksum, metadata}` as Flagger posts it.
///
/// Every field defaults when absent so that a receiver (the load tester) accepts the hand-written
/// `curl -d '{"name":"podinfo","namespace":"test"}'` calls that Flagger's docs use for gates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub checksum: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// Which canary a call is about, in the state the controller saw when it made the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanaryRef {
    pub name: String,
    pub namespace: String,
    /// The canary's current `status.phase` (e.g. `Progressing`).
    pub phase: String,
    /// Hash of the tracked configs and last applied spec; computed by the controller.
    pub checksum: String,
}

pub use fledge_api::EventType;

/// One Event the canary recorded, as forwarded to `event` hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryEvent {
    pub message: String,
    pub event_type: EventType,
    /// When the event happened; sent as unix milliseconds like Flagger.
    pub timestamp: jiff::Timestamp,
}

impl WebhookPayload {
    /// The payload of an ordinary (non-event) hook: the canary plus the hook's own metadata.
    pub fn new(canary: &CanaryRef, metadata: &BTreeMap<String, String>) -> Self {
        WebhookPayload {
            name: canary.name.clone(),
            namespace: canary.namespace.clone(),
            phase: canary.phase.clone(),
            checksum: canary.checksum.clone(),
            metadata: metadata.clone(),
        }
    }

    /// The payload of an `event` hook. The event keys are written last so that a user's metadata
    /// with the same key cannot disguise what happened.
    pub fn for_event(
        canary: &CanaryRef,
        metadata: &BTreeMap<String, String>,
        event: &CanaryEvent,
    ) -> Self {
        let mut payload = WebhookPayload::new(canary, metadata);
        payload
            .metadata
            .insert(EVENT_MESSAGE_KEY.to_owned(), event.message.clone());
        payload.metadata.insert(
            EVENT_TYPE_KEY.to_owned(),
            event.event_type.as_str().to_owned(),
        );
        payload.metadata.insert(
            TIMESTAMP_KEY.to_owned(),
            event.timestamp.as_millisecond().to_string(),
        );
        payload
    }

    /// `<name>.<namespace>`, the key Flagger's load tester uses for gates and task deduplication.
    pub fn canary_key(&self) -> String {
        format!("{}.{}", self.name, self.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary() -> CanaryRef {
        CanaryRef {
            name: "podinfo".into(),
            namespace: "test".into(),
            phase: "Progressing".into(),
            checksum: "abc".into(),
        }
    }

    #[test]
    fn serializes_flagger_field_names() {
        let meta = BTreeMap::from([("cmd".to_owned(), "hey -z 1m".to_owned())]);
        let json = serde_json::to_value(WebhookPayload::new(&canary(), &meta)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name":"podinfo","namespace":"test","phase":"Progressing",
                "checksum":"abc","metadata":{"cmd":"hey -z 1m"}})
        );
    }

    #[test]
    fn empty_metadata_is_omitted() {
        let json = serde_json::to_value(WebhookPayload::new(&canary(), &BTreeMap::new())).unwrap();
        assert!(json.get("metadata").is_none());
    }

    #[test]
    fn user_metadata_cannot_override_event_keys() {
        let meta = BTreeMap::from([
            ("eventMessage".to_owned(), "forged".to_owned()),
            ("eventType".to_owned(), "Normal".to_owned()),
            ("timestamp".to_owned(), "0".to_owned()),
            ("team".to_owned(), "payments".to_owned()),
        ]);
        let event = CanaryEvent {
            message: "Rolling back podinfo.test failed checks threshold reached 5".into(),
            event_type: EventType::Warning,
            timestamp: jiff::Timestamp::from_millisecond(1_700_000_000_123).unwrap(),
        };
        let p = WebhookPayload::for_event(&canary(), &meta, &event);
        assert_eq!(p.metadata["eventMessage"], event.message);
        assert_eq!(p.metadata["eventType"], "Warning");
        assert_eq!(p.metadata["timestamp"], "1700000000123");
        assert_eq!(p.metadata["team"], "payments");
    }

    #[test]
    fn parses_minimal_hand_written_body() {
        let p: WebhookPayload =
            serde_json::from_str(r#"{"name":"podinfo","namespace":"test"}"#).unwrap();
        assert_eq!(p.canary_key(), "podinfo.test");
        assert!(p.metadata.is_empty());
    }
}
