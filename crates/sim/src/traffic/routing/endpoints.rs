//! The ready pods behind a Service, as kube-proxy would balance over them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};

use super::{Endpoint, Endpoints, World};

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
