//! Where routers read live objects from. The controller hands its reflector caches over
//! ([`ReflectorCache`]) so that a reconcile with nothing to do costs no API request at all;
//! without a cache, routers GET from the API server.
//!
//! A cache miss always falls back to a GET: the object may be too new for the cache, or not
//! in it at all (a user's Service that fledge is about to take over carries no fledge label,
//! so a label-filtered reflector never sees it). A stale hit is harmless: the write carries
//! the stale `resourceVersion`, the API server answers 409, and the controller requeues
//! ([`crate::RouterError::is_conflict`]).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::RouterError;

/// Read access to cached objects. Implementations must be cheap: routers call them on
/// every reconcile.
pub trait ObjectCache: Send + Sync {
    fn service(&self, namespace: &str, name: &str) -> Option<Arc<Service>>;
    /// An HTTPRoute (any served version; routers read only its spec).
    fn http_route(&self, namespace: &str, name: &str) -> Option<Arc<DynamicObject>>;
}

/// [`ObjectCache`] over kube-runtime reflector stores.
#[derive(Clone)]
pub struct ReflectorCache {
    pub services: Store<Service>,
    /// The HTTPRoute store and the resource it reflects; `None` when the controller doesn't
    /// watch HTTPRoutes (no Gateway API canaries).
    pub http_routes: Option<(Store<DynamicObject>, ApiResource)>,
}

impl ObjectCache for ReflectorCache {
    fn service(&self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        self.services.get(&ObjectRef::new(name).within(namespace))
    }

    fn http_route(&self, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let (store, resource) = self.http_routes.as_ref()?;
        store.get(&ObjectRef::new_with(name, resource.clone()).within(namespace))
    }
}

/// The Service from the cache, else from the API server.
pub(crate) async fn service(
    cache: Option<&dyn ObjectCache>,
    api: &Api<Service>,
    namespace: &str,
    name: &str,
) -> Result<Option<Service>, RouterError> {
    if let Some(hit) = cache.and_then(|c| c.service(namespace, name)) {
        return Ok(Some((*hit).clone()));
    }
    api.get_opt(name)
        .await
        .map_err(|e| RouterError::kube("get", "Service", namespace, name, e))
}

/// The HTTPRoute from the cache, else from the API server.
pub(crate) async fn http_route(
    cache: Option<&dyn ObjectCache>,
    api: &Api<DynamicObject>,
    namespace: &str,
    name: &str,
) -> Result<Option<DynamicObject>, RouterError> {
    if let Some(hit) = cache.and_then(|c| c.http_route(namespace, name)) {
        return Ok(Some((*hit).clone()));
    }
    api.get_opt(name)
        .await
        .map_err(|e| RouterError::kube("get", "HTTPRoute", namespace, name, e))
}
