//! The Gateway API provider (`gatewayapi:v1`, `gatewayapi:v1beta1`): the Services plus an
//! `HTTPRoute` named `<svc>` in the Canary's namespace, attached to `service.gatewayRefs`,
//! that splits traffic between `<svc>-primary` and `<svc>-canary` by backendRef weights.
//! The spec is built by [`route::build_route_spec`]; this module only reads and writes.

pub(crate) mod affinity;
pub mod route;
pub mod types;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use fledge_api::Canary;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use kube::{Resource, ResourceExt};
use tracing::info;

use crate::kubernetes::KubernetesRouter;
use crate::meta::{
    canary_namespace, controlled_by, foreign_controller, generated_annotations, generated_labels,
    object_name, owner_reference,
};
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
        let Some(updated) = merge_route(&existing, &desired, canary)? else {
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

/// `existing` updated to `desired`, or `None` when nothing fledge manages differs. Like a
/// taken-over Service, a route fledge didn't create keeps its owner references and its own
/// labels and annotations (fledge's are added), so deleting the Canary doesn't delete it; a
/// route another object controls is refused. Specs are compared as fledge models them, so
/// fields the API server adds don't count as drift.
fn merge_route(
    existing: &DynamicObject,
    desired: &DynamicObject,
    canary: &Canary,
) -> Result<Option<DynamicObject>, RouterError> {
    if let Some(other) = foreign_controller(existing.owner_references(), canary) {
        return Err(RouterError::Object {
            kind: KIND,
            object: object_name(existing),
            message: format!(
                "is controlled by {other}, so fledge won't take it over; delete it, or set \
                 spec.service.name on canary {} to an unused name",
                object_name(canary)
            ),
        });
    }
    let mut labels = desired.metadata.labels.clone().unwrap_or_default();
    let mut annotations = desired.metadata.annotations.clone().unwrap_or_default();
    if !controlled_by(existing.owner_references(), canary) {
        let keep = |mine: &mut BTreeMap<String, String>,
                    theirs: &Option<BTreeMap<String, String>>| {
            for (k, v) in theirs.iter().flatten() {
                mine.entry(k.clone()).or_insert_with(|| v.clone());
            }
        };
        keep(&mut labels, &existing.metadata.labels);
        keep(&mut annotations, &existing.metadata.annotations);
    }
    let unchanged = parse_spec(existing).is_some()
        && parse_spec(existing) == parse_spec(desired)
        && existing.metadata.labels.clone().unwrap_or_default() == labels
        && existing.metadata.annotations.clone().unwrap_or_default() == annotations;
    if unchanged {
        return Ok(None);
    }
    let mut updated = existing.clone();
    // A cached object may come from another served version than the one written here.
    updated.types = desired.types.clone();
    set_spec(&mut updated, desired);
    updated.metadata.labels = Some(labels);
    updated.metadata.annotations = Some(annotations);
    Ok(Some(updated))
}

#[async_trait]
impl Router for GatewayApiRouter {
    fn provider(&self) -> fledge_api::Provider {
        match self.version {
            ApiVersion::V1 => fledge_api::Provider::GatewayApiV1,
            ApiVersion::V1beta1 => fledge_api::Provider::GatewayApiV1beta1,
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
        build_route_spec(canary, Routes::ALL_PRIMARY)?;
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
            .unwrap_or(Routes::ALL_PRIMARY);
        if let Some(write) = self.write_route(canary, existing, current).await? {
            info!(canary = %object_name(canary), "{write}");
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

    async fn get_routes(&self, canary: &Canary) -> Result<Option<Routes>, RouterError> {
        let Some(existing) = self.get_route(canary).await? else {
            return Ok(None);
        };
        let (primary, canary_svc) = (
            canary.spec.primary_service_name(),
            canary.spec.canary_service_name(),
        );
        parse_spec(&existing)
            .and_then(|spec| routes_from_spec(&spec, &primary, &canary_svc))
            .map(Some)
            .ok_or_else(|| RouterError::Object {
                kind: KIND,
                object: object_name(&existing),
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
        if !controlled_by(existing.owner_references(), canary) {
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

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;
    use crate::testutil;

    fn desired() -> (Canary, DynamicObject) {
        let canary = testutil::canary("canary-gatewayapi.yaml");
        let route = build_route(&canary, ApiVersion::V1, Routes::canary(10, false)).unwrap();
        (canary, route)
    }

    #[test]
    fn an_unchanged_route_is_not_written_even_with_server_added_fields() {
        let (canary, desired) = desired();
        let mut live = desired.clone();
        live.metadata.resource_version = Some("12".into());
        live.data["status"] = serde_json::json!({"parents": []});
        live.data["spec"]["rules"][0]["sessionPersistence"] = serde_json::json!({"type": "Cookie"});
        assert_eq!(merge_route(&live, &desired, &canary).unwrap(), None);
    }

    #[test]
    fn a_changed_route_is_updated_in_place() {
        let (canary, desired) = desired();
        let mut live = desired.clone();
        live.metadata.resource_version = Some("12".into());
        live.data["spec"]["rules"][0]["backendRefs"][1]["weight"] = serde_json::json!(50);
        live.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("stale".into(), "x".into());
        let updated = merge_route(&live, &desired, &canary).unwrap().unwrap();
        assert_eq!(updated.metadata.resource_version.as_deref(), Some("12"));
        assert_eq!(updated.data["spec"], desired.data["spec"]);
        assert_eq!(
            updated.metadata.labels, desired.metadata.labels,
            "ours: exactly desired"
        );
    }

    #[test]
    fn a_users_route_is_taken_over_but_stays_theirs() {
        let (canary, desired) = desired();
        let mut live = desired.clone();
        live.metadata.owner_references = None;
        live.metadata.labels = Some(BTreeMap::from([
            ("team".into(), "other".into()),
            ("owner".into(), "me".into()),
        ]));
        live.data["spec"]["hostnames"] = serde_json::json!(["old.example.com"]);
        let updated = merge_route(&live, &desired, &canary).unwrap().unwrap();
        assert_eq!(updated.metadata.owner_references, None);
        let labels = updated.metadata.labels.clone().unwrap();
        assert_eq!(labels["owner"], "me");
        assert_eq!(labels["team"], "web", "the Canary's apex labels win");
        assert_eq!(labels[crate::CANARY_LABEL], "podinfo");
        assert_eq!(
            updated.data["spec"]["hostnames"],
            serde_json::json!(["app.example.com"])
        );
        assert_eq!(
            merge_route(&updated, &desired, &canary).unwrap(),
            None,
            "then stable"
        );

        live.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "example.com/v1".into(),
            kind: "Thing".into(),
            name: "t".into(),
            uid: "x".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let err = merge_route(&live, &desired, &canary)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("HTTPRoute test/podinfo: is controlled by Thing t"),
            "{err}"
        );
    }
}
