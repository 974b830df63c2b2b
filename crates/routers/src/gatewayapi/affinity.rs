//! Cookie session affinity (`analysis.sessionAffinity`) for the HTTPRoute. Pure.
//!
//! A user the weighted rule sends to the canary gets a cookie, and a more specific rule (it
//! matches the `Cookie` header too, so Gateway API ranks it first) keeps sending that user to
//! the canary. Once the canary weight is back at 0, the same rule sends the cookie's holders to
//! the primary and expires the cookie (`Max-Age=-1`).
//!
//! Flagger keeps a random cookie value in the status, which the router would have to write
//! back. Here the value is the canary's revision (`status.lastAppliedSpec`): it is stable for
//! a release, different for the next one, and needs no state, so reconcile and set routes stay
//! pure functions of the Canary.

use fledge_api::{Canary, SessionAffinity};

use super::types::*;
use crate::Routes;

/// The extra rules for session affinity, and the cookie filters added to the weighted rule's
/// backends. Nothing happens before the first release (no revision yet).
pub(super) fn sticky_rules(
    canary: &Canary,
    affinity: &SessionAffinity,
    routes: Routes,
    weighted: &mut HttpRouteRule,
    rule_filters: &[HttpRouteFilter],
) -> Vec<HttpRouteRule> {
    let Some(value) = cookie_value(canary) else {
        return Vec::new();
    };
    let primary_name = canary.spec.primary_service_name();
    let canary_name = canary.spec.canary_service_name();
    let cookies: Vec<(&str, &str)> =
        std::iter::once((affinity.cookie_name.as_str(), canary_name.as_str()))
            .chain(
                affinity
                    .primary_cookie_name
                    .as_deref()
                    .map(|name| (name, primary_name.as_str())),
            )
            .collect();
    let mut rules = Vec::new();
    for (cookie, backend) in cookies {
        let (target, filters) = if routes.canary > 0 {
            let set_cookie = format!(
                "{cookie}={value}; Max-Age={}{}",
                affinity.max_age(),
                attributes(affinity)
            );
            if let Some(b) = weighted.backend_refs.iter_mut().find(|b| b.name == backend) {
                b.filters.push(set_cookie_filter(set_cookie));
            }
            (backend, rule_filters.to_vec())
        } else {
            // Release over: everyone goes to the primary and the cookie is expired.
            let expire = format!("{cookie}={value}; Max-Age=-1{}", attributes(affinity));
            (primary_name.as_str(), with_set_cookie(rule_filters, expire))
        };
        let Some(mut backend_ref) = weighted
            .backend_refs
            .iter()
            .find(|b| b.name == target)
            .cloned()
        else {
            continue;
        };
        backend_ref.weight = Some(100);
        backend_ref.filters.clear();
        rules.push(HttpRouteRule {
            matches: weighted
                .matches
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    m.headers.push(ValueMatch {
                        type_: "RegularExpression".into(),
                        name: "Cookie".into(),
                        value: format!(
                            ".*{}.*",
                            super::route::regex_escape(&format!("{cookie}={value}"))
                        ),
                    });
                    m
                })
                .collect(),
            filters,
            backend_refs: vec![backend_ref],
            timeouts: weighted.timeouts.clone(),
        });
    }
    rules
}

/// The revision as a cookie value: only characters a cookie value may hold unquoted.
pub(crate) fn cookie_value(canary: &Canary) -> Option<String> {
    let revision = canary.status.as_ref()?.last_applied_spec.as_deref()?;
    let value: String = revision
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (!value.is_empty()).then_some(value)
}

/// The cookie's attributes after its value (`; Path=/; HttpOnly`...).
pub(crate) fn attributes(a: &SessionAffinity) -> String {
    let mut out = String::new();
    if let Some(path) = &a.path {
        out.push_str(&format!("; Path={path}"));
    }
    if let Some(domain) = &a.domain {
        out.push_str(&format!("; Domain={domain}"));
    }
    if a.http_only == Some(true) {
        out.push_str("; HttpOnly");
    }
    if a.secure == Some(true) {
        out.push_str("; Secure");
    }
    if let Some(same_site) = &a.same_site {
        out.push_str(&format!("; SameSite={same_site}"));
    }
    if a.partitioned == Some(true) {
        out.push_str("; Partitioned");
    }
    out
}

fn set_cookie_filter(value: String) -> HttpRouteFilter {
    HttpRouteFilter {
        type_: "ResponseHeaderModifier".into(),
        response_header_modifier: Some(HeaderFilter {
            add: vec![Header {
                name: "Set-Cookie".into(),
                value,
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `filters` with a `Set-Cookie` added. Gateway API allows one ResponseHeaderModifier per
/// filter list, so an existing one (from `service.headers.response`) is extended.
fn with_set_cookie(filters: &[HttpRouteFilter], value: String) -> Vec<HttpRouteFilter> {
    let mut out = filters.to_vec();
    match out
        .iter_mut()
        .find_map(|f| f.response_header_modifier.as_mut())
    {
        Some(modifier) => modifier.add.push(Header {
            name: "Set-Cookie".into(),
            value,
        }),
        None => out.push(set_cookie_filter(value)),
    }
    out
}
