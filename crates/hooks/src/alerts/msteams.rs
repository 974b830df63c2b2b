//! Microsoft Teams incoming webhooks: a legacy `MessageCard` with the fields as facts.

use fledge_api::Severity;
use serde_json::{Value, json};

use super::{AlertMessage, AlertTarget, Format, subject};

pub struct MsTeams;

impl Format for MsTeams {
    fn body(&self, _target: &AlertTarget, msg: &AlertMessage) -> Value {
        let color = if msg.severity == Severity::Error {
            "FF0000"
        } else {
            "0076D7"
        };
        let facts: Vec<Value> = msg
            .fields
            .iter()
            .map(|f| json!({"name": f.name, "value": f.value}))
            .collect();
        json!({
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": color,
            "summary": subject(msg),
            "sections": [{
                "activityTitle": msg.message,
                "activitySubtitle": subject(msg),
                "facts": facts,
            }],
        })
    }
}
