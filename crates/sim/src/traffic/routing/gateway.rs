//! Gateway API HTTPRoute: the route attached to the Service (GAMMA) or named after it; of the
//! rule matches a request for `GET /` satisfies, the one Gateway API ranks first; its backends
//! by weight, a `RequestMirror`, and `ResponseHeaderModifier` headers (on the rule and on each
//! backend).

use serde_json::Value;

use super::{
    Backend, Request, Route, Via, World, name_ns, normalise, port_text, weight_value, whole_match,
};

/// How Gateway API ranks a satisfied match: an exact path, then the longest path prefix, then
/// a method, then the most header matches, then the most query parameter matches.
type Rank = (u8, usize, bool, usize, usize);

/// The rank of one `HTTPRouteMatch` for `request` (a `GET /`), or `None` when the request
/// doesn't satisfy it. Absent fields take the CRD's defaults (path `PathPrefix /`, header type
/// `Exact`). The request has no query string, so a query parameter match is never satisfied.
fn match_rank(m: &Value, request: &Request) -> Option<Rank> {
    let path = &m["path"];
    let value = path["value"].as_str().unwrap_or("/");
    let path_rank = match path["type"].as_str().unwrap_or("PathPrefix") {
        "Exact" if value == "/" => (2, 1),
        "PathPrefix" if value.trim_end_matches('/').is_empty() => (1, value.len()),
        "RegularExpression" if whole_match(value, "/") => (0, 0),
        _ => return None,
    };
    let method = match m["method"].as_str() {
        None => false,
        Some("GET") => true,
        Some(_) => return None,
    };
    let headers = m["headers"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let headers_ok = headers.iter().all(|h| {
        let (Some(name), Some(want)) = (h["name"].as_str(), h["value"].as_str()) else {
            return false;
        };
        request
            .header(name)
            .is_some_and(|v| match h["type"].as_str().unwrap_or("Exact") {
                "Exact" => v == want,
                "RegularExpression" => whole_match(want, v),
                _ => false,
            })
    });
    let queries = m["queryParams"].as_array().map_or(0, Vec::len);
    (headers_ok && queries == 0).then_some((path_rank.0, path_rank.1, method, headers.len(), 0))
}

/// The best rank among a rule's matches; a rule without matches matches `PathPrefix /`.
fn rule_rank(rule: &Value, request: &Request) -> Option<Rank> {
    match rule["matches"].as_array() {
        Some(matches) if !matches.is_empty() => {
            matches.iter().filter_map(|m| match_rank(m, request)).max()
        }
        _ => Some((1, 1, false, 0, 0)),
    }
}

fn is_service_ref(r: &Value) -> bool {
    r["group"].as_str().unwrap_or("").is_empty()
        && r["kind"].as_str().unwrap_or("Service") == "Service"
}

/// The headers the `ResponseHeaderModifier` filters in `filters` set and add, in order.
fn response_headers(filters: &Value) -> Vec<(String, String)> {
    filters
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["type"].as_str() == Some("ResponseHeaderModifier"))
        .flat_map(|f| {
            ["set", "add"]
                .into_iter()
                .filter_map(|op| f["responseHeaderModifier"][op].as_array())
                .flatten()
                .filter_map(|h| Some((h["name"].as_str()?.into(), h["value"].as_str()?.into())))
                .collect::<Vec<(String, String)>>()
        })
        .collect()
}

fn mirror(rule: &Value) -> Option<Backend> {
    let filter = rule["filters"]
        .as_array()?
        .iter()
        .find(|f| f["type"].as_str() == Some("RequestMirror"))?;
    let m = &filter["requestMirror"];
    let r = &m["backendRef"];
    let share = if let Some(p) = m["percent"].as_f64() {
        p / 100.0
    } else if let Some(n) = m["fraction"]["numerator"].as_f64() {
        n / m["fraction"]["denominator"]
            .as_f64()
            .unwrap_or(100.0)
            .max(1.0)
    } else {
        1.0
    };
    Some(Backend {
        service: r["name"].as_str()?.to_string(),
        port: port_text(&r["port"]),
        share: share.clamp(0.0, 1.0),
        ..Backend::default()
    })
}

pub(super) fn http_route(
    world: &World,
    namespace: &str,
    service: &str,
    request: &Request,
) -> Option<Route> {
    // An HTTPRoute applies to a Service when it is attached to it (GAMMA parentRef) or, as
    // Flagger generates them, carries the apex Service's name.
    let hr = world.http_routes.iter().find(|hr| {
        let (name, ns) = name_ns(hr);
        ns == namespace
            && (name == service
                || hr["spec"]["parentRefs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| {
                        p["kind"].as_str() == Some("Service") && p["name"].as_str() == Some(service)
                    }))
    })?;
    // On equal rank, the first rule wins.
    let (_, rule) = hr["spec"]["rules"]
        .as_array()?
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some(((rule_rank(r, request)?, std::cmp::Reverse(i)), r)))
        .max_by(|a, b| a.0.cmp(&b.0))?;
    let rule_headers = response_headers(&rule["filters"]);
    let backends = rule["backendRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| is_service_ref(b))
        .filter_map(|b| {
            let mut headers = rule_headers.clone();
            headers.extend(response_headers(&b["filters"]));
            Some(Backend {
                service: b["name"].as_str()?.to_string(),
                port: port_text(&b["port"]),
                share: weight_value(&b["weight"]).unwrap_or(1.0),
                response_headers: headers,
                ..Backend::default()
            })
        })
        .collect();
    Some(Route {
        via: Via::HttpRoute(name_ns(hr).0.to_string()),
        backends: normalise(backends),
        mirror: mirror(rule),
    })
}
