//! Rocket.Chat incoming webhooks: the Slack shape with Rocket's hex colors.

use fledge_api::Severity;
use serde_json::Value;

use super::slack::slack_style;
use super::{AlertMessage, AlertTarget, Format};

pub struct Rocket;

impl Format for Rocket {
    fn body(&self, target: &AlertTarget, msg: &AlertMessage) -> Value {
        let color = if msg.severity == Severity::Error {
            "#FF0000"
        } else {
            "#0076D7"
        };
        slack_style(target, msg, color)
    }
}
