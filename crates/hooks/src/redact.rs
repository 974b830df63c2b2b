//! A string that must never be printed: alert webhook addresses (a Slack or Teams webhook URL is
//! a credential), proxy URLs with passwords, API tokens.

use std::fmt;

/// Prints as `<redacted>` through `Debug` and `Display`, so it can sit inside structs that are
/// logged or formatted into errors without leaking. Read it only with [`Secret::expose`], at the
/// point where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// Replaces every occurrence of the secret in `text` (e.g. a response body that echoes the
    /// request URL) with `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_owned();
        }
        text.replace(&self.0, "<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("https://hooks.slack.com/services/T000/B000/XXXX");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(
            s.expose(),
            "https://hooks.slack.com/services/T000/B000/XXXX"
        );
    }

    #[test]
    fn scrubs_echoed_values() {
        let s = Secret::new("tok3n");
        assert_eq!(s.scrub("bad token tok3n!"), "bad token <redacted>!");
        assert_eq!(Secret::new("").scrub("text"), "text");
    }
}
