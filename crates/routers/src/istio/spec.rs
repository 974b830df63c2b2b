//! The Istio objects as pure functions of the Canary: the DestinationRules' and the
//! VirtualService's specs, and the split read back from a VirtualService. No I/O.

use fledge_api::Canary;
use fledge_api::service::{HttpMatchRequest, StringMatch};
use serde_json::{Map, Value, json};

use crate::gatewayapi::affinity::{attributes, cookie_value};
use crate::meta::object_name;
use crate::{RouterError, Routes};

/// The gateway a VirtualService without `service.gateways` binds to: the mesh's sidecars.
const MESH_GATEWAY: &str = "mesh";

/// `spec` of the DestinationRule for `host` (`<svc>-primary` or `<svc>-canary`).
pub fn destination_rule_spec(canary: &Canary, host: &str) -> Value {
    let mut spec = json!({ "host": host });
    if let Some(policy) = &canary.spec.service.traffic_policy {
        spec["trafficPolicy"] = serde_json::to_value(policy).unwrap_or(Value::Null);
    }
    spec
}

/// Escapes regex metacharacters.
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

/// An Istio `StringMatch`: Istio has no `suffix`, so it becomes an anchored regex.
fn string_match(m: &StringMatch) -> Value {
    match &m.suffix {
        Some(suffix) if m.exact.is_none() && m.prefix.is_none() && m.regex.is_none() => {
            json!({ "regex": format!(".*{}", literal(suffix)) })
        }
        _ => serde_json::to_value(m).unwrap_or(Value::Null),
    }
}

fn match_request(m: &HttpMatchRequest) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    for key in ["uri", "scheme", "method", "authority"] {
        if let Some(field) = obj.get_mut(key)
            && let Ok(sm) = serde_json::from_value::<StringMatch>(field.clone())
        {
            *field = string_match(&sm);
        }
    }
    for key in ["headers", "queryParams", "withoutHeaders"] {
        if let Some(Value::Object(map)) = obj.get_mut(key) {
            for field in map.values_mut() {
                if let Ok(sm) = serde_json::from_value::<StringMatch>(field.clone()) {
                    *field = string_match(&sm);
                }
            }
        }
    }
    v
}

/// Each A/B alternative narrowed by the service's own matches (every pair), as Flagger does.
fn ab_matches(canary: &Canary) -> Vec<Value> {
    let service = &canary.spec.service.r#match;
    let ab = canary
        .spec
        .analysis()
        .map(|a| a.r#match.as_slice())
        .unwrap_or_default();
    let mut out = Vec::new();
    for a in ab {
        if service.is_empty() {
            out.push(match_request(a));
            continue;
        }
        for s in service {
            let mut merged = s.clone();
            merged.headers.extend(a.headers.clone());
            merged.query_params.extend(a.query_params.clone());
            merged.without_headers.extend(a.without_headers.clone());
            if a.uri.is_some() {
                merged.uri = a.uri.clone();
            }
            if a.method.is_some() {
                merged.method = a.method.clone();
            }
            out.push(match_request(&merged));
        }
    }
    out
}

/// Session affinity (`analysis.sessionAffinity`), as on the Gateway API: a user the weighted
/// route sends to the canary gets a cookie (`Set-Cookie` on the canary destination's
/// responses) and a route placed first, matching the cookie, keeps sending them there; once
/// the canary weight is back at 0, that route sends the cookie's holders to the primary and
/// expires the cookie. The cookie's value is the canary's revision, so the routes need no
/// state. Nothing before the first release (no revision yet).
fn sticky_routes(
    canary: &Canary,
    routes: Routes,
    weighted: &mut Map<String, Value>,
    options: &Map<String, Value>,
    service_matches: &[Value],
) -> Vec<Value> {
    let Some(affinity) = canary
        .spec
        .analysis()
        .and_then(|a| a.session_affinity.as_ref())
    else {
        return Vec::new();
    };
    let Some(value) = cookie_value(canary) else {
        return Vec::new();
    };
    let port = canary.spec.service.port;
    let primary = canary.spec.primary_service_name();
    let canary_host = canary.spec.canary_service_name();
    let mut cookies = vec![(affinity.cookie_name.clone(), canary_host.clone())];
    if let Some(name) = &affinity.primary_cookie_name {
        cookies.push((name.clone(), primary.clone()));
    }
    let mut out = Vec::new();
    for (cookie, backend) in cookies {
        let mut route = options.clone();
        let target = if routes.canary > 0 {
            let set = format!(
                "{cookie}={value}; Max-Age={}{}",
                affinity.max_age(),
                attributes(affinity)
            );
            if let Some(dest) = weighted
                .get_mut("route")
                .and_then(Value::as_array_mut)
                .and_then(|d| d.iter_mut().find(|d| d["destination"]["host"] == backend))
            {
                dest["headers"] = json!({ "response": { "add": { "Set-Cookie": set } } });
            }
            backend
        } else {
            let expire = format!("{cookie}={value}; Max-Age=-1{}", attributes(affinity));
            let headers = route.entry("headers").or_insert_with(|| json!({}));
            headers["response"]["add"]["Set-Cookie"] = json!(expire);
            primary.clone()
        };
        let cookie_match =
            json!({ "regex": format!(".*{}.*", literal(&format!("{cookie}={value}"))) });
        let bases = if service_matches.is_empty() {
            vec![json!({})]
        } else {
            service_matches.to_vec()
        };
        let matches: Vec<Value> = bases
            .into_iter()
            .map(|mut m| {
                m["headers"]["cookie"] = cookie_match.clone();
                m
            })
            .collect();
        route.insert("match".into(), Value::Array(matches));
        route.insert("route".into(), json!([destination(&target, port, 100)]));
        out.push(Value::Object(route));
    }
    out
}

fn destination(host: &str, port: i32, weight: i32) -> Value {
    json!({
        "destination": { "host": host, "port": { "number": port } },
        "weight": weight,
    })
}

/// The route fields every HTTP route of the VirtualService carries.
fn route_options(canary: &Canary) -> Map<String, Value> {
    let s = &canary.spec.service;
    let mut out = Map::new();
    if let Some(rewrite) = &s.rewrite {
        let mut r = Map::new();
        if let Some(uri) = &rewrite.uri {
            r.insert("uri".into(), json!(uri));
        }
        if let Some(authority) = &rewrite.authority {
            r.insert("authority".into(), json!(authority));
        }
        if !r.is_empty() {
            out.insert("rewrite".into(), Value::Object(r));
        }
    }
    if let Some(timeout) = &s.timeout {
        out.insert("timeout".into(), json!(timeout));
    }
    if let Some(retries) = &s.retries {
        out.insert(
            "retries".into(),
            serde_json::to_value(retries).unwrap_or_default(),
        );
    }
    if let Some(headers) = &s.headers {
        out.insert(
            "headers".into(),
            serde_json::to_value(headers).unwrap_or_default(),
        );
    }
    if let Some(cors) = &s.cors_policy {
        out.insert(
            "corsPolicy".into(),
            serde_json::to_value(cors).unwrap_or_default(),
        );
    }
    out
}

/// `spec` of the VirtualService `<svc>` with split `routes`. A/B testing puts the matched
/// route first and the primary-only default after it; mirroring adds `mirror` and
/// `mirrorPercentage` (`analysis.mirrorWeight`, default 100) to the weighted route.
pub fn virtual_service_spec(canary: &Canary, routes: Routes) -> Result<Value, RouterError> {
    let s = &canary.spec.service;
    let delegate = s.delegation == Some(true);
    if delegate && (!s.hosts.is_empty() || !s.gateways.is_empty()) {
        return Err(RouterError::InvalidSpec {
            canary: object_name(canary),
            field: "spec.service.delegation".into(),
            message: "a delegate VirtualService must have no hosts and no gateways".into(),
        });
    }
    let apex = canary.spec.service_name().to_string();
    let primary = canary.spec.primary_service_name();
    let canary_host = canary.spec.canary_service_name();
    let port = s.port;
    let options = route_options(canary);

    let mut weighted = options.clone();
    weighted.insert(
        "route".into(),
        json!([
            destination(&primary, port, routes.primary),
            destination(&canary_host, port, routes.canary),
        ]),
    );
    if routes.mirrored {
        weighted.insert(
            "mirror".into(),
            json!({ "host": canary_host, "port": { "number": port } }),
        );
        let percent = canary
            .spec
            .analysis()
            .and_then(|a| a.mirror_weight)
            .unwrap_or(100);
        weighted.insert("mirrorPercentage".into(), json!({ "value": percent }));
    }
    let service_matches: Vec<Value> = s.r#match.iter().map(match_request).collect();
    let ab = ab_matches(canary);
    let http = if ab.is_empty() {
        let mut http = sticky_routes(canary, routes, &mut weighted, &options, &service_matches);
        if !service_matches.is_empty() {
            weighted.insert("match".into(), Value::Array(service_matches));
        }
        http.push(Value::Object(weighted));
        http
    } else {
        weighted.insert("match".into(), Value::Array(ab));
        let mut default = options;
        if !service_matches.is_empty() {
            default.insert("match".into(), Value::Array(service_matches));
        }
        default.insert(
            "route".into(),
            json!([
                destination(&primary, port, 100),
                destination(&canary_host, port, 0),
            ]),
        );
        vec![Value::Object(weighted), Value::Object(default)]
    };

    let mut spec = json!({ "http": http });
    if !delegate {
        let mut hosts = s.hosts.clone();
        if !hosts.contains(&apex) {
            hosts.push(apex);
        }
        let gateways = if s.gateways.is_empty() {
            vec![MESH_GATEWAY.to_string()]
        } else {
            s.gateways.clone()
        };
        spec["hosts"] = json!(hosts);
        spec["gateways"] = json!(gateways);
    }
    Ok(spec)
}

fn weight_of(route: &Value, host: &str) -> Option<i32> {
    route["route"].as_array()?.iter().find_map(|d| {
        (d["destination"]["host"] == host)
            .then(|| d["weight"].as_i64().unwrap_or(0))
            .and_then(|w| i32::try_from(w).ok())
    })
}

/// The split a VirtualService's spec says: the weights of its first route with both
/// destinations (the A/B matched route, or the weighted one after any session-affinity
/// routes, which have one destination), and whether it mirrors. `None` when no route has
/// both.
pub fn routes_from_spec(spec: &Value, primary: &str, canary: &str) -> Option<Routes> {
    spec["http"].as_array()?.iter().find_map(|route| {
        let p = weight_of(route, primary)?;
        let c = weight_of(route, canary)?;
        (p + c == 100).then_some(Routes {
            primary: p,
            canary: c,
            mirrored: !route["mirror"].is_null(),
        })
    })
}
