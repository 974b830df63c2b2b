//! The `AlertProvider` custom resource: a chat service (or plain webhook) that receives
//! alerts. Flagger's schema, plus our `webhook` type.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metric_template::SecretRef;

/// Flagger's default channel.
pub const DEFAULT_CHANNEL: &str = "general";
/// Flagger's default username.
pub const DEFAULT_USERNAME: &str = "flagger";

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "fledge.dev",
    version = "v1beta1",
    kind = "AlertProvider",
    plural = "alertproviders",
    namespaced,
    doc = "AlertProvider is where a Canary's alerts are sent (Flagger-compatible schema).",
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.address) || has(self.secretRef)", "message": "set address or secretRef", "fieldPath": ".address", "reason": "FieldValueRequired"},
]))]
pub struct AlertProviderSpec {
    #[serde(rename = "type")]
    pub type_: AlertProviderType,
    /// Channel (Slack, Rocket); default `general`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Sender name; default `flagger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Webhook URL (a Secret's `address` key overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// HTTP(S) proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Secret with `address` and optionally `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
}

impl AlertProviderSpec {
    pub fn channel(&self) -> &str {
        self.channel
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or(DEFAULT_CHANNEL)
    }

    pub fn username(&self) -> &str {
        self.username
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_USERNAME)
    }
}

/// Notifier kinds. `googlechat` is accepted as another spelling of `gchat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(extend("enum" = ["slack", "msteams", "discord", "rocket", "gchat", "googlechat", "webhook"]))]
pub enum AlertProviderType {
    #[default]
    Slack,
    Msteams,
    Discord,
    Rocket,
    #[serde(alias = "googlechat")]
    Gchat,
    // fledge's own: POST the alert as JSON to `address`.
    Webhook,
}

impl AlertProviderType {
    /// Every type, in the schema's order.
    pub const ALL: [AlertProviderType; 6] = [
        Self::Slack,
        Self::Msteams,
        Self::Discord,
        Self::Rocket,
        Self::Gchat,
        Self::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Msteams => "msteams",
            Self::Discord => "discord",
            Self::Rocket => "rocket",
            Self::Gchat => "gchat",
            Self::Webhook => "webhook",
        }
    }
}
