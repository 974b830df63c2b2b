//! Credentials for a metric provider, read from the Secret a MetricTemplate references
//! (`spec.provider.secretRef`). The controller fetches the Secret; this module only interprets
//! its keys: Flagger's `token`, or `username` and `password`, and fledge's `header.<Name>`
//! for any other request header (an API key, a tenant). Secret values must never reach a log
//! line, an error message or a `Debug` string.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::ByteString;

/// The prefix of a Secret key whose value is sent as the request header named by the rest of
/// the key: `header.X-Api-Key`.
pub const HEADER_KEY_PREFIX: &str = "header.";

/// What a Secret adds to each request.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The `Authorization` header, from `token` or `username` and `password`.
    pub auth: Option<Auth>,
    /// Headers from `header.<Name>` keys, by name.
    pub headers: Vec<(String, String)>,
}

/// How to authenticate to a provider.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Sent as `Authorization: Bearer <token>`.
    BearerToken(String),
    /// Sent as `Authorization: Basic base64(<username>:<password>)`.
    Basic { username: String, password: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Credentials")
            .field("auth", &self.auth)
            .field("headers", &names)
            .finish()
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BearerToken(_) => f.write_str("BearerToken(<redacted>)"),
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &format_args!("<redacted>"))
                .finish(),
        }
    }
}

impl From<Auth> for Credentials {
    fn from(auth: Auth) -> Self {
        Self {
            auth: Some(auth),
            headers: Vec::new(),
        }
    }
}

/// Why a Secret's data can't be used as credentials. Names the Secret and the keys, never the
/// values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "secret {secret}: has no `token`, no `username` and `password`, and no `header.<Name>` \
         keys; add `token` for bearer auth, `username` and `password` for basic auth, or e.g. \
         `header.X-Api-Key` for another header"
    )]
    NoKnownKeys { secret: String },
    #[error("secret {secret}: has `{present}` but no `{missing}`; basic auth needs both")]
    Incomplete {
        secret: String,
        present: &'static str,
        missing: &'static str,
    },
    #[error("secret {secret}: key `{key}` is not valid UTF-8")]
    NotUtf8 { secret: String, key: String },
    #[error("secret {secret}: key `{key}` names no header; write e.g. `header.X-Api-Key`")]
    EmptyHeaderName { secret: String, key: String },
}

impl Credentials {
    /// Reads a Secret's `data`: `token` (bearer; surrounding whitespace such as the newline
    /// `echo` leaves is dropped) wins over `username` + `password` (basic); every
    /// `header.<Name>` key becomes a header (its value trimmed the same way). Other keys are
    /// ignored. `secret` is `namespace/name`, used only in error messages.
    pub fn from_secret_data(
        secret: &str,
        data: &BTreeMap<String, ByteString>,
    ) -> Result<Self, CredentialsError> {
        let utf8 = |key: &str, value: &ByteString| {
            String::from_utf8(value.0.clone()).map_err(|_| CredentialsError::NotUtf8 {
                secret: secret.to_string(),
                key: key.to_string(),
            })
        };
        let text = |key: &'static str| -> Result<Option<String>, CredentialsError> {
            data.get(key).map(|v| utf8(key, v)).transpose()
        };
        let mut headers = Vec::new();
        for (key, value) in data {
            if let Some(name) = key.strip_prefix(HEADER_KEY_PREFIX) {
                if name.is_empty() {
                    return Err(CredentialsError::EmptyHeaderName {
                        secret: secret.to_string(),
                        key: key.clone(),
                    });
                }
                headers.push((name.to_string(), utf8(key, value)?.trim().to_string()));
            }
        }
        let auth = if let Some(token) = text("token")? {
            Some(Auth::BearerToken(token.trim().to_string()))
        } else {
            match (text("username")?, text("password")?) {
                (Some(username), Some(password)) => Some(Auth::Basic { username, password }),
                (None, None) if headers.is_empty() => {
                    return Err(CredentialsError::NoKnownKeys {
                        secret: secret.to_string(),
                    });
                }
                (None, None) => None,
                (Some(_), None) => {
                    return Err(CredentialsError::Incomplete {
                        secret: secret.to_string(),
                        present: "username",
                        missing: "password",
                    });
                }
                (None, Some(_)) => {
                    return Err(CredentialsError::Incomplete {
                        secret: secret.to_string(),
                        present: "password",
                        missing: "username",
                    });
                }
            }
        };
        Ok(Self { auth, headers })
    }
}

impl Auth {
    /// The `Authorization` header value.
    pub(crate) fn authorization(&self) -> String {
        use base64::Engine as _;
        match self {
            Self::BearerToken(token) => format!("Bearer {token}"),
            Self::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
            .collect()
    }

    #[test]
    fn secret_keys_map_to_credentials() {
        type Case = (
            &'static [(&'static str, &'static [u8])],
            Result<Credentials, CredentialsError>,
        );
        let cases: Vec<Case> = vec![
            (
                &[("token", b"abc\n")],
                Ok(Auth::BearerToken("abc".into()).into()),
            ),
            (
                &[("token", b"t"), ("username", b"u"), ("password", b"p")],
                Ok(Auth::BearerToken("t".into()).into()),
            ),
            (
                &[("username", b"u"), ("password", b"p w")],
                Ok(Auth::Basic {
                    username: "u".into(),
                    password: "p w".into(),
                }
                .into()),
            ),
            (
                &[("address", b"http://x")],
                Err(CredentialsError::NoKnownKeys {
                    secret: "ns/s".into(),
                }),
            ),
            (
                &[("username", b"u")],
                Err(CredentialsError::Incomplete {
                    secret: "ns/s".into(),
                    present: "username",
                    missing: "password",
                }),
            ),
            (
                &[("password", b"p")],
                Err(CredentialsError::Incomplete {
                    secret: "ns/s".into(),
                    present: "password",
                    missing: "username",
                }),
            ),
            (
                &[("token", &[0xff, 0xfe])],
                Err(CredentialsError::NotUtf8 {
                    secret: "ns/s".into(),
                    key: "token".into(),
                }),
            ),
            (
                &[("header.X-Api-Key", b"k1\n"), ("header.X-Tenant", b"blue")],
                Ok(Credentials {
                    auth: None,
                    headers: vec![
                        ("X-Api-Key".into(), "k1".into()),
                        ("X-Tenant".into(), "blue".into()),
                    ],
                }),
            ),
            (
                &[("token", b"t"), ("header.X-Org", b"o")],
                Ok(Credentials {
                    auth: Some(Auth::BearerToken("t".into())),
                    headers: vec![("X-Org".into(), "o".into())],
                }),
            ),
            (
                &[("header.", b"x")],
                Err(CredentialsError::EmptyHeaderName {
                    secret: "ns/s".into(),
                    key: "header.".into(),
                }),
            ),
            (
                &[("header.X-Key", &[0xff])],
                Err(CredentialsError::NotUtf8 {
                    secret: "ns/s".into(),
                    key: "header.X-Key".into(),
                }),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                Credentials::from_secret_data("ns/s", &data(input)),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let bearer = format!(
            "{:?}",
            Credentials::from(Auth::BearerToken("s3cr3t".into()))
        );
        let basic = format!(
            "{:?}",
            Credentials::from(Auth::Basic {
                username: "alice".into(),
                password: "s3cr3t".into()
            })
        );
        let header = format!(
            "{:?}",
            Credentials {
                auth: None,
                headers: vec![("X-Api-Key".into(), "s3cr3t".into())],
            }
        );
        assert!(!bearer.contains("s3cr3t"), "{bearer}");
        assert!(
            !header.contains("s3cr3t") && header.contains("X-Api-Key"),
            "{header}"
        );
        assert!(!basic.contains("s3cr3t"), "{basic}");
        assert!(basic.contains("alice"), "{basic}");
    }

    #[test]
    fn authorization_header_values() {
        assert_eq!(
            Auth::BearerToken("abc".into()).authorization(),
            "Bearer abc"
        );
        // RFC 7617's example.
        assert_eq!(
            Auth::Basic {
                username: "Aladdin".into(),
                password: "open sesame".into()
            }
            .authorization(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
