//! Traefik TraefikService: the one named after the Service (what an IngressRoute sends its
//! traffic to, as Flagger writes it); weighted round robin over its Kubernetes Services, with
//! Traefik's default weight of 1. A nested TraefikService is not followed.

use super::{Backend, Route, Via, World, name_ns, normalise, port_text, weight_value};

pub(super) fn traefik_service(world: &World, namespace: &str, service: &str) -> Option<Route> {
    let ts = world
        .traefik_services
        .iter()
        .find(|t| name_ns(t) == (service, namespace))?;
    let backends = ts["spec"]["weighted"]["services"]
        .as_array()?
        .iter()
        .filter(|s| s["kind"].as_str().is_none_or(|k| k == "Service"))
        .filter_map(|s| {
            Some(Backend {
                service: s["name"].as_str()?.to_string(),
                port: port_text(&s["port"]),
                share: if s["weight"].is_null() {
                    1.0
                } else {
                    weight_value(&s["weight"]).unwrap_or(0.0)
                },
                ..Backend::default()
            })
        })
        .collect();
    Some(Route {
        via: Via::TraefikService(name_ns(ts).0.to_string()),
        backends: normalise(backends),
        mirror: None,
    })
}
