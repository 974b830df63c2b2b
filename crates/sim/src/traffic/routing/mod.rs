//! Where a request for a Service goes, computed from the routing objects in the API with the
//! sim's own reading of each provider's semantics (SMI TrafficSplit, Istio VirtualService,
//! Contour HTTPProxy, Traefik TraefikService, Gateway API HTTPRoute, NGINX canary Ingress,
//! plain Service selectors), one module per provider. Pure: it reads a [`World`] snapshot and
//! never shares code with the controller's routers, so that it can catch their bugs.

mod contour;
mod endpoints;
mod gateway;
mod istio;
mod nginx;
mod smi;
mod traefik;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::Value;

pub use endpoints::{endpoints, service_exists};

/// What routing may look at in one real request: its headers (names lowercase). Synthetic
/// traffic has none.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub headers: BTreeMap<String, String>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// The objects traffic routing depends on, across all namespaces.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub services: Vec<Service>,
    pub ingresses: Vec<Ingress>,
    /// gateway.networking.k8s.io HTTPRoutes (any version), as stored.
    pub http_routes: Vec<Value>,
    /// networking.istio.io VirtualServices (any version), as stored.
    pub virtual_services: Vec<Value>,
    /// split.smi-spec.io TrafficSplits (any version), as stored.
    pub traffic_splits: Vec<Value>,
    /// projectcontour.io HTTPProxies, as stored.
    pub http_proxies: Vec<Value>,
    /// traefik.io (or traefik.containo.us) TraefikServices, as stored.
    pub traefik_services: Vec<Value>,
    pub deployments: Vec<Deployment>,
    pub pods: Vec<Pod>,
}

/// Which object decided the split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Service,
    TrafficSplit(String),
    VirtualService(String),
    HttpProxy(String),
    TraefikService(String),
    HttpRoute(String),
    /// The main Ingress routing to the Service, with the host and path of its rule.
    Ingress {
        name: String,
        host: String,
        path: String,
    },
}

/// One destination of a split.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Backend {
    pub service: String,
    /// Port number or name as the routing object gives it ("" when it names none).
    pub port: String,
    /// Share of the requests, 0..=1; the shares of a route add up to 1 (or all are 0).
    pub share: f64,
    /// Set for the backend of an NGINX canary Ingress.
    pub canary: bool,
    /// Headers the route adds to this backend's responses (`Set-Cookie` for session
    /// affinity, say), in order.
    pub response_headers: Vec<(String, String)>,
}

/// The split for one Service, plus an optional mirror that receives copies.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub via: Via,
    pub backends: Vec<Backend>,
    /// Backend receiving a copy of `share` of the requests (Istio `mirror`, Gateway API
    /// `RequestMirror`); the copies' responses are discarded but their metrics count.
    pub mirror: Option<Backend>,
}

/// A pod that can take requests: ready and not being deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub pod: String,
    pub deployment: Option<String>,
    pub image: String,
}

/// The pods behind a backend Service, and the Deployment they belong to (also known when no
/// pod is ready, so that 503s can be attributed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Endpoints {
    pub deployment: Option<String>,
    pub ready: Vec<Endpoint>,
}

/// Works out the split for `namespace/service`. Precedence, as if one mesh or ingress were
/// installed: TrafficSplit, VirtualService, HTTPProxy, TraefikService, HTTPRoute, canary-aware
/// Ingress, plain Service.
pub fn route(world: &World, namespace: &str, service: &str) -> Route {
    route_request(world, namespace, service, &Request::default())
}

/// [`route`] for one real request: the match rules of VirtualServices, HTTPProxies,
/// HTTPRoutes and NGINX canary Ingresses see its headers.
pub fn route_request(world: &World, namespace: &str, service: &str, request: &Request) -> Route {
    smi::traffic_split(world, namespace, service)
        .or_else(|| istio::virtual_service(world, namespace, service, request))
        .or_else(|| contour::http_proxy(world, namespace, service, request))
        .or_else(|| traefik::traefik_service(world, namespace, service))
        .or_else(|| gateway::http_route(world, namespace, service, request))
        .or_else(|| nginx::ingress(world, namespace, service, request))
        .unwrap_or_else(|| Route {
            via: Via::Service,
            backends: vec![Backend {
                service: service.to_string(),
                share: 1.0,
                ..Backend::default()
            }],
            mirror: None,
        })
}

/// Whether the whole of `value` matches `pattern` (routing regexes are anchored); an invalid
/// pattern matches nothing.
fn whole_match(pattern: &str, value: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(value))
}

fn name_ns(obj: &Value) -> (&str, &str) {
    let meta = &obj["metadata"];
    (
        meta["name"].as_str().unwrap_or_default(),
        meta["namespace"].as_str().unwrap_or_default(),
    )
}

/// Turns raw weights into shares; all-zero stays all-zero (nothing is served).
fn normalise(mut backends: Vec<Backend>) -> Vec<Backend> {
    let total: f64 = backends.iter().map(|b| b.share).sum();
    for b in &mut backends {
        b.share = if total > 0.0 { b.share / total } else { 0.0 };
    }
    backends
}

/// A weight that may be a number or a quantity string ("90", "500m").
fn weight_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.strip_suffix('m') {
            Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
            None => s.parse().ok(),
        },
        _ => None,
    }
    .filter(|w| w.is_finite() && *w >= 0.0)
}

fn port_text(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// Resolves a mesh host (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`) to a
/// Service name in `namespace`; hosts in other namespaces or outside the cluster give `None`.
fn host_to_service<'a>(host: &'a str, namespace: &str) -> Option<&'a str> {
    if !host.contains('.') {
        return Some(host);
    }
    for suffix in [".svc.cluster.local", ".svc", ""] {
        if let Some(rest) = host.strip_suffix(suffix)
            && let Some(name) = rest
                .strip_suffix(namespace)
                .and_then(|r| r.strip_suffix('.'))
            && !name.contains('.')
        {
            return Some(name);
        }
    }
    None
}
