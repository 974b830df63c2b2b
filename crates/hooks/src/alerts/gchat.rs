//! Google Chat incoming webhooks: a card with the canary as subtitle, the message, then one
//! section per field.

use serde_json::{Value, json};

use super::{AlertMessage, AlertTarget, Format, subject};

pub struct GoogleChat;

/// Google Chat renders a small HTML subset; keep user text from being read as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Format for GoogleChat {
    fn body(&self, target: &AlertTarget, msg: &AlertMessage) -> Value {
        let mut sections = vec![json!({"widgets": [{"textParagraph": {
            "text": format!("<font color=#848484><strong>{}</strong></font>", escape(&msg.message)),
        }}]})];
        sections.extend(msg.fields.iter().map(|f| {
            json!({"widgets": [{"textParagraph": {
                "text": format!("{}<br><font color=#848484><strong>{}</strong></font>",
                    escape(&f.name), escape(&f.value)),
            }}]})
        }));
        json!({"cards": [{
            "header": {"title": target.username, "subtitle": subject(msg)},
            "sections": sections,
        }]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b> & c"), "a&lt;b&gt; &amp; c");
    }
}
