//! `type: webhook` (fledge's addition): the alert as plain JSON, for receivers that are not chat
//! services (incident tools, custom bridges).

use serde_json::{Value, json};

use super::{AlertMessage, AlertTarget, Format};

pub struct GenericWebhook;

impl Format for GenericWebhook {
    fn body(&self, _target: &AlertTarget, msg: &AlertMessage) -> Value {
        json!({
            "name": msg.name,
            "namespace": msg.namespace,
            "severity": msg.severity,
            "message": msg.message,
            "fields": msg.fields,
        })
    }
}
