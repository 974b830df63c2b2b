//! Sends a formatted alert. Every error is built without the address (or proxy, or token): those
//! are credentials, and errors end up in logs and Events.

use std::time::Duration;

use fledge_api::AlertProviderType;

use super::{AlertMessage, AlertTarget, format_for};
use crate::http::{describe, read_body, snippet, status_text};

/// Flagger's notifier timeout.
pub const ALERT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error(
        "no address: set spec.address, or the `address` key of the Secret named in spec.secretRef"
    )]
    MissingAddress,
    #[error("{provider} address is not a valid http(s) URL (value not shown: it is a secret)")]
    InvalidAddress { provider: &'static str },
    #[error("{provider} proxy is not a valid URL (value not shown: it may hold a password)")]
    InvalidProxy { provider: &'static str },
    #[error("{provider} answered {}{}", status_text(*status), if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        provider: &'static str,
        status: u16,
        body: String,
    },
    #[error("sending to {provider} failed: {reason}")]
    Send {
        provider: &'static str,
        reason: String,
    },
}

/// Posts alerts. Cheap to clone; build one and share it.
#[derive(Clone)]
pub struct AlertSender {
    client: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for AlertSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSender")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AlertSender {
    /// Needs a rustls crypto provider installed.
    pub fn new() -> Result<Self, AlertError> {
        Ok(AlertSender {
            client: client_builder().build().map_err(|e| AlertError::Send {
                provider: "alerts",
                reason: describe(e),
            })?,
            timeout: ALERT_TIMEOUT,
        })
    }

    /// Sends `msg` to `target` in the target's own format. Success is any 2xx answer.
    pub async fn send(&self, target: &AlertTarget, msg: &AlertMessage) -> Result<(), AlertError> {
        let provider = target.kind.as_str();
        let format = format_for(target.kind);
        let url = reqwest::Url::parse(&format.endpoint(target.address.expose()))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or(AlertError::InvalidAddress { provider })?;
        let client = match &target.proxy {
            None => self.client.clone(),
            Some(proxy) => {
                let proxy = reqwest::Proxy::all(proxy.expose())
                    .map_err(|_| AlertError::InvalidProxy { provider })?;
                client_builder()
                    .proxy(proxy)
                    .build()
                    .map_err(|_| AlertError::InvalidProxy { provider })?
            }
        };
        let mut request = client
            .post(url)
            .timeout(self.timeout)
            .json(&format.body(target, msg));
        if let Some(token) = target
            .token
            .as_ref()
            .filter(|_| target.kind == AlertProviderType::Slack)
        {
            request = request.bearer_auth(token.expose());
        }
        let scrub = |text: String| {
            let text = target.address.scrub(&text);
            match &target.token {
                Some(t) => t.scrub(&text),
                None => text,
            }
        };
        let resp = request.send().await.map_err(|e| AlertError::Send {
            provider,
            reason: scrub(describe(e)),
        })?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = read_body(resp).await;
        Err(AlertError::Status {
            provider,
            status,
            body: scrub(snippet(&body)),
        })
    }
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("fledge/", env!("CARGO_PKG_VERSION")))
        // A redirect could carry the address to another host; chat webhooks don't redirect.
        .redirect(reqwest::redirect::Policy::none())
}
