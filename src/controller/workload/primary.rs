//! The `<target>-primary` Deployment: built at initialization and rebuilt at every promotion
//! from the target's spec. Pure; the controller writes the result.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use sha2::{Digest, Sha256};

use super::WorkloadError;
use super::configs::{ConfigKind, filter_labels, primary_name, rewrite_config_refs};

// The checksum annotation of the primary's pod template: a config-only promotion restarts the
// primary's pods through it (Flagger writes a random id instead, which restarts them on every
// promotion and is not idempotent).
pub use fledge_api::names::CONFIG_CHECKSUM_ANNOTATION;

/// Settings that come from the controller's flags.
#[derive(Clone, Debug)]
pub struct PrimaryOptions {
    /// `--selector-labels`: the first of these found in the target's selector is rewritten.
    pub selector_labels: Vec<String>,
    /// `--include-label-prefix`: which target labels and annotations the primary carries.
    pub include_label_prefixes: Vec<String>,
}

/// The selector label key and value that tell primary pods from canary pods.
pub fn selector_label(
    target: &Deployment,
    selector_labels: &[String],
) -> Result<(String, String), WorkloadError> {
    let match_labels = target
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref());
    for key in selector_labels {
        if let Some(value) = match_labels.and_then(|m| m.get(key)) {
            return Ok((key.clone(), value.clone()));
        }
    }
    Err(WorkloadError::NoSelectorLabel {
        deployment: object_key(&target.metadata),
        wanted: selector_labels.join(", "),
    })
}

pub fn object_key(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

/// Hash of a pod template: what "a new revision" means for the target. Stable across runs and
/// builds because k8s-openapi serializes struct fields in a fixed order and maps sorted.
pub fn pod_template_hash(template: &PodTemplateSpec) -> String {
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// What the primary should be, given the target. `existing` is the current primary (if any):
/// its replica count is kept when an autoscaler owns scaling, and its resourceVersion is kept
/// for an optimistic-concurrency update.
#[allow(clippy::too_many_arguments)]
pub fn build_primary(
    target: &Deployment,
    existing: Option<&Deployment>,
    owner: &OwnerReference,
    managed_by: &BTreeMap<String, String>,
    tracked: &BTreeSet<(ConfigKind, String)>,
    tracked_checksum: &str,
    has_autoscaler: bool,
    options: &PrimaryOptions,
) -> Result<Deployment, WorkloadError> {
    let (label_key, label_value) = selector_label(target, &options.selector_labels)?;
    let primary_value = primary_name(&label_value);
    let target_name = target.metadata.name.as_deref().unwrap_or_default();
    let spec = target.spec.as_ref().ok_or_else(|| WorkloadError::NoSpec {
        deployment: object_key(&target.metadata),
    })?;

    let mut template = spec.template.clone();
    let mut pod_meta = template.metadata.take().unwrap_or_default();
    let mut pod_labels = pod_meta.labels.take().unwrap_or_default();
    pod_labels.insert(label_key.clone(), primary_value.clone());
    pod_meta.labels = Some(pod_labels);
    let mut pod_annotations: BTreeMap<String, String> = pod_meta
        .annotations
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !k.contains("toolkit.fluxcd.io"))
        .collect();
    if !tracked_checksum.is_empty() {
        pod_annotations.insert(
            CONFIG_CHECKSUM_ANNOTATION.to_string(),
            tracked_checksum.to_string(),
        );
    }
    pod_meta.annotations = (!pod_annotations.is_empty()).then_some(pod_annotations);
    template.metadata = Some(pod_meta);
    if let Some(pod_spec) = template.spec.as_mut() {
        rewrite_config_refs(pod_spec, tracked);
        rewrite_affinity(pod_spec, &label_key, &label_value, &primary_value);
    }

    let replicas = if has_autoscaler {
        existing
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.replicas)
            .or(spec.replicas)
            .or(Some(1))
    } else {
        Some(spec.replicas.filter(|r| *r > 0).unwrap_or(1))
    };

    let mut labels = filter_labels(
        target.metadata.labels.as_ref(),
        &options.include_label_prefixes,
    );
    labels.extend(managed_by.clone());
    let mut annotations = filter_labels(
        target.metadata.annotations.as_ref(),
        &options.include_label_prefixes,
    );
    // The target's own last-applied state belongs to the target, not to its clone.
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    annotations.remove("deployment.kubernetes.io/revision");
    annotations.remove(super::CANARY_ANNOTATION);
    annotations.extend(super::flux_opt_out_annotations());

    Ok(Deployment {
        metadata: ObjectMeta {
            name: Some(primary_name(target_name)),
            namespace: target.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![owner.clone()]),
            resource_version: existing.and_then(|d| d.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas,
            selector: LabelSelector {
                match_labels: Some([(label_key, primary_value)].into()),
                match_expressions: None,
            },
            template,
            strategy: spec.strategy.clone(),
            min_ready_seconds: spec.min_ready_seconds,
            revision_history_limit: spec.revision_history_limit,
            progress_deadline_seconds: spec.progress_deadline_seconds,
            paused: None,
        }),
        status: None,
    })
}

/// Anti-affinity and spread constraints that select the target's own pods must select the
/// primary's pods in the clone, or the primary would spread against the wrong set.
fn rewrite_affinity(spec: &mut PodSpec, key: &str, from: &str, to: &str) {
    let fix = |selector: &mut Option<LabelSelector>| {
        if let Some(labels) = selector.as_mut().and_then(|s| s.match_labels.as_mut())
            && labels.get(key).map(String::as_str) == Some(from)
        {
            labels.insert(key.to_string(), to.to_string());
        }
    };
    if let Some(affinity) = spec.affinity.as_mut() {
        for anti in affinity.pod_anti_affinity.iter_mut() {
            for term in anti
                .required_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten()
            {
                fix(&mut term.label_selector);
            }
            for weighted in anti
                .preferred_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten()
            {
                fix(&mut weighted.pod_affinity_term.label_selector);
            }
        }
    }
    for constraint in spec.topology_spread_constraints.iter_mut().flatten() {
        fix(&mut constraint.label_selector);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target() -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": "test",
                "labels": {"app": "podinfo", "team": "x", "kustomize.toolkit.fluxcd.io/name": "apps"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "note": "n"}},
            "spec": {
                "replicas": 3, "minReadySeconds": 5, "revisionHistoryLimit": 4,
                "progressDeadlineSeconds": 60,
                "strategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": {"app": "podinfo"}},
                "template": {
                    "metadata": {"labels": {"app": "podinfo"},
                                 "annotations": {"prometheus.io/scrape": "true",
                                                 "kustomize.toolkit.fluxcd.io/checksum": "x"}},
                    "spec": {
                        "containers": [{"name": "podinfo", "image": "podinfo:1",
                            "envFrom": [{"configMapRef": {"name": "cfg"}}]}],
                        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                            {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "podinfo"}}}]}},
                        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": {"app": "podinfo"}}}]
                    }
                }
            }
        }))
        .expect("deployment")
    }

    fn owner() -> OwnerReference {
        OwnerReference {
            api_version: "fledge.dev/v1beta1".into(),
            kind: "Canary".into(),
            name: "podinfo".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn options() -> PrimaryOptions {
        PrimaryOptions {
            selector_labels: vec!["app".into(), "name".into()],
            include_label_prefixes: vec!["te".into()],
        }
    }

    #[test]
    fn clones_target_with_primary_selector() {
        let tracked: BTreeSet<_> = [(ConfigKind::ConfigMap, "cfg".to_string())].into();
        let primary = build_primary(
            &target(),
            None,
            &owner(),
            &BTreeMap::new(),
            &tracked,
            "abc",
            false,
            &options(),
        )
        .expect("builds");
        let v = serde_json::to_value(&primary).expect("json");
        assert_eq!(v["metadata"]["name"], "podinfo-primary");
        assert_eq!(v["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(
            v["spec"]["selector"]["matchLabels"]["app"],
            "podinfo-primary"
        );
        assert_eq!(
            v["spec"]["template"]["metadata"]["labels"]["app"],
            "podinfo-primary"
        );
        assert_eq!(v["spec"]["replicas"], 3);
        assert_eq!(v["spec"]["minReadySeconds"], 5);
        assert_eq!(v["spec"]["revisionHistoryLimit"], 4);
        let pod_annotations = &v["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(pod_annotations["prometheus.io/scrape"], "true");
        assert!(
            pod_annotations
                .get("kustomize.toolkit.fluxcd.io/checksum")
                .is_none()
        );
        assert_eq!(pod_annotations[CONFIG_CHECKSUM_ANNOTATION], "abc");
        let pod = &v["spec"]["template"]["spec"];
        assert_eq!(
            pod["containers"][0]["envFrom"][0]["configMapRef"]["name"],
            "cfg-primary"
        );
        assert_eq!(
            pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
                ["labelSelector"]["matchLabels"]["app"],
            "podinfo-primary"
        );
        assert_eq!(
            pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["app"],
            "podinfo-primary"
        );
        let labels = &v["metadata"]["labels"];
        assert_eq!(labels["team"], "x");
        assert!(
            labels.get("app").is_none(),
            "only included prefixes are copied"
        );
        assert!(labels.get("kustomize.toolkit.fluxcd.io/name").is_none());
        let annotations = &v["metadata"]["annotations"];
        assert!(
            annotations
                .get("kubectl.kubernetes.io/last-applied-configuration")
                .is_none()
        );
        assert_eq!(
            annotations["kustomize.toolkit.fluxcd.io/reconcile"],
            "disabled"
        );
    }

    #[test]
    fn autoscaler_keeps_primary_replicas_and_zero_becomes_one() {
        let mut existing = target();
        existing.spec.as_mut().expect("spec").replicas = Some(7);
        existing.metadata.resource_version = Some("42".into());
        let built = |has_autoscaler, existing: Option<&Deployment>, replicas| {
            let mut t = target();
            t.spec.as_mut().expect("spec").replicas = replicas;
            build_primary(
                &t,
                existing,
                &owner(),
                &BTreeMap::new(),
                &BTreeSet::new(),
                "",
                has_autoscaler,
                &options(),
            )
            .expect("builds")
        };
        let p = built(true, Some(&existing), Some(3));
        assert_eq!(p.spec.as_ref().and_then(|s| s.replicas), Some(7));
        assert_eq!(p.metadata.resource_version.as_deref(), Some("42"));
        let p = built(false, Some(&existing), Some(0));
        assert_eq!(p.spec.as_ref().and_then(|s| s.replicas), Some(1));
    }

    #[test]
    fn missing_selector_label_names_the_fix() {
        let mut t = target();
        t.spec.as_mut().expect("spec").selector.match_labels =
            Some([("tier".to_string(), "web".to_string())].into());
        let err = selector_label(&t, &options().selector_labels).expect_err("no label");
        let text = err.to_string();
        assert!(text.contains("deployment test/podinfo"), "{text}");
        assert!(text.contains("spec.selector.matchLabels"), "{text}");
        assert!(text.contains("app, name"), "{text}");
    }

    #[test]
    fn template_hash_tracks_template_only() {
        let a = target();
        let mut b = target();
        b.spec.as_mut().expect("spec").replicas = Some(9);
        let hash = |d: &Deployment| pod_template_hash(&d.spec.as_ref().expect("spec").template);
        assert_eq!(hash(&a), hash(&b));
        let mut c = target();
        c.spec
            .as_mut()
            .expect("spec")
            .template
            .spec
            .as_mut()
            .expect("pod")
            .containers[0]
            .image = Some("podinfo:2".into());
        assert_ne!(hash(&a), hash(&c));
    }
}
