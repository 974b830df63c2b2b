//! The HTTP face of the traffic simulation, mounted on the sim's API server: `/metrics` (the
//! exporter), the Kubernetes service-proxy path
//! `/api/v1/namespaces/{namespace}/services/{service}/proxy/{path}`, and Host-header routing
//! (`Host: <service>.<namespace>[.svc[.cluster.local]]`) so that load from outside (`hey`, the
//! load tester) is routed by the same weights and recorded; and `PUT /sim/scenario` to replace
//! the scenario of a running `fledge sim`. It decides nothing itself.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use serde_json::json;

use super::Traffic;
use super::routing::Request as RoutingRequest;
use crate::exporter::CONTENT_TYPE;
use crate::scenario::Scenario;

/// `/metrics`, `/sim/scenario` and the service-proxy routes; merge into the API server's
/// router.
pub fn routes(traffic: Arc<Traffic>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/sim/scenario", put(replace_scenario))
        .route(
            "/api/v1/namespaces/{namespace}/services/{service}/proxy",
            any(proxy_path),
        )
        // A catch-all segment never matches an empty path, so `/proxy/` needs its own route.
        .route(
            "/api/v1/namespaces/{namespace}/services/{service}/proxy/",
            any(proxy_path),
        )
        .route(
            "/api/v1/namespaces/{namespace}/services/{service}/proxy/{*path}",
            any(proxy_path),
        )
        .with_state(traffic)
}

/// Wraps a router so that requests whose Host names a simulated Service are served as traffic
/// to it; all other requests (kubectl and kube clients use an IP or `localhost`) pass through.
pub fn with_host_routing(router: Router, traffic: Arc<Traffic>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(traffic, host_routing))
}

async fn metrics(State(traffic): State<Arc<Traffic>>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        traffic.exporter().encode(),
    )
        .into_response()
}

/// Replaces the live scenario with the YAML body (the seed keeps its start value).
async fn replace_scenario(State(traffic): State<Arc<Traffic>>, body: String) -> Response {
    match Scenario::from_yaml("PUT /sim/scenario", &body) {
        Ok(scenario) => {
            traffic.scenario().replace(scenario);
            (StatusCode::OK, "scenario replaced\n").into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

/// The Service name in a proxy path segment: `name`, `name:port` or `scheme:name:port`.
fn proxy_service_name(segment: &str) -> &str {
    let parts: Vec<&str> = segment.split(':').collect();
    match parts.as_slice() {
        [scheme, name, ..] if matches!(*scheme, "http" | "https") => name,
        [name, ..] => name,
        [] => segment,
    }
}

/// `(namespace, service)` from a Host header naming a Service, if it does.
pub fn service_from_host(host: &str) -> Option<(&str, &str)> {
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    let host = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(host);
    let (service, namespace) = host.split_once('.')?;
    (!service.is_empty() && !namespace.is_empty() && !namespace.contains('.'))
        .then_some((namespace, service))
}

async fn proxy_path(
    State(traffic): State<Arc<Traffic>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let namespace = params
        .get("namespace")
        .map(String::as_str)
        .unwrap_or_default();
    let service = proxy_service_name(
        params
            .get("service")
            .map(String::as_str)
            .unwrap_or_default(),
    );
    if !traffic.has_service(namespace, service) {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("services \"{service}\" not found"), "reason": "NotFound",
            "details": {"name": service, "kind": "services"}, "code": 404,
        });
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    respond(&traffic, namespace, service, &headers).await
}

async fn host_routing(State(traffic): State<Arc<Traffic>>, req: Request, next: Next) -> Response {
    let target = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(service_from_host)
        .filter(|(ns, svc)| traffic.has_service(ns, svc))
        .map(|(ns, svc)| (ns.to_string(), svc.to_string()));
    match target {
        Some((ns, svc)) => respond(&traffic, &ns, &svc, req.headers()).await,
        None => next.run(req).await,
    }
}

/// The request's headers as routing sees them (names lowercase; a repeated header's values
/// joined with `, `, cookies with `; `).
fn routing_request(headers: &HeaderMap) -> RoutingRequest {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        let separator = if name == header::COOKIE { "; " } else { ", " };
        out.entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(separator);
                v.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    RoutingRequest { headers: out }
}

/// Serves one request: routes it, waits its (capped) latency, answers with its status.
async fn respond(
    traffic: &Traffic,
    namespace: &str,
    service: &str,
    headers: &HeaderMap,
) -> Response {
    let served = traffic.serve(namespace, service, &routing_request(headers));
    let cap = traffic.scenario().with(|s| s.proxy_latency_cap);
    tokio::time::sleep(served.latency.min(cap)).await;
    let code = StatusCode::from_u16(served.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let pod = served.pod.as_deref().unwrap_or("-");
    let body = format!(
        "{} {} backend={} pod={} image={}\n",
        served.code,
        code.canonical_reason().unwrap_or_default(),
        served.backend,
        pod,
        served.image.as_deref().unwrap_or("-"),
    );
    let mut resp = (code, body).into_response();
    for (name, value) in [
        ("x-fledge-sim-backend", served.backend.as_str()),
        ("x-fledge-sim-pod", pod),
        (
            "x-fledge-sim-deployment",
            served.deployment.as_deref().unwrap_or("-"),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    // What the route adds (a session affinity cookie, say); appended, since a route may add
    // a header twice.
    for (name, value) in &served.response_headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_proxy_segments_name_services() {
        let cases = [
            ("podinfo.test", Some(("test", "podinfo"))),
            ("podinfo.test:9898", Some(("test", "podinfo"))),
            ("podinfo.test.svc", Some(("test", "podinfo"))),
            (
                "podinfo.test.svc.cluster.local:80",
                Some(("test", "podinfo")),
            ),
            ("127.0.0.1:6443", None),
            ("localhost:6443", None),
            ("[::1]:6443", None),
            ("app.example.com", None),
        ];
        for (host, want) in cases {
            assert_eq!(service_from_host(host), want, "{host}");
        }
        assert_eq!(proxy_service_name("podinfo"), "podinfo");
        assert_eq!(proxy_service_name("podinfo:http"), "podinfo");
        assert_eq!(proxy_service_name("https:podinfo:443"), "podinfo");
    }
}
