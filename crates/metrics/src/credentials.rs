//! Credentials for a metric provider, read from the Secret a MetricTemplate references
//! (`spec.provider.secretRef`). The controller fetches the Secret; this module only interprets
//! its keys (Flagger's: `token`, or `username` and `password`). Secret values must never reach
//! a log line, an error message or a `Debug` string.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::ByteString;

/// How to authenticate to a provider.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Sent as `Authorization: Bearer <token>`.
    BearerToken(String),
    /// Sent as `Authorization: Basic base64(<username>:<password>)`.
    Basic { username: String, password: String },
}

impl fmt::Debug for Credentials {
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

/// Why a Secret's data can't be used as credentials. Names the Secret and the keys, never the
/// values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "secret {secret}: has neither a `token` key nor `username` and `password` keys; \
         add `token` for bearer auth or `username` and `password` for basic auth"
    )]
    NoKnownKeys { secret: String },
    #[error("secret {secret}: has `{present}` but no `{missing}`; basic auth needs both")]
    Incomplete {
        secret: String,
        present: &'static str,
        missing: &'static str,
    },
    #[error("secret {secret}: key `{key}` is not valid UTF-8")]
    NotUtf8 { secret: String, key: &'static str },
}

impl Credentials {
    /// Reads Flagger's keys from a Secret's `data`: `token` (bearer; surrounding whitespace such
    /// as the newline `echo` leaves is dropped) wins over `username` + `password` (basic).
    /// `secret` is `namespace/name`, used only in error messages.
    pub fn from_secret_data(
        secret: &str,
        data: &BTreeMap<String, ByteString>,
    ) -> Result<Self, CredentialsError> {
        let text = |key: &'static str| -> Result<Option<String>, CredentialsError> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.0.clone()).map_err(|_| CredentialsError::NotUtf8 {
                        secret: secret.to_string(),
                        key,
                    })
                })
                .transpose()
        };
        if let Some(token) = text("token")? {
            return Ok(Self::BearerToken(token.trim().to_string()));
        }
        match (text("username")?, text("password")?) {
            (Some(username), Some(password)) => Ok(Self::Basic { username, password }),
            (None, None) => Err(CredentialsError::NoKnownKeys {
                secret: secret.to_string(),
            }),
            (Some(_), None) => Err(CredentialsError::Incomplete {
                secret: secret.to_string(),
                present: "username",
                missing: "password",
            }),
            (None, Some(_)) => Err(CredentialsError::Incomplete {
                secret: secret.to_string(),
                present: "password",
                missing: "username",
            }),
        }
    }

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
                Ok(Credentials::BearerToken("abc".into())),
            ),
            (
                &[("token", b"t"), ("username", b"u"), ("password", b"p")],
                Ok(Credentials::BearerToken("t".into())),
            ),
            (
                &[("username", b"u"), ("password", b"p w")],
                Ok(Credentials::Basic {
                    username: "u".into(),
                    password: "p w".into(),
                }),
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
                    key: "token",
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
        let bearer = format!("{:?}", Credentials::BearerToken("s3cr3t".into()));
        let basic = format!(
            "{:?}",
            Credentials::Basic {
                username: "alice".into(),
                password: "s3cr3t".into()
            }
        );
        assert!(!bearer.contains("s3cr3t"), "{bearer}");
        assert!(!basic.contains("s3cr3t"), "{basic}");
        assert!(basic.contains("alice"), "{basic}");
    }

    #[test]
    fn authorization_header_values() {
        assert_eq!(
            Credentials::BearerToken("abc".into()).authorization(),
            "Bearer abc"
        );
        // RFC 7617's example.
        assert_eq!(
            Credentials::Basic {
                username: "Aladdin".into(),
                password: "open sesame".into()
            }
            .authorization(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
