//! The Gateway API provider (`gatewayapi:v1`, `gatewayapi:v1beta1`): the Services plus an
//! `HTTPRoute` named `<svc>` in the Canary's namespace, attached to `service.gatewayRefs`,
//! that splits traffic between `<svc>-primary` and `<svc>-canary` by backendRef weights.
//! The spec is built by [`route::build_route_spec`]; this module only reads and writes.

mod affinity;
pub mod route;
pub mod types;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use fledge_api::Canary;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use kube::{Resource, ResourceExt};
use tracing::info;

use crate::kubernetes::{KubernetesRouter, canary_namespace};
use crate::meta::{canary_name, generated_annotations, generated_labels, owner_reference};
use crate::read::{self, ObjectCache};
use crate::{Router, RouterError, Routes, TargetWorkload, Write, WriteAction};
pub use route::{build_route_spec, routes_from_spec};
pub use types::HttpRouteSpec;

const KIND: &str = "HTTPRoute";
const GROUP: &str = "gateway.networking.k8s.io";

/// Which served version of `httproutes.gateway.networking.k8s.io` to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    /// For clusters with Gateway API older than v1.0.
    V1beta1,
}

impl ApiVersion {
    fn version(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1beta1 => "v1beta1",
        }
    }

    /// The resource this version names (for a reflector feeding [`crate::ReflectorCache`]).
    pub fn resource(self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(GROUP, self.version(), KIND),
            "httproutes",
        )
    }
}

pub struct GatewayApiRouter {
    client: kube::Client,
    version: ApiVersion,
    cache: Option<Arc<dyn ObjectCache>>,
    services: KubernetesRouter,
}

impl GatewayApiRouter {
    /// Reads from `cache` when given (see [`crate::read`]), else from the API server.
    pub fn new(
        client: kube::Client,
        version: ApiVersion,
        cache: Option<Arc<dyn ObjectCache>>,
    ) -> Self {
        Self {
            services: KubernetesRouter::new(client.clone(), cache.clone()),
            client,
            version,
            cache,
        }
    }

    fn routes_api(&self, canary: &Canary) -> Result<Api<DynamicObject>, RouterError> {
        Ok(Api::namespaced_with(
            self.client.clone(),
            canary_namespace(canary)?,
            &self.version.resource(),
        ))
    }

    async fn get_route(&self, canary: &Canary) -> Result<Option<DynamicObject>, RouterError> {
        let api = self.routes_api(canary)?;
        let ns = canary_namespace(canary)?;
        read::http_route(self.cache.as_deref(), &api, ns, canary.spec.service_name()).await
    }

    /// Writes the route with split `routes` if it differs from `existing` (or creates it).
    async fn write_route(
        &self,
        canary: &Canary,
        existing: Option<DynamicObject>,
        routes: Routes,
    ) -> Result<Option<Write>, RouterError> {
        let desired = build_route(canary, self.version, routes)?;
        let api = self.routes_api(canary)?;
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
        // An existing route keeps its owner references: a user's route of the same name is
        // taken over but not made ours, so deleting the Canary doesn't delete it.
        if same_route(&existing, &desired) {
            return Ok(None);
        }
        let mut updated = existing;
        // A cached object may come from another served version than the one written here.
        updated.types = desired.types.clone();
        set_spec(&mut updated, &desired);
        updated.metadata.labels = desired.metadata.labels;
        updated.metadata.annotations = desired.metadata.annotations;
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

/// The whole HTTPRoute for `canary` with split `routes`: the spec from [`build_route_spec`],
/// `service.apex` labels and annotations plus ours, and the owner reference. Pure.
pub fn build_route(
    canary: &Canary,
    version: ApiVersion,
    routes: Routes,
) -> Result<DynamicObject, RouterError> {
    let spec = build_route_spec(canary, routes)?;
    let apex = canary.spec.service.apex.as_ref();
    let mut obj = DynamicObject::new(canary.spec.service_name(), &version.resource())
        .within(canary_namespace(canary)?);
    obj.metadata.labels = Some(generated_labels(canary, apex.map(|m| &m.labels), &[]));
    obj.metadata.annotations = Some(generated_annotations(apex.map(|m| &m.annotations)));
    obj.metadata.owner_references = Some(vec![owner_reference(canary)?]);
    obj.data = serde_json::json!({ "spec": spec });
    Ok(obj)
}

fn set_spec(target: &mut DynamicObject, from: &DynamicObject) {
    let spec = from.data.get("spec").cloned().unwrap_or_default();
    match target.data.as_object_mut() {
        Some(map) => {
            map.insert("spec".into(), spec);
        }
        None => target.data = serde_json::json!({ "spec": spec }),
    }
}

/// The live route's spec as far as fledge models it; `None` if it can't be read as one.
fn parse_spec(obj: &DynamicObject) -> Option<HttpRouteSpec> {
    serde_json::from_value(obj.data.get("spec")?.clone()).ok()
}

fn same_route(existing: &DynamicObject, desired: &DynamicObject) -> bool {
    let empty = BTreeMap::new();
    let meta_eq = |a: &Option<BTreeMap<String, String>>, b: &Option<BTreeMap<String, String>>| {
        a.as_ref().unwrap_or(&empty) == b.as_ref().unwrap_or(&empty)
    };
    parse_spec(existing).is_some()
        && parse_spec(existing) == parse_spec(desired)
        && meta_eq(&existing.metadata.labels, &desired.metadata.labels)
        && meta_eq(
            &existing.metadata.annotations,
            &desired.metadata.annotations,
        )
}

#[async_trait]
impl Router for GatewayApiRouter {
    fn provider(&self) -> &'static str {
        match self.version {
            ApiVersion::V1 => "gatewayapi:v1",
            ApiVersion::V1beta1 => "gatewayapi:v1beta1",
        }
    }

    /// Services first, then the route. The route keeps its current split (a reconcile in the
    /// middle of a release must not reset traffic); a new route starts with all on primary.
    async fn reconcile(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        // Build first: a spec the route can't express fails before anything is written.
        build_route_spec(canary, Routes::PRIMARY)?;
        let mut writes = self.services.reconcile_services(canary, target).await?;
        let existing = self.get_route(canary).await?;
        let (primary, canary_svc) = (
            canary.spec.primary_service_name(),
            canary.spec.canary_service_name(),
        );
        let current = existing
            .as_ref()
            .and_then(parse_spec)
            .and_then(|spec| routes_from_spec(&spec, &primary, &canary_svc))
            .unwrap_or(Routes::PRIMARY);
        if let Some(write) = self.write_route(canary, existing, current).await? {
            info!(canary = %canary_name(canary), "{write}");
            writes.push(write);
        }
        Ok(writes)
    }

    async fn set_routes(&self, canary: &Canary, routes: Routes) -> Result<Vec<Write>, RouterError> {
        let Some(existing) = self.get_route(canary).await? else {
            return Err(route_missing(canary));
        };
        Ok(self
            .write_route(canary, Some(existing), routes)
            .await?
            .into_iter()
            .collect())
    }

    async fn get_routes(&self, canary: &Canary) -> Result<Routes, RouterError> {
        let Some(existing) = self.get_route(canary).await? else {
            return Err(route_missing(canary));
        };
        let (primary, canary_svc) = (
            canary.spec.primary_service_name(),
            canary.spec.canary_service_name(),
        );
        parse_spec(&existing)
            .and_then(|spec| routes_from_spec(&spec, &primary, &canary_svc))
            .ok_or_else(|| RouterError::Object {
                kind: KIND,
                object: format!(
                    "{}/{}",
                    canary_namespace(canary).unwrap_or_default(),
                    existing.name_any()
                ),
                message: format!(
                    "has no rule with both backends {primary} and {canary_svc}; it was edited \
                     outside fledge: the next reconcile rewrites it"
                ),
            })
    }

    /// Reverts the apex Service, then deletes the HTTPRoute fledge generated.
    async fn finalize(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let mut writes = self.services.revert_apex_service(canary, target).await?;
        let Some(existing) = self.get_route(canary).await? else {
            return Ok(writes);
        };
        // Only ours: a route with the same name that this Canary doesn't control stays.
        if !crate::meta::controlled_by(existing.owner_references(), canary) {
            return Ok(writes);
        }
        let name = existing.name_any();
        let ns = canary_namespace(canary)?;
        self.routes_api(canary)?
            .delete(&name, &DeleteParams::default())
            .await
            .map_err(|e| RouterError::kube("delete", KIND, ns, &name, e))?;
        writes.push(Write {
            action: WriteAction::Deleted,
            kind: KIND,
            name,
        });
        Ok(writes)
    }
}

fn route_missing(canary: &Canary) -> RouterError {
    RouterError::Object {
        kind: KIND,
        object: format!(
            "{}/{}",
            canary.meta().namespace.as_deref().unwrap_or_default(),
            canary.spec.service_name()
        ),
        message: "not found; reconcile the canary first (it creates the route)".into(),
    }
}
