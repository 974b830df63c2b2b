//! Where a request for a Service goes, computed from the routing objects in the API with the
//! sim's own reading of each provider's semantics (SMI TrafficSplit, Istio VirtualService,
//! Gateway API HTTPRoute, NGINX canary Ingress, plain Service selectors). Pure: it reads a
//! [`World`] snapshot and never shares code with the controller's routers, so that it can catch
//! their bugs.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};
use serde_json::Value;

const NGINX_CANARY: &str = "nginx.ingress.kubernetes.io/canary";
const NGINX_CANARY_WEIGHT: &str = "nginx.ingress.kubernetes.io/canary-weight";
const NGINX_CANARY_WEIGHT_TOTAL: &str = "nginx.ingress.kubernetes.io/canary-weight-total";
const NGINX_BY_HEADER: &str = "nginx.ingress.kubernetes.io/canary-by-header";
const NGINX_BY_HEADER_VALUE: &str = "nginx.ingress.kubernetes.io/canary-by-header-value";
const NGINX_BY_HEADER_PATTERN: &str = "nginx.ingress.kubernetes.io/canary-by-header-pattern";
const NGINX_BY_COOKIE: &str = "nginx.ingress.kubernetes.io/canary-by-cookie";

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
    HttpRoute(String),
    /// The main Ingress routing to the Service, with the host and path of its rule.
    Ingress {
        name: String,
        host: String,
        path: String,
    },
}

/// One destination of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub service: String,
    /// Port number or name as the routing object gives it ("" when it names none).
    pub port: String,
    /// Share of the requests, 0..=1; the shares of a route add up to 1 (or all are 0).
    pub share: f64,
    /// Set for the backend of an NGINX canary Ingress.
    pub canary: bool,
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
/// installed: TrafficSplit, VirtualService, HTTPRoute, canary-aware Ingress, plain Service.
pub fn route(world: &World, namespace: &str, service: &str) -> Route {
    route_request(world, namespace, service, &Request::default())
}

/// [`route`] for one real request: an NGINX canary Ingress' header and cookie rules see its
/// headers.
pub fn route_request(world: &World, namespace: &str, service: &str, request: &Request) -> Route {
    traffic_split(world, namespace, service)
        .or_else(|| virtual_service(world, namespace, service, request))
        .or_else(|| http_proxy(world, namespace, service, request))
        .or_else(|| http_route(world, namespace, service))
        .or_else(|| ingress(world, namespace, service, request))
        .unwrap_or_else(|| Route {
            via: Via::Service,
            backends: vec![Backend {
                service: service.to_string(),
                port: String::new(),
                share: 1.0,
                canary: false,
            }],
            mirror: None,
        })
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

fn traffic_split(world: &World, namespace: &str, service: &str) -> Option<Route> {
    let ts = world.traffic_splits.iter().find(|ts| {
        let (_, ns) = name_ns(ts);
        ns == namespace
            && ts["spec"]["service"]
                .as_str()
                .and_then(|h| host_to_service(h, namespace))
                == Some(service)
    })?;
    let backends = ts["spec"]["backends"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            Some(Backend {
                service: b["service"].as_str()?.to_string(),
                port: String::new(),
                share: weight_value(&b["weight"]).unwrap_or(0.0),
                canary: false,
            })
        })
        .collect();
    Some(Route {
        via: Via::TrafficSplit(name_ns(ts).0.to_string()),
        backends: normalise(backends),
        mirror: None,
    })
}

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
        let whole = format!("^(?:{pattern})$");
        return regex::Regex::new(&whole).is_ok_and(|re| re.is_match(value));
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
        let whole = format!("^(?:{pattern})$");
        return value.is_some_and(|v| regex::Regex::new(&whole).is_ok_and(|re| re.is_match(v)));
    }
    false
}

/// The HTTPProxy named after the Service (how an included proxy for it is named, as Flagger
/// writes it): of the routes whose conditions a request for `/` satisfies, Contour takes the
/// one with the most header conditions; its services split by weight.
fn http_proxy(world: &World, namespace: &str, service: &str, request: &Request) -> Option<Route> {
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
                canary: false,
            })
        })
        .collect();
    Some(Route {
        via: Via::HttpProxy(name_ns(proxy).0.to_string()),
        backends: normalise(backends),
        mirror: None,
    })
}

fn virtual_service(
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
            Some(Backend {
                service,
                port,
                share,
                canary: false,
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
            canary: false,
        }
    });
    Some(Route {
        via: Via::VirtualService(name_ns(vs).0.to_string()),
        backends: normalise(backends),
        mirror,
    })
}

/// A rule a header-less `GET /` takes: no matches, or only a `/` path prefix.
fn catches_all(rule: &Value) -> bool {
    let Some(matches) = rule["matches"].as_array() else {
        return true;
    };
    matches.is_empty()
        || matches.iter().any(|m| {
            let only_path = m.as_object().is_some_and(|o| o.keys().all(|k| k == "path"));
            let path = &m["path"];
            let root = path.is_null()
                || (path["type"].as_str().unwrap_or("PathPrefix") == "PathPrefix"
                    && path["value"].as_str().unwrap_or("/") == "/");
            only_path && root
        })
}

fn is_service_ref(r: &Value) -> bool {
    r["group"].as_str().unwrap_or("").is_empty()
        && r["kind"].as_str().unwrap_or("Service") == "Service"
}

fn http_route(world: &World, namespace: &str, service: &str) -> Option<Route> {
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
    let rule = hr["spec"]["rules"]
        .as_array()?
        .iter()
        .find(|r| catches_all(r))?;
    let backends = rule["backendRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| is_service_ref(b))
        .filter_map(|b| {
            Some(Backend {
                service: b["name"].as_str()?.to_string(),
                port: port_text(&b["port"]),
                share: weight_value(&b["weight"]).unwrap_or(1.0),
                canary: false,
            })
        })
        .collect();
    let mirror = rule["filters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["type"].as_str() == Some("RequestMirror"))
        .and_then(|f| {
            let m = &f["requestMirror"];
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
                canary: false,
            })
        });
    Some(Route {
        via: Via::HttpRoute(name_ns(hr).0.to_string()),
        backends: normalise(backends),
        mirror,
    })
}

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
            let whole = format!("^(?:{pattern})$");
            if regex::Regex::new(&whole).is_ok_and(|re| re.is_match(value)) {
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

fn ingress(world: &World, namespace: &str, service: &str, request: &Request) -> Option<Route> {
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
        canary: false,
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

fn labels_match(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let Some(labels) = labels else {
        return selector.is_empty();
    };
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The Deployment that created a pod: its ReplicaSet owner's name minus the template hash.
fn pod_deployment(pod: &Pod) -> Option<String> {
    let hash = pod.metadata.labels.as_ref()?.get("pod-template-hash")?;
    let rs = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "ReplicaSet")?;
    rs.name
        .strip_suffix(hash.as_str())
        .and_then(|n| n.strip_suffix('-'))
        .map(str::to_string)
}

fn pod_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn service_exists(world: &World, namespace: &str, service: &str) -> bool {
    find_service(world, namespace, service).is_some()
}

fn find_service<'a>(world: &'a World, namespace: &str, service: &str) -> Option<&'a Service> {
    world.services.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(namespace)
            && s.metadata.name.as_deref() == Some(service)
    })
}

/// The ready pods a Service selects, as kube-proxy would balance over them.
pub fn endpoints(world: &World, namespace: &str, service: &str) -> Endpoints {
    let Some(selector) = find_service(world, namespace, service)
        .and_then(|s| s.spec.as_ref()?.selector.as_ref())
        .filter(|sel| !sel.is_empty())
    else {
        return Endpoints::default();
    };
    let deployment = world
        .deployments
        .iter()
        .find(|d| {
            d.metadata.namespace.as_deref() == Some(namespace)
                && labels_match(
                    selector,
                    d.spec
                        .as_ref()
                        .and_then(|s| s.template.metadata.as_ref())
                        .and_then(|m| m.labels.as_ref()),
                )
        })
        .and_then(|d| d.metadata.name.clone());
    let mut ready: Vec<Endpoint> = world
        .pods
        .iter()
        .filter(|p| {
            p.metadata.namespace.as_deref() == Some(namespace)
                && labels_match(selector, p.metadata.labels.as_ref())
                && pod_ready(p)
        })
        .map(|p| Endpoint {
            pod: p.metadata.name.clone().unwrap_or_default(),
            deployment: pod_deployment(p),
            image: p
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
        })
        .collect();
    ready.sort_by(|a, b| a.pod.cmp(&b.pod));
    Endpoints { deployment, ready }
}
