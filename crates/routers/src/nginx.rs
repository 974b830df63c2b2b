//! The NGINX Ingress provider (`nginx`): the Services, plus a clone of the user's Ingress
//! (`spec.ingressRef`) named `<ingress>-canary`, every backend pointing at `<svc>-canary`, that
//! ingress-nginx reads as a canary through its annotations (`<prefix>/canary: "true"` and
//! `<prefix>/canary-weight`, or for A/B testing `canary-by-header`, `-header-value`,
//! `-header-pattern` and `canary-by-cookie`; `<prefix>` is `--ingress-annotations-prefix`).
//! The user's Ingress is never written. The clone is built by [`build_canary_ingress`]; this
//! module's `Router` impl only reads and writes.
//!
//! A canary Ingress of that name that fledge didn't create is taken over in place (its spec
//! and annotations are kept in [`ORIGINAL_ANNOTATION`] first) and given back as it was by
//! `revertOnDeletion`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fledge_api::Canary;
use fledge_api::nginx::{HeaderRule, ab_rules};
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressSpec};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::kubernetes::KubernetesRouter;
use crate::meta::{
    canary_namespace, controlled_by, foreign_controller, generated_annotations, generated_labels,
    object_name, owner_reference,
};
use crate::{Router, RouterError, Routes, TargetWorkload, Write, WriteAction};

const KIND: &str = "Ingress";
/// ingress-nginx's annotation prefix unless `--ingress-annotations-prefix` says otherwise.
pub const DEFAULT_ANNOTATIONS_PREFIX: &str = "nginx.ingress.kubernetes.io";
/// On a taken-over canary Ingress: its spec, labels and annotations before fledge wrote it.
pub const ORIGINAL_ANNOTATION: &str = "fledge.dev/original-ingress";

/// The canary annotations fledge owns, after the prefix.
const CANARY_KEYS: [&str; 7] = [
    "canary",
    "canary-weight",
    "canary-weight-total",
    "canary-by-header",
    "canary-by-header-value",
    "canary-by-header-pattern",
    "canary-by-cookie",
];

pub struct NginxRouter {
    client: kube::Client,
    prefix: String,
    services: KubernetesRouter,
}

/// What a taken-over Ingress looked like, to give it back.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Original {
    spec: Option<IngressSpec>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

impl NginxRouter {
    pub fn new(
        client: kube::Client,
        cache: Option<std::sync::Arc<dyn crate::ObjectCache>>,
        prefix: &str,
    ) -> Self {
        Self {
            services: KubernetesRouter::new(client.clone(), cache),
            client,
            prefix: prefix.to_string(),
        }
    }

    fn api(&self, canary: &Canary) -> Result<Api<Ingress>, RouterError> {
        Ok(Api::namespaced(
            self.client.clone(),
            canary_namespace(canary)?,
        ))
    }

    async fn get(&self, canary: &Canary, name: &str) -> Result<Option<Ingress>, RouterError> {
        let ns = canary_namespace(canary)?;
        self.api(canary)?
            .get_opt(name)
            .await
            .map_err(|e| RouterError::kube("get", KIND, ns, name, e))
    }

    async fn main_ingress(&self, canary: &Canary) -> Result<Ingress, RouterError> {
        let name = ingress_ref(canary)?;
        self.get(canary, name)
            .await?
            .ok_or_else(|| RouterError::InvalidSpec {
                canary: object_name(canary),
                field: "spec.ingressRef.name".into(),
                message: format!(
                    "Ingress {}/{name} not found; create it (routing to Service {}) or name an existing one",
                    canary_namespace(canary).unwrap_or_default(),
                    canary.spec.service_name()
                ),
            })
    }

    /// Writes the canary Ingress with split `routes` if it differs from `existing`.
    async fn write(
        &self,
        canary: &Canary,
        main: &Ingress,
        existing: Option<Ingress>,
        routes: Routes,
    ) -> Result<Option<Write>, RouterError> {
        let desired = build_canary_ingress(canary, main, routes, &self.prefix)?;
        let api = self.api(canary)?;
        let ns = canary_namespace(canary)?;
        let name = desired.name_any();
        let Some(existing) = existing else {
            api.create(&PostParams::default(), &desired)
                .await
                .map_err(|e| RouterError::kube("create", KIND, ns, &name, e))?;
            return Ok(Some(Write {
                action: WriteAction::Created,
                kind: KIND,
                name,
            }));
        };
        let Some(updated) = merge(&existing, desired, canary)? else {
            return Ok(None);
        };
        api.replace(&name, &PostParams::default(), &updated)
            .await
            .map_err(|e| RouterError::kube("update", KIND, ns, &name, e))?;
        Ok(Some(Write {
            action: WriteAction::Updated,
            kind: KIND,
            name,
        }))
    }
}

fn ingress_ref(canary: &Canary) -> Result<&str, RouterError> {
    canary
        .spec
        .ingress_ref
        .as_ref()
        .map(|r| r.name.as_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RouterError::InvalidSpec {
            canary: object_name(canary),
            field: "spec.ingressRef".into(),
            message: "required for the nginx provider: name the Ingress that routes to the Service"
                .into(),
        })
}

/// `<ingress>-canary`.
pub fn canary_ingress_name(canary: &Canary) -> Result<String, RouterError> {
    Ok(format!("{}-canary", ingress_ref(canary)?))
}

/// Every backend of an Ingress with where it sits, for messages.
fn backends_mut(spec: &mut IngressSpec) -> Vec<(String, &mut IngressBackend)> {
    let mut out = Vec::new();
    if let Some(b) = spec.default_backend.as_mut() {
        out.push(("defaultBackend".to_string(), b));
    }
    for (i, rule) in spec.rules.iter_mut().flatten().enumerate() {
        let host = rule.host.clone().unwrap_or_else(|| "*".into());
        for (j, p) in rule.http.iter_mut().flat_map(|h| &mut h.paths).enumerate() {
            let path = p.path.clone().unwrap_or_else(|| "/".into());
            out.push((
                format!("rules[{i}].http.paths[{j}] (host {host}, path {path})"),
                &mut p.backend,
            ));
        }
    }
    out
}

/// The canary Ingress for `canary`: `main`'s rules with every backend on `<svc>-canary`, its
/// class and nginx annotations, fledge's labels and owner reference, and the canary
/// annotations for `routes`. Refuses a `main` with a backend that isn't the apex Service: its
/// traffic would be sent to the canary too. Pure.
pub fn build_canary_ingress(
    canary: &Canary,
    main: &Ingress,
    routes: Routes,
    prefix: &str,
) -> Result<Ingress, RouterError> {
    let apex = canary.spec.service_name();
    let canary_svc = canary.spec.canary_service_name();
    let mut spec = main.spec.clone().unwrap_or_default();
    let mut found = false;
    for (place, backend) in backends_mut(&mut spec) {
        match backend.service.as_mut() {
            Some(s) if s.name == apex => {
                s.name = canary_svc.clone();
                found = true;
            }
            other => {
                let points_at = other
                    .map(|s| format!("Service {}", s.name))
                    .unwrap_or_else(|| "a resource backend".into());
                return Err(RouterError::InvalidTarget {
                    kind: KIND,
                    object: object_name(main),
                    field: place,
                    message: format!(
                        "points at {points_at}, not {apex}: fledge clones every rule of spec.ingressRef for the canary, so point it at {apex} or move it to another Ingress"
                    ),
                });
            }
        }
    }
    if !found {
        return Err(RouterError::InvalidTarget {
            kind: KIND,
            object: object_name(main),
            field: "spec.rules".into(),
            message: format!(
                "routes nothing to Service {apex}; add a rule whose backend is {apex}"
            ),
        });
    }
    let mut annotations = generated_annotations(None);
    // The Ingress' own nginx settings (rewrites, timeouts, ...) apply to the canary too.
    for (k, v) in main.annotations() {
        let canary_key = k
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| CANARY_KEYS.contains(&rest));
        if k.starts_with(prefix) && !canary_key {
            annotations.insert(k.clone(), v.clone());
        }
    }
    annotations.extend(canary_annotations(canary, routes, prefix)?);
    Ok(Ingress {
        metadata: kube::api::ObjectMeta {
            name: Some(canary_ingress_name(canary)?),
            namespace: Some(canary_namespace(canary)?.to_string()),
            labels: Some(generated_labels(canary, None, &[])),
            annotations: Some(annotations),
            owner_references: Some(vec![owner_reference(canary)?]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    })
}

/// The canary annotations for `routes`: a weight, or (A/B testing, canary side on) the header
/// and cookie rules with weight 0, so that only matching requests reach the canary.
fn canary_annotations(
    canary: &Canary,
    routes: Routes,
    prefix: &str,
) -> Result<BTreeMap<String, String>, RouterError> {
    let key = |k: &str| format!("{prefix}/{k}");
    let mut out = BTreeMap::from([(key("canary"), "true".to_string())]);
    let matches = canary
        .spec
        .analysis()
        .map(|a| a.r#match.as_slice())
        .unwrap_or_default();
    if matches.is_empty() || routes.canary == 0 {
        out.insert(
            key("canary-weight"),
            routes.canary.clamp(0, 100).to_string(),
        );
        return Ok(out);
    }
    let rules = ab_rules(matches).map_err(|(field, message)| RouterError::InvalidSpec {
        canary: object_name(canary),
        field: format!("spec.analysis.{field}"),
        message,
    })?;
    out.insert(key("canary-weight"), "0".into());
    if let Some((name, rule)) = rules.header {
        out.insert(key("canary-by-header"), name);
        match rule {
            HeaderRule::Value(v) => out.insert(key("canary-by-header-value"), v),
            HeaderRule::Pattern(p) => out.insert(key("canary-by-header-pattern"), p),
        };
    }
    if let Some(cookie) = rules.cookie {
        out.insert(key("canary-by-cookie"), cookie);
    }
    Ok(out)
}

/// The split a canary Ingress says: all matching requests when it has A/B rules, else its
/// weight. `None` when it is not a canary Ingress or its weight can't be read.
pub fn routes_from_ingress(ingress: &Ingress, prefix: &str) -> Option<Routes> {
    let get = |k: &str| ingress.annotations().get(&format!("{prefix}/{k}"));
    if get("canary").map(String::as_str) != Some("true") {
        return None;
    }
    if get("canary-by-header").is_some() || get("canary-by-cookie").is_some() {
        return Some(Routes::ALL_CANARY);
    }
    let weight: i32 = get("canary-weight")?.trim().parse().ok()?;
    (0..=100)
        .contains(&weight)
        .then(|| Routes::canary(weight, false))
}

/// `existing` updated to `desired`, or `None` when nothing fledge manages differs. A canary
/// Ingress fledge didn't create is taken over: its original is recorded first, and it keeps
/// its owner references and other labels and annotations. One that another object controls
/// is refused.
fn merge(
    existing: &Ingress,
    mut desired: Ingress,
    canary: &Canary,
) -> Result<Option<Ingress>, RouterError> {
    if let Some(other) = foreign_controller(existing.owner_references(), canary) {
        return Err(RouterError::Object {
            kind: KIND,
            object: object_name(existing),
            message: format!(
                "is controlled by {other}, so fledge won't take it over; delete it, or point spec.ingressRef of canary {} at another Ingress",
                object_name(canary)
            ),
        });
    }
    if !controlled_by(existing.owner_references(), canary) {
        // Taken over: theirs stays theirs (no owner reference, so deleting the Canary doesn't
        // delete it), and what it was is kept to give it back.
        desired.metadata.owner_references = existing.metadata.owner_references.clone();
        let original = match existing.annotations().get(ORIGINAL_ANNOTATION) {
            Some(recorded) => recorded.clone(),
            None => serde_json::to_string(&Original {
                spec: existing.spec.clone(),
                labels: existing.labels().clone(),
                annotations: existing.annotations().clone(),
            })
            .unwrap_or_default(),
        };
        let annotations = desired.metadata.annotations.get_or_insert_default();
        annotations.insert(ORIGINAL_ANNOTATION.into(), original);
        let labels = desired.metadata.labels.get_or_insert_default();
        for (k, v) in existing.labels() {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let unchanged = existing.spec == desired.spec
        && existing.metadata.labels.clone().unwrap_or_default()
            == desired.metadata.labels.clone().unwrap_or_default()
        && existing.metadata.annotations.clone().unwrap_or_default()
            == desired.metadata.annotations.clone().unwrap_or_default();
    if unchanged {
        return Ok(None);
    }
    let mut updated = existing.clone();
    updated.spec = desired.spec;
    updated.metadata.labels = desired.metadata.labels;
    updated.metadata.annotations = desired.metadata.annotations;
    Ok(Some(updated))
}

/// A taken-over Ingress as it was before fledge, or `None` if fledge created it.
fn given_back(existing: &Ingress) -> Option<Ingress> {
    let original: Original =
        serde_json::from_str(existing.annotations().get(ORIGINAL_ANNOTATION)?).ok()?;
    let mut back = existing.clone();
    back.spec = original.spec;
    back.metadata.labels = Some(original.labels);
    back.metadata.annotations = Some(original.annotations);
    Some(back)
}

#[async_trait]
impl Router for NginxRouter {
    fn provider(&self) -> fledge_api::Provider {
        fledge_api::Provider::Nginx
    }

    /// Services first, then the canary Ingress, keeping its current split (a new one starts
    /// with no canary traffic).
    async fn reconcile(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let main = self.main_ingress(canary).await?;
        // Build first: an Ingress or a match that can't be expressed fails before any write.
        build_canary_ingress(canary, &main, Routes::ALL_PRIMARY, &self.prefix)?;
        let mut writes = self.services.reconcile_services(canary, target).await?;
        let existing = self.get(canary, &canary_ingress_name(canary)?).await?;
        let current = existing
            .as_ref()
            .filter(|e| controlled_by(e.owner_references(), canary) || given_back(e).is_some())
            .and_then(|e| routes_from_ingress(e, &self.prefix))
            .unwrap_or(Routes::ALL_PRIMARY);
        if let Some(write) = self.write(canary, &main, existing, current).await? {
            info!(canary = %object_name(canary), "{write}");
            writes.push(write);
        }
        Ok(writes)
    }

    async fn set_routes(&self, canary: &Canary, routes: Routes) -> Result<Vec<Write>, RouterError> {
        let main = self.main_ingress(canary).await?;
        let existing = self.get(canary, &canary_ingress_name(canary)?).await?;
        if existing.is_none() {
            return Err(RouterError::Object {
                kind: KIND,
                object: format!(
                    "{}/{}",
                    canary_namespace(canary)?,
                    canary_ingress_name(canary)?
                ),
                message: "not found; reconcile the canary first (it creates the canary Ingress)"
                    .into(),
            });
        }
        Ok(self
            .write(canary, &main, existing, routes)
            .await?
            .into_iter()
            .collect())
    }

    async fn get_routes(&self, canary: &Canary) -> Result<Option<Routes>, RouterError> {
        let Some(existing) = self.get(canary, &canary_ingress_name(canary)?).await? else {
            return Ok(None);
        };
        routes_from_ingress(&existing, &self.prefix)
            .map(Some)
            .ok_or_else(|| RouterError::Object {
                kind: KIND,
                object: object_name(&existing),
                message: format!(
                    "has no readable {}/canary-weight; it was edited outside fledge: the next reconcile rewrites it",
                    self.prefix
                ),
            })
    }

    /// Reverts the apex Service, then deletes the canary Ingress fledge created, or gives a
    /// taken-over one back as it was.
    async fn finalize(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let mut writes = self.services.revert_apex_service(canary, target).await?;
        let name = canary_ingress_name(canary)?;
        let Some(existing) = self.get(canary, &name).await? else {
            return Ok(writes);
        };
        let ns = canary_namespace(canary)?;
        let api = self.api(canary)?;
        if let Some(back) = given_back(&existing) {
            api.replace(&name, &PostParams::default(), &back)
                .await
                .map_err(|e| RouterError::kube("update", KIND, ns, &name, e))?;
            writes.push(Write {
                action: WriteAction::Updated,
                kind: KIND,
                name,
            });
        } else if controlled_by(existing.owner_references(), canary) {
            api.delete(&name, &DeleteParams::default())
                .await
                .map_err(|e| RouterError::kube("delete", KIND, ns, &name, e))?;
            writes.push(Write {
                action: WriteAction::Deleted,
                kind: KIND,
                name,
            });
        }
        Ok(writes)
    }
}

#[cfg(test)]
#[path = "nginx_tests.rs"]
mod tests;
