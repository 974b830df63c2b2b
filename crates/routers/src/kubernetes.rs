//! The `kubernetes` provider: Services only. The apex Service always selects the primary pods,
//! so there is no gradual traffic shifting: the release is blue/green, the canary is reached
//! through `<svc>-canary` (load tests, smoke tests) and users move to the new version when the
//! primary Deployment is promoted. Every other provider reconciles these Services through
//! [`KubernetesRouter::reconcile_services`] before its own objects.

use std::sync::Arc;

use async_trait::async_trait;
use fledge_api::Canary;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use tracing::info;

use crate::meta::{TargetWorkload, canary_namespace, object_name};
use crate::read::{self, ObjectCache};
use crate::service::{build_services, merge_for_takeover, revert_apex};
use crate::{Router, RouterError, Routes, Write, WriteAction};

const KIND: &str = "Service";

pub struct KubernetesRouter {
    client: kube::Client,
    cache: Option<Arc<dyn ObjectCache>>,
}

impl KubernetesRouter {
    /// Reads from `cache` when given (see [`crate::read`]), else from the API server.
    pub fn new(client: kube::Client, cache: Option<Arc<dyn ObjectCache>>) -> Self {
        Self { client, cache }
    }

    fn services(&self, canary: &Canary) -> Result<Api<Service>, RouterError> {
        Ok(Api::namespaced(
            self.client.clone(),
            canary_namespace(canary)?,
        ))
    }

    /// Creates or updates `<svc>-canary`, `<svc>-primary` and `<svc>` (in that order) and
    /// takes over a user's existing Service of the same name (see
    /// [`crate::service::merge_for_takeover`]). Writes only what differs.
    pub async fn reconcile_services(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let api = self.services(canary)?;
        let set = build_services(canary, target)?;
        let mut writes = Vec::new();
        for desired in set.in_write_order() {
            if let Some(write) = apply(&api, self.cache.as_deref(), desired, canary).await? {
                info!(canary = %object_name(canary), "{write}");
                writes.push(write);
            }
        }
        Ok(writes)
    }

    /// Points the apex back at the target's own pods (see [`crate::service::revert_apex`]).
    /// A missing apex is not an error: there is nothing to hand back.
    pub async fn revert_apex_service(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let api = self.services(canary)?;
        let name = canary.spec.service_name();
        let ns = canary_namespace(canary)?;
        let Some(existing) = read::service(self.cache.as_deref(), &api, ns, name).await? else {
            return Ok(Vec::new());
        };
        let reverted = revert_apex(&existing, canary, target);
        if reverted == existing {
            return Ok(Vec::new());
        }
        api.replace(name, &PostParams::default(), &reverted)
            .await
            .map_err(|e| RouterError::kube("update", KIND, ns, name, e))?;
        let write = Write {
            action: WriteAction::Updated,
            kind: KIND,
            name: name.to_string(),
        };
        info!(canary = %object_name(canary), "{write} (reverted to the target's pods)");
        Ok(vec![write])
    }
}

/// Creates `desired`, or merges it into the live object and replaces that if anything
/// changed. The replace carries the live `resourceVersion`, so a concurrent writer makes it
/// fail with a conflict instead of being overwritten.
async fn apply(
    api: &Api<Service>,
    cache: Option<&dyn ObjectCache>,
    desired: &Service,
    canary: &Canary,
) -> Result<Option<Write>, RouterError> {
    let name = desired.name_any();
    let ns = desired.meta().namespace.as_deref().unwrap_or_default();
    let existing = read::service(cache, api, ns, &name).await?;
    let Some(existing) = existing else {
        api.create(&PostParams::default(), desired)
            .await
            .map_err(|e| RouterError::kube("create", KIND, ns, &name, e))?;
        return Ok(Some(Write {
            action: WriteAction::Created,
            kind: KIND,
            name,
        }));
    };
    let merged = merge_for_takeover(&existing, desired, canary)?;
    if merged == existing {
        return Ok(None);
    }
    api.replace(&name, &PostParams::default(), &merged)
        .await
        .map_err(|e| RouterError::kube("update", KIND, ns, &name, e))?;
    Ok(Some(Write {
        action: WriteAction::Updated,
        kind: KIND,
        name,
    }))
}

#[async_trait]
impl Router for KubernetesRouter {
    fn provider(&self) -> fledge_api::Provider {
        fledge_api::Provider::Kubernetes
    }

    async fn reconcile(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        self.reconcile_services(canary, target).await
    }

    /// Nothing to write: Services can't split traffic, and the apex keeps selecting the
    /// primary pods, whose Deployment is what promotion changes.
    async fn set_routes(
        &self,
        _canary: &Canary,
        _routes: Routes,
    ) -> Result<Vec<Write>, RouterError> {
        Ok(Vec::new())
    }

    /// Nothing to read: Services hold no traffic split, so there is none to drift either.
    async fn get_routes(&self, _canary: &Canary) -> Result<Option<Routes>, RouterError> {
        Ok(None)
    }

    async fn finalize(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        self.revert_apex_service(canary, target).await
    }
}
