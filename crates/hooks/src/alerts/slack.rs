//! Slack incoming webhooks: one attachment with the canary as author, the message as markdown
//! text and the fields below it. Discord and Rocket.Chat accept the same shape.

use fledge_api::Severity;
use serde_json::{Value, json};

use super::{AlertMessage, AlertTarget, Format, subject};

pub struct Slack;

impl Format for Slack {
    fn body(&self, target: &AlertTarget, msg: &AlertMessage) -> Value {
        let color = if msg.severity == Severity::Error {
            "danger"
        } else {
            "good"
        };
        slack_style(target, msg, color)
    }
}

/// The Slack message shape with a given attachment color.
pub(super) fn slack_style(target: &AlertTarget, msg: &AlertMessage, color: &str) -> Value {
    let fields: Vec<Value> = msg
        .fields
        .iter()
        .map(|f| json!({"title": f.name, "value": f.value, "short": false}))
        .collect();
    json!({
        "channel": target.channel,
        "username": target.username,
        "icon_emoji": ":rocket:",
        "attachments": [{
            "color": color,
            "author_name": subject(msg),
            "text": msg.message,
            "mrkdwn_in": ["text"],
            "fields": fields,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Field, format_for};
    use super::*;
    use crate::Secret;
    use fledge_api::AlertProviderType;

    #[test]
    fn slack_body() {
        let target = AlertTarget::new(AlertProviderType::Slack, Secret::new("https://x"));
        let msg = AlertMessage {
            name: "podinfo".into(),
            namespace: "test".into(),
            message: "Canary failed".into(),
            severity: Severity::Error,
            fields: vec![Field::new("Cluster", "prod")],
        };
        assert_eq!(
            format_for(AlertProviderType::Slack).body(&target, &msg),
            json!({"channel": "general", "username": "flagger", "icon_emoji": ":rocket:",
                "attachments": [{"color": "danger", "author_name": "podinfo.test",
                    "text": "Canary failed", "mrkdwn_in": ["text"],
                    "fields": [{"title": "Cluster", "value": "prod", "short": false}]}]})
        );
    }
}
