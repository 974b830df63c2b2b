//! CustomResourceDefinitions as objects: the checks on a CRD, the status the apiextensions
//! server reports, and serving (or no longer serving) the resources a CRD defines. Called by
//! the write paths under the store lock.

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::registry::defs_from_crd;
use super::{ApiError, Cause, GroupResource, Inner, ObjKey, StoreEvent, meta};

impl Inner {
    /// A CRD is gone: stop serving its resources and delete its custom resources.
    pub(super) fn drop_crd(&mut self, tx: &broadcast::Sender<StoreEvent>, crd_name: &str) {
        let Some((plural, group)) = crd_name.split_once('.') else {
            return;
        };
        let gr = GroupResource::new(group, plural);
        let keys: Vec<ObjKey> = self
            .objects
            .get(&gr)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            self.remove(tx, &gr, &key);
        }
        self.registry.set_custom(crd_name, Vec::new());
    }

    /// CRD status the real apiextensions server reports once names are accepted.
    pub(super) fn crd_status(crd: &Value) -> Value {
        let now = meta::now_rfc3339();
        let mut names = crd["spec"]["names"].clone();
        let kind = names["kind"].as_str().unwrap_or_default().to_string();
        if names.get("singular").is_none() {
            names["singular"] = json!(kind.to_ascii_lowercase());
        }
        if names.get("listKind").is_none() {
            names["listKind"] = json!(format!("{kind}List"));
        }
        let stored: Vec<Value> = crd["spec"]["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter(|v| v["storage"] == true)
                    .map(|v| v["name"].clone())
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        })
    }

    pub(super) fn check_crd(crd: &Value) -> Result<(), ApiError> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let plural = spec["names"]["plural"].as_str().unwrap_or_default();
        let name = meta::name(crd);
        let mut causes = Vec::new();
        if group.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.group",
                "Required value",
            ));
        }
        if plural.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.names.plural",
                "Required value",
            ));
        }
        if spec["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
        {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.names.kind",
                "Required value",
            ));
        }
        if causes.is_empty() && name != format!("{plural}.{group}") {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        let versions = spec["versions"].as_array().map(Vec::len).unwrap_or(0);
        if versions == 0 {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            ));
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "CustomResourceDefinition.apiextensions.k8s.io",
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                name,
                causes,
            ))
        }
    }

    pub(super) fn register_crd(&mut self, crd: &Value) {
        self.registry
            .set_custom(meta::name(crd), defs_from_crd(crd));
    }
}
