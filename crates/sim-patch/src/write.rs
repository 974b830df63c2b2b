//! What a write may change, and whether it bumps `metadata.generation`.
//!
//! The rule (the API server's, for every kind with a status subresource):
//! - a write to the main resource (create, update, patch, apply) never
//!   changes `status`: the stored status is kept, and a create starts with
//!   none;
//! - a write to `/status` changes only `status`: everything else, metadata
//!   included, is kept from the stored object, except `metadata.managedFields`,
//!   which records who wrote the status.
//!
//! `generation` goes up when anything outside `metadata` and `status`
//! changes ([`spec_changed`]); kinds without a spec (ConfigMap, Secret) are
//! the server's call. Pure; never I/O.

use serde_json::{Map, Value};

/// Which part of the object a request writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The resource itself (`…/deployments/podinfo`).
    Main,
    /// The status subresource (`…/deployments/podinfo/status`).
    Status,
}

/// Restricts `new` (the object a write would store) to what `target` may
/// change, given the stored object `old` (`None` on create).
pub fn restrict(target: Target, old: Option<&Value>, new: Value) -> Value {
    match target {
        Target::Main => {
            let mut out = new;
            if let Value::Object(top) = &mut out {
                match old.and_then(|o| o.get("status")) {
                    Some(status) => top.insert("status".into(), status.clone()),
                    None => top.remove("status"),
                };
            }
            out
        }
        Target::Status => {
            let Some(old) = old else { return new };
            let mut out = old.clone();
            let Value::Object(top) = &mut out else {
                return new;
            };
            match new.get("status") {
                Some(status) => top.insert("status".into(), status.clone()),
                None => top.remove("status"),
            };
            if let Some(managed) = new.pointer("/metadata/managedFields") {
                let meta = top
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(meta) = meta {
                    meta.insert("managedFields".into(), managed.clone());
                }
            }
            out
        }
    }
}

/// Whether anything but `metadata` and `status` differs (the trigger for a
/// `metadata.generation` bump).
pub fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    strip(old) != strip(new)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored() -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "p", "labels": {"a": "1"}, "generation": 2},
               "spec": {"replicas": 2}, "status": {"observedGeneration": 2, "replicas": 2}})
    }

    #[test]
    fn main_resource_writes_keep_the_stored_status() {
        let mut new = stored();
        new["spec"]["replicas"] = json!(3);
        new["status"] = json!({"replicas": 99});
        let out = restrict(Target::Main, Some(&stored()), new);
        assert_eq!(out["spec"]["replicas"], 3);
        assert_eq!(out["status"], stored()["status"]);

        let mut without = stored();
        without.as_object_mut().unwrap().remove("status");
        assert_eq!(
            restrict(Target::Main, Some(&stored()), without)["status"],
            stored()["status"]
        );

        let created = restrict(Target::Main, None, stored());
        assert!(
            created.get("status").is_none(),
            "a create starts without status: {created}"
        );
        assert_eq!(created["spec"], stored()["spec"]);
    }

    #[test]
    fn status_writes_change_only_status_and_managed_fields() {
        let mut new = stored();
        new["spec"]["replicas"] = json!(7);
        new["metadata"]["labels"] = json!({"b": "2"});
        new["metadata"]["managedFields"] =
            json!([{"manager": "sim", "operation": "Update", "subresource": "status"}]);
        new["status"] = json!({"observedGeneration": 3, "replicas": 3});
        let out = restrict(Target::Status, Some(&stored()), new.clone());
        assert_eq!(out["spec"], stored()["spec"]);
        assert_eq!(out["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(
            out["metadata"]["managedFields"],
            new["metadata"]["managedFields"]
        );
        assert_eq!(
            out["status"],
            json!({"observedGeneration": 3, "replicas": 3})
        );

        let mut cleared = stored();
        cleared.as_object_mut().unwrap().remove("status");
        assert!(
            restrict(Target::Status, Some(&stored()), cleared)
                .get("status")
                .is_none()
        );
    }

    #[test]
    fn generation_follows_everything_but_metadata_and_status() {
        let cases = [
            (json!({"spec": {"replicas": 3}}), true),
            (json!({"metadata": {"labels": {"b": "2"}}}), false),
            (json!({"metadata": {"annotations": {"x": "y"}}}), false),
            (json!({"status": {"replicas": 5}}), false),
            (json!({"data": {"k": "v"}}), true),
            (json!({}), false),
        ];
        for (patch, want) in cases {
            let new = crate::merge::apply(&stored(), &patch).unwrap();
            assert_eq!(spec_changed(&stored(), &new), want, "{patch}");
        }
    }
}
