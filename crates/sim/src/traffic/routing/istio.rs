//! Istio VirtualService: the one whose hosts name the Service; the first HTTP route a request
//! satisfies; destinations by weight, a mirror by percentage, and response headers (Istio's
//! `headers.response`, on the route and on each destination).

use serde_json::Value;

use super::{
    Backend, Request, Route, Via, World, host_to_service, name_ns, normalise, port_text,
    weight_value, whole_match,
};

fn istio_destination(dest: &Value, namespace: &str) -> Option<(String, String)> {
    let host = dest["host"].as_str()?;
    let service = host_to_service(host, namespace)?;
    Some((service.to_string(), port_text(&dest["port"]["number"])))
}

/// Istio's `StringMatch` against a whole value: exact, prefix or (whole-value) regex.
fn istio_string_match(m: &Value, value: &str) -> bool {
    if let Some(exact) = m["exact"].as_str() {
        return value == exact;
    }
    if let Some(prefix) = m["prefix"].as_str() {
        return value.starts_with(prefix);
    }
    if let Some(pattern) = m["regex"].as_str() {
        return whole_match(pattern, value);
    }
    // An empty match means "present".
    true
}

/// One `HTTPMatchRequest` against a request for `/`: its headers (present and matching),
/// `withoutHeaders` (absent or not matching) and a `uri` the root path satisfies; any other
/// condition is taken as not satisfied.
fn istio_match(m: &Value, request: &Request) -> bool {
    let Some(obj) = m.as_object() else {
        return false;
    };
    obj.iter().all(|(key, cond)| match key.as_str() {
        "headers" => cond.as_object().is_some_and(|h| {
            h.iter().all(|(name, sm)| {
                request
                    .header(name)
                    .is_some_and(|v| istio_string_match(sm, v))
            })
        }),
        "withoutHeaders" => cond.as_object().is_some_and(|h| {
            h.iter().all(|(name, sm)| {
                request
                    .header(name)
                    .is_none_or(|v| !istio_string_match(sm, v))
            })
        }),
        "uri" => istio_string_match(cond, "/"),
        "name" | "ignoreUriCase" => true,
        _ => false,
    })
}

/// The headers `headers.response` sets and adds (Istio's `HeaderOperations`), in that order.
fn response_headers(headers: &Value) -> Vec<(String, String)> {
    ["set", "add"]
        .into_iter()
        .filter_map(|op| headers["response"][op].as_object())
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

pub(super) fn virtual_service(
    world: &World,
    namespace: &str,
    service: &str,
    request: &Request,
) -> Option<Route> {
    let vs = world.virtual_services.iter().find(|vs| {
        name_ns(vs).1 == namespace
            && vs["spec"]["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|h| host_to_service(h, namespace) == Some(service))
    })?;
    // Routes in order: the first whose match list is empty or has an entry the request
    // satisfies. Synthetic requests carry no headers, so they take the first route without a
    // header match (Flagger's A/B routes put header matches first and the default last).
    let http = vs["spec"]["http"].as_array()?.iter().find(|r| {
        r["match"]
            .as_array()
            .is_none_or(|m| m.is_empty() || m.iter().any(|m| istio_match(m, request)))
    })?;
    let dests = http["route"].as_array()?;
    let any_weight = dests.iter().any(|d| !d["weight"].is_null());
    let backends = dests
        .iter()
        .filter_map(|d| {
            let (service, port) = istio_destination(&d["destination"], namespace)?;
            // Istio: a lone destination takes everything; with several, a missing weight is 0.
            let share = if any_weight {
                weight_value(&d["weight"]).unwrap_or(0.0)
            } else {
                1.0
            };
            let mut response_headers = response_headers(&http["headers"]);
            response_headers.extend(self::response_headers(&d["headers"]));
            Some(Backend {
                service,
                port,
                share,
                response_headers,
                ..Backend::default()
            })
        })
        .collect();
    let mirror = istio_destination(&http["mirror"], namespace).map(|(service, port)| {
        let percent = http["mirrorPercentage"]["value"]
            .as_f64()
            .or_else(|| http["mirrorPercent"].as_f64())
            .unwrap_or(100.0);
        Backend {
            service,
            port,
            share: (percent / 100.0).clamp(0.0, 1.0),
            ..Backend::default()
        }
    });
    Some(Route {
        via: Via::VirtualService(name_ns(vs).0.to_string()),
        backends: normalise(backends),
        mirror,
    })
}
