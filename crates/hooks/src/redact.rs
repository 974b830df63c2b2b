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

    /// Replaces the secret in `text` (e.g. a response body that echoes the request) with
    /// `<redacted>`. For a URL, its path, query and password are secrets on their own: webhook
    /// services put the token in the path, and servers echo the path rather than the URL.
    pub fn scrub(&self, text: &str) -> String {
        let mut parts = vec![self.0.clone()];
        if let Ok(url) = reqwest::Url::parse(&self.0) {
            parts.push(url.path().to_owned());
            if let Some(q) = url.query() {
                parts.push(format!("{}?{q}", url.path()));
                parts.push(q.to_owned());
            }
            if let Some(p) = url.password() {
                parts.push(p.to_owned());
            }
        }
        // Longest first so a part never leaves a piece of a longer one behind; tiny parts ("/")
        // are not secret and would mangle the text.
        parts.retain(|p| p.len() >= 4);
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        parts
            .iter()
            .fold(text.to_owned(), |t, p| t.replace(p.as_str(), "<redacted>"))
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
        let url = Secret::new("https://user:pa55word@hooks.example/services/T0/B0/XyZ?token=abcd");
        assert_eq!(
            url.scrub("no route /services/T0/B0/XyZ?token=abcd; auth pa55word; q token=abcd"),
            "no route <redacted>; auth <redacted>; q <redacted>"
        );
        assert_eq!(Secret::new("http://h/").scrub("a / b"), "a / b");
    }
}
