//! NGINX Ingress: the main Ingress routing to the Service, and the canary Ingress paired with
//! it by host and path, with ingress-nginx's canary rules.

use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};

use super::{Backend, Request, Route, Via, World, whole_match};

const NGINX_CANARY: &str = "nginx.ingress.kubernetes.io/canary";
const NGINX_CANARY_WEIGHT: &str = "nginx.ingress.kubernetes.io/canary-weight";
const NGINX_CANARY_WEIGHT_TOTAL: &str = "nginx.ingress.kubernetes.io/canary-weight-total";
const NGINX_BY_HEADER: &str = "nginx.ingress.kubernetes.io/canary-by-header";
const NGINX_BY_HEADER_VALUE: &str = "nginx.ingress.kubernetes.io/canary-by-header-value";
const NGINX_BY_HEADER_PATTERN: &str = "nginx.ingress.kubernetes.io/canary-by-header-pattern";
const NGINX_BY_COOKIE: &str = "nginx.ingress.kubernetes.io/canary-by-cookie";

fn backend_port(b: &IngressServiceBackend) -> String {
    match &b.port {
        Some(p) => p
            .number
            .map(|n| n.to_string())
            .or_else(|| p.name.clone())
            .unwrap_or_default(),
        None => String::new(),
    }
}

/// Every (host, path, backend) an Ingress routes, including its default backend (host and path
/// empty).
fn ingress_paths(ing: &Ingress) -> Vec<(String, String, &IngressServiceBackend)> {
    let mut out = Vec::new();
    let Some(spec) = &ing.spec else { return out };
    if let Some(b) = spec
        .default_backend
        .as_ref()
        .and_then(|b| b.service.as_ref())
    {
        out.push((String::new(), String::new(), b));
    }
    for rule in spec.rules.iter().flatten() {
        let host = rule.host.clone().unwrap_or_default();
        for p in rule.http.iter().flat_map(|h| &h.paths) {
            if let Some(b) = &p.backend.service {
                out.push((
                    host.clone(),
                    p.path.clone().unwrap_or_else(|| "/".into()),
                    b,
                ));
            }
        }
    }
    out
}

fn annotation<'a>(ing: &'a Ingress, key: &str) -> Option<&'a str> {
    ing.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn is_canary_ingress(ing: &Ingress) -> bool {
    annotation(ing, NGINX_CANARY) == Some("true")
}

/// ingress-nginx's canary rules, in its order of precedence: the header (`always`/`never`, or
/// the given value or whole-value pattern; any other value falls through), then the cookie
/// (`always`/`never`); `None` leaves it to the weight.
fn nginx_rule(canary: &Ingress, request: &Request) -> Option<bool> {
    if let Some(name) = annotation(canary, NGINX_BY_HEADER)
        && let Some(value) = request.header(name)
    {
        if let Some(wanted) = annotation(canary, NGINX_BY_HEADER_VALUE) {
            if value == wanted {
                return Some(true);
            }
        } else if let Some(pattern) = annotation(canary, NGINX_BY_HEADER_PATTERN) {
            if whole_match(pattern, value) {
                return Some(true);
            }
        } else {
            match value {
                "always" => return Some(true),
                "never" => return Some(false),
                _ => {}
            }
        }
    }
    if let Some(name) = annotation(canary, NGINX_BY_COOKIE) {
        match request.cookie(name) {
            Some("always") => return Some(true),
            Some("never") => return Some(false),
            _ => {}
        }
    }
    None
}

pub(super) fn ingress(
    world: &World,
    namespace: &str,
    service: &str,
    request: &Request,
) -> Option<Route> {
    let in_ns = || {
        world
            .ingresses
            .iter()
            .filter(move |i| i.metadata.namespace.as_deref() == Some(namespace))
    };
    let (main, host, path, main_backend) =
        in_ns().filter(|i| !is_canary_ingress(i)).find_map(|i| {
            ingress_paths(i)
                .into_iter()
                .find(|(_, _, b)| b.name == service)
                .map(|(h, p, b)| (i, h, p, b))
        })?;
    // NGINX pairs a canary Ingress with the main one by host and path.
    let canary = in_ns().filter(|i| is_canary_ingress(i)).find_map(|i| {
        ingress_paths(i)
            .into_iter()
            .find(|(h, p, _)| *h == host && *p == path)
            .map(|(_, _, b)| (i, b))
    });
    let mut backends = vec![Backend {
        service: main_backend.name.clone(),
        port: backend_port(main_backend),
        share: 1.0,
        ..Backend::default()
    }];
    if let Some((ci, cb)) = canary {
        let total = annotation(ci, NGINX_CANARY_WEIGHT_TOTAL)
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0);
        let weight = match nginx_rule(ci, request) {
            Some(true) => total,
            Some(false) => 0.0,
            None => annotation(ci, NGINX_CANARY_WEIGHT)
                .and_then(|w| w.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
                .clamp(0.0, total),
        };
        backends[0].share = 1.0 - weight / total;
        backends.push(Backend {
            service: cb.name.clone(),
            port: backend_port(cb),
            share: weight / total,
            canary: true,
            ..Backend::default()
        });
    }
    Some(Route {
        via: Via::Ingress {
            name: main.metadata.name.clone().unwrap_or_default(),
            host,
            path,
        },
        backends,
        mirror: None,
    })
}
