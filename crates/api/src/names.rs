//! Every label, annotation and finalizer that two parts of fledge (or fledge and its users) must
//! spell the same way. Nothing else in the workspace spells these strings.

use std::collections::BTreeMap;

/// Label on every object fledge generates for a Canary, value = the Canary's name, so the
/// controller can watch them all with one label selector.
pub const CANARY_LABEL: &str = "fledge.dev/canary";

/// Annotation on a target Deployment: `enabled` opts it in without a Canary; otherwise the
/// controller writes the managing Canary's name there (so `kubectl describe` says who manages
/// it). Same key as [`CANARY_LABEL`], on a different kind of metadata.
pub const CANARY_ANNOTATION: &str = "fledge.dev/canary";

/// The value of [`CANARY_ANNOTATION`] that opts a Deployment in.
pub const OPT_IN_VALUE: &str = "enabled";

/// Label on a Canary generated for an opted-in Deployment, naming that Deployment.
pub const GENERATED_LABEL: &str = "fledge.dev/generated-for";

/// Finalizer added to a Canary with `revertOnDeletion: true`.
pub const FINALIZER: &str = "fledge.dev/finalizer";

/// Annotation on a Canary asking for a manual action (`promote`, `abort`, `retry`, ...).
pub const REQUEST_ANNOTATION: &str = "fledge.dev/request";

/// Annotation on the primary's pod template: the checksum of the tracked configs, so a config
/// change alone rolls the primary's pods.
pub const CONFIG_CHECKSUM_ANNOTATION: &str = "fledge.dev/config-checksum";

/// Annotation on a ConfigMap or Secret: `disabled` keeps it out of config tracking.
pub const TRACKING_ANNOTATION: &str = "fledge.dev/config-tracking";

/// Annotations that make Flux leave generated (or taken-over) objects alone; without them a
/// Flux Kustomization or HelmRelease reverts the selector fledge just changed (Flagger #634).
pub const FLUX_ANNOTATIONS: [(&str, &str); 2] = [
    ("kustomize.toolkit.fluxcd.io/reconcile", "disabled"),
    ("helm.toolkit.fluxcd.io/driftDetection", "disabled"),
];

/// `{fledge.dev/canary: <name>}`: the labels of an object generated for `canary_name`.
pub fn managed_by(canary_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(CANARY_LABEL.to_string(), canary_name.to_string())])
}

/// [`FLUX_ANNOTATIONS`] as an annotation map.
pub fn flux_opt_out_annotations() -> BTreeMap<String, String> {
    FLUX_ANNOTATIONS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
