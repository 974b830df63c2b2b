//! What crosses the wire to and from webhooks: the load tester reading a request, and the
//! controller building webhook and alert bodies from a Canary's strings.

use std::time::Duration;

use fledge_api::{AlertProviderType, EventType, Severity};
use fledge_hooks::alerts::{AlertMessage, AlertTarget, Field, format_for};
use fledge_hooks::{CanaryEvent, CanaryRef, Secret, WebhookPayload};
use fledge_loadtester::server::read_payload;
use fledge_loadtester::tasks::Task;
use serde_json::Value;

const MAX_DURATION: Duration = Duration::from_secs(3600);

/// The raw body of a `POST /` (and of the gate endpoints, which read it the same way).
pub fn loadtester_request(data: &[u8]) {
    let namespaces = regex::Regex::new("^(test|prod)$").ok();
    for regexp in [None, namespaces.as_ref()] {
        let payload = read_payload(data, regexp);
        assert_eq!(payload, read_payload(data, regexp), "not deterministic");
        let payload = match payload {
            Ok(p) => p,
            Err(reply) => {
                assert!(reply.status.is_client_error(), "{reply:?}");
                assert!(!reply.body.is_empty(), "a refusal must say why");
                continue;
            }
        };
        match Task::parse(&payload.metadata, MAX_DURATION) {
            Err(msg) => assert!(!msg.is_empty(), "a refusal must say why"),
            Ok(Task::Load(spec)) => {
                assert!(spec.duration <= MAX_DURATION, "{spec:?}");
                assert!(spec.rps.is_finite() && spec.rps > 0.0, "{spec:?}");
                assert!(spec.concurrency >= 1, "{spec:?}");
                // The workers' tick; must be a real interval for the timer.
                let period = spec.period();
                assert!(!period.is_zero(), "{spec:?}");
            }
            Ok(Task::Kubectl { args, .. }) => {
                assert!(args.iter().all(|a| !a.is_empty()), "{args:?}");
            }
            Ok(Task::Cmd { cmd, .. } | Task::Bash { cmd, .. }) => {
                assert!(!cmd.trim().is_empty(), "an empty command was accepted");
            }
        }
    }
}

/// Fields: name, namespace, phase, checksum, `key=value` metadata lines, the event's message,
/// its type (`w` for Warning) and unix milliseconds.
pub fn webhook_payload(data: &[u8]) {
    let f = super::fields(data, 8);
    let canary = CanaryRef {
        name: f[0].clone(),
        namespace: f[1].clone(),
        phase: f[2].clone(),
        checksum: f[3].clone(),
    };
    let metadata = super::pairs(&f[4]);
    let plain = WebhookPayload::new(&canary, &metadata);
    round_trips(&plain);
    let millis: i64 = f[7].trim().parse().unwrap_or_default();
    let Ok(timestamp) = jiff::Timestamp::from_millisecond(millis) else {
        return;
    };
    let event = CanaryEvent {
        message: f[5].clone(),
        event_type: if f[6].starts_with('w') {
            EventType::Warning
        } else {
            EventType::Normal
        },
        timestamp,
    };
    let payload = WebhookPayload::for_event(&canary, &metadata, &event);
    round_trips(&payload);
    // A user's metadata can't disguise what happened.
    assert_eq!(payload.metadata["eventMessage"], event.message);
    assert_eq!(payload.metadata["eventType"], event.event_type.as_str());
    assert_eq!(payload.metadata["timestamp"], millis.to_string());
}

fn round_trips(payload: &WebhookPayload) {
    let body = serde_json::to_vec(payload).expect("a payload serializes");
    let back: WebhookPayload = serde_json::from_slice(&body).expect("a payload reads back");
    assert_eq!(&back, payload);
}

/// Fields: name, namespace, message, severity (`e`rror, `w`arn), field name, field value,
/// channel, username, address.
pub fn alert_payload(data: &[u8]) {
    let f = super::fields(data, 9);
    let msg = AlertMessage {
        name: f[0].clone(),
        namespace: f[1].clone(),
        message: f[2].clone(),
        severity: match f[3].chars().next() {
            Some('e') => Severity::Error,
            Some('w') => Severity::Warn,
            _ => Severity::Info,
        },
        fields: vec![Field::new(f[4].clone(), f[5].clone())],
    };
    for kind in AlertProviderType::ALL {
        let mut target = AlertTarget::new(kind, Secret::new(f[8].clone()));
        target.channel = f[6].clone();
        target.username = f[7].clone();
        let format = format_for(kind);
        let body = format.body(&target, &msg);
        assert!(body.is_object(), "{kind:?}: {body}");
        let text = serde_json::to_string(&body).expect("a body serializes");
        let back: Value = serde_json::from_str(&text).expect("a body reads back");
        assert_eq!(back, body, "{kind:?}");
        // The message reaches the reader, whatever it holds (Google Chat's cards are HTML).
        if !msg.message.is_empty() {
            let shown = match kind {
                AlertProviderType::Gchat => msg
                    .message
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;"),
                _ => msg.message.clone(),
            };
            assert!(
                contains_text(&body, &shown),
                "{kind:?}: {:?} not in {body}",
                msg.message
            );
        }
        let _ = format.endpoint(target.address.expose());
    }
}

/// Whether some string in `v` contains `text`.
fn contains_text(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s.contains(text),
        Value::Array(items) => items.iter().any(|i| contains_text(i, text)),
        Value::Object(map) => map.values().any(|i| contains_text(i, text)),
        _ => false,
    }
}
