use std::collections::BTreeMap;

use fledge_api::Canary;
use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::*;
use crate::meta::{DEFAULT_SELECTOR_LABELS, TargetWorkload};
use crate::testutil;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn selector(svc: &Service) -> BTreeMap<String, String> {
    svc.spec.as_ref().unwrap().selector.clone().unwrap()
}

fn ports(svc: &Service) -> Vec<(String, i32, IntOrString, String)> {
    svc.spec
        .as_ref()
        .unwrap()
        .ports
        .iter()
        .flatten()
        .map(|p| {
            (
                p.name.clone().unwrap(),
                p.port,
                p.target_port.clone().unwrap(),
                p.protocol.clone().unwrap(),
            )
        })
        .collect()
}

fn build(canary: &Canary) -> ServiceSet {
    let deployment = testutil::deployment();
    let target = TargetWorkload::from_deployment(&deployment, &DEFAULT_SELECTOR_LABELS).unwrap();
    build_services(canary, &target).unwrap()
}

#[test]
fn names_selectors_labels_and_owner_follow_flagger() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let set = build(&canary);
    let cases = [
        (&set.apex, "podinfo", "podinfo-primary"),
        (&set.primary, "podinfo-primary", "podinfo-primary"),
        (&set.canary, "podinfo-canary", "podinfo"),
    ];
    for (svc, name, selects) in cases {
        assert_eq!(svc.metadata.name.as_deref(), Some(name));
        assert_eq!(svc.metadata.namespace.as_deref(), Some("test"));
        assert_eq!(selector(svc), map(&[("app", selects)]), "{name}");
        let labels = svc.metadata.labels.as_ref().unwrap();
        assert_eq!(labels.get("app").map(String::as_str), Some(name));
        assert_eq!(
            labels.get(CANARY_LABEL).map(String::as_str),
            Some("podinfo")
        );
        let annotations = svc.metadata.annotations.as_ref().unwrap();
        for (k, v) in FLUX_ANNOTATIONS {
            assert_eq!(
                annotations.get(k).map(String::as_str),
                Some(v),
                "{name} {k}"
            );
        }
        let owners = svc.metadata.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].kind, "Canary");
        assert_eq!(owners[0].api_version, "fledge.dev/v1beta1");
        assert_eq!(owners[0].name, "podinfo");
        assert_eq!(owners[0].uid, "6f1c1f2e-0000-4000-8000-000000000001");
        assert_eq!(owners[0].controller, Some(true));
        let spec = svc.spec.as_ref().unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.cluster_ip, None);
    }
    let order: Vec<_> = set
        .in_write_order()
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(order, ["podinfo-canary", "podinfo-primary", "podinfo"]);
}

#[test]
fn service_metadata_goes_to_its_own_service_and_ours_wins() {
    let mut canary = testutil::canary("canary-kubernetes.yaml");
    canary
        .spec
        .service
        .apex
        .as_mut()
        .unwrap()
        .labels
        .insert(CANARY_LABEL.into(), "someone-else".into());
    let set = build(&canary);
    let labels = |s: &Service| s.metadata.labels.clone().unwrap();
    let annotations = |s: &Service| s.metadata.annotations.clone().unwrap();
    assert_eq!(
        labels(&set.apex).get("team").map(String::as_str),
        Some("web")
    );
    assert_eq!(labels(&set.apex)[CANARY_LABEL], "podinfo");
    assert_eq!(annotations(&set.apex)["example.com/owner"], "web");
    assert_eq!(labels(&set.primary)["role"], "primary");
    assert!(!labels(&set.primary).contains_key("team"));
    assert_eq!(annotations(&set.canary)["example.com/role"], "canary");
    assert!(!annotations(&set.canary).contains_key("example.com/owner"));
}

#[test]
fn main_port_defaults_and_options() {
    struct Case {
        name: &'static str,
        yaml: &'static str,
        port: (&'static str, i32, IntOrString),
        app_protocol: Option<&'static str>,
        cluster_ip: Option<&'static str>,
        traffic_distribution: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "defaults",
            yaml: "port: 9898",
            port: ("http", 9898, IntOrString::Int(9898)),
            app_protocol: None,
            cluster_ip: None,
            traffic_distribution: None,
        },
        Case {
            name: "named target port",
            yaml: "{port: 80, portName: web, targetPort: http}",
            port: ("web", 80, IntOrString::String("http".into())),
            app_protocol: None,
            cluster_ip: None,
            traffic_distribution: None,
        },
        Case {
            name: "numeric target port, grpc, headless, zone-local",
            yaml: "{port: 80, targetPort: 9999, appProtocol: grpc, headless: true, trafficDistribution: PreferClose}",
            port: ("http", 80, IntOrString::Int(9999)),
            app_protocol: Some("grpc"),
            cluster_ip: Some("None"),
            traffic_distribution: Some("PreferClose"),
        },
    ];
    for case in cases {
        let mut canary = testutil::canary("canary-kubernetes.yaml");
        canary.spec.service = serde_saphyr::from_str(case.yaml).unwrap();
        let set = build(&canary);
        for svc in [&set.apex, &set.primary, &set.canary] {
            let spec = svc.spec.as_ref().unwrap();
            let p = &spec.ports.as_ref().unwrap()[0];
            assert_eq!(
                (
                    p.name.as_deref().unwrap(),
                    p.port,
                    p.target_port.clone().unwrap()
                ),
                case.port,
                "{}",
                case.name
            );
            assert_eq!(p.protocol.as_deref(), Some("TCP"));
            assert_eq!(
                p.app_protocol.as_deref(),
                case.app_protocol,
                "{}",
                case.name
            );
            assert_eq!(spec.cluster_ip.as_deref(), case.cluster_ip, "{}", case.name);
            assert_eq!(
                spec.traffic_distribution.as_deref(),
                case.traffic_distribution,
                "{}",
                case.name
            );
            assert_eq!(
                spec.ports.as_ref().unwrap().len(),
                1,
                "{}: no discovery",
                case.name
            );
        }
    }
}

fn container(name: &str, ports: &[(Option<&str>, i32, Option<&str>)]) -> Container {
    Container {
        name: name.into(),
        ports: Some(
            ports
                .iter()
                .map(|(n, p, proto)| ContainerPort {
                    name: n.map(Into::into),
                    container_port: *p,
                    protocol: proto.map(Into::into),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

#[test]
fn port_discovery_table() {
    type Ports = Vec<(&'static str, i32, &'static str)>;
    let app = container(
        "app",
        &[
            (Some("http"), 9898, None),
            (Some("grpc"), 9999, None),
            (None, 9797, None),
            (Some("dns"), 5353, Some("UDP")),
        ],
    );
    let worker = container("worker", &[(None, 7000, None), (Some("grpc"), 9000, None)]);
    let sidecars = [
        container("istio-proxy", &[(Some("http-envoy-prom"), 15090, None)]),
        container("envoy", &[(None, 19000, None)]),
        container("linkerd-proxy", &[(Some("linkerd-admin"), 4191, None)]),
    ];
    let cases: Vec<(&str, &str, Vec<Container>, Ports)> = vec![
        (
            "target port number excludes the app port; unnamed get tcp-<container>-<idx>; sidecars skipped",
            "{port: 80, targetPort: 9898, portDiscovery: true}",
            [vec![app.clone()], sidecars.to_vec()].concat(),
            vec![
                ("dns", 5353, "UDP"),
                ("grpc", 9999, "TCP"),
                ("tcp-app-2", 9797, "TCP"),
            ],
        ),
        (
            "target port by name",
            "{port: 80, targetPort: http, portDiscovery: true}",
            vec![app.clone()],
            vec![
                ("dns", 5353, "UDP"),
                ("grpc", 9999, "TCP"),
                ("tcp-app-2", 9797, "TCP"),
            ],
        ),
        (
            "no target port: the service port number is excluded",
            "{port: 9898, portDiscovery: true}",
            vec![app.clone()],
            vec![
                ("dns", 5353, "UDP"),
                ("grpc", 9999, "TCP"),
                ("tcp-app-2", 9797, "TCP"),
            ],
        ),
        (
            "a duplicate name across containers is dropped, first wins",
            "{port: 9898, portDiscovery: true}",
            vec![app.clone(), worker],
            vec![
                ("dns", 5353, "UDP"),
                ("grpc", 9999, "TCP"),
                ("tcp-app-2", 9797, "TCP"),
                ("tcp-worker-0", 7000, "TCP"),
            ],
        ),
        ("discovery off", "{port: 9898}", vec![app.clone()], vec![]),
    ];
    for (name, yaml, containers, want) in cases {
        let mut canary = testutil::canary("canary-kubernetes.yaml");
        canary.spec.service = serde_saphyr::from_str(yaml).unwrap();
        let pod_spec = PodSpec {
            containers,
            ..Default::default()
        };
        let target = TargetWorkload {
            selector_key: "app",
            selector_value: "podinfo",
            pod_spec: Some(&pod_spec),
        };
        let set = build_services(&canary, &target).unwrap();
        let got: Vec<_> = ports(&set.apex)
            .into_iter()
            .skip(1)
            .map(|(n, p, t, proto)| {
                assert_eq!(
                    t,
                    IntOrString::Int(p),
                    "{name}: discovered targetPort = port"
                );
                (n, p, proto)
            })
            .collect();
        let want: Vec<_> = want
            .into_iter()
            .map(|(n, p, proto)| (n.to_string(), p, proto.to_string()))
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(
            ports(&set.apex),
            ports(&set.canary),
            "{name}: same ports everywhere"
        );
    }
}

/// What the API server returns for a Service fledge created: defaults filled in.
fn as_stored(desired: &Service) -> Service {
    let mut svc = desired.clone();
    svc.metadata.resource_version = Some("41".into());
    svc.metadata.uid = Some("svc-uid".into());
    let spec = svc.spec.as_mut().unwrap();
    spec.cluster_ip = Some("10.96.0.12".into());
    spec.cluster_ips = Some(vec!["10.96.0.12".into()]);
    spec.session_affinity = Some("None".into());
    spec.ip_families = Some(vec!["IPv4".into()]);
    svc
}

fn user_service(ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some("podinfo".into()),
            namespace: Some("test".into()),
            resource_version: Some("7".into()),
            labels: Some(map(&[("app", "podinfo"), ("tier", "frontend")])),
            annotations: Some(map(&[(
                "kubectl.kubernetes.io/last-applied-configuration",
                "{}",
            )])),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::core::v1::ServiceSpec {
            type_: Some("LoadBalancer".into()),
            cluster_ip: Some("10.96.0.10".into()),
            cluster_ips: Some(vec!["10.96.0.10".into()]),
            load_balancer_ip: Some("203.0.113.7".into()),
            selector: Some(map(&[("app", "podinfo")])),
            ports: Some(ports),
            ..Default::default()
        }),
        status: None,
    }
}

fn node_port(name: &str, port: i32, node_port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        node_port: Some(node_port),
        target_port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

#[test]
fn takeover_keeps_node_ports_addresses_and_user_metadata() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let set = build(&canary);
    let cases = [
        (
            "matched by name",
            node_port("http", 8080, 30080),
            Some(30080),
        ),
        (
            "matched by number",
            node_port("web", 80, 30081),
            Some(30081),
        ),
        ("no match", node_port("other", 81, 30082), None),
    ];
    for (name, existing_port, want_node_port) in cases {
        let existing = user_service(vec![existing_port]);
        let merged = merge_for_takeover(&existing, &set.apex, &canary).unwrap();
        let spec = merged.spec.as_ref().unwrap();
        let main = &spec.ports.as_ref().unwrap()[0];
        assert_eq!(main.name.as_deref(), Some("http"), "{name}");
        assert_eq!(main.port, 80, "{name}");
        assert_eq!(main.node_port, want_node_port, "{name}");
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"), "{name}");
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.10"));
        assert_eq!(spec.cluster_ips, Some(vec!["10.96.0.10".to_string()]));
        assert_eq!(spec.load_balancer_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(selector(&merged), map(&[("app", "podinfo-primary")]));
        assert_eq!(merged.metadata.resource_version.as_deref(), Some("7"));
        let labels = merged.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["tier"], "frontend", "user label kept");
        assert_eq!(labels[CANARY_LABEL], "podinfo", "ours added");
        assert_eq!(labels["team"], "web");
        let annotations = merged.metadata.annotations.as_ref().unwrap();
        assert!(annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
        assert_eq!(
            annotations["kustomize.toolkit.fluxcd.io/reconcile"],
            "disabled"
        );
        assert_eq!(
            merged.metadata.owner_references, None,
            "a user's Service is never made ours: deleting the Canary must not delete it"
        );
    }
}

#[test]
fn takeover_of_a_cluster_ip_service_drops_nothing_it_cannot_keep() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let set = build(&canary);
    let mut existing = user_service(vec![node_port("http", 80, 30080)]);
    existing.spec.as_mut().unwrap().type_ = Some("ClusterIP".into());
    let merged = merge_for_takeover(&existing, &set.apex, &canary).unwrap();
    let spec = merged.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(
        spec.ports.as_ref().unwrap()[0].node_port,
        None,
        "ClusterIP has no nodePorts"
    );
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.10"));
}

#[test]
fn owned_service_metadata_is_exactly_desired_plus_unmanaged_keys() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let set = build(&canary);
    let mut existing = as_stored(&set.primary);
    let labels = existing.metadata.labels.as_mut().unwrap();
    labels.insert("tier".into(), "backend".into()); // listed in unmanagedMetadata.labels
    labels.insert("stale".into(), "x".into());
    let annotations = existing.metadata.annotations.as_mut().unwrap();
    annotations.insert("example.com/managed-elsewhere".into(), "yes".into());
    annotations.insert("example.com/stale".into(), "x".into());
    let merged = merge_for_takeover(&existing, &set.primary, &canary).unwrap();
    let mut want_labels = set.primary.metadata.labels.clone().unwrap();
    want_labels.insert("tier".into(), "backend".into());
    assert_eq!(merged.metadata.labels.unwrap(), want_labels);
    let mut want_annotations = set.primary.metadata.annotations.clone().unwrap();
    want_annotations.insert("example.com/managed-elsewhere".into(), "yes".into());
    assert_eq!(merged.metadata.annotations.unwrap(), want_annotations);
    assert_eq!(
        merged.metadata.owner_references,
        set.primary.metadata.owner_references
    );
}

#[test]
fn merge_is_a_no_op_on_what_fledge_wrote_and_idempotent() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let set = build(&canary);
    for desired in [&set.apex, &set.primary, &set.canary] {
        let stored = as_stored(desired);
        assert_eq!(
            merge_for_takeover(&stored, desired, &canary).unwrap(),
            stored
        );
    }
    let existing = user_service(vec![node_port("http", 80, 30080)]);
    let once = merge_for_takeover(&existing, &set.apex, &canary).unwrap();
    let twice = merge_for_takeover(&once, &set.apex, &canary).unwrap();
    assert_eq!(once, twice);
}

#[test]
fn merge_notices_a_changed_selector_or_port() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let set = build(&canary);
    let mut drifted = as_stored(&set.apex);
    drifted.spec.as_mut().unwrap().selector = Some(map(&[("app", "podinfo")]));
    let merged = merge_for_takeover(&drifted, &set.apex, &canary).unwrap();
    assert_ne!(merged, drifted);
    assert_eq!(selector(&merged), map(&[("app", "podinfo-primary")]));

    let mut other = canary.clone();
    other.spec.service.port = 8080;
    let moved = build(&other);
    let merged = merge_for_takeover(&as_stored(&set.apex), &moved.apex, &canary).unwrap();
    assert_eq!(merged.spec.unwrap().ports.unwrap()[0].port, 8080);
}

#[test]
fn a_service_controlled_by_something_else_is_not_taken_over() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let set = build(&canary);
    let mut existing = user_service(vec![]);
    existing.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "fledge.dev/v1beta1".into(),
        kind: "Canary".into(),
        name: "other".into(),
        uid: "someone-else".into(),
        controller: Some(true),
        ..Default::default()
    }]);
    let err = merge_for_takeover(&existing, &set.apex, &canary)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("service test/podinfo: is controlled by Canary other"),
        "{err}"
    );
    assert!(err.contains("spec.service.name"), "{err}");
}

#[test]
fn revert_hands_the_apex_back_to_the_target_pods() {
    let canary = testutil::canary("canary-kubernetes.yaml");
    let deployment = testutil::deployment();
    let target = TargetWorkload::from_deployment(&deployment, &DEFAULT_SELECTOR_LABELS).unwrap();
    let set = build_services(&canary, &target).unwrap();
    let reverted = revert_apex(&as_stored(&set.apex), &canary, &target);
    assert_eq!(selector(&reverted), map(&[("app", "podinfo")]));
    assert_eq!(reverted.metadata.owner_references, None);
    let labels = reverted.metadata.labels.unwrap();
    assert!(!labels.contains_key(CANARY_LABEL));
    assert_eq!(labels["team"], "web", "the user's apex labels stay");
    let annotations = reverted.metadata.annotations.unwrap();
    for (k, _) in FLUX_ANNOTATIONS {
        assert!(!annotations.contains_key(k), "{k}");
    }
    assert_eq!(reverted.metadata.resource_version.as_deref(), Some("41"));
}
