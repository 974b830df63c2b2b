//! Discord webhooks, through their Slack-compatible endpoint (`<webhook>/slack`), as Flagger does.

use fledge_api::Severity;
use serde_json::Value;

use super::slack::slack_style;
use super::{AlertMessage, AlertTarget, Format};

pub struct Discord;

impl Format for Discord {
    fn body(&self, target: &AlertTarget, msg: &AlertMessage) -> Value {
        let color = if msg.severity == Severity::Info {
            "good"
        } else {
            "danger"
        };
        slack_style(target, msg, color)
    }

    fn endpoint(&self, address: &str) -> String {
        match reqwest::Url::parse(address) {
            Ok(mut url) if !url.path().ends_with("/slack") => {
                let path = format!("{}/slack", url.path().trim_end_matches('/'));
                url.set_path(&path);
                url.to_string()
            }
            _ => address.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_gets_the_slack_suffix_once() {
        let d = Discord;
        assert_eq!(
            d.endpoint("https://discord.com/api/webhooks/1/abc?wait=true"),
            "https://discord.com/api/webhooks/1/abc/slack?wait=true"
        );
        assert_eq!(
            d.endpoint("https://discord.com/api/webhooks/1/abc/slack"),
            "https://discord.com/api/webhooks/1/abc/slack"
        );
        assert_eq!(
            d.endpoint("https://discord.com/api/webhooks/1/abc/"),
            "https://discord.com/api/webhooks/1/abc/slack"
        );
    }
}
