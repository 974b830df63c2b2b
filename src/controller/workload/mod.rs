//! Pure builders for the objects fledge derives from a target Deployment: the primary, the
//! `-primary` config copies, the primary HPA, and readiness. No client calls here.

pub mod configs;
pub mod hpa;
pub mod primary;
pub mod readiness;

pub use fledge_api::names::{
    CANARY_ANNOTATION, CANARY_LABEL as MANAGED_BY_LABEL, flux_opt_out_annotations, managed_by,
};

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(
        "deployment {deployment}: spec.selector.matchLabels: none of the selector labels ({wanted}) is set; add one of them to the selector or change --selector-labels"
    )]
    NoSelectorLabel { deployment: String, wanted: String },
    #[error("deployment {deployment}: spec: missing")]
    NoSpec { deployment: String },
}
