//! The Istio provider (`istio`): the Services, DestinationRules `<svc>-primary` and
//! `<svc>-canary` (host and `service.trafficPolicy`), and a VirtualService `<svc>` whose HTTP
//! route weighs the two, written as `networking.istio.io/v1beta1`. The specs are built by
//! [`spec`]; this module only reads and writes, through [`crate::takeover`], so a user's
//! existing VirtualService or DestinationRule of that name is taken over in place and given
//! back by `revertOnDeletion`.

pub mod spec;

use async_trait::async_trait;
use fledge_api::{Canary, Provider};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use tracing::info;

use crate::kubernetes::KubernetesRouter;
use crate::meta::{
    canary_namespace, controlled_by, generated_annotations, generated_labels, object_name,
    owner_reference,
};
use crate::takeover;
use crate::{Router, RouterError, Routes, TargetWorkload, Write};
pub use spec::{destination_rule_spec, routes_from_spec, virtual_service_spec};

const GROUP: &str = "networking.istio.io";
const VERSION: &str = "v1beta1";
const VIRTUAL_SERVICE: &str = "VirtualService";
const DESTINATION_RULE: &str = "DestinationRule";

pub fn virtual_service_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, VERSION, VIRTUAL_SERVICE),
        "virtualservices",
    )
}

pub fn destination_rule_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, VERSION, DESTINATION_RULE),
        "destinationrules",
    )
}

pub struct IstioRouter {
    client: kube::Client,
    services: KubernetesRouter,
}

/// An object named `name` of `resource` with `spec`, fledge's labels, the Flux opt-outs (and
/// `service.apex` metadata) and the owner reference. Pure.
fn object(
    canary: &Canary,
    resource: &ApiResource,
    name: &str,
    spec: serde_json::Value,
) -> Result<DynamicObject, RouterError> {
    let apex = canary.spec.service.apex.as_ref();
    let mut obj = DynamicObject::new(name, resource).within(canary_namespace(canary)?);
    obj.metadata.labels = Some(generated_labels(canary, apex.map(|m| &m.labels), &[]));
    obj.metadata.annotations = Some(generated_annotations(apex.map(|m| &m.annotations)));
    obj.metadata.owner_references = Some(vec![owner_reference(canary)?]);
    obj.data = serde_json::json!({ "spec": spec });
    Ok(obj)
}

/// The VirtualService for `canary` with split `routes`. Pure.
pub fn build_virtual_service(
    canary: &Canary,
    routes: Routes,
) -> Result<DynamicObject, RouterError> {
    object(
        canary,
        &virtual_service_resource(),
        canary.spec.service_name(),
        virtual_service_spec(canary, routes)?,
    )
}

/// The DestinationRules `<svc>-primary` and `<svc>-canary`. Pure.
pub fn build_destination_rules(canary: &Canary) -> Result<[DynamicObject; 2], RouterError> {
    let resource = destination_rule_resource();
    let rule = |host: String| {
        object(
            canary,
            &resource,
            &host,
            destination_rule_spec(canary, &host),
        )
    };
    Ok([
        rule(canary.spec.primary_service_name())?,
        rule(canary.spec.canary_service_name())?,
    ])
}

impl IstioRouter {
    pub fn new(
        client: kube::Client,
        cache: Option<std::sync::Arc<dyn crate::ObjectCache>>,
    ) -> Self {
        Self {
            services: KubernetesRouter::new(client.clone(), cache),
            client,
        }
    }

    fn api(
        &self,
        canary: &Canary,
        resource: &ApiResource,
    ) -> Result<Api<DynamicObject>, RouterError> {
        Ok(Api::namespaced_with(
            self.client.clone(),
            canary_namespace(canary)?,
            resource,
        ))
    }

    async fn get(
        &self,
        canary: &Canary,
        kind: &'static str,
        resource: &ApiResource,
        name: &str,
    ) -> Result<Option<DynamicObject>, RouterError> {
        let ns = canary_namespace(canary)?;
        self.api(canary, resource)?
            .get_opt(name)
            .await
            .map_err(|e| RouterError::kube("get", kind, ns, name, e))
    }

    async fn virtual_service(&self, canary: &Canary) -> Result<Option<DynamicObject>, RouterError> {
        self.get(
            canary,
            VIRTUAL_SERVICE,
            &virtual_service_resource(),
            canary.spec.service_name(),
        )
        .await
    }

    async fn write_virtual_service(
        &self,
        canary: &Canary,
        existing: Option<DynamicObject>,
        routes: Routes,
    ) -> Result<Option<Write>, RouterError> {
        let desired = build_virtual_service(canary, routes)?;
        let api = self.api(canary, &virtual_service_resource())?;
        takeover::write(VIRTUAL_SERVICE, &api, existing, desired, canary).await
    }
}

fn current_routes(canary: &Canary, vs: &DynamicObject) -> Option<Routes> {
    routes_from_spec(
        vs.data.get("spec")?,
        &canary.spec.primary_service_name(),
        &canary.spec.canary_service_name(),
    )
}

#[async_trait]
impl Router for IstioRouter {
    fn provider(&self) -> Provider {
        Provider::Istio
    }

    /// Services, then the DestinationRules, then the VirtualService, keeping its current
    /// split; a new or taken-over VirtualService sends everything to the primary from its first
    /// write.
    async fn reconcile(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        // Build first: a spec the VirtualService can't express fails before any write.
        virtual_service_spec(canary, Routes::ALL_PRIMARY)?;
        let mut writes = self.services.reconcile_services(canary, target).await?;
        let resource = destination_rule_resource();
        let api = self.api(canary, &resource)?;
        for rule in build_destination_rules(canary)? {
            let name = rule.metadata.name.clone().unwrap_or_default();
            let existing = self.get(canary, DESTINATION_RULE, &resource, &name).await?;
            if let Some(write) =
                takeover::write(DESTINATION_RULE, &api, existing, rule, canary).await?
            {
                info!(canary = %object_name(canary), "{write}");
                writes.push(write);
            }
        }
        let existing = self.virtual_service(canary).await?;
        let current = existing
            .as_ref()
            .filter(|vs| {
                controlled_by(
                    vs.metadata.owner_references.as_deref().unwrap_or_default(),
                    canary,
                ) || takeover::given_back(vs).is_some()
            })
            .and_then(|vs| current_routes(canary, vs))
            .unwrap_or(Routes::ALL_PRIMARY);
        if let Some(write) = self
            .write_virtual_service(canary, existing, current)
            .await?
        {
            info!(canary = %object_name(canary), "{write}");
            writes.push(write);
        }
        Ok(writes)
    }

    async fn set_routes(&self, canary: &Canary, routes: Routes) -> Result<Vec<Write>, RouterError> {
        let Some(existing) = self.virtual_service(canary).await? else {
            return Err(RouterError::Object {
                kind: VIRTUAL_SERVICE,
                object: format!(
                    "{}/{}",
                    canary_namespace(canary)?,
                    canary.spec.service_name()
                ),
                message: "not found; reconcile the canary first (it creates the VirtualService)"
                    .into(),
            });
        };
        Ok(self
            .write_virtual_service(canary, Some(existing), routes)
            .await?
            .into_iter()
            .collect())
    }

    async fn get_routes(&self, canary: &Canary) -> Result<Option<Routes>, RouterError> {
        let Some(existing) = self.virtual_service(canary).await? else {
            return Ok(None);
        };
        current_routes(canary, &existing)
            .map(Some)
            .ok_or_else(|| RouterError::Object {
                kind: VIRTUAL_SERVICE,
                object: object_name(&existing),
                message: format!(
                    "has no route weighing {} and {}; it was edited outside fledge: the next reconcile rewrites it",
                    canary.spec.primary_service_name(),
                    canary.spec.canary_service_name()
                ),
            })
    }

    /// Reverts the apex Service; gives taken-over objects back and deletes the ones fledge
    /// created.
    async fn finalize(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let mut writes = self.services.revert_apex_service(canary, target).await?;
        let vs = self.virtual_service(canary).await?;
        let api = self.api(canary, &virtual_service_resource())?;
        writes.extend(takeover::release(VIRTUAL_SERVICE, &api, vs, canary).await?);
        let resource = destination_rule_resource();
        let api = self.api(canary, &resource)?;
        for name in [
            canary.spec.primary_service_name(),
            canary.spec.canary_service_name(),
        ] {
            let existing = self.get(canary, DESTINATION_RULE, &resource, &name).await?;
            writes.extend(takeover::release(DESTINATION_RULE, &api, existing, canary).await?);
        }
        Ok(writes)
    }
}

#[cfg(test)]
mod tests;
