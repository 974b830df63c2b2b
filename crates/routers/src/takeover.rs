//! Writing a routing object that may already exist as someone else's (a user's
//! VirtualService, say): create it, or update it in place only when what fledge manages
//! differs; take a user's object over without deleting it (its spec, labels and annotations
//! are recorded in [`ORIGINAL_ANNOTATION`] first, no owner reference is added), and at
//! finalize give it back as it was, or delete it if fledge created it. An object another
//! controller owns is refused. For unstructured objects (`DynamicObject`) whose whole `spec`
//! fledge writes.

use std::collections::BTreeMap;

use fledge_api::Canary;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::meta::{controlled_by, foreign_controller, object_name};
use crate::{RouterError, Write, WriteAction};

/// On a taken-over object: its spec, labels and annotations before fledge wrote it.
pub const ORIGINAL_ANNOTATION: &str = "fledge.dev/original-spec";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Original {
    spec: Value,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn spec(obj: &DynamicObject) -> Value {
    obj.data.get("spec").cloned().unwrap_or(Value::Null)
}

/// `existing` updated to `desired`, or `None` when nothing fledge manages differs.
pub fn merge(
    kind: &'static str,
    existing: &DynamicObject,
    desired: &DynamicObject,
    canary: &Canary,
) -> Result<Option<DynamicObject>, RouterError> {
    if let Some(other) = foreign_controller(existing.owner_references(), canary) {
        return Err(RouterError::Object {
            kind,
            object: object_name(existing),
            message: format!(
                "is controlled by {other}, so fledge won't take it over; delete it, or set spec.service.name on canary {} to an unused name",
                object_name(canary)
            ),
        });
    }
    let mut labels = desired.metadata.labels.clone().unwrap_or_default();
    let mut annotations = desired.metadata.annotations.clone().unwrap_or_default();
    let mut owners = desired.metadata.owner_references.clone();
    if !controlled_by(existing.owner_references(), canary) {
        let original = match existing.annotations().get(ORIGINAL_ANNOTATION) {
            Some(recorded) => recorded.clone(),
            None => serde_json::to_string(&Original {
                spec: spec(existing),
                labels: existing.labels().clone(),
                annotations: existing.annotations().clone(),
            })
            .unwrap_or_default(),
        };
        for (k, v) in existing.labels() {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        annotations.insert(ORIGINAL_ANNOTATION.into(), original);
        owners = existing.metadata.owner_references.clone();
    }
    let unchanged = spec(existing) == spec(desired)
        && existing.metadata.labels.clone().unwrap_or_default() == labels
        && existing.metadata.annotations.clone().unwrap_or_default() == annotations;
    if unchanged {
        return Ok(None);
    }
    let mut updated = existing.clone();
    updated.types = desired.types.clone();
    match updated.data.as_object_mut() {
        Some(map) => {
            map.insert("spec".into(), spec(desired));
        }
        None => updated.data = serde_json::json!({ "spec": spec(desired) }),
    }
    updated.metadata.labels = Some(labels);
    updated.metadata.annotations = Some(annotations);
    updated.metadata.owner_references = owners;
    Ok(Some(updated))
}

/// A taken-over object as it was before fledge, or `None` if fledge created it.
pub fn given_back(existing: &DynamicObject) -> Option<DynamicObject> {
    let original: Original =
        serde_json::from_str(existing.annotations().get(ORIGINAL_ANNOTATION)?).ok()?;
    let mut back = existing.clone();
    if let Some(map) = back.data.as_object_mut() {
        map.insert("spec".into(), original.spec);
    }
    back.metadata.labels = Some(original.labels);
    back.metadata.annotations = Some(original.annotations);
    Some(back)
}

/// Creates `desired`, or updates `existing` to it when something fledge manages differs.
pub async fn write(
    kind: &'static str,
    api: &Api<DynamicObject>,
    existing: Option<DynamicObject>,
    desired: DynamicObject,
    canary: &Canary,
) -> Result<Option<Write>, RouterError> {
    let ns = desired.namespace().unwrap_or_default();
    let name = desired.name_any();
    let Some(existing) = existing else {
        api.create(&PostParams::default(), &desired)
            .await
            .map_err(|e| RouterError::kube("create", kind, &ns, &name, e))?;
        return Ok(Some(Write {
            action: WriteAction::Created,
            kind,
            name,
        }));
    };
    let Some(updated) = merge(kind, &existing, &desired, canary)? else {
        return Ok(None);
    };
    api.replace(&name, &PostParams::default(), &updated)
        .await
        .map_err(|e| RouterError::kube("update", kind, &ns, &name, e))?;
    Ok(Some(Write {
        action: WriteAction::Updated,
        kind,
        name,
    }))
}

/// At finalize: gives a taken-over object back as it was, deletes one fledge created for this
/// Canary, and leaves anything else alone.
pub async fn release(
    kind: &'static str,
    api: &Api<DynamicObject>,
    existing: Option<DynamicObject>,
    canary: &Canary,
) -> Result<Option<Write>, RouterError> {
    let Some(existing) = existing else {
        return Ok(None);
    };
    let ns = existing.namespace().unwrap_or_default();
    let name = existing.name_any();
    if let Some(back) = given_back(&existing) {
        api.replace(&name, &PostParams::default(), &back)
            .await
            .map_err(|e| RouterError::kube("update", kind, &ns, &name, e))?;
        return Ok(Some(Write {
            action: WriteAction::Updated,
            kind,
            name,
        }));
    }
    if !controlled_by(existing.owner_references(), canary) {
        return Ok(None);
    }
    api.delete(&name, &DeleteParams::default())
        .await
        .map_err(|e| RouterError::kube("delete", kind, &ns, &name, e))?;
    Ok(Some(Write {
        action: WriteAction::Deleted,
        kind,
        name,
    }))
}
