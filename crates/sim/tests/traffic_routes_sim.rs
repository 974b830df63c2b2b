//! Routing objects created through the API (HTTPRoute, VirtualService, TrafficSplit, once their
//! CRDs exist) take over the split of a running sim, in the documented precedence, and so do
//! changes to the NGINX canary Ingress's weight.

mod traffic_support;

use std::time::Duration;

use fledge_sim::SimHandle;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use traffic_support::start_canary_70;

fn crd(group: &str, version: &str, kind: &str, plural: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(),
                           "listKind": format!("{kind}List")},
                 "versions": [{"name": version, "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}
    }))
    .unwrap()
}

async fn create(sim: &SimHandle, group: &str, version: &str, kind: &str, plural: &str, obj: Value) {
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(sim.client(), "test", &ar);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(obj).unwrap(),
    )
    .await
    .unwrap();
}

/// Polls until 20 requests in a row go to `backend`.
async fn wait_for_backend(sim: &SimHandle, backend: &str, step: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let served: Vec<String> = (0..20)
            .map(|_| {
                sim.traffic()
                    .serve("test", "podinfo", &Default::default())
                    .backend
            })
            .collect();
        if served.iter().all(|b| b == backend) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{step}: still served by {served:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_objects_created_through_the_api_decide_the_split() {
    let sim = start_canary_70(|s| s.services.clear()).await;

    // NGINX: moving the canary Ingress to 100% sends everything to the canary backend.
    let ingresses: Api<Ingress> = Api::namespaced(sim.client(), "test");
    let weight = |w: &str| {
        Patch::Merge(json!({"metadata": {"annotations": {
            "nginx.ingress.kubernetes.io/canary-weight": w}}}))
    };
    ingresses
        .patch("podinfo-canary", &PatchParams::default(), &weight("100"))
        .await
        .unwrap();
    wait_for_backend(&sim, "podinfo-canary", "canary Ingress at 100").await;
    ingresses
        .patch("podinfo-canary", &PatchParams::default(), &weight("0"))
        .await
        .unwrap();
    wait_for_backend(&sim, "podinfo", "canary Ingress at 0").await;

    let crds: Api<CustomResourceDefinition> = Api::all(sim.client());
    for c in [
        crd("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
        crd(
            "networking.istio.io",
            "v1beta1",
            "VirtualService",
            "virtualservices",
        ),
        crd(
            "split.smi-spec.io",
            "v1alpha2",
            "TrafficSplit",
            "trafficsplits",
        ),
    ] {
        crds.create(&PostParams::default(), &c).await.unwrap();
    }

    create(
        &sim,
        "gateway.networking.k8s.io",
        "v1",
        "HTTPRoute",
        "httproutes",
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {"rules": [{"backendRefs": [
                {"name": "podinfo-primary", "port": 80, "weight": 0},
                {"name": "podinfo-canary", "port": 80, "weight": 100}]}]}
        }),
    )
    .await;
    wait_for_backend(&sim, "podinfo-canary", "HTTPRoute canary 100").await;

    create(
        &sim,
        "networking.istio.io",
        "v1beta1",
        "VirtualService",
        "virtualservices",
        json!({
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {"hosts": ["podinfo"], "http": [{"route": [
                {"destination": {"host": "podinfo-primary"}, "weight": 100},
                {"destination": {"host": "podinfo-canary"}, "weight": 0}]}]}
        }),
    )
    .await;
    wait_for_backend(&sim, "podinfo-primary", "VirtualService over HTTPRoute").await;

    create(
        &sim,
        "split.smi-spec.io",
        "v1alpha2",
        "TrafficSplit",
        "trafficsplits",
        json!({
            "apiVersion": "split.smi-spec.io/v1alpha2", "kind": "TrafficSplit",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {"service": "podinfo", "backends": [
                {"service": "podinfo-primary", "weight": 0},
                {"service": "podinfo-canary", "weight": 100}]}
        }),
    )
    .await;
    wait_for_backend(&sim, "podinfo-canary", "TrafficSplit over VirtualService").await;
    sim.shutdown().await;
}
