//! `<hpa>-primary`: the target's HorizontalPodAutoscaler cloned to scale the primary.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::configs::primary_name;

/// A clone of `hpa` that targets `<target>-primary`. The spec (min/max, metrics, behavior) is
/// copied as is; `existing` keeps its resourceVersion for the update.
pub fn primary_hpa(
    hpa: &HorizontalPodAutoscaler,
    existing: Option<&HorizontalPodAutoscaler>,
    target_name: &str,
    owner: &OwnerReference,
    managed_by: &BTreeMap<String, String>,
) -> HorizontalPodAutoscaler {
    let mut spec = hpa.spec.clone();
    if let Some(spec) = spec.as_mut() {
        spec.scale_target_ref.name = primary_name(target_name);
    }
    HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: hpa.metadata.name.as_deref().map(primary_name),
            namespace: hpa.metadata.namespace.clone(),
            labels: Some(managed_by.clone()),
            annotations: Some(super::flux_opt_out_annotations()),
            owner_references: Some(vec![owner.clone()]),
            resource_version: existing.and_then(|e| e.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_the_primary() {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {"minReplicas": 2, "maxReplicas": 4,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}}
        }))
        .expect("hpa");
        let owner = OwnerReference {
            api_version: "fledge.dev/v1beta1".into(),
            kind: "Canary".into(),
            name: "podinfo".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        let p = primary_hpa(&hpa, None, "podinfo", &owner, &BTreeMap::new());
        let v = serde_json::to_value(&p).expect("json");
        assert_eq!(v["metadata"]["name"], "podinfo-primary");
        assert_eq!(v["spec"]["scaleTargetRef"]["name"], "podinfo-primary");
        assert_eq!(v["spec"]["minReplicas"], 2);
        assert_eq!(v["spec"]["maxReplicas"], 4);
    }
}
