//! Fills `fledge_core::Observed` for one Canary from the caches. The only API reads are the
//! data of a tracked ConfigMap or Secret whose resourceVersion changed since we last hashed it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fledge_api::Canary;
use fledge_api::names::{CANARY_ANNOTATION, FINALIZER, OPT_IN_VALUE, REQUEST_ANNOTATION};
use fledge_core::Routes;
use fledge_routers::Router;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::context::{CachedChecksum, Context};
use super::error::ReconcileError;
use super::workload::configs::{
    self, ConfigKind, ConfigRef, configmap_checksum, secret_checksum, secret_is_trackable,
    tracking_disabled,
};
use super::workload::primary::pod_template_hash;
use super::workload::readiness::deployment_readiness;

/// What the reconciler saw, plus the objects the actions will need.
pub struct Observation {
    pub observed: fledge_core::Observed,
    pub target: Option<Arc<Deployment>>,
    pub primary: Option<Arc<Deployment>>,
    /// The configs the target uses that are tracked (copied to `-primary`).
    pub tracked: BTreeSet<(ConfigKind, String)>,
}

pub async fn observe(
    ctx: &Context,
    canary: &Canary,
    now: Timestamp,
) -> Result<Observation, ReconcileError> {
    let ns = canary.namespace().unwrap_or_default();
    let spec = &canary.spec;
    let problems = fledge_api::validate::validate_canary(
        canary,
        &fledge_api::validate::ValidateOptions {
            min_interval: ctx.config.min_interval,
        },
    );
    let invalid: Vec<String> = problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.to_string())
        .collect();

    let target = ctx
        .caches
        .deployments
        .get(&ObjectRef::new(&spec.target_ref.name).within(&ns));
    let primary = ctx
        .caches
        .deployments
        .get(&ObjectRef::new(&spec.primary_target_name()).within(&ns));

    let deadline = i64::from(spec.progress_deadline_seconds.unwrap_or(600));
    let analysis = spec.analysis();
    let readiness = |d: &Option<Arc<Deployment>>, threshold: i32| match d {
        Some(d) => deployment_readiness(d, threshold, deadline, now),
        None => fledge_core::Readiness::Waiting("deployment not found".into()),
    };
    let primary_ready = readiness(
        &primary,
        analysis.map(|a| a.primary_ready_threshold()).unwrap_or(100),
    );
    let canary_ready = readiness(
        &target,
        analysis.map(|a| a.canary_ready_threshold()).unwrap_or(100),
    );

    let mut tracked = BTreeSet::new();
    let revision = match &target {
        Some(t) => {
            let template = t.spec.as_ref().map(|s| &s.template);
            let spec_hash = template.map(pod_template_hash).unwrap_or_default();
            let refs = template
                .and_then(|t| t.spec.as_ref())
                .map(configs::referenced_configs)
                .unwrap_or_default();
            let mut checksums = BTreeMap::new();
            for config in refs {
                match checksum(ctx, &ns, &config).await? {
                    Some(c) if !c.ignored => {
                        checksums.insert(config.status_key(), c.checksum);
                        tracked.insert((config.kind, config.name.clone()));
                    }
                    _ => {}
                }
            }
            let images = template
                .and_then(|t| t.spec.as_ref())
                .map(|s| {
                    s.containers
                        .iter()
                        .filter_map(|c| c.image.clone())
                        .collect()
                })
                .unwrap_or_default();
            Some(fledge_core::Revision {
                spec: spec_hash,
                configs: checksums,
                images,
            })
        }
        None => None,
    };

    let mut problems_text = invalid;
    if target.is_none() && problems_text.is_empty() {
        // Not a spec error: the Deployment may simply not exist yet (applied in the same
        // kustomization). The machine waits for it.
        tracing::debug!(target = %spec.target_ref.name, "target deployment not found");
    }
    problems_text.dedup();

    Ok(Observation {
        observed: fledge_core::Observed {
            invalid_spec: (!problems_text.is_empty()).then(|| problems_text.join("; ")),
            invalid_target: None,
            deleting: canary.metadata.deletion_timestamp.is_some(),
            has_finalizer: canary.finalizers().iter().any(|f| f == FINALIZER),
            target_marked: target.as_deref().is_some_and(|t| is_marked(t, canary)),
            target_replicas: target
                .as_deref()
                .and_then(|t| t.spec.as_ref())
                .and_then(|s| s.replicas),
            target: revision,
            primary: primary_ready,
            canary: canary_ready,
            routes: None,
            request: canary.annotations().get(REQUEST_ANNOTATION).cloned(),
        },
        target,
        primary,
        tracked,
    })
}

/// The target's `fledge.dev/canary` annotation names this Canary, or opts the target in
/// (`enabled` is the user's switch, never overwritten).
fn is_marked(target: &Deployment, canary: &Canary) -> bool {
    target
        .annotations()
        .get(CANARY_ANNOTATION)
        .is_some_and(|v| v == OPT_IN_VALUE || *v == canary.name_any())
}

/// The split the routing object carries now, read from the controller's caches, so that a
/// hand edit (or a GitOps tool re-applying an old object) is seen and repaired. `None` when
/// there is nothing to read yet, or the object was edited beyond reading (logged; the next
/// routing write replaces it).
pub async fn live_routes(router: &dyn Router, canary: &Canary) -> Option<Routes> {
    match router.get_routes(canary).await {
        Ok(routes) => routes,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the live traffic split");
            None
        }
    }
}

/// The checksum of a referenced config: from the memo when its resourceVersion is unchanged,
/// otherwise read once. `None` when it doesn't exist and the reference is optional.
async fn checksum(
    ctx: &Context,
    ns: &str,
    config: &ConfigRef,
) -> Result<Option<CachedChecksum>, ReconcileError> {
    let rv = match config.kind {
        ConfigKind::ConfigMap => ctx
            .caches
            .configmaps
            .get(&ObjectRef::new(&config.name).within(ns))
            .and_then(|m| m.resource_version()),
        ConfigKind::Secret => ctx
            .caches
            .secrets
            .get(&ObjectRef::new(&config.name).within(ns))
            .and_then(|m| m.resource_version()),
    };
    let Some(rv) = rv else {
        return if config.optional {
            Ok(None)
        } else {
            Err(ReconcileError::MissingConfig {
                kind: config.kind.key_prefix(),
                namespace: ns.to_string(),
                name: config.name.clone(),
            })
        };
    };
    let key = (
        config.kind.key_prefix().to_string(),
        ns.to_string(),
        config.name.clone(),
    );
    if let Some(hit) = ctx.checksums.get(&key, &rv) {
        return Ok(Some(hit));
    }
    let fresh = match config.kind {
        ConfigKind::ConfigMap => {
            let cm = Api::<ConfigMap>::namespaced(ctx.client.clone(), ns)
                .get(&config.name)
                .await
                .map_err(|source| ReconcileError::Kube {
                    what: format!("reading configmap {ns}/{}", config.name),
                    source,
                })?;
            CachedChecksum {
                resource_version: cm.resource_version().unwrap_or(rv),
                checksum: configmap_checksum(&cm),
                ignored: tracking_disabled(&cm.metadata),
            }
        }
        ConfigKind::Secret => {
            let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns)
                .get(&config.name)
                .await
                .map_err(|source| ReconcileError::Kube {
                    what: format!("reading secret {ns}/{}", config.name),
                    source,
                })?;
            CachedChecksum {
                resource_version: secret.resource_version().unwrap_or(rv),
                checksum: secret_checksum(&secret),
                ignored: tracking_disabled(&secret.metadata) || !secret_is_trackable(&secret),
            }
        }
    };
    ctx.checksums
        .insert(key, fresh.clone(), |(kind, ns, name)| match kind.as_str() {
            "configmap" => ctx
                .caches
                .configmaps
                .get(&ObjectRef::new(name).within(ns))
                .is_some(),
            _ => ctx
                .caches
                .secrets
                .get(&ObjectRef::new(name).within(ns))
                .is_some(),
        });
    Ok(Some(fresh))
}
