//! Alerts: the message model, one formatter per chat service (one file each, behind
//! [`Format`]), severity routing and the sender.
//!
//! Addresses are [`Secret`]s: they are credentials and never appear in logs, Events, status or
//! errors. Reading the AlertProvider's Secret is the controller's job; this module takes the
//! resolved address.

mod discord;
mod gchat;
mod msteams;
mod rocket;
mod sender;
mod severity;
mod slack;
mod webhook;

use std::time::Duration;

use fledge_api::{AlertProviderSpec, AlertProviderType, CanaryAnalysis, Severity};
use serde::Serialize;

use crate::redact::Secret;

pub use sender::{AlertError, AlertSender};
pub use severity::{AlertRoute, accepts, route};

/// One labelled value shown with the message (Slack attachment field, Teams fact, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
}

impl Field {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Field {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// An alert about one canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMessage {
    /// Canary name.
    pub name: String,
    pub namespace: String,
    /// The event text, e.g. `Rolling back podinfo.test failed checks threshold reached 5`.
    pub message: String,
    pub severity: Severity,
    pub fields: Vec<Field>,
}

/// The release facts Flagger adds to "new revision" / "initialized" alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDetails {
    /// `Deployment/podinfo.test`.
    pub target: String,
    pub failed_checks_threshold: i32,
    pub progress_deadline: Duration,
    /// [`routing_summary`] of the analysis, if any.
    pub routing: Option<String>,
}

/// The fields Flagger sends: `Cluster` (when `--cluster-name` is set) and, with release details,
/// `Target`, `Failed checks threshold`, `Progress deadline` and `Traffic routing`.
pub fn alert_fields(cluster_name: Option<&str>, details: Option<&ReleaseDetails>) -> Vec<Field> {
    let mut fields = Vec::new();
    if let Some(cluster) = cluster_name.map(str::trim).filter(|c| !c.is_empty()) {
        fields.push(Field::new("Cluster", cluster));
    }
    if let Some(d) = details {
        fields.push(Field::new("Target", &d.target));
        fields.push(Field::new(
            "Failed checks threshold",
            d.failed_checks_threshold.to_string(),
        ));
        fields.push(Field::new(
            "Progress deadline",
            format!("{}s", d.progress_deadline.as_secs()),
        ));
        if let Some(routing) = &d.routing {
            fields.push(Field::new("Traffic routing", routing));
        }
    }
    fields
}

/// How traffic moves, in Flagger's words: `Weight step: 5 max: 50`, `A/B Testing` or
/// `Blue/Green`; `Weight steps: 1,10,50` for an explicit `stepWeights` schedule.
pub fn routing_summary(analysis: &CanaryAnalysis) -> Option<String> {
    if !analysis.step_weights.is_empty() {
        let steps: Vec<String> = analysis.step_weights.iter().map(i32::to_string).collect();
        Some(format!("Weight steps: {}", steps.join(",")))
    } else if analysis.step_weight() > 0 {
        Some(format!(
            "Weight step: {} max: {}",
            analysis.step_weight(),
            analysis.max_weight()
        ))
    } else if !analysis.r#match.is_empty() {
        Some("A/B Testing".to_owned())
    } else if analysis.iterations() > 0 {
        Some("Blue/Green".to_owned())
    } else {
        None
    }
}

/// Where and as whom an alert is sent: an AlertProvider with its address resolved, or a global
/// `--slack-url` / `--msteams-url` notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTarget {
    pub kind: AlertProviderType,
    pub address: Secret,
    pub proxy: Option<Secret>,
    pub channel: String,
    pub username: String,
    /// Slack API token (the Secret's `token` key), sent as a bearer token.
    pub token: Option<Secret>,
}

impl AlertTarget {
    /// A target with Flagger's default channel and username.
    pub fn new(kind: AlertProviderType, address: Secret) -> Self {
        AlertTarget {
            kind,
            address,
            proxy: None,
            channel: fledge_api::alert_provider::DEFAULT_CHANNEL.to_owned(),
            username: fledge_api::alert_provider::DEFAULT_USERNAME.to_owned(),
            token: None,
        }
    }

    /// From an AlertProvider spec. `secret_address` is the `address` key of the Secret in
    /// `spec.secretRef`, which wins over `spec.address` as in Flagger.
    pub fn from_spec(
        spec: &AlertProviderSpec,
        secret_address: Option<Secret>,
    ) -> Result<Self, AlertError> {
        let address = secret_address
            .filter(|a| !a.is_empty())
            .or_else(|| {
                spec.address
                    .as_deref()
                    .filter(|a| !a.trim().is_empty())
                    .map(Secret::from)
            })
            .ok_or(AlertError::MissingAddress)?;
        Ok(AlertTarget {
            kind: spec.type_,
            address,
            proxy: spec
                .proxy
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(Secret::from),
            channel: spec.channel().to_owned(),
            username: spec.username().to_owned(),
            token: None,
        })
    }
}

/// One chat service's webhook format.
pub trait Format {
    /// The JSON body for `msg`.
    fn body(&self, target: &AlertTarget, msg: &AlertMessage) -> serde_json::Value;

    /// The URL to POST to, from the configured address (Discord needs its Slack-compatible path).
    fn endpoint(&self, address: &str) -> String {
        address.to_owned()
    }
}

/// The formatter for a provider type.
pub fn format_for(kind: AlertProviderType) -> &'static dyn Format {
    match kind {
        AlertProviderType::Slack => &slack::Slack,
        AlertProviderType::Msteams => &msteams::MsTeams,
        AlertProviderType::Discord => &discord::Discord,
        AlertProviderType::Rocket => &rocket::Rocket,
        AlertProviderType::Gchat => &gchat::GoogleChat,
        AlertProviderType::Webhook => &webhook::GenericWebhook,
    }
}

/// `podinfo.test`, the canary as the chat services show it.
fn subject(msg: &AlertMessage) -> String {
    format!("{}.{}", msg.name, msg.namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_in_flaggers_order() {
        let d = ReleaseDetails {
            target: "Deployment/podinfo.test".into(),
            failed_checks_threshold: 5,
            progress_deadline: Duration::from_secs(600),
            routing: Some("Weight step: 10 max: 50".into()),
        };
        let names: Vec<String> = alert_fields(Some("prod-eu"), Some(&d))
            .into_iter()
            .map(|f| format!("{}={}", f.name, f.value))
            .collect();
        assert_eq!(
            names,
            [
                "Cluster=prod-eu",
                "Target=Deployment/podinfo.test",
                "Failed checks threshold=5",
                "Progress deadline=600s",
                "Traffic routing=Weight step: 10 max: 50",
            ]
        );
        assert!(alert_fields(Some(""), None).is_empty());
    }

    #[test]
    fn routing_summaries() {
        let canary = CanaryAnalysis {
            step_weight: Some(10),
            max_weight: Some(50),
            ..Default::default()
        };
        assert_eq!(
            routing_summary(&canary).as_deref(),
            Some("Weight step: 10 max: 50")
        );
        let steps = CanaryAnalysis {
            step_weights: vec![1, 10, 50],
            ..Default::default()
        };
        assert_eq!(
            routing_summary(&steps).as_deref(),
            Some("Weight steps: 1,10,50")
        );
        let bg = CanaryAnalysis {
            iterations: Some(5),
            ..Default::default()
        };
        assert_eq!(routing_summary(&bg).as_deref(), Some("Blue/Green"));
        let ab = CanaryAnalysis {
            iterations: Some(5),
            r#match: vec![Default::default()],
            ..Default::default()
        };
        assert_eq!(routing_summary(&ab).as_deref(), Some("A/B Testing"));
        assert_eq!(routing_summary(&CanaryAnalysis::default()), None);
    }

    #[test]
    fn target_from_spec_prefers_the_secret_address() {
        let spec = AlertProviderSpec {
            type_: AlertProviderType::Slack,
            address: Some("https://spec.example/hook".into()),
            proxy: Some("http://proxy:3128".into()),
            ..Default::default()
        };
        let t = AlertTarget::from_spec(&spec, Some(Secret::new("https://secret.example/hook")))
            .unwrap();
        assert_eq!(t.address.expose(), "https://secret.example/hook");
        assert_eq!(
            t.proxy.as_ref().map(Secret::expose),
            Some("http://proxy:3128")
        );
        assert_eq!(
            (t.channel.as_str(), t.username.as_str()),
            ("general", "flagger")
        );
        let t = AlertTarget::from_spec(&spec, None).unwrap();
        assert_eq!(t.address.expose(), "https://spec.example/hook");
        let bare = AlertProviderSpec::default();
        assert!(matches!(
            AlertTarget::from_spec(&bare, Some(Secret::new(""))),
            Err(AlertError::MissingAddress)
        ));
    }
}
