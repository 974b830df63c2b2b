//! What the HTTP providers share: checking the address, the request headers (custom ones and
//! the Secret's credentials), the client, and error messages that never carry a credential or
//! the whole request URL.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::credentials::Credentials;
use crate::provider::ProviderError;

/// Error bodies are quoted in messages up to this many characters.
const BODY_SNIPPET_CHARS: usize = 200;

/// One provider's address, for building it and for its messages.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub kind: &'static str,
    /// As shown in messages: without `user:password@`.
    pub address: String,
}

impl Endpoint {
    pub fn new(kind: &'static str, address: &str) -> Self {
        Endpoint {
            kind,
            address: redact_address(address),
        }
    }

    /// `address` as an http(s) URL.
    pub fn url(&self, address: &str) -> Result<reqwest::Url, ProviderError> {
        let url = reqwest::Url::parse(address.trim()).map_err(|e| self.invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.invalid(format!("scheme {:?} is not http or https", url.scheme())));
        }
        Ok(url)
    }

    fn invalid(&self, reason: String) -> ProviderError {
        ProviderError::InvalidAddress {
            kind: self.kind,
            address: self.address.clone(),
            reason,
        }
    }

    pub fn invalid_json_path(&self, path: &str, reason: String) -> ProviderError {
        ProviderError::InvalidJsonPath {
            kind: self.kind,
            address: self.address.clone(),
            path: path.to_string(),
            reason,
        }
    }

    /// The custom headers (a name may repeat, as in Go's `http.Header`), then the Secret's
    /// `header.<Name>` headers (each replacing any of its name), then `Authorization` from the
    /// Secret's token or username and password; all marked sensitive so they are never
    /// printed.
    pub fn headers(
        &self,
        headers: &[(String, String)],
        credentials: Option<&Credentials>,
    ) -> Result<HeaderMap, ProviderError> {
        let mut map = HeaderMap::new();
        let from_secret = credentials
            .map(|c| c.headers.as_slice())
            .unwrap_or_default();
        let all = headers
            .iter()
            .map(|h| (h, false))
            .chain(from_secret.iter().map(|h| (h, true)));
        for ((name, value), secret) in all {
            let invalid = |reason: String| ProviderError::InvalidHeader {
                kind: self.kind,
                address: self.address.clone(),
                name: name.clone(),
                reason,
            };
            let header_name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let mut header_value =
                HeaderValue::from_str(value).map_err(|_| invalid("invalid value".into()))?;
            header_value.set_sensitive(true);
            if secret {
                map.insert(header_name, header_value);
            } else {
                map.append(header_name, header_value);
            }
        }
        if let Some(auth) = credentials.and_then(|c| c.auth.as_ref()) {
            let mut value = HeaderValue::from_str(&auth.authorization()).map_err(|_| {
                ProviderError::InvalidCredentials {
                    kind: self.kind,
                    address: self.address.clone(),
                    reason: "the token, username or password contains a character that is not \
                             allowed in an HTTP header (e.g. a newline)",
                }
            })?;
            value.set_sensitive(true);
            map.insert(AUTHORIZATION, value);
        }
        Ok(map)
    }

    /// A client with `timeout` for each request, connection included. Needs a process-wide
    /// rustls crypto provider (fledge installs ring in `main`); without one this returns an
    /// error instead of letting reqwest panic.
    pub fn client(
        &self,
        timeout: Duration,
        insecure_skip_verify: bool,
    ) -> Result<reqwest::Client, ProviderError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(self.client_error(
                "no rustls crypto provider is installed; call \
                 rustls::crypto::ring::default_provider().install_default() at startup"
                    .into(),
            ));
        }
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .tls_danger_accept_invalid_certs(insecure_skip_verify)
            .build()
            .map_err(|e| self.client_error(error_chain(&e)))
    }

    fn client_error(&self, reason: String) -> ProviderError {
        ProviderError::Client {
            kind: self.kind,
            address: self.address.clone(),
            reason,
        }
    }

    /// A failed request: a timeout says how long it waited.
    pub fn request_error(&self, error: &reqwest::Error, timeout: Duration) -> ProviderError {
        if error.is_timeout() {
            return self.unreachable(format!("no answer within {timeout:?}"));
        }
        self.unreachable(error_chain(error))
    }

    pub fn unreachable(&self, reason: String) -> ProviderError {
        ProviderError::Unreachable {
            kind: self.kind,
            address: self.address.clone(),
            reason,
        }
    }

    pub fn bad_response(&self, reason: String) -> ProviderError {
        ProviderError::BadResponse {
            kind: self.kind,
            address: self.address.clone(),
            reason,
        }
    }
}

/// The address without `user:password@`, for messages.
pub(crate) fn redact_address(address: &str) -> String {
    match reqwest::Url::parse(address.trim()) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => address.trim().to_string(),
    }
}

/// A reqwest error and its causes, without the request URL (it carries the whole query).
pub(crate) fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ")
}

/// The start of a response body, for messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
    if text.chars().count() > BODY_SNIPPET_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_user_info_in_messages() {
        assert_eq!(
            redact_address("https://bob:hunter2@prom.example:9090/x"),
            "https://prom.example:9090/x"
        );
        assert_eq!(redact_address(" http://prom:9090 "), "http://prom:9090");
        assert_eq!(redact_address("not a url"), "not a url");
    }

    #[test]
    fn snippets_are_cut_at_a_character() {
        let long = "é".repeat(BODY_SNIPPET_CHARS + 5);
        let cut = snippet(long.as_bytes());
        assert_eq!(cut.chars().count(), BODY_SNIPPET_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
