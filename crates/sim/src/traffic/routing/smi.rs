//! SMI TrafficSplit: the split whose `spec.service` is the Service, by backend weight.

use super::{Backend, Route, Via, World, host_to_service, name_ns, normalise, weight_value};

pub(super) fn traffic_split(world: &World, namespace: &str, service: &str) -> Option<Route> {
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
                share: weight_value(&b["weight"]).unwrap_or(0.0),
                ..Backend::default()
            })
        })
        .collect();
    Some(Route {
        via: Via::TrafficSplit(name_ns(ts).0.to_string()),
        backends: normalise(backends),
        mirror: None,
    })
}
