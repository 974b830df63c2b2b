//! Pure builder of the `HTTPRoute` spec for a canary and the reader of its traffic split.
//!
//! Layout (as Flagger's, so dashboards and habits carry over):
//! - rule 1 (weighted): the service's matches (default `PathPrefix /`), narrowed by
//!   `analysis.match` for A/B testing, with backendRefs `<svc>-primary` (weight P) and
//!   `<svc>-canary` (weight C), the service's filters and timeouts, plus a `RequestMirror` to
//!   `<svc>-canary` while mirroring;
//! - rule 2, A/B testing only: everything else the service matches, to the primary alone;
//! - with session affinity, cookie rules before them (see `affinity`).

use fledge_api::Canary;
use fledge_api::service::{HttpMatchRequest, StringMatch};

use super::types::*;
use crate::meta::object_name;
use crate::{RouterError, Routes};

const BACKEND_KIND: &str = "Service";
const PARENT_GROUP: &str = "gateway.networking.k8s.io";
const PARENT_KIND: &str = "Gateway";
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// The HTTPRoute spec for `canary` with traffic split `routes`.
pub fn build_route_spec(canary: &Canary, routes: Routes) -> Result<HttpRouteSpec, RouterError> {
    let spec = &canary.spec;
    let service = &spec.service;
    let invalid = |field: &str, message: String| RouterError::InvalidSpec {
        canary: object_name(canary),
        field: field.to_string(),
        message,
    };
    if service.gateway_refs.is_empty() {
        return Err(invalid(
            "spec.service.gatewayRefs",
            "required by the gatewayapi provider: list the Gateway(s) the HTTPRoute attaches to"
                .into(),
        ));
    }
    let parent_refs = service
        .gateway_refs
        .iter()
        .map(|r| ParentRef {
            // GAMMA: a Service parent (a mesh routing east-west traffic, e.g. Linkerd or Istio
            // ambient) is in the core group, not Gateway API's.
            group: Some(r.group.clone().unwrap_or_else(|| {
                if r.kind.as_deref() == Some("Service") {
                    String::new()
                } else {
                    PARENT_GROUP.into()
                }
            })),
            kind: Some(r.kind.clone().unwrap_or_else(|| PARENT_KIND.into())),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            section_name: r.section_name.clone(),
            port: r.port,
        })
        .collect();

    let mut service_matches = map_matches(&service.r#match, "spec.service.match", &invalid)?;
    if service_matches.is_empty() {
        service_matches.push(HttpRouteMatch::default());
    }
    let service_matches: Vec<_> = service_matches.into_iter().map(with_default_path).collect();

    let analysis_field = format!("spec.{}.match", spec.analysis_field());
    let ab_matches = match spec.analysis() {
        Some(a) if !a.r#match.is_empty() => map_matches(&a.r#match, &analysis_field, &invalid)?,
        _ => Vec::new(),
    };

    let filters = filters(canary, &invalid)?;
    let timeouts = timeouts(canary, &invalid)?;
    let port = Some(service.port);
    let backend = |name: String, weight: i32| HttpBackendRef {
        group: Some(String::new()),
        kind: Some(BACKEND_KIND.into()),
        name,
        namespace: None,
        port,
        weight: Some(weight),
        filters: Vec::new(),
    };

    let mut weighted_filters = filters.clone();
    if routes.mirrored {
        let percent = spec.analysis().and_then(|a| a.mirror_weight);
        weighted_filters.push(HttpRouteFilter {
            type_: "RequestMirror".into(),
            request_mirror: Some(RequestMirror {
                backend_ref: BackendObjectRef {
                    group: Some(String::new()),
                    kind: Some(BACKEND_KIND.into()),
                    name: spec.canary_service_name(),
                    namespace: None,
                    port,
                },
                percent,
                fraction: None,
            }),
            ..Default::default()
        });
    }
    let mut weighted = HttpRouteRule {
        matches: if ab_matches.is_empty() {
            service_matches.clone()
        } else {
            merge_matches(&ab_matches, &service_matches)
        },
        filters: weighted_filters,
        backend_refs: vec![
            backend(spec.primary_service_name(), routes.primary),
            backend(spec.canary_service_name(), routes.canary),
        ],
        timeouts: timeouts.clone(),
    };
    let mut rules = match spec.analysis().and_then(|a| a.session_affinity.as_ref()) {
        Some(affinity) => {
            super::affinity::sticky_rules(canary, affinity, routes, &mut weighted, &filters)
        }
        None => Vec::new(),
    };
    rules.push(weighted);
    if !ab_matches.is_empty() {
        rules.push(HttpRouteRule {
            matches: service_matches,
            filters,
            backend_refs: vec![backend(spec.primary_service_name(), 100)],
            timeouts,
        });
    }
    Ok(HttpRouteSpec {
        parent_refs,
        hostnames: service.hosts.clone(),
        rules,
    })
}

/// The traffic split in a route: the weights of the first rule that has both the primary and
/// the canary backend (the A/B default rule has only the primary), and whether any rule
/// mirrors to the canary. `None` when no rule has both backends (the route was edited by hand
/// or belongs to someone else).
pub fn routes_from_spec(spec: &HttpRouteSpec, primary: &str, canary: &str) -> Option<Routes> {
    let weight = |rule: &HttpRouteRule, name: &str| {
        rule.backend_refs
            .iter()
            .find(|b| b.name == name)
            // Gateway API's default weight is 1.
            .map(|b| b.weight.unwrap_or(1))
    };
    let (primary_weight, canary_weight) = spec
        .rules
        .iter()
        .find_map(|rule| Some((weight(rule, primary)?, weight(rule, canary)?)))?;
    let mirrored = spec.rules.iter().flat_map(|r| &r.filters).any(|f| {
        f.type_ == "RequestMirror"
            && f.request_mirror
                .as_ref()
                .is_some_and(|m| m.backend_ref.name == canary)
    });
    Some(Routes {
        primary: primary_weight,
        canary: canary_weight,
        mirrored,
    })
}

fn with_default_path(mut m: HttpRouteMatch) -> HttpRouteMatch {
    m.path.get_or_insert_with(|| PathMatch {
        type_: "PathPrefix".into(),
        value: "/".into(),
    });
    m
}

/// Every A/B match combined with every service match: the A/B conditions narrow the service's
/// (its headers, query parameters and method are added; its path replaces the service's).
fn merge_matches(ab: &[HttpRouteMatch], service: &[HttpRouteMatch]) -> Vec<HttpRouteMatch> {
    let mut merged = Vec::with_capacity(ab.len() * service.len());
    for a in ab {
        for s in service {
            let mut m = s.clone();
            if a.path.is_some() {
                m.path = a.path.clone();
            }
            m.headers.extend(a.headers.iter().cloned());
            m.query_params.extend(a.query_params.iter().cloned());
            if a.method.is_some() {
                m.method = a.method.clone();
            }
            merged.push(m);
        }
    }
    merged
}

type Invalid<'a> = &'a dyn Fn(&str, String) -> RouterError;

/// Istio-style `HTTPMatchRequest`s (Flagger's schema) as Gateway API matches. Paths and
/// values keep their kind where Gateway API has it; prefix/suffix header and query matches
/// become anchored regular expressions. Anything Gateway API can't match on is an error
/// naming the field, never silently dropped.
fn map_matches(
    requests: &[HttpMatchRequest],
    field: &str,
    invalid: Invalid<'_>,
) -> Result<Vec<HttpRouteMatch>, RouterError> {
    let mut out = Vec::new();
    for (i, req) in requests.iter().enumerate() {
        let at = |sub: &str| format!("{field}[{i}].{sub}");
        let unsupported = |sub: &str| {
            invalid(
                &at(sub),
                "Gateway API HTTPRoutes can't match on this; remove it or use another provider"
                    .into(),
            )
        };
        if req.scheme.is_some() {
            return Err(unsupported("scheme"));
        }
        if req.authority.is_some() {
            return Err(unsupported("authority"));
        }
        if !req.without_headers.is_empty() {
            return Err(unsupported("withoutHeaders"));
        }
        if req.ignore_uri_case == Some(true) {
            return Err(unsupported("ignoreUriCase"));
        }
        if !req.source_labels.is_empty() {
            return Err(unsupported("sourceLabels"));
        }
        if req.source_namespace.is_some() {
            return Err(unsupported("sourceNamespace"));
        }
        if req.port.is_some() {
            return Err(unsupported("port"));
        }
        if !req.gateways.is_empty() {
            return Err(unsupported("gateways"));
        }
        let mut m = HttpRouteMatch::default();
        if let Some(uri) = &req.uri {
            m.path = Some(path_match(uri).ok_or_else(|| {
                invalid(
                    &at("uri"),
                    "set exactly one of exact, prefix, suffix or regex".into(),
                )
            })?);
        }
        if let Some(method) = &req.method {
            match method.exact.as_deref() {
                Some(verb) if METHODS.contains(&verb) => m.method = Some(verb.to_string()),
                _ => {
                    return Err(invalid(
                        &at("method"),
                        format!(
                            "Gateway API matches only an exact method, one of {}",
                            METHODS.join(", ")
                        ),
                    ));
                }
            }
        }
        for (name, value) in &req.headers {
            m.headers.push(
                value_match(name, value)
                    .ok_or_else(|| invalid(&at(&format!("headers.{name}")), one_of_message()))?,
            );
        }
        for (name, value) in &req.query_params {
            m.query_params.push(
                value_match(name, value).ok_or_else(|| {
                    invalid(&at(&format!("queryParams.{name}")), one_of_message())
                })?,
            );
        }
        out.push(m);
    }
    Ok(out)
}

fn one_of_message() -> String {
    "set at most one of exact, prefix, suffix or regex".into()
}

fn path_match(m: &StringMatch) -> Option<PathMatch> {
    let (type_, value) = match (&m.exact, &m.prefix, &m.suffix, &m.regex) {
        (Some(v), None, None, None) => ("Exact", v.clone()),
        (None, Some(v), None, None) => ("PathPrefix", v.clone()),
        (None, None, Some(v), None) => ("RegularExpression", format!(".*{}$", regex_escape(v))),
        (None, None, None, Some(v)) => ("RegularExpression", v.clone()),
        _ => return None,
    };
    Some(PathMatch {
        type_: type_.into(),
        value,
    })
}

/// A header/query match. An empty `StringMatch` means "present with any value" in Istio.
fn value_match(name: &str, m: &StringMatch) -> Option<ValueMatch> {
    let (type_, value) = match (&m.exact, &m.prefix, &m.suffix, &m.regex) {
        (Some(v), None, None, None) => ("Exact", v.clone()),
        (None, Some(v), None, None) => ("RegularExpression", format!("^{}.*", regex_escape(v))),
        (None, None, Some(v), None) => ("RegularExpression", format!(".*{}$", regex_escape(v))),
        (None, None, None, Some(v)) => ("RegularExpression", v.clone()),
        (None, None, None, None) => ("RegularExpression", ".*".to_string()),
        _ => return None,
    };
    Some(ValueMatch {
        type_: type_.into(),
        name: name.to_string(),
        value,
    })
}

pub(super) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `service.headers`, `service.rewrite` and `service.mirror` as route filters.
fn filters(canary: &Canary, invalid: Invalid<'_>) -> Result<Vec<HttpRouteFilter>, RouterError> {
    let service = &canary.spec.service;
    let mut out = Vec::new();
    let header_filter = |ops: &fledge_api::service::HeaderOperations| HeaderFilter {
        set: headers(&ops.set),
        add: headers(&ops.add),
        remove: ops.remove.clone(),
    };
    if let Some(ops) = service.headers.as_ref().and_then(|h| h.request.as_ref()) {
        out.push(HttpRouteFilter {
            type_: "RequestHeaderModifier".into(),
            request_header_modifier: Some(header_filter(ops)),
            ..Default::default()
        });
    }
    if let Some(ops) = service.headers.as_ref().and_then(|h| h.response.as_ref()) {
        out.push(HttpRouteFilter {
            type_: "ResponseHeaderModifier".into(),
            response_header_modifier: Some(header_filter(ops)),
            ..Default::default()
        });
    }
    if let Some(rewrite) = &service.rewrite {
        let path = match (&rewrite.uri, rewrite.type_.as_deref()) {
            (None, _) => None,
            (Some(uri), Some("ReplacePrefixMatch")) => Some(PathModifier {
                type_: "ReplacePrefixMatch".into(),
                replace_prefix_match: Some(uri.clone()),
                ..Default::default()
            }),
            (Some(uri), None | Some("ReplaceFullPath")) => Some(PathModifier {
                type_: "ReplaceFullPath".into(),
                replace_full_path: Some(uri.clone()),
                ..Default::default()
            }),
            (Some(_), Some(other)) => {
                return Err(invalid(
                    "spec.service.rewrite.type",
                    format!("must be ReplaceFullPath or ReplacePrefixMatch (got {other:?})"),
                ));
            }
        };
        out.push(HttpRouteFilter {
            type_: "URLRewrite".into(),
            url_rewrite: Some(UrlRewrite {
                hostname: rewrite.authority.clone(),
                path,
            }),
            ..Default::default()
        });
    }
    for m in &service.mirror {
        let r = &m.backend_ref;
        out.push(HttpRouteFilter {
            type_: "RequestMirror".into(),
            request_mirror: Some(RequestMirror {
                backend_ref: BackendObjectRef {
                    group: Some(r.group.clone().unwrap_or_default()),
                    kind: Some(r.kind.clone().unwrap_or_else(|| BACKEND_KIND.into())),
                    name: r.name.clone(),
                    namespace: r.namespace.clone(),
                    port: r.port,
                },
                percent: m.percent,
                fraction: m.fraction.as_ref().map(|f| Fraction {
                    numerator: f.numerator,
                    denominator: Some(f.denominator.unwrap_or(100)),
                }),
            }),
            ..Default::default()
        });
    }
    Ok(out)
}

fn headers(map: &std::collections::BTreeMap<String, String>) -> Vec<Header> {
    map.iter()
        .map(|(name, value)| Header {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// `service.timeout` → `timeouts.request`, `service.backendTimeout` → `timeouts.backendRequest`.
fn timeouts(
    canary: &Canary,
    invalid: Invalid<'_>,
) -> Result<Option<HttpRouteTimeouts>, RouterError> {
    let service = &canary.spec.service;
    let check = |field: &str, value: &Option<String>| match value {
        Some(v) if !is_gateway_duration(v) => Err(invalid(
            field,
            format!(
                "Gateway API durations are one to four <number><h|m|s|ms> parts with numbers \
                 of at most 5 digits, e.g. 30s or 1m30s (got {v:?})"
            ),
        )),
        _ => Ok(value.clone()),
    };
    let request = check("spec.service.timeout", &service.timeout)?;
    let backend_request = check("spec.service.backendTimeout", &service.backend_timeout)?;
    Ok(
        (request.is_some() || backend_request.is_some()).then_some(HttpRouteTimeouts {
            request,
            backend_request,
        }),
    )
}

/// Gateway API's `Duration`: `^([0-9]{1,5}(h|m|s|ms)){1,4}$`.
fn is_gateway_duration(s: &str) -> bool {
    let mut rest = s;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "h", "m", "s"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        let Some(unit) = unit else { return false };
        rest = &rest[unit.len()..];
        parts += 1;
    }
    (1..=4).contains(&parts)
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
