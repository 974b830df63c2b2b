//! Contour HTTPProxy: the proxy named after the Service; of the routes a request satisfies,
//! the one with the most header conditions; its services by weight.

use serde_json::Value;

use super::{
    Backend, Request, Route, Via, World, name_ns, normalise, port_text, weight_value, whole_match,
};

/// Contour's header condition against the request's header: present/notpresent,
/// exact/notexact, contains/notcontains, and a whole-value regex.
fn contour_header(cond: &Value, request: &Request) -> bool {
    let Some(name) = cond["name"].as_str() else {
        return false;
    };
    let value = request.header(name);
    if cond["present"].as_bool() == Some(true) {
        return value.is_some();
    }
    if cond["notpresent"].as_bool() == Some(true) {
        return value.is_none();
    }
    if let Some(exact) = cond["exact"].as_str() {
        return value == Some(exact);
    }
    if let Some(not) = cond["notexact"].as_str() {
        return value != Some(not);
    }
    if let Some(part) = cond["contains"].as_str() {
        return value.is_some_and(|v| v.contains(part));
    }
    if let Some(part) = cond["notcontains"].as_str() {
        return value.is_none_or(|v| !v.contains(part));
    }
    if let Some(pattern) = cond["regex"].as_str() {
        return value.is_some_and(|v| whole_match(pattern, v));
    }
    false
}

/// The HTTPProxy named after the Service (how an included proxy for it is named, as Flagger
/// writes it): of the routes whose conditions a request for `/` satisfies, Contour takes the
/// one with the most header conditions; its services split by weight.
pub(super) fn http_proxy(
    world: &World,
    namespace: &str,
    service: &str,
    request: &Request,
) -> Option<Route> {
    let proxy = world
        .http_proxies
        .iter()
        .find(|p| name_ns(p) == (service, namespace))?;
    let (_, route) = proxy["spec"]["routes"]
        .as_array()?
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r["conditions"].as_array().is_none_or(|conds| {
                conds.iter().all(|c| {
                    if let Some(prefix) = c["prefix"].as_str() {
                        "/".starts_with(prefix)
                    } else if !c["header"].is_null() {
                        contour_header(&c["header"], request)
                    } else {
                        false
                    }
                })
            })
        })
        .max_by_key(|(i, r)| {
            // The most header conditions wins; on a tie, the first route.
            let headers = r["conditions"]
                .as_array()
                .map_or(0, |c| c.iter().filter(|c| !c["header"].is_null()).count());
            (headers, std::cmp::Reverse(*i))
        })?;
    let services = route["services"].as_array()?;
    let any_weight = services.iter().any(|s| !s["weight"].is_null());
    let backends = services
        .iter()
        .filter_map(|s| {
            Some(Backend {
                service: s["name"].as_str()?.to_string(),
                port: port_text(&s["port"]),
                // Contour: without weights, services share equally.
                share: if any_weight {
                    weight_value(&s["weight"]).unwrap_or(0.0)
                } else {
                    1.0
                },
                ..Backend::default()
            })
        })
        .collect();
    Some(Route {
        via: Via::HttpProxy(name_ns(proxy).0.to_string()),
        backends: normalise(backends),
        mirror: None,
    })
}
