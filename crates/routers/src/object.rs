//! Routers whose traffic split is one object named `<svc>` whose whole `spec` fledge writes:
//! the SMI TrafficSplit, Contour's HTTPProxy and Traefik's TraefikService. What differs between
//! them is pure (the spec for a split, and the split a spec says) and lives behind
//! [`SplitObject`] in each provider's module; the I/O is here, once. The object is written
//! through [`crate::takeover`], so a user's object of that name is taken over in place and
//! given back by `revertOnDeletion`.

use async_trait::async_trait;
use fledge_api::{Canary, Provider};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{Value, json};
use tracing::info;

use crate::kubernetes::KubernetesRouter;
use crate::meta::{
    canary_namespace, controlled_by, generated_annotations, generated_labels, object_name,
    owner_reference,
};
use crate::takeover;
use crate::{ObjectCache, Router, RouterError, Routes, TargetWorkload, Write};

/// One provider's routing object: how its spec says a split. Implementations are pure.
pub trait SplitObject: Send + Sync {
    /// `TrafficSplit`, `HTTPProxy`, ...: for messages and write accounting.
    const KIND: &'static str;

    /// The provider this object serves.
    fn provider(&self) -> Provider;

    /// The API resource (group, version, plural) written.
    fn resource(&self) -> ApiResource;

    /// The object's `spec` for `canary` with split `routes`. A spec the object can't express
    /// is a [`RouterError::InvalidSpec`] naming the field.
    fn spec(&self, canary: &Canary, routes: Routes) -> Result<Value, RouterError>;

    /// The split `spec` says between the Services `primary` and `canary`; `None` when it
    /// says none (edited outside fledge).
    fn routes(&self, spec: &Value, primary: &str, canary: &str) -> Option<Routes>;
}

/// A weight as routing objects write it: a number, or a quantity string (`"90"`, `"900m"`).
pub(crate) fn weight(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.strip_suffix('m') {
            Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
            None => s.parse().ok(),
        },
        _ => None,
    }
    .filter(|w| w.is_finite() && *w >= 0.0)
}

/// The split two weights say, as percentages of whatever total was written (Flagger writes
/// 100, other tools 1000m or any total); `None` when both are zero.
pub(crate) fn percentages(primary: f64, canary: f64) -> Option<Routes> {
    let total = primary + canary;
    (total > 0.0).then(|| Routes::canary(((canary / total) * 100.0).round() as i32, false))
}

/// The object for `canary` with split `routes`, with fledge's labels, the Flux opt-outs and
/// the owner reference. Pure.
pub fn build<O: SplitObject>(
    object: &O,
    canary: &Canary,
    routes: Routes,
) -> Result<DynamicObject, RouterError> {
    let apex = canary.spec.service.apex.as_ref();
    let mut obj = DynamicObject::new(canary.spec.service_name(), &object.resource())
        .within(canary_namespace(canary)?);
    obj.metadata.labels = Some(generated_labels(canary, apex.map(|m| &m.labels), &[]));
    obj.metadata.annotations = Some(generated_annotations(apex.map(|m| &m.annotations)));
    obj.metadata.owner_references = Some(vec![owner_reference(canary)?]);
    obj.data = json!({ "spec": object.spec(canary, routes)? });
    Ok(obj)
}

/// The Services plus one [`SplitObject`].
pub struct ObjectRouter<O> {
    client: kube::Client,
    object: O,
    services: KubernetesRouter,
}

impl<O: SplitObject> ObjectRouter<O> {
    pub fn new(
        client: kube::Client,
        cache: Option<std::sync::Arc<dyn ObjectCache>>,
        object: O,
    ) -> Self {
        Self {
            services: KubernetesRouter::new(client.clone(), cache),
            client,
            object,
        }
    }

    fn api(&self, canary: &Canary) -> Result<Api<DynamicObject>, RouterError> {
        Ok(Api::namespaced_with(
            self.client.clone(),
            canary_namespace(canary)?,
            &self.object.resource(),
        ))
    }

    async fn get(&self, canary: &Canary) -> Result<Option<DynamicObject>, RouterError> {
        let ns = canary_namespace(canary)?;
        let name = canary.spec.service_name();
        self.api(canary)?
            .get_opt(name)
            .await
            .map_err(|e| RouterError::kube("get", O::KIND, ns, name, e))
    }

    async fn write(
        &self,
        canary: &Canary,
        existing: Option<DynamicObject>,
        routes: Routes,
    ) -> Result<Option<Write>, RouterError> {
        let desired = build(&self.object, canary, routes)?;
        takeover::write(O::KIND, &self.api(canary)?, existing, desired, canary).await
    }

    fn current(&self, canary: &Canary, obj: &DynamicObject) -> Option<Routes> {
        self.object.routes(
            obj.data.get("spec")?,
            &canary.spec.primary_service_name(),
            &canary.spec.canary_service_name(),
        )
    }
}

#[async_trait]
impl<O: SplitObject> Router for ObjectRouter<O> {
    fn provider(&self) -> Provider {
        self.object.provider()
    }

    /// Services first, then the object, keeping its current split (a new one starts with all
    /// on the primary). A spec the object can't express fails before any write.
    async fn reconcile(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        self.object.spec(canary, Routes::ALL_PRIMARY)?;
        let mut writes = self.services.reconcile_services(canary, target).await?;
        let existing = self.get(canary).await?;
        let current = existing
            .as_ref()
            .filter(|e| {
                controlled_by(e.owner_references(), canary) || takeover::given_back(e).is_some()
            })
            .and_then(|e| self.current(canary, e))
            .unwrap_or(Routes::ALL_PRIMARY);
        if let Some(write) = self.write(canary, existing, current).await? {
            info!(canary = %object_name(canary), "{write}");
            writes.push(write);
        }
        Ok(writes)
    }

    async fn set_routes(&self, canary: &Canary, routes: Routes) -> Result<Vec<Write>, RouterError> {
        let Some(existing) = self.get(canary).await? else {
            return Err(RouterError::Object {
                kind: O::KIND,
                object: format!(
                    "{}/{}",
                    canary_namespace(canary)?,
                    canary.spec.service_name()
                ),
                message: format!(
                    "not found; reconcile the canary first (it creates the {})",
                    O::KIND
                ),
            });
        };
        Ok(self
            .write(canary, Some(existing), routes)
            .await?
            .into_iter()
            .collect())
    }

    async fn get_routes(&self, canary: &Canary) -> Result<Option<Routes>, RouterError> {
        let Some(existing) = self.get(canary).await? else {
            return Ok(None);
        };
        self.current(canary, &existing)
            .map(Some)
            .ok_or_else(|| RouterError::Object {
                kind: O::KIND,
                object: object_name(&existing),
                message: format!(
                    "splits no traffic between {} and {}; it was edited outside fledge: the next reconcile rewrites it",
                    canary.spec.primary_service_name(),
                    canary.spec.canary_service_name()
                ),
            })
    }

    /// Reverts the apex Service, then deletes the object fledge created, or gives a
    /// taken-over one back as it was.
    async fn finalize(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError> {
        let mut writes = self.services.revert_apex_service(canary, target).await?;
        let existing = self.get(canary).await?;
        writes.extend(takeover::release(O::KIND, &self.api(canary)?, existing, canary).await?);
        Ok(writes)
    }
}
