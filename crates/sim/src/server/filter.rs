//! Label and field selectors of lists and watches, with the field selectors each kind supports
//! on the real server (others are 400 `field label not supported`). Matching is
//! `fledge-sim-patch`'s; this only decides what may be asked.

use fledge_sim_patch::selector::{FieldSelector, LabelSelector};
use serde_json::Value;

use super::Query;
use crate::store::{ApiError, ResourceDef};

/// Label and field selectors of a list or watch.
pub struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

const GENERIC_FIELDS: [&str; 2] = ["metadata.name", "metadata.namespace"];

fn field_supported(def: &ResourceDef, field: &str) -> bool {
    GENERIC_FIELDS.contains(&field)
        || match (def.group.as_str(), def.plural.as_str()) {
            ("", "events") | ("events.k8s.io", "events") => {
                field.starts_with("involvedObject.")
                    || field.starts_with("regarding.")
                    || matches!(
                        field,
                        "reason" | "type" | "source" | "reportingComponent" | "reportingController"
                    )
            }
            ("", "pods") => matches!(
                field,
                "spec.nodeName"
                    | "spec.restartPolicy"
                    | "spec.schedulerName"
                    | "spec.serviceAccountName"
                    | "status.phase"
                    | "status.podIP"
            ),
            ("", "secrets") => field == "type",
            ("", "namespaces") => field == "status.phase",
            ("apps", "replicasets") => field == "status.replicas",
            _ => false,
        }
}

impl Filter {
    pub fn from_query(def: &ResourceDef, q: &Query) -> Result<Filter, ApiError> {
        let labels = q
            .get("labelSelector")
            .map(LabelSelector::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = q
            .get("fieldSelector")
            .map(FieldSelector::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        if let Some(f) = &fields {
            for r in f.requirements() {
                if !field_supported(def, &r.field) {
                    return Err(ApiError::bad_request(format!(
                        "field label not supported: {}",
                        r.field
                    )));
                }
            }
        }
        Ok(Filter { labels, fields })
    }

    /// Whether a stored object (core shape for events) passes.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.as_ref().is_none_or(|l| l.matches_object(obj))
            && self.fields.as_ref().is_none_or(|f| f.matches(obj))
    }
}
