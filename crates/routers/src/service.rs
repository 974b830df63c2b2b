//! Pure builders for the three Services every canary gets (`<svc>` apex, `<svc>-primary`,
//! `<svc>-canary`), the merge that takes over a user's existing Service without breaking it,
//! and the revert applied on deletion. No I/O: `kubernetes.rs` reads and writes.

use std::collections::{BTreeMap, BTreeSet};

use fledge_api::Canary;
use fledge_api::service::CustomMetadata;
use k8s_openapi::api::core::v1::{PodSpec, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use crate::RouterError;
use crate::meta::{
    CANARY_LABEL, FLUX_ANNOTATIONS, TargetWorkload, controlled_by, foreign_controller,
    generated_annotations, generated_labels, object_name, owner_reference,
};

/// Containers whose ports are never discovered: mesh sidecars serve their own ports.
pub const SIDECAR_CONTAINERS: [&str; 3] = ["istio-proxy", "envoy", "linkerd-proxy"];

/// The Services generated for one canary, as they should be.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSet {
    /// `<svc>`: what clients call; selects the primary pods.
    pub apex: Service,
    /// `<svc>-primary`: selects the primary pods.
    pub primary: Service,
    /// `<svc>-canary`: selects the target's (canary) pods.
    pub canary: Service,
}

impl ServiceSet {
    /// In the order they are written: the canary and primary Services exist before the apex
    /// switches to the primary pods, so there is never a moment with nothing to route to.
    pub fn in_write_order(&self) -> [&Service; 3] {
        [&self.canary, &self.primary, &self.apex]
    }
}

/// Builds the three Services from `spec.service` and the target workload.
///
/// Selectors follow Flagger: apex and `-primary` select `<key>: <value>-primary`, `-canary`
/// selects `<key>: <value>`. Each Service also carries the label `<key>: <its own name>`.
pub fn build_services(
    canary: &Canary,
    target: &TargetWorkload<'_>,
) -> Result<ServiceSet, RouterError> {
    let spec = &canary.spec;
    let ports = service_ports(canary, target.pod_spec);
    let primary_value = target.primary_selector_value();
    let build = |name: String, selector_value: &str, custom: Option<&CustomMetadata>| {
        build_service(canary, target, name, selector_value, custom, ports.clone())
    };
    Ok(ServiceSet {
        apex: build(
            spec.service_name().to_string(),
            &primary_value,
            spec.service.apex.as_ref(),
        )?,
        primary: build(
            spec.primary_service_name(),
            &primary_value,
            spec.service.primary.as_ref(),
        )?,
        canary: build(
            spec.canary_service_name(),
            target.selector_value,
            spec.service.canary.as_ref(),
        )?,
    })
}

fn build_service(
    canary: &Canary,
    target: &TargetWorkload<'_>,
    name: String,
    selector_value: &str,
    custom: Option<&CustomMetadata>,
    ports: Vec<ServicePort>,
) -> Result<Service, RouterError> {
    let service = &canary.spec.service;
    let labels = generated_labels(
        canary,
        custom.map(|c| &c.labels),
        &[(target.selector_key, &name)],
    );
    Ok(Service {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: canary.namespace(),
            labels: Some(labels),
            annotations: Some(generated_annotations(custom.map(|c| &c.annotations))),
            owner_references: Some(vec![owner_reference(canary)?]),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: service.headless.unwrap_or(false).then(|| "None".into()),
            selector: Some(BTreeMap::from([(
                target.selector_key.to_string(),
                selector_value.to_string(),
            )])),
            ports: Some(ports),
            traffic_distribution: service.traffic_distribution.clone(),
            ..Default::default()
        }),
        status: None,
    })
}

/// The main port (`service.port`, `portName` default `http`, `targetPort` default = port)
/// followed by the discovered ones when `service.portDiscovery` is on.
fn service_ports(canary: &Canary, pod_spec: Option<&PodSpec>) -> Vec<ServicePort> {
    let service = &canary.spec.service;
    let mut ports = vec![ServicePort {
        name: Some(service.port_name().to_string()),
        port: service.port,
        target_port: Some(service.target_port()),
        protocol: Some("TCP".into()),
        app_protocol: service.app_protocol.clone(),
        ..Default::default()
    }];
    if service.port_discovery.unwrap_or(false)
        && let Some(pod_spec) = pod_spec
    {
        ports.extend(discover_ports(canary, pod_spec));
    }
    ports
}

/// Every container port except the one the main port already serves and the sidecars'.
/// Unnamed ports are called `tcp-<container>-<index>` as in Flagger. Sorted by name so the
/// result (and so the written object) doesn't change between reconciles.
pub fn discover_ports(canary: &Canary, pod_spec: &PodSpec) -> Vec<ServicePort> {
    let service = &canary.spec.service;
    let target_port = service.target_port();
    let mut taken_names = BTreeSet::from([service.port_name().to_string()]);
    let mut taken_numbers = BTreeSet::from([service.port]);
    let mut found = BTreeMap::new();
    for container in &pod_spec.containers {
        if SIDECAR_CONTAINERS.contains(&container.name.as_str()) {
            continue;
        }
        for (idx, port) in container.ports.iter().flatten().enumerate() {
            let serves_main = match &target_port {
                IntOrString::Int(n) => port.container_port == *n,
                IntOrString::String(s) => port.name.as_deref() == Some(s.as_str()),
            };
            if serves_main {
                continue;
            }
            let name = port
                .name
                .clone()
                .unwrap_or_else(|| format!("tcp-{}-{idx}", container.name));
            // A Service rejects duplicate names or port numbers; the first one wins.
            if taken_names.contains(&name) || taken_numbers.contains(&port.container_port) {
                continue;
            }
            taken_names.insert(name.clone());
            taken_numbers.insert(port.container_port);
            found.insert(
                name.clone(),
                ServicePort {
                    name: Some(name),
                    port: port.container_port,
                    target_port: Some(IntOrString::Int(port.container_port)),
                    protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    ..Default::default()
                },
            );
        }
    }
    found.into_values().collect()
}

/// Merges what a Service should be into what exists, keeping what the API server or the
/// user owns:
/// - `clusterIP(s)`, `loadBalancerIP`, `resourceVersion` and everything else fledge doesn't
///   manage come from `existing`;
/// - the type stays `NodePort`/`LoadBalancer` if it was, and so do the node ports (matched by
///   port name, then by number), so a taken-over apex keeps its external address;
/// - on a Service this Canary controls, labels and annotations are exactly the desired ones
///   plus the keys listed in `service.unmanagedMetadata`; on a user's Service (taken over),
///   the desired ones are added and the user's kept, and no owner reference is added, so
///   deleting the Canary never deletes the user's Service.
///
/// Returns an error when another object controls the Service: two owners would fight.
/// The result equals `existing` when nothing needs writing.
pub fn merge_for_takeover(
    existing: &Service,
    desired: &Service,
    canary: &Canary,
) -> Result<Service, RouterError> {
    if let Some(other) = foreign_controller(existing.owner_references(), canary) {
        return Err(RouterError::Object {
            kind: "service",
            object: object_name(existing),
            message: format!(
                "is controlled by {other}, so fledge won't take it over; delete it, or set \
                 spec.service.name on canary {} to an unused name",
                object_name(canary)
            ),
        });
    }
    let mut out = existing.clone();
    let want = desired.spec.clone().unwrap_or_default();
    let spec = out.spec.get_or_insert_with(Default::default);
    let keep_node_ports = matches!(
        spec.type_.as_deref(),
        Some("NodePort") | Some("LoadBalancer")
    );
    if !keep_node_ports {
        if spec.type_.as_deref() == Some("ExternalName") {
            spec.external_name = None;
        }
        spec.type_ = want.type_;
    }
    let old_ports = spec.ports.take().unwrap_or_default();
    spec.ports = want.ports.map(|ports| {
        ports
            .into_iter()
            .map(|mut port| {
                let old = old_ports
                    .iter()
                    .find(|o| o.name.is_some() && o.name == port.name)
                    .or_else(|| old_ports.iter().find(|o| o.port == port.port));
                if keep_node_ports {
                    port.node_port = old.and_then(|o| o.node_port);
                }
                port
            })
            .collect()
    });
    spec.selector = want.selector;
    spec.traffic_distribution = want.traffic_distribution;

    let unmanaged = canary.spec.service.unmanaged_metadata.clone();
    let meta = &mut out.metadata;
    if controlled_by(existing.owner_references(), canary) {
        let keep = |current: &Option<BTreeMap<String, String>>,
                    mut wanted: BTreeMap<String, String>,
                    keys: &[String]| {
            for key in keys {
                if let Some(v) = current.as_ref().and_then(|m| m.get(key)) {
                    wanted.entry(key.clone()).or_insert_with(|| v.clone());
                }
            }
            Some(wanted)
        };
        let unmanaged = unmanaged.unwrap_or_default();
        meta.labels = keep(
            &meta.labels,
            desired.metadata.labels.clone().unwrap_or_default(),
            &unmanaged.labels,
        );
        meta.annotations = keep(
            &meta.annotations,
            desired.metadata.annotations.clone().unwrap_or_default(),
            &unmanaged.annotations,
        );
    } else {
        let add = |current: &mut Option<BTreeMap<String, String>>,
                   wanted: &Option<BTreeMap<String, String>>| {
            let map = current.get_or_insert_with(Default::default);
            for (k, v) in wanted.iter().flatten() {
                map.insert(k.clone(), v.clone());
            }
        };
        add(&mut meta.labels, &desired.metadata.labels);
        add(&mut meta.annotations, &desired.metadata.annotations);
    }
    Ok(out)
}

/// The apex Service as it is handed back on deletion with `revertOnDeletion`: selecting the
/// target's own pods, without fledge's owner reference (so garbage collection keeps it), its
/// canary label or the Flux opt-outs (so Flux manages it again).
pub fn revert_apex(existing: &Service, canary: &Canary, target: &TargetWorkload<'_>) -> Service {
    let mut out = existing.clone();
    if let Some(spec) = out.spec.as_mut() {
        spec.selector = Some(BTreeMap::from([(
            target.selector_key.to_string(),
            target.selector_value.to_string(),
        )]));
    }
    let meta = &mut out.metadata;
    if let Some(owners) = meta.owner_references.as_mut() {
        owners.retain(|o| canary.uid().is_none_or(|uid| uid != o.uid));
        if owners.is_empty() {
            meta.owner_references = None;
        }
    }
    if let Some(labels) = meta.labels.as_mut() {
        labels.remove(CANARY_LABEL);
    }
    if let Some(annotations) = meta.annotations.as_mut() {
        for (k, _) in FLUX_ANNOTATIONS {
            annotations.remove(k);
        }
    }
    out
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
