//! Small HTTP helpers shared by webhooks and alerts: bounded body reads and error text that never
//! carries a URL (alert addresses are credentials; see [`crate::Secret`]).

/// How much of a response body is kept for messages ("the start of the response body").
pub const BODY_SNIPPET_CHARS: usize = 256;
/// How much of a response body is read at all; the rest is dropped unread.
pub const BODY_READ_LIMIT: usize = 64 * 1024;

/// Reads at most [`BODY_READ_LIMIT`] bytes of the body, as lossy UTF-8.
pub async fn read_body(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_READ_LIMIT {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            // A body cut short still tells the user something; keep what arrived.
            Ok(None) | Err(_) => break,
        }
    }
    buf.truncate(BODY_READ_LIMIT);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The first [`BODY_SNIPPET_CHARS`] characters of a body, whitespace trimmed, marked when cut.
pub fn snippet(body: &str) -> String {
    let body = body.trim();
    let mut out: String = body.chars().take(BODY_SNIPPET_CHARS).collect();
    if out.len() < body.len() {
        out.push('…');
    }
    out
}

/// `HTTP 403 Forbidden`.
pub fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

/// The error and its causes on one line, with the URL removed (`reqwest::Error::without_url`).
pub fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper repeats its cause inside its own message; skip exact repeats.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_cuts_long_bodies_on_char_boundaries() {
        assert_eq!(snippet("  short \n"), "short");
        let long = "é".repeat(300);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), BODY_SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn status_text_has_reason() {
        assert_eq!(status_text(403), "HTTP 403 Forbidden");
        assert_eq!(status_text(599), "HTTP 599");
    }
}
