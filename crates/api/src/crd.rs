//! CustomResourceDefinitions generated from the Rust types, and their canonical YAML (what
//! `fledge crds` prints and `deploy/crds/fledge-crds.yaml` holds). Generation only, no I/O.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{AlertProvider, Canary, MetricTemplate};

/// Why the CRDs could not be rendered as YAML.
#[derive(Debug, thiserror::Error)]
#[error("rendering the CRDs as YAML: {0}")]
pub struct CrdError(#[from] serde_saphyr::ser_error::Error);

/// The three CRDs, in a fixed order: Canary, MetricTemplate, AlertProvider.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![Canary::crd(), MetricTemplate::crd(), AlertProvider::crd()]
}

/// All CRDs as one multi-document YAML stream, byte-for-byte stable.
pub fn crds_yaml() -> Result<String, CrdError> {
    Ok(serde_saphyr::to_string_multiple(&crds())?)
}
