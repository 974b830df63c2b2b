//! Pure builders for the objects fledge derives from a target Deployment: the primary, the
//! `-primary` config copies, the primary HPA, and readiness. No client calls here.

pub mod configs;
pub mod hpa;
pub mod primary;
pub mod readiness;

use std::collections::BTreeMap;

/// The annotation on a target Deployment: `enabled` opts it in without a Canary; otherwise the
/// controller writes the managing Canary's name there.
pub const CANARY_ANNOTATION: &str = "fledge.dev/canary";
/// The label on every object fledge generates, naming its Canary, so the controller can watch
/// exactly those objects.
pub const MANAGED_BY_LABEL: &str = "fledge.dev/canary";

/// Annotations that make Flux leave generated objects alone (they are derived, not desired).
pub fn flux_opt_out_annotations() -> BTreeMap<String, String> {
    [
        ("kustomize.toolkit.fluxcd.io/reconcile", "disabled"),
        ("helm.toolkit.fluxcd.io/driftDetection", "disabled"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `{fledge.dev/canary: <name>}` for generated objects.
pub fn managed_by(canary_name: &str) -> BTreeMap<String, String> {
    [(MANAGED_BY_LABEL.to_string(), canary_name.to_string())].into()
}

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(
        "deployment {deployment}: spec.selector.matchLabels: none of the selector labels ({wanted}) is set; add one of them to the selector or change --selector-labels"
    )]
    NoSelectorLabel { deployment: String, wanted: String },
    #[error("deployment {deployment}: spec: missing")]
    NoSpec { deployment: String },
}
