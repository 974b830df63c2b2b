//! fledge-routers: traffic providers behind one small trait, [`Router`] (Flagger's
//! `pkg/router` interface: reconcile, set routes, get routes, finalize), one module per provider.
//!
//! Every provider builds its objects with pure functions (`service`, `gatewayapi::route`) and
//! does I/O only in its `Router` impl, which compares the desired object with the live one and
//! writes only when they differ: the controller's write budget is a few requests per step.
//!
//! This crate never decides *when* weights change (that is `fledge-core`'s job), never touches
//! Deployments, and never shares code with the simulated cluster, which checks its output.

pub mod contour;
mod error;
pub mod gatewayapi;
pub mod istio;
pub mod kubernetes;
pub mod meta;
pub mod nginx;
pub mod object;
pub mod read;
pub mod service;
pub mod smi;
pub mod takeover;
pub mod traefik;

use std::sync::Arc;

use async_trait::async_trait;
use fledge_api::{Canary, Provider};
use object::SplitObject;

pub use error::RouterError;
pub use gatewayapi::GatewayApiRouter;
pub use istio::IstioRouter;
pub use kubernetes::KubernetesRouter;
pub use meta::{CANARY_LABEL, DEFAULT_SELECTOR_LABELS, FLUX_ANNOTATIONS, TargetWorkload};
pub use nginx::NginxRouter;
pub use object::ObjectRouter;
pub use read::{ObjectCache, ReflectorCache};
pub use service::{ServiceSet, build_services, merge_for_takeover};

pub use fledge_api::Routes;

/// Whether a write created or replaced an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteAction {
    Created,
    Updated,
    Deleted,
}

/// One write a router made, for Events and the controller's write accounting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub action: WriteAction,
    /// `Service`, `HTTPRoute`, ...
    pub kind: &'static str,
    pub name: String,
}

impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action = match self.action {
            WriteAction::Created => "created",
            WriteAction::Updated => "updated",
            WriteAction::Deleted => "deleted",
        };
        write!(f, "{} {} {action}", self.kind, self.name)
    }
}

/// A traffic provider. Every method is idempotent: calling it again with the same input makes
/// no further writes. The returned [`Write`]s say what was written (empty: nothing was).
#[async_trait]
pub trait Router: Send + Sync {
    /// The provider this router serves.
    fn provider(&self) -> Provider;

    /// Creates or updates the Services and routing objects for `canary`, keeping the current
    /// traffic split. Needs the target's selector label and pod spec (port discovery).
    async fn reconcile(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError>;

    /// Whether the live objects this router reads but doesn't own can carry `canary` (the
    /// Ingress the nginx provider clones must route to the apex Service, say). Reads only. A
    /// [`RouterError::InvalidSpec`] or [`RouterError::InvalidTarget`] says what is wrong and
    /// where; the controller stalls the Canary on it. Routers that read nothing of the user's
    /// have nothing to check.
    async fn check_target(&self, _canary: &Canary) -> Result<(), RouterError> {
        Ok(())
    }

    /// Moves traffic to `routes`. The caller checks `primary + canary == 100`.
    async fn set_routes(&self, canary: &Canary, routes: Routes) -> Result<Vec<Write>, RouterError>;

    /// Reads the traffic split back from the live routing object; `None` when it doesn't
    /// exist yet. An object edited so far that no split can be read from it is an error.
    async fn get_routes(&self, canary: &Canary) -> Result<Option<Routes>, RouterError>;

    /// For `revertOnDeletion`: points the apex Service back at the target's own pods and
    /// deletes the generated routing objects. Call it before removing the finalizer.
    async fn finalize(
        &self,
        canary: &Canary,
        target: &TargetWorkload<'_>,
    ) -> Result<Vec<Write>, RouterError>;
}

/// Settings some providers need (the controller's flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterOptions {
    /// `--ingress-annotations-prefix`: the nginx provider's annotation prefix.
    pub ingress_annotations_prefix: String,
    /// `--ingress-class`: the contour provider's `spec.ingressClassName`.
    pub ingress_class: Option<String>,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self {
            ingress_annotations_prefix: nginx::DEFAULT_ANNOTATIONS_PREFIX.into(),
            ingress_class: None,
        }
    }
}

/// What `provider`'s router can tell from the Canary alone, without I/O: whether the objects it
/// writes can express the spec. A spec error is a [`RouterError::InvalidSpec`] naming the
/// field; `fledge validate` reports it, and the controller stalls the Canary on it.
pub fn check_spec(
    provider: Provider,
    canary: &Canary,
    options: &RouterOptions,
) -> Result<(), RouterError> {
    let routes = Routes::ALL_CANARY;
    match provider {
        Provider::GatewayApiV1 | Provider::GatewayApiV1beta1 => {
            gatewayapi::build_route_spec(canary, routes).map(|_| ())
        }
        Provider::Istio => istio::virtual_service_spec(canary, routes).map(|_| ()),
        Provider::Contour => {
            contour::http_proxy_spec(canary, routes, options.ingress_class.as_deref()).map(|_| ())
        }
        Provider::Traefik => traefik::TraefikService.spec(canary, routes).map(|_| ()),
        Provider::Nginx => nginx::check_spec(canary, &options.ingress_annotations_prefix),
        _ => Ok(()),
    }
}

/// The router for `provider` with default options, reading live objects from the API server.
pub fn router_for(
    provider: Provider,
    client: kube::Client,
) -> Result<Box<dyn Router>, RouterError> {
    router_with_cache(provider, client, None, &RouterOptions::default())
}

/// [`router_for`], reading from the controller's caches first (see [`read`]). Every provider in
/// [`Provider::ROUTED`] has a router; any other is refused.
pub fn router_with_cache(
    provider: Provider,
    client: kube::Client,
    cache: Option<Arc<dyn ObjectCache>>,
    options: &RouterOptions,
) -> Result<Box<dyn Router>, RouterError> {
    match provider {
        Provider::Istio => Ok(Box::new(IstioRouter::new(client, cache))),
        Provider::Contour => Ok(Box::new(ObjectRouter::new(
            client,
            cache,
            contour::HttpProxy {
                ingress_class: options.ingress_class.clone(),
            },
        ))),
        Provider::Traefik => Ok(Box::new(ObjectRouter::new(
            client,
            cache,
            traefik::TraefikService,
        ))),
        Provider::Nginx => Ok(Box::new(NginxRouter::new(
            client,
            cache,
            &options.ingress_annotations_prefix,
        ))),
        Provider::Kubernetes => Ok(Box::new(KubernetesRouter::new(client, cache))),
        Provider::GatewayApiV1 => Ok(Box::new(GatewayApiRouter::new(
            client,
            gatewayapi::ApiVersion::V1,
            cache,
        ))),
        Provider::GatewayApiV1beta1 => Ok(Box::new(GatewayApiRouter::new(
            client,
            gatewayapi::ApiVersion::V1beta1,
            cache,
        ))),
        Provider::Linkerd
        | Provider::SmiV1alpha1
        | Provider::SmiV1alpha2
        | Provider::SmiV1alpha3 => smi::TrafficSplit::of(provider)
            .map(|split| Box::new(ObjectRouter::new(client, cache, split)) as Box<dyn Router>)
            .ok_or(RouterError::UnsupportedProvider { provider }),
        other => Err(RouterError::UnsupportedProvider { provider: other }),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Fixtures shared by the unit tests: the manifests in `testdata/routers/`.

    use fledge_api::Canary;
    use k8s_openapi::api::apps::v1::Deployment;

    pub fn read(file: &str) -> String {
        let path = format!(
            "{}/../../testdata/routers/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub fn canary(file: &str) -> Canary {
        serde_saphyr::from_str(&read(file)).unwrap()
    }

    pub fn deployment() -> Deployment {
        serde_saphyr::from_str(&read("deployment.yaml")).unwrap()
    }
}
