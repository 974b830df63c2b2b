//! The Kubernetes write helpers every action uses: merge patches of the Canary and of
//! Deployments, create-or-replace of derived objects (written only when what we manage
//! differs), and reads that treat "not found" as `None`. Each write is counted in
//! `fledge_api_writes_total`.

use fledge_api::Canary;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::Context;
use super::error::ReconcileError;

/// A JSON merge patch of the Canary itself (not its status), remembering the resourceVersion it
/// produced so the next reconcile waits for the cache to catch up (see `Context::is_stale`).
pub async fn patch_canary(
    ctx: &Context,
    canary: &Canary,
    patch: &serde_json::Value,
    what: &str,
) -> Result<(), ReconcileError> {
    ctx.metrics.count_write("patch", "Canary");
    let updated =
        Api::<Canary>::namespaced(ctx.client.clone(), &canary.namespace().unwrap_or_default())
            .patch(
                &canary.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map_err(|source| ReconcileError::Kube {
                what: what.to_string(),
                source,
            })?;
    ctx.wrote(canary, updated.resource_version());
    Ok(())
}

/// A JSON merge patch of a Deployment in `namespace`.
pub async fn patch_deployment(
    ctx: &Context,
    namespace: &str,
    name: &str,
    patch: &serde_json::Value,
    what: &str,
) -> Result<(), ReconcileError> {
    ctx.metrics.count_write("patch", "Deployment");
    Api::<Deployment>::namespaced(ctx.client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|source| ReconcileError::Kube {
            what: format!("{what} deployment {name}"),
            source,
        })?;
    Ok(())
}

/// `GET`, with "not found" as `None` and every other failure as an error naming the object.
pub async fn get_opt<K>(api: &Api<K>, name: &str) -> Result<Option<K>, ReconcileError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    api.get_opt(name)
        .await
        .map_err(|source| ReconcileError::Kube {
            what: format!("reading {} {name}", K::kind(&()).to_lowercase()),
            source,
        })
}

/// Creates `desired`, or replaces `existing` when what we manage differs. Comparison ignores
/// server-filled fields by comparing the serialized desired object with the same fields of
/// the existing one.
pub async fn upsert<K>(
    ctx: &Context,
    api: &Api<K>,
    desired: K,
    existing: Option<&K>,
    kind: &str,
) -> Result<(), ReconcileError>
where
    K: Clone + Serialize + DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    match existing {
        None => {
            ctx.metrics.count_write("create", kind);
            match api.create(&PostParams::default(), &desired).await {
                Ok(_) => Ok(()),
                // Created meanwhile (e.g. our cache lagged): converge on the next reconcile.
                Err(kube::Error::Api(s)) if s.code == 409 => Err(ReconcileError::Retry(format!(
                    "{kind} {name} already exists"
                ))),
                Err(source) => Err(ReconcileError::Kube {
                    what: format!("creating {kind} {name}"),
                    source,
                }),
            }
        }
        Some(current) => {
            if covers(current, &desired) {
                return Ok(());
            }
            ctx.metrics.count_write("replace", kind);
            api.replace(&name, &PostParams::default(), &desired)
                .await
                .map(|_| ())
                .map_err(|source| ReconcileError::Kube {
                    what: format!("updating {kind} {name}"),
                    source,
                })
        }
    }
}

/// True when every field `desired` sets has the same value in `current` (server defaults and
/// status in `current` don't count as differences).
fn covers<K: Serialize>(current: &K, desired: &K) -> bool {
    let (Ok(current), Ok(mut desired)) =
        (serde_json::to_value(current), serde_json::to_value(desired))
    else {
        return false;
    };
    if let Some(meta) = desired.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("resourceVersion");
    }
    subset(&desired, &current)
}

fn subset(want: &serde_json::Value, have: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| match h.get(k) {
            Some(hv) => subset(v, hv),
            None => {
                v.is_null()
                    || v.as_object().is_some_and(|o| o.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
            }
        }),
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| subset(a, b))
        }
        (w, h) => w == h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_ignores_server_fields() {
        let want = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 2, "list": [{"a": 1}]}});
        let have = json!({"metadata": {"name": "a", "uid": "u", "labels": {"x": "1"}}, "spec": {"replicas": 2, "list": [{"a": 1, "b": 2}]}, "status": {}});
        assert!(subset(&want, &have));
        let changed = json!({"metadata": {"name": "a", "labels": {"x": "2"}}});
        assert!(!subset(&changed, &have));
        let longer = json!({"spec": {"list": [{"a": 1}, {"a": 2}]}});
        assert!(!subset(&longer, &have));
    }
}
