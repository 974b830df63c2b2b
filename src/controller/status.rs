//! Writes `Canary.status` through the status subresource, only when it changed. A JSON merge
//! patch can't remove a field by leaving it out, so fields that disappeared are sent as null.

use fledge_api::{Canary, CanaryStatus};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Map, Value};

use super::context::Context;
use super::error::ReconcileError;

pub async fn write(
    ctx: &Context,
    canary: &Canary,
    status: &CanaryStatus,
) -> Result<bool, ReconcileError> {
    let old = canary.status.clone().unwrap_or_default();
    if &old == status {
        return Ok(false);
    }
    let patch = serde_json::json!({ "status": merge_patch(&old, status) });
    ctx.metrics.count_write("patch", "Canary/status");
    let updated =
        Api::<Canary>::namespaced(ctx.client.clone(), &canary.namespace().unwrap_or_default())
            .patch_status(
                &canary.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|source| ReconcileError::Kube {
                what: "writing the Canary's status".into(),
                source,
            })?;
    ctx.wrote(canary, updated.resource_version());
    Ok(true)
}

/// The new status, plus `null` for every top-level field the old one had and the new lacks.
pub fn merge_patch(old: &CanaryStatus, new: &CanaryStatus) -> Value {
    let old = serde_json::to_value(old).unwrap_or(Value::Null);
    let mut new = match serde_json::to_value(new) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Value::Object(old) = old {
        for key in old.keys() {
            new.entry(key.clone()).or_insert(Value::Null);
        }
    }
    Value::Object(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_fields_become_null() {
        let old = CanaryStatus {
            message: Some("hi".into()),
            canary_weight: 10,
            ..CanaryStatus::default()
        };
        let new = CanaryStatus {
            canary_weight: 20,
            ..CanaryStatus::default()
        };
        let patch = merge_patch(&old, &new);
        assert_eq!(patch["message"], Value::Null);
        assert_eq!(patch["canaryWeight"], 20);
        let mut merged = serde_json::to_value(&old).expect("json");
        json_patch::merge(&mut merged, &patch);
        let back: CanaryStatus = serde_json::from_value(merged).expect("status");
        assert_eq!(back, new);
    }
}
