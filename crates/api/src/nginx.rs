//! What an A/B `analysis.match` means for ingress-nginx, whose canary Ingress can match on one
//! header (an exact value or a regex pattern) and one cookie (sent with the value `always`).
//! Pure, and the one definition: `fledge validate` reports what can't be expressed, and the
//! nginx router writes the annotations from the same rules.

use crate::service::{HttpMatchRequest, StringMatch};

/// The header name Flagger's manifests use to mean "match this cookie".
pub const COOKIE_HEADER: &str = "cookie";

/// How the canary Ingress matches the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderRule {
    /// `canary-by-header-value`: the whole value equals this.
    Value(String),
    /// `canary-by-header-pattern`: a regex (ingress-nginx matches it against the whole value).
    Pattern(String),
}

/// The canary Ingress' A/B rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AbRules {
    /// `canary-by-header` and its value or pattern.
    pub header: Option<(String, HeaderRule)>,
    /// `canary-by-cookie`: requests whose cookie of this name is `always` go to the canary.
    pub cookie: Option<String>,
}

/// Escapes regex metacharacters, so a prefix or suffix can go into a pattern.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn header_rule(m: &StringMatch) -> Option<HeaderRule> {
    match (&m.exact, &m.prefix, &m.suffix, &m.regex) {
        (Some(v), None, None, None) => Some(HeaderRule::Value(v.clone())),
        (None, Some(p), None, None) => Some(HeaderRule::Pattern(format!("^{}.*", literal(p)))),
        (None, None, Some(s), None) => Some(HeaderRule::Pattern(format!(".*{}$", literal(s)))),
        (None, None, None, Some(r)) => Some(HeaderRule::Pattern(r.clone())),
        _ => None,
    }
}

/// The rules for `matches`, or what ingress-nginx can't do (the message says which field and
/// what to use instead).
pub fn ab_rules(matches: &[HttpMatchRequest]) -> Result<AbRules, (String, String)> {
    let mut rules = AbRules::default();
    for (i, m) in matches.iter().enumerate() {
        let path = format!("match[{i}]");
        let other = m.uri.is_some()
            || m.scheme.is_some()
            || m.method.is_some()
            || m.authority.is_some()
            || !m.query_params.is_empty()
            || !m.without_headers.is_empty()
            || !m.source_labels.is_empty();
        if other {
            return Err((
                path,
                "the nginx provider matches only headers and one cookie (ingress-nginx canary annotations); remove uri, method, queryParams and the like".into(),
            ));
        }
        for (name, value) in &m.headers {
            let field = format!("{path}.headers.{name}");
            if name.eq_ignore_ascii_case(COOKIE_HEADER) {
                let Some(cookie) = value.exact.clone().filter(|c| !c.is_empty()) else {
                    return Err((
                        field,
                        "the nginx provider matches a cookie by name: give the cookie's name as `exact` (requests with that cookie set to `always` reach the canary)".into(),
                    ));
                };
                if rules.cookie.replace(cookie).is_some() {
                    return Err((field, "the nginx provider matches one cookie only".into()));
                }
                continue;
            }
            let Some(rule) = header_rule(value) else {
                return Err((field, "set one of exact, prefix, suffix or regex".into()));
            };
            if rules.header.replace((name.clone(), rule)).is_some() {
                return Err((
                    field,
                    "the nginx provider matches one header only (a canary Ingress has one canary-by-header); use istio or gatewayapi to match several".into(),
                ));
            }
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn header(name: &str, m: StringMatch) -> HttpMatchRequest {
        HttpMatchRequest {
            headers: BTreeMap::from([(name.to_string(), m)]),
            ..Default::default()
        }
    }

    fn exact(v: &str) -> StringMatch {
        StringMatch {
            exact: Some(v.into()),
            ..Default::default()
        }
    }

    #[test]
    fn headers_and_cookies_become_canary_rules() {
        let cases = [
            (
                vec![header("x-user", exact("insider"))],
                Some(("x-user", HeaderRule::Value("insider".into()))),
                None,
            ),
            (
                vec![header(
                    "x-user",
                    StringMatch {
                        prefix: Some("in.s".into()),
                        ..Default::default()
                    },
                )],
                Some(("x-user", HeaderRule::Pattern("^in\\.s.*".into()))),
                None,
            ),
            (
                vec![header(
                    "user-agent",
                    StringMatch {
                        suffix: Some("Firefox".into()),
                        ..Default::default()
                    },
                )],
                Some(("user-agent", HeaderRule::Pattern(".*Firefox$".into()))),
                None,
            ),
            (
                vec![header(
                    "x-user",
                    StringMatch {
                        regex: Some("^(a|b)$".into()),
                        ..Default::default()
                    },
                )],
                Some(("x-user", HeaderRule::Pattern("^(a|b)$".into()))),
                None,
            ),
            (
                vec![
                    header("cookie", exact("canary")),
                    header("x-user", exact("a")),
                ],
                Some(("x-user", HeaderRule::Value("a".into()))),
                Some("canary"),
            ),
        ];
        for (matches, header, cookie) in cases {
            let rules = ab_rules(&matches).expect("expressible");
            assert_eq!(
                rules.header,
                header.map(|(n, r)| (n.to_string(), r)),
                "{matches:?}"
            );
            assert_eq!(rules.cookie.as_deref(), cookie);
        }
    }

    #[test]
    fn what_nginx_cannot_match_is_refused_by_field() {
        let two = vec![header("x-a", exact("1")), header("x-b", exact("2"))];
        let (field, message) = ab_rules(&two).unwrap_err();
        assert_eq!(field, "match[1].headers.x-b");
        assert!(message.contains("one header only"), "{message}");

        let uri = vec![HttpMatchRequest {
            uri: Some(exact("/api")),
            ..Default::default()
        }];
        assert_eq!(ab_rules(&uri).unwrap_err().0, "match[0]");

        let cookie = vec![header(
            "cookie",
            StringMatch {
                regex: Some("x".into()),
                ..Default::default()
            },
        )];
        assert_eq!(ab_rules(&cookie).unwrap_err().0, "match[0].headers.cookie");
    }
}
