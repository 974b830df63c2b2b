//! The demo's objects (`testdata/demo/`, compiled in so `fledge demo` runs from any directory)
//! and applying them with server-side apply through the kube client. Only the demo uses this:
//! it applies whole documents it owns and never edits a user's objects.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client};
use serde_json::Value;

pub const NAMESPACE: &str = "demo";
pub const CANARY: &str = "podinfo";
pub const FIELD_MANAGER: &str = "fledge-demo";

pub const SCENARIO: &str = include_str!("../../testdata/demo/scenario.yaml");
pub const APP: &str = include_str!("../../testdata/demo/podinfo.yaml");
pub const METRIC_TEMPLATE: &str = include_str!("../../testdata/demo/metric-template.yaml");
pub const CANARY_YAML: &str = include_str!("../../testdata/demo/canary.yaml");
const HTTPROUTE_CRD: &str = include_str!("../../testdata/crds/gateway-api-httproutes.yaml");

/// Parses a multi-document YAML stream, skipping empty documents.
pub fn documents(source: &str, text: &str) -> anyhow::Result<Vec<Value>> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).with_context(|| format!("{source}: invalid YAML"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The MetricTemplate with `spec.provider.address` pointed at the demo's Prometheus (the file
/// holds an in-cluster address, as a real manifest would).
pub fn metric_template(prometheus_url: &str) -> anyhow::Result<Vec<Value>> {
    let mut docs = documents("testdata/demo/metric-template.yaml", METRIC_TEMPLATE)?;
    for doc in &mut docs {
        if doc["kind"] == "MetricTemplate" {
            doc["spec"]["provider"]["address"] = Value::String(prometheus_url.to_string());
        }
    }
    Ok(docs)
}

/// `spec.analysis.threshold` of the demo Canary (for the "failed checks n/threshold" display).
pub fn canary_threshold() -> i32 {
    documents("testdata/demo/canary.yaml", CANARY_YAML)
        .ok()
        .and_then(|docs| docs.first()?["spec"]["analysis"]["threshold"].as_i64())
        .and_then(|t| i32::try_from(t).ok())
        .unwrap_or(0)
}

/// Installs the fledge CRDs (generated from the API types, as `fledge crds` prints them) and
/// the Gateway API HTTPRoute CRD, then waits until the cluster serves both groups.
pub async fn install_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut crds = fledge_api::crd::crds();
    crds.push(
        serde_saphyr::from_str(HTTPROUTE_CRD)
            .context("testdata/crds/gateway-api-httproutes.yaml: invalid CRD")?,
    );
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .with_context(|| format!("installing CRD {name}"))?;
    }
    let start = Instant::now();
    for gvk in [
        GroupVersionKind::gvk("fledge.dev", "v1beta1", "Canary"),
        GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
    ] {
        while kube::discovery::pinned_kind(client, &gvk).await.is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!(
                    "the cluster does not serve {} {} after installing its CRD",
                    gvk.group,
                    gvk.kind
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Server-side applies each document (any kind the cluster serves).
pub async fn apply(client: &Client, docs: &[Value]) -> anyhow::Result<()> {
    for doc in docs {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        let what = format!("{kind} {name}");
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let (resource, caps) =
            kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
                .await
                .with_context(|| {
                    format!("{what}: the cluster does not serve {api_version} {kind}")
                })?;
        let api: Api<DynamicObject> = match caps.scope {
            kube::discovery::Scope::Namespaced => {
                let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
                Api::namespaced_with(client.clone(), ns, &resource)
            }
            kube::discovery::Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(doc),
        )
        .await
        .with_context(|| format!("applying {what}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_manifests_parse_and_hold_what_the_demo_needs() {
        let app = documents("podinfo.yaml", APP).unwrap();
        let kinds: Vec<&str> = app.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ConfigMap",
                "Deployment",
                "Service",
                "HTTPRoute"
            ]
        );
        let canary = documents("canary.yaml", CANARY_YAML).unwrap();
        assert_eq!(canary[0]["metadata"]["name"], CANARY);
        assert_eq!(canary[0]["metadata"]["namespace"], NAMESPACE);
        assert_eq!(canary_threshold(), 2);
        fledge_sim::Scenario::from_yaml("scenario.yaml", SCENARIO).unwrap();
    }

    #[test]
    fn the_metric_template_points_at_the_demo_prometheus() {
        let docs = metric_template("http://127.0.0.1:1234").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0]["spec"]["provider"]["address"],
            "http://127.0.0.1:1234"
        );
        assert!(
            docs[0]["spec"]["query"]
                .as_str()
                .unwrap()
                .contains("{{ target }}")
        );
    }
}
