//! What every generated object carries (owner reference, the canary label, the Flux opt-out
//! annotations) and what a router needs to know about the target workload. Pure.

use std::collections::BTreeMap;

use fledge_api::Canary;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use crate::RouterError;

pub use fledge_api::names::{CANARY_LABEL, FLUX_ANNOTATIONS};

/// Flagger's default `-selector-labels`: the first of these found in the target's
/// `spec.selector.matchLabels` selects primary and canary pods.
pub const DEFAULT_SELECTOR_LABELS: [&str; 3] = ["app", "name", "app.kubernetes.io/name"];

/// What a router needs to know about the workload the Canary targets.
#[derive(Clone, Copy, Debug)]
pub struct TargetWorkload<'a> {
    /// Pod label that tells primary from canary pods, e.g. `app`.
    pub selector_key: &'a str,
    /// Its value on the target's pods, e.g. `podinfo`; primary pods carry `<value>-primary`.
    pub selector_value: &'a str,
    /// The target's pod template spec, for `service.portDiscovery`.
    pub pod_spec: Option<&'a PodSpec>,
}

impl<'a> TargetWorkload<'a> {
    /// Reads the selector label and pod spec off a target Deployment, trying `selector_labels`
    /// in order as Flagger does.
    pub fn from_deployment(
        deployment: &'a Deployment,
        selector_labels: &[&str],
    ) -> Result<Self, RouterError> {
        let match_labels = deployment
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref());
        let found = selector_labels.iter().find_map(|key| {
            match_labels
                .and_then(|labels| labels.get_key_value(*key))
                .map(|(k, v)| (k.as_str(), v.as_str()))
        });
        let Some((selector_key, selector_value)) = found else {
            return Err(RouterError::InvalidTarget {
                kind: "deployment",
                object: object_name(deployment),
                field: "spec.selector.matchLabels".into(),
                message: format!(
                    "has none of the labels {}; add one (fledge selects primary and canary pods \
                     by it) or change the controller's --selector-labels",
                    selector_labels.join(", ")
                ),
            });
        };
        Ok(Self {
            selector_key,
            selector_value,
            pod_spec: deployment
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref()),
        })
    }

    /// `<value>-primary`: what primary pods carry under `selector_key`.
    pub fn primary_selector_value(&self) -> String {
        format!("{}-primary", self.selector_value)
    }
}

/// `namespace/name` of any object, for messages.
pub(crate) fn object_name<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// The controller owner reference every generated object carries, so deleting the Canary
/// garbage-collects them.
pub(crate) fn owner_reference(canary: &Canary) -> Result<OwnerReference, RouterError> {
    canary
        .controller_owner_ref(&())
        .ok_or_else(|| RouterError::Object {
            kind: "canary",
            object: object_name(canary),
            message: "has no metadata.uid; pass the Canary as read from the API server".into(),
        })
}

/// True when `owners` holds a controller reference to this Canary (by UID: a Canary deleted
/// and re-created under the same name is a different owner).
pub(crate) fn controlled_by(owners: &[OwnerReference], canary: &Canary) -> bool {
    owners.iter().any(|o| {
        o.controller == Some(true)
            && o.kind == "Canary"
            && canary.uid().is_some_and(|uid| uid == o.uid)
    })
}

/// Some other object's controller reference, if any (`Kind/name`), for the "won't take over"
/// error.
pub(crate) fn foreign_controller(owners: &[OwnerReference], canary: &Canary) -> Option<String> {
    owners
        .iter()
        .find(|o| o.controller == Some(true) && canary.uid().is_none_or(|uid| uid != o.uid))
        .map(|o| format!("{} {}", o.kind, o.name))
}

/// Labels of a generated object: the user's `service.<role>.labels` plus ours. Ours win: the
/// controller's watch depends on them.
pub(crate) fn generated_labels(
    canary: &Canary,
    user: Option<&BTreeMap<String, String>>,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut labels = user.cloned().unwrap_or_default();
    for (k, v) in extra {
        labels.insert((*k).to_string(), (*v).to_string());
    }
    labels.insert(CANARY_LABEL.to_string(), canary.name_any());
    labels
}

/// Annotations of a generated object: the user's `service.<role>.annotations` plus the Flux
/// opt-outs.
pub(crate) fn generated_annotations(
    user: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut annotations = user.cloned().unwrap_or_default();
    for (k, v) in FLUX_ANNOTATIONS {
        annotations.insert(k.to_string(), v.to_string());
    }
    annotations
}

/// The Canary's namespace, where every generated object lives.
pub(crate) fn canary_namespace(canary: &Canary) -> Result<&str, RouterError> {
    canary
        .meta()
        .namespace
        .as_deref()
        .ok_or_else(|| RouterError::Object {
            kind: "canary",
            object: canary.name_any(),
            message: "has no metadata.namespace; pass the Canary as read from the API server"
                .into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn deployment(labels: &[(&str, &str)]) -> Deployment {
        Deployment {
            metadata: kube::api::ObjectMeta {
                name: Some("podinfo".into()),
                namespace: Some("test".into()),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                selector: LabelSelector {
                    match_labels: Some(
                        labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    ),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn selector_label_is_the_first_configured_one_present() {
        type Labels<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Labels, Option<(&str, &str)>)] = &[
            (&[("app", "podinfo")], Some(("app", "podinfo"))),
            (
                &[("name", "n"), ("app.kubernetes.io/name", "x")],
                Some(("name", "n")),
            ),
            (
                &[("app.kubernetes.io/name", "x"), ("tier", "web")],
                Some(("app.kubernetes.io/name", "x")),
            ),
            (&[("tier", "web")], None),
        ];
        for (labels, want) in cases {
            let d = deployment(labels);
            let got = TargetWorkload::from_deployment(&d, &DEFAULT_SELECTOR_LABELS);
            match want {
                Some((k, v)) => {
                    let t = got.unwrap();
                    assert_eq!((t.selector_key, t.selector_value), (*k, *v), "{labels:?}");
                    assert_eq!(t.primary_selector_value(), format!("{v}-primary"));
                }
                None => {
                    let err = got.unwrap_err().to_string();
                    assert!(
                        err.contains("deployment test/podinfo: spec.selector.matchLabels"),
                        "{err}"
                    );
                }
            }
        }
    }
}
