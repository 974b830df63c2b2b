//! What the controller watches and how each change reaches a Canary: every watch is registered
//! here (so it counts toward "caches synced"), and `Streams::into_controller` maps each
//! watched object to the Canaries it concerns through the [`CanaryIndex`]. Adding a watched
//! kind touches this file only.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use fledge_api::{AlertProvider, Canary, MetricTemplate};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{ApiResource, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};

use super::context::Caches;
use super::error::RunError;
use super::index::{self, CanaryIndex};
use super::startup;
use super::telemetry::Metrics;
use super::watch::Watches;

type Changes<K> = BoxStream<'static, Result<K, watcher::Error>>;

/// The caches the reconciler reads, the registry that says when they have synced, and the
/// change streams that drive the Controller.
pub struct Sources {
    pub caches: Caches,
    pub router_cache: Arc<dyn fledge_routers::ObjectCache>,
    pub watches: Watches,
    pub streams: Streams,
}

pub struct Streams {
    index: Arc<RwLock<CanaryIndex>>,
    canary_store: Store<Canary>,
    canaries: Changes<Canary>,
    deployments: Changes<Deployment>,
    configmaps: Changes<PartialObjectMeta<ConfigMap>>,
    secrets: Changes<PartialObjectMeta<Secret>>,
    templates: Changes<MetricTemplate>,
    alert_providers: Changes<AlertProvider>,
    services: Changes<Service>,
    http_routes: Changes<DynamicObject>,
    route_resource: ApiResource,
}

/// Registers every watch (in `namespace`, or all). Nothing is listed until the streams are
/// polled, i.e. until the Controller runs.
pub async fn watch_all(
    client: &Client,
    namespace: Option<&str>,
    metrics: &Metrics,
) -> Result<Sources, RunError> {
    let mut watches = Watches::new(metrics.watch_errors.clone());
    let index = Arc::new(RwLock::new(CanaryIndex::default()));
    let indexer = index.clone();
    let all = watcher::Config::default;
    let (canary_store, canaries) = watches.watch(
        "canaries",
        scoped::<Canary>(client, namespace),
        all(),
        (),
        move |event| {
            indexer
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .apply_event(event)
        },
    );
    // Every Deployment (targets and primaries): target changes are seen at once, and opt-in
    // by annotation needs them all.
    let (deployment_store, deployments) =
        watches.watch("deployments", scoped(client, namespace), all(), (), |_| {});
    // ConfigMaps and Secrets: metadata only, so no Secret data ever sits in memory; the data
    // of a tracked one is read when its resourceVersion changes.
    let (configmap_store, configmaps) =
        watches.watch("configmaps", scoped(client, namespace), all(), (), |_| {});
    let (secret_store, secrets) =
        watches.watch("secrets", scoped(client, namespace), all(), (), |_| {});
    let (template_store, templates) = watches.watch(
        "metrictemplates",
        scoped(client, namespace),
        all(),
        (),
        |_| {},
    );
    let (alert_store, alert_providers) = watches.watch(
        "alertproviders",
        scoped(client, namespace),
        all(),
        (),
        |_| {},
    );
    // Generated Services and HTTPRoutes (by label): routers read them from here instead of
    // the API server, and a change to one (a hand edit included) wakes its Canary.
    let generated = all().labels(fledge_api::names::CANARY_LABEL);
    let (service_store, services) = watches.watch(
        "services",
        scoped(client, namespace),
        generated.clone(),
        (),
        |_| {},
    );
    let route_resource = fledge_routers::gatewayapi::ApiVersion::V1.resource();
    let routes_served = startup::served_resources(client, &route_resource.api_version)
        .await?
        .is_some_and(|served| served.contains(&route_resource.plural));
    let (route_store, http_routes) = if routes_served {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &route_resource),
            None => Api::all_with(client.clone(), &route_resource),
        };
        let (store, stream) =
            watches.watch("httproutes", api, generated, route_resource.clone(), |_| {});
        (Some((store, route_resource.clone())), stream.boxed())
    } else {
        tracing::info!(
            "HTTPRoutes are not served; Gateway API routers will read from the API server"
        );
        (None, futures::stream::empty().boxed())
    };
    Ok(Sources {
        caches: Caches {
            canaries: canary_store.clone(),
            deployments: deployment_store,
            configmaps: configmap_store,
            secrets: secret_store,
            templates: template_store,
            alert_providers: alert_store,
        },
        router_cache: Arc::new(fledge_routers::ReflectorCache {
            services: service_store,
            http_routes: route_store,
        }),
        watches,
        streams: Streams {
            index,
            canary_store,
            canaries: canaries.boxed(),
            deployments: deployments.boxed(),
            configmaps: configmaps.boxed(),
            secrets: secrets.boxed(),
            templates: templates.boxed(),
            alert_providers: alert_providers.boxed(),
            services: services.boxed(),
            http_routes,
            route_resource,
        },
    })
}

impl Streams {
    /// A Controller over the Canaries, woken by every watched kind through the index.
    /// `on_deployment` sees every changed Deployment first (opt-in by annotation).
    pub fn into_controller(
        self,
        on_deployment: impl Fn(&Deployment) + Send + Sync + 'static,
    ) -> Controller<Canary> {
        let index = self.index;
        let lookup = move |kind: &'static str, ns: Option<String>, name: String| {
            let index = read(&index);
            let ns = ns.unwrap_or_default();
            match kind {
                // A `-primary` copy wakes the Canaries tracking its source.
                index::CONFIGMAP | index::SECRET => index.canaries_tracking(kind, &ns, &name),
                _ => index.canaries(kind, &ns, &name),
            }
        };
        let lookup = Arc::new(lookup);
        let (by_target, by_cm, by_secret, by_template, by_alert) = (
            lookup.clone(),
            lookup.clone(),
            lookup.clone(),
            lookup.clone(),
            lookup,
        );
        Controller::for_stream(self.canaries, self.canary_store)
            .with_config(kube::runtime::controller::Config::default().concurrency(16))
            .watches_stream(self.deployments, move |dep: Deployment| {
                on_deployment(&dep);
                let mut found = by_target(index::DEPLOYMENT, dep.namespace(), dep.name_any());
                // The primary belongs to its Canary too: its readiness gates promotion.
                if let Some(owner) = dep.owner_references().iter().find(|o| o.kind == "Canary") {
                    found.push(
                        ObjectRef::new(&owner.name).within(&dep.namespace().unwrap_or_default()),
                    );
                }
                found.dedup();
                found
            })
            .watches_stream(self.configmaps, move |cm| {
                by_cm(index::CONFIGMAP, cm.namespace(), cm.name_any())
            })
            .watches_stream(self.secrets, move |s| {
                by_secret(index::SECRET, s.namespace(), s.name_any())
            })
            .watches_stream(self.templates, move |t: MetricTemplate| {
                by_template(index::METRIC_TEMPLATE, t.namespace(), t.name_any())
            })
            .watches_stream(self.alert_providers, move |a: AlertProvider| {
                by_alert(index::ALERT_PROVIDER, a.namespace(), a.name_any())
            })
            .watches_stream(self.services, |s: Service| generated_owner(&s))
            .watches_stream_with(
                self.http_routes,
                |r: DynamicObject| generated_owner(&r),
                self.route_resource,
            )
    }
}

fn read(index: &RwLock<CanaryIndex>) -> RwLockReadGuard<'_, CanaryIndex> {
    index.read().unwrap_or_else(|p| p.into_inner())
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The Canary a generated object belongs to, from its `fledge.dev/canary` label.
fn generated_owner<K: Resource>(obj: &K) -> Option<ObjectRef<Canary>> {
    let name = obj.labels().get(fledge_api::names::CANARY_LABEL)?;
    Some(ObjectRef::new(name).within(&obj.namespace()?))
}
