//! Carries out the state machine's actions, in order, and nothing else. Every action is
//! absolute and checked against the cache first, so re-running a decision (after a crash or a
//! conflict) writes nothing that is already so.

use std::collections::BTreeSet;

use fledge_api::Canary;
use fledge_api::names::{CANARY_ANNOTATION, FINALIZER, REQUEST_ANNOTATION};
use fledge_core::{Action, Routes};
use fledge_routers::{Router, TargetWorkload};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::Context;
use super::error::ReconcileError;
use super::notify::Notifier;
use super::observe::Observation;
use super::workload::configs::{self, ConfigKind};
use super::workload::{hpa, managed_by, primary};
use super::writes::{get_opt, patch_canary, patch_deployment, upsert};

/// Everything one reconcile's actions need.
pub struct Actor<'a> {
    pub ctx: &'a Context,
    pub canary: &'a Canary,
    pub obs: &'a Observation,
    /// `None` for a provider fledge doesn't route through (an invalid spec: the machine then
    /// decides no routing action, and reverting has nothing to undo).
    pub router: Option<Box<dyn Router>>,
    /// Checksum of the tracked configs, for the primary's pod-template annotation.
    pub tracked_checksum: String,
    pub notifier: Notifier<'a>,
}

impl Actor<'_> {
    pub async fn apply(&self, actions: &[Action]) -> Result<(), ReconcileError> {
        for action in actions {
            tracing::debug!(?action, "acting");
            self.one(action).await?;
        }
        Ok(())
    }

    async fn one(&self, action: &Action) -> Result<(), ReconcileError> {
        match action {
            Action::AddFinalizer => self.set_finalizer(true).await,
            Action::RemoveFinalizer => self.set_finalizer(false).await,
            Action::InitializePrimary => self.initialize_primary().await,
            Action::ReconcileRouting => {
                let target = self.target()?;
                let workload = self.workload(&target)?;
                let writes = self.router()?.reconcile(self.canary, &workload).await?;
                self.count_router_writes(&writes);
                Ok(())
            }
            Action::ScaleTargetToZero => self.scale_target(0).await,
            Action::ScaleTargetFromZero => {
                let replicas = self.scale_up_replicas().await?;
                self.scale_target(replicas).await
            }
            Action::SetRoutes(routes) => self.set_routes(*routes).await,
            Action::PromoteToPrimary => self.promote().await,
            Action::CallHooks {
                hook_type,
                phase,
                event,
            } => {
                self.notifier.call_hooks(*hook_type, *phase, event.as_ref());
                Ok(())
            }
            Action::Event(event) => {
                self.notifier.event(event).await;
                Ok(())
            }
            Action::Alert(alert) => {
                self.notifier.alert(alert);
                Ok(())
            }
            Action::RestoreTarget => {
                let replicas = self
                    .obs
                    .primary
                    .as_ref()
                    .and_then(|p| p.spec.as_ref())
                    .and_then(|s| s.replicas)
                    .filter(|r| *r > 0)
                    .unwrap_or(1);
                self.scale_target(replicas).await
            }
            Action::RevertRouting => {
                // No router (a provider fledge doesn't route through): fledge never routed
                // this Canary's traffic, so there is nothing to give back.
                let Some(router) = self.router.as_deref() else {
                    return Ok(());
                };
                let target = self.target()?;
                let workload = self.workload(&target)?;
                let writes = router.finalize(self.canary, &workload).await?;
                self.count_router_writes(&writes);
                Ok(())
            }
            Action::MarkTarget => self.mark_target().await,
            Action::ClearRequest => self.clear_request().await,
        }
    }

    fn router(&self) -> Result<&dyn Router, ReconcileError> {
        self.router.as_deref().ok_or_else(|| {
            ReconcileError::Retry(format!(
                "canary {}/{}: spec.provider: no router for this provider",
                self.ns(),
                self.canary.name_any()
            ))
        })
    }

    /// `kubectl describe deployment` says which Canary manages the target.
    async fn mark_target(&self) -> Result<(), ReconcileError> {
        let target = self.target()?;
        let patch = serde_json::json!({
            "metadata": {"annotations": {CANARY_ANNOTATION: self.canary.name_any()}}
        });
        patch_deployment(
            self.ctx,
            &self.ns(),
            &target.name_any(),
            &patch,
            "annotating",
        )
        .await
    }

    /// The status now records the request as handled; the annotation goes, so `kubectl get -o
    /// yaml` shows no pending request.
    async fn clear_request(&self) -> Result<(), ReconcileError> {
        let patch = serde_json::json!({"metadata": {"annotations": {REQUEST_ANNOTATION: null}}});
        patch_canary(
            self.ctx,
            self.canary,
            &patch,
            "removing the handled request annotation",
        )
        .await
    }

    fn ns(&self) -> String {
        self.canary.namespace().unwrap_or_default()
    }

    fn target(&self) -> Result<std::sync::Arc<Deployment>, ReconcileError> {
        self.obs
            .target
            .clone()
            .ok_or_else(|| ReconcileError::TargetMissing {
                canary: format!("{}/{}", self.ns(), self.canary.name_any()),
                target: self.canary.spec.target_ref.name.clone(),
            })
    }

    fn workload<'d>(&self, target: &'d Deployment) -> Result<TargetWorkload<'d>, ReconcileError> {
        let labels: Vec<&str> = self
            .ctx
            .config
            .selector_labels
            .iter()
            .map(String::as_str)
            .collect();
        Ok(TargetWorkload::from_deployment(target, &labels)?)
    }

    fn owner(&self) -> OwnerReference {
        self.canary
            .controller_owner_ref(&())
            .unwrap_or_else(|| OwnerReference {
                api_version: fledge_api::API_VERSION.into(),
                kind: "Canary".into(),
                name: self.canary.name_any(),
                uid: self.canary.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            })
    }

    fn count_router_writes(&self, writes: &[fledge_routers::Write]) {
        for w in writes {
            tracing::info!(write = %w, "routing");
            self.ctx.metrics.count_write("write", w.kind);
        }
    }

    async fn set_finalizer(&self, present: bool) -> Result<(), ReconcileError> {
        let mut finalizers: Vec<String> = self.canary.finalizers().to_vec();
        let has = finalizers.iter().any(|f| f == FINALIZER);
        if has == present {
            return Ok(());
        }
        if present {
            finalizers.push(FINALIZER.into());
        } else {
            finalizers.retain(|f| f != FINALIZER);
        }
        let patch = serde_json::json!({
            "metadata": {"finalizers": finalizers, "resourceVersion": self.canary.resource_version()}
        });
        patch_canary(
            self.ctx,
            self.canary,
            &patch,
            "updating the Canary's finalizers",
        )
        .await?;
        Ok(())
    }

    async fn scale_target(&self, replicas: i32) -> Result<(), ReconcileError> {
        let target = self.target()?;
        if target.spec.as_ref().and_then(|s| s.replicas) == Some(replicas) {
            return Ok(());
        }
        let patch = serde_json::json!({"spec": {"replicas": replicas}});
        let what = format!("scaling to {replicas}:");
        patch_deployment(self.ctx, &self.ns(), &target.name_any(), &patch, &what).await
    }

    /// Flagger's ScaleFromZero: the target's own count if set, else the primary's when no
    /// autoscaler decides, else the autoscaler's minimum (at least 1).
    async fn scale_up_replicas(&self) -> Result<i32, ReconcileError> {
        if let Some(r) = self
            .obs
            .target
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.replicas)
            .filter(|r| *r > 0)
        {
            return Ok(r);
        }
        match &self.canary.spec.autoscaler_ref {
            None => Ok(self
                .obs
                .primary
                .as_ref()
                .and_then(|p| p.spec.as_ref())
                .and_then(|s| s.replicas)
                .filter(|r| *r > 0)
                .unwrap_or(1)),
            Some(scaler) => {
                let hpas =
                    Api::<HorizontalPodAutoscaler>::namespaced(self.ctx.client.clone(), &self.ns());
                // A missing autoscaler is a spec problem reported by InitializePrimary; a
                // failed read is retried, never taken for "1 replica".
                Ok(get_opt(&hpas, &scaler.name)
                    .await?
                    .and_then(|h| h.spec.and_then(|s| s.min_replicas))
                    .unwrap_or(1)
                    .max(1))
            }
        }
    }

    async fn set_routes(&self, routes: Routes) -> Result<(), ReconcileError> {
        let writes = self.router()?.set_routes(self.canary, routes).await?;
        self.count_router_writes(&writes);
        let labels = super::telemetry::CanaryLabels {
            namespace: self.ns(),
            name: self.canary.name_any(),
        };
        self.ctx
            .metrics
            .canary_weight
            .get_or_create(&labels)
            .set(i64::from(routes.canary));
        Ok(())
    }

    /// Creates the primary (and its config copies and HPA) if missing. Until the first
    /// initialization finished, an existing primary is brought up to date with the target.
    async fn initialize_primary(&self) -> Result<(), ReconcileError> {
        let initialized = self
            .canary
            .status
            .as_ref()
            .and_then(|s| s.last_promoted_spec.as_ref())
            .is_some();
        if self.obs.primary.is_some() && initialized {
            return Ok(());
        }
        self.sync_primary().await
    }

    async fn promote(&self) -> Result<(), ReconcileError> {
        self.sync_primary().await
    }

    /// Copies configs, the pod spec and the autoscaler to the primary side.
    async fn sync_primary(&self) -> Result<(), ReconcileError> {
        let target = self.target()?;
        self.copy_configs(&self.obs.tracked).await?;
        let desired = primary::build_primary(
            &target,
            self.obs.primary.as_deref(),
            &self.owner(),
            &managed_by(&self.canary.name_any()),
            &self.obs.tracked,
            &self.tracked_checksum,
            self.canary.spec.autoscaler_ref.is_some(),
            &self.ctx.primary_options,
        )?;
        let api = Api::<Deployment>::namespaced(self.ctx.client.clone(), &self.ns());
        upsert(
            self.ctx,
            &api,
            desired,
            self.obs.primary.as_deref(),
            "Deployment",
        )
        .await?;
        if let Some(scaler) = &self.canary.spec.autoscaler_ref {
            let hpas =
                Api::<HorizontalPodAutoscaler>::namespaced(self.ctx.client.clone(), &self.ns());
            let source = get_opt(&hpas, &scaler.name).await?;
            let Some(source) = source else {
                return Err(ReconcileError::AutoscalerMissing {
                    canary: format!("{}/{}", self.ns(), self.canary.name_any()),
                    name: scaler.name.clone(),
                });
            };
            let existing = get_opt(&hpas, &configs::primary_name(&scaler.name)).await?;
            let desired = hpa::primary_hpa(
                &source,
                existing.as_ref(),
                &target.name_any(),
                &self.owner(),
                &managed_by(&self.canary.name_any()),
            );
            upsert(
                self.ctx,
                &hpas,
                desired,
                existing.as_ref(),
                "HorizontalPodAutoscaler",
            )
            .await?;
        }
        Ok(())
    }

    async fn copy_configs(
        &self,
        tracked: &BTreeSet<(ConfigKind, String)>,
    ) -> Result<(), ReconcileError> {
        let owner = self.owner();
        let labels = managed_by(&self.canary.name_any());
        let prefixes = &self.ctx.config.include_label_prefixes;
        for (kind, name) in tracked {
            match kind {
                ConfigKind::ConfigMap => {
                    self.copy_config::<ConfigMap>(name, "ConfigMap", |src, old| {
                        configs::primary_configmap(src, old, &owner, &labels, prefixes)
                    })
                    .await?
                }
                ConfigKind::Secret => {
                    self.copy_config::<Secret>(name, "Secret", |src, old| {
                        configs::primary_secret(src, old, &owner, &labels, prefixes)
                    })
                    .await?
                }
            }
        }
        Ok(())
    }

    /// Upserts `<name>-primary` from `<name>`; a source that is gone is skipped (an optional
    /// reference, or one removed since the last observation).
    async fn copy_config<K>(
        &self,
        name: &str,
        kind: &str,
        build: impl Fn(&K, Option<&K>) -> K,
    ) -> Result<(), ReconcileError>
    where
        K: Clone
            + Serialize
            + DeserializeOwned
            + std::fmt::Debug
            + Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        let api = Api::<K>::namespaced(self.ctx.client.clone(), &self.ns());
        let Some(source) = get_opt(&api, name).await? else {
            return Ok(());
        };
        let existing = get_opt(&api, &configs::primary_name(name)).await?;
        let copy = build(&source, existing.as_ref());
        upsert(self.ctx, &api, copy, existing.as_ref(), kind).await
    }
}
