//! The NGINX Ingress provider (`nginx`): the Services, plus a clone of the user's Ingress
//! (`spec.ingressRef`) named `<ingress>-canary`, every backend pointing at `<svc>-canary`, that
//! ingress-nginx reads as a canary through its annotations (`<prefix>/canary: "true"` and
//! `<prefix>/canary-weight`, or for A/B testing `canary-by-header`, `-header-value`,
//! `-header-pattern` and `canary-by-cookie`; `<prefix>` is `--ingress-annotations-prefix`).
//! The user's Ingress is never written. The clone is built by [`build_canary_ingress`]; this
//! module's `Router` impl only reads and writes.
//!
//! It is written through [`crate::takeover`]: a canary Ingress of that name that fledge didn't
//! create is taken over in place and given back as it was by `revertOnDeletion`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fledge_api::Canary;
use fledge_api::nginx::{HeaderRule, ab_rules};
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressSpec};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject};
use tracing::info;

use crate::kubernetes::KubernetesRouter;
use crate::meta::{
    canary_namespace, controlled_by, generated_annotations, generated_labels, object_name,
    owner_reference,
};
use crate::takeover;
use crate::{Router, RouterError, Routes, TargetWorkload, Write};

const KIND: &str = "Ingress";
/// ingress-nginx's annotation prefix unless `--ingress-annotations-prefix` says otherwise.
pub const DEFAULT_ANNOTATIONS_PREFIX: &str = "nginx.ingress.kubernetes.io";

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

    fn api(&self, canary: &Canary) -> Result<Api<DynamicObject>, RouterError> {
        Ok(Api::namespaced_with(
            self.client.clone(),
            canary_namespace(canary)?,
            &ApiResource::erase::<Ingress>(&()),
        ))
    }

    async fn get(&self, canary: &Canary, name: &str) -> Result<Option<DynamicObject>, RouterError> {
        let ns = canary_namespace(canary)?;
        self.api(canary)?
            .get_opt(name)
            .await
            .map_err(|e| RouterError::kube("get", KIND, ns, name, e))
    }

    async fn main_ingress(&self, canary: &Canary) -> Result<Ingress, RouterError> {
        let name = ingress_ref(canary)?;
        let ns = canary_namespace(canary)?;
        let found = self.get(canary, name).await?.ok_or_else(|| RouterError::InvalidSpec {
            canary: object_name(canary),
            field: "spec.ingressRef.name".into(),
            message: format!(
                "Ingress {ns}/{name} not found; create it (routing to Service {}) or name an existing one",
                canary.spec.service_name()
            ),
        })?;
        found.try_parse().map_err(|e| RouterError::Object {
            kind: KIND,
            object: format!("{ns}/{name}"),
            message: format!("is not a networking.k8s.io/v1 Ingress: {e}"),
        })
    }

    /// Writes the canary Ingress with split `routes` if it differs from `existing`.
    async fn write(
        &self,
        canary: &Canary,
        main: &Ingress,
        existing: Option<DynamicObject>,
        routes: Routes,
    ) -> Result<Option<Write>, RouterError> {
        let desired = dynamic(&build_canary_ingress(canary, main, routes, &self.prefix)?)?;
        takeover::write(KIND, &self.api(canary)?, existing, desired, canary).await
    }
}

/// An Ingress as the unstructured object [`crate::takeover`] writes.
pub fn dynamic(ingress: &Ingress) -> Result<DynamicObject, RouterError> {
    serde_json::to_value(ingress)
        .and_then(serde_json::from_value)
        .map_err(|e| RouterError::Object {
            kind: KIND,
            object: object_name(ingress),
            message: format!("cannot be written: {e}"),
        })
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

/// What can be checked without the Ingress: `spec.ingressRef` and the A/B rules.
pub fn check_spec(canary: &Canary, prefix: &str) -> Result<(), RouterError> {
    ingress_ref(canary)?;
    canary_annotations(canary, Routes::ALL_CANARY, prefix).map(|_| ())
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

/// The split a canary Ingress' annotations say: all matching requests when it has A/B rules,
/// else its weight. `None` when it is not a canary Ingress or its weight can't be read.
pub fn routes_from_annotations(
    annotations: &BTreeMap<String, String>,
    prefix: &str,
) -> Option<Routes> {
    let get = |k: &str| annotations.get(&format!("{prefix}/{k}"));
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

#[async_trait]
impl Router for NginxRouter {
    fn provider(&self) -> fledge_api::Provider {
        fledge_api::Provider::Nginx
    }

    /// `spec.ingressRef` exists, and every rule of it routes to the apex Service.
    async fn check_target(&self, canary: &Canary) -> Result<(), RouterError> {
        let main = self.main_ingress(canary).await?;
        build_canary_ingress(canary, &main, Routes::ALL_PRIMARY, &self.prefix).map(|_| ())
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
            .filter(|e| {
                controlled_by(e.owner_references(), canary) || takeover::given_back(e).is_some()
            })
            .and_then(|e| routes_from_annotations(e.annotations(), &self.prefix))
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
        routes_from_annotations(existing.annotations(), &self.prefix)
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
        let existing = self.get(canary, &canary_ingress_name(canary)?).await?;
        writes.extend(takeover::release(KIND, &self.api(canary)?, existing, canary).await?);
        Ok(writes)
    }
}

#[cfg(test)]
#[path = "nginx_tests.rs"]
mod tests;
