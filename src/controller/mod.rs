//! The controller: watches Canaries and their targets, asks `fledge-core` what to do, and does
//! it through the Kubernetes API. Decisions live in `fledge-core`; builders of derived objects
//! in `workload`; this module tree only observes and acts.
//!
//! Reads come from reflector caches (Canaries, Deployments, ConfigMap/Secret metadata); the
//! API server sees writes and watches. Only the Lease holder writes.

mod act;
mod checks;
mod context;
pub mod http;
mod leader;
mod observe;
mod optin;
mod reconcile;
mod recorder;
mod status;
pub mod telemetry;
pub mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use fledge_api::{AlertProvider, Canary, MetricTemplate};
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use prometheus_client::registry::Registry;

pub use context::Context;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the controller's flags say.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub kubeconfig: Option<PathBuf>,
    pub namespace: Option<String>,
    pub selector_labels: Vec<String>,
    pub include_label_prefixes: Vec<String>,
    pub metrics_server: String,
    pub mesh_provider: String,
    pub min_interval: Duration,
    pub listen: SocketAddr,
    pub leader_elect: bool,
    pub leader_election_namespace: Option<String>,
    pub identity: Option<String>,
    pub event_webhook: Option<String>,
    pub slack_url: Option<String>,
    pub msteams_url: Option<String>,
    pub cluster_name: String,
}

/// Connects, checks that the CRDs are served, starts the HTTP endpoints, leader election and
/// the watches, and reconciles until SIGINT/SIGTERM.
pub async fn run(config: ControllerConfig) -> anyhow::Result<()> {
    let client = connect(&config).await?;
    preflight(&client).await?;

    let mut registry = Registry::default();
    let metrics = telemetry::Metrics::register(&mut registry);
    let health = Arc::new(http::Health {
        leader_elect: config.leader_elect,
        ..http::Health::default()
    });
    let bound = http::serve(config.listen, health.clone(), Arc::new(registry))
        .await
        .with_context(|| format!("--listen {}: cannot bind", config.listen))?;
    tracing::info!(address = %bound, "serving /healthz, /readyz and /metrics");

    // Without leader election this replica always leads: a channel that says so once.
    let leading = if config.leader_elect {
        leader::spawn(client.clone(), &config, health.clone()).await?
    } else {
        tokio::sync::watch::channel(true).1
    };

    let default_provider = match fledge_api::Provider::parse(&config.mesh_provider) {
        Some(p) if p.is_routed() => p,
        _ => anyhow::bail!(
            "--mesh-provider {}: not a provider this fledge version routes through; use one of {}",
            config.mesh_provider,
            fledge_api::Provider::routed_list()
        ),
    };

    let api = |c: &Client| -> Api<Canary> { scoped(c, config.namespace.as_deref()) };
    let canaries = api(&client);
    let deployments: Api<Deployment> = scoped(&client, config.namespace.as_deref());
    // Metadata-only lists and watches: no Secret data ever reaches this process's caches.
    let configmaps: Api<PartialObjectMeta<ConfigMap>> =
        scoped(&client, config.namespace.as_deref());
    let secrets: Api<PartialObjectMeta<Secret>> = scoped(&client, config.namespace.as_deref());
    let templates: Api<MetricTemplate> = scoped(&client, config.namespace.as_deref());
    let alert_providers: Api<AlertProvider> = scoped(&client, config.namespace.as_deref());

    // Every Deployment (targets and primaries): needed to notice target changes at once and
    // for opt-in by annotation. managedFields are dropped before caching; they are large and
    // never read.
    let (deploy_reader, deploy_writer) = reflector::store::<Deployment>();
    let deploy_stream = watcher(deployments, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_err(|e| watch_failed("deployments", e))
        .modify(|d| d.managed_fields_mut().clear())
        .reflect(deploy_writer)
        .touched_objects();
    // ConfigMaps and Secrets: metadata only, so no Secret data sits in memory; the data of a
    // tracked one is read when its resourceVersion changes.
    let (cm_reader, cm_writer) = reflector::store();
    let cm_stream = watcher(configmaps, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_err(|e| watch_failed("configmaps", e))
        .modify(|d| d.managed_fields_mut().clear())
        .reflect(cm_writer)
        .touched_objects();
    let (secret_reader, secret_writer) = reflector::store();
    let secret_stream = watcher(secrets, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_err(|e| watch_failed("secrets", e))
        .modify(|d| d.managed_fields_mut().clear())
        .reflect(secret_writer)
        .touched_objects();
    let (template_reader, template_writer) = reflector::store();
    let template_stream = watcher(templates, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_err(|e| watch_failed("metrictemplates", e))
        .reflect(template_writer)
        .touched_objects();
    let (alert_reader, alert_writer) = reflector::store();
    let alert_stream = watcher(alert_providers, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_err(|e| watch_failed("alertproviders", e))
        .reflect(alert_writer)
        .touched_objects();

    // Generated Services and HTTPRoutes (by label): routers read them from here instead of the
    // API server, and a change to one wakes its Canary.
    let generated = watcher::Config::default()
        .labels(workload::MANAGED_BY_LABEL)
        .any_semantic();
    let (svc_reader, svc_writer) = reflector::store::<Service>();
    let svc_stream = watcher(
        scoped::<Service>(&client, config.namespace.as_deref()),
        generated.clone(),
    )
    .default_backoff()
    .inspect_err(|e| watch_failed("services", e))
    .modify(|s| s.managed_fields_mut().clear())
    .reflect(svc_writer)
    .touched_objects();
    let route_resource = fledge_routers::gatewayapi::ApiVersion::V1.resource();
    let routes_served = client
        .list_api_group_resources(&route_resource.api_version)
        .await
        .is_ok_and(|list| {
            list.resources
                .iter()
                .any(|r| r.name == route_resource.plural)
        });
    let route_writer = reflector::store::Writer::<DynamicObject>::new(route_resource.clone());
    let route_reader = route_writer.as_reader();
    let route_api: Api<DynamicObject> = match config.namespace.as_deref() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &route_resource),
        None => Api::all_with(client.clone(), &route_resource),
    };
    let route_stream = if routes_served {
        watcher(route_api, generated)
            .default_backoff()
            .inspect_err(|e| watch_failed("httproutes", e))
            .modify(|r| r.managed_fields_mut().clear())
            .reflect(route_writer)
            .touched_objects()
            .boxed()
    } else {
        tracing::info!(
            "HTTPRoutes are not served; Gateway API routers will read from the API server"
        );
        futures::stream::empty().boxed()
    };
    let route_dyntype = route_resource.clone();
    let router_cache: Arc<dyn fledge_routers::ObjectCache> =
        Arc::new(fledge_routers::ReflectorCache {
            services: svc_reader.clone(),
            http_routes: if routes_served {
                Some((route_reader, route_resource))
            } else {
                None
            },
        });

    let controller = Controller::new(canaries, watcher::Config::default().any_semantic());
    let canary_reader = controller.store();

    let (optin_tx, optin_rx) = tokio::sync::mpsc::channel::<ObjectRef<Deployment>>(1024);
    let ctx = Arc::new(Context::new(
        client.clone(),
        config.clone(),
        fledge_core::Config {
            default_provider,
            min_interval: config.min_interval,
        },
        context::Caches {
            canaries: canary_reader.clone(),
            deployments: deploy_reader.clone(),
            configmaps: cm_reader.clone(),
            secrets: secret_reader.clone(),
            templates: template_reader.clone(),
            alert_providers: alert_reader.clone(),
        },
        health.clone(),
        metrics,
        router_cache,
    )?);

    // Caches first: reconciling against a half-filled cache would see missing targets.
    let sync_health = health.clone();
    let readers = (
        canary_reader.clone(),
        deploy_reader.clone(),
        cm_reader.clone(),
        secret_reader.clone(),
        template_reader.clone(),
        alert_reader.clone(),
    );
    tokio::spawn(async move {
        let (a, b, c, d, e, f) = readers;
        let pending = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::from([
            "canaries",
            "deployments",
            "configmaps",
            "secrets",
            "metrictemplates",
            "alertproviders",
            "services",
        ])));
        // Say which cache is missing: a watch that can never list (RBAC, a CRD gone) would
        // otherwise leave the controller silently idle.
        let watchdog_pending = pending.clone();
        let watchdog = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let missing: Vec<&str> = watchdog_pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .copied()
                    .collect();
                tracing::warn!(
                    ?missing,
                    "still waiting for caches to sync; nothing is reconciled until they are"
                );
            }
        });
        let done = |name: &'static str| {
            let pending = pending.clone();
            move |_| {
                pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(name);
                tracing::debug!(cache = name, "cache synced");
            }
        };
        let _ = futures::join!(
            a.wait_until_ready().map(done("canaries")),
            b.wait_until_ready().map(done("deployments")),
            c.wait_until_ready().map(done("configmaps")),
            d.wait_until_ready().map(done("secrets")),
            e.wait_until_ready().map(done("metrictemplates")),
            f.wait_until_ready().map(done("alertproviders")),
            svc_reader.wait_until_ready().map(done("services")),
        );
        watchdog.abort();
        sync_health.caches_synced.store(true, Ordering::SeqCst);
        tracing::info!("caches synced");
    });

    tokio::spawn(optin::run(ctx.clone(), optin_rx, leading.clone()));
    tokio::spawn(count_canaries(ctx.clone()));
    // Followers skip reconciles; on becoming leader, catch up on every Canary.
    let became_leader = futures::stream::unfold(leading, |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            if *rx.borrow_and_update() {
                return Some(((), rx));
            }
        }
    });

    let by_target = canary_reader.clone();
    let by_config = canary_reader.clone();
    let by_secret = canary_reader.clone();
    let by_template = canary_reader.clone();
    let by_alert = canary_reader.clone();
    controller
        .with_config(kube::runtime::controller::Config::default().concurrency(16))
        .watches_stream(deploy_stream, move |dep: Deployment| {
            let _ = optin_tx.try_send(ObjectRef::from_obj(&dep));
            canaries_for_deployment(&by_target, &dep)
        })
        .watches_stream(cm_stream, move |cm| {
            canaries_tracking(&by_config, "configmap", cm.namespace(), &cm.name_any())
        })
        .watches_stream(secret_stream, move |s| {
            canaries_tracking(&by_secret, "secret", s.namespace(), &s.name_any())
        })
        .watches_stream(template_stream, move |t: MetricTemplate| {
            canaries_using_template(&by_template, &t)
        })
        .watches_stream(alert_stream, move |a: AlertProvider| {
            canaries_using_alert(&by_alert, &a)
        })
        .watches_stream(svc_stream, |s: Service| generated_owner(&s))
        .watches_stream_with(
            route_stream,
            |r: DynamicObject| generated_owner(&r),
            route_dyntype,
        )
        .reconcile_all_on(became_leader)
        .shutdown_on_signal()
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
    tracing::info!("controller stopped");
    Ok(())
}

/// `fledge_canary_total{namespace}`, from the cache every 15s: cheap, and exact enough for a
/// gauge nobody alerts on at sub-minute resolution.
async fn count_canaries(ctx: Arc<Context>) {
    let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    loop {
        let mut counts: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        for canary in ctx.caches.canaries.state() {
            *counts
                .entry(canary.namespace().unwrap_or_default())
                .or_default() += 1;
        }
        for ns in seen.iter().filter(|ns| !counts.contains_key(*ns)) {
            ctx.metrics
                .canary_total
                .get_or_create(&telemetry::NamespaceLabels {
                    namespace: ns.clone(),
                })
                .set(0);
        }
        for (ns, n) in &counts {
            ctx.metrics
                .canary_total
                .get_or_create(&telemetry::NamespaceLabels {
                    namespace: ns.clone(),
                })
                .set(*n);
        }
        seen = counts.into_keys().collect();
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
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

async fn connect(config: &ControllerConfig) -> anyhow::Result<Client> {
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("--kubeconfig {}: cannot read", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .with_context(|| format!("--kubeconfig {}: invalid", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes configuration found (in-cluster, $KUBECONFIG or ~/.kube/config); pass --kubeconfig")?,
    };
    let url = kube_config.cluster_url.clone();
    let client = Client::try_from(kube_config).context("building the Kubernetes client")?;
    client
        .apiserver_version()
        .await
        .with_context(|| format!("cannot reach the Kubernetes API at {url}"))?;
    Ok(client)
}

/// Refuses to start without the CRDs: a controller that can't list Canaries would only log
/// errors forever.
async fn preflight(client: &Client) -> anyhow::Result<()> {
    let resources = client
        .list_api_group_resources("fledge.dev/v1beta1")
        .await
        .ok()
        .map(|list| {
            list.resources
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let missing: Vec<&str> = ["canaries", "metrictemplates", "alertproviders"]
        .into_iter()
        .filter(|r| !resources.iter().any(|have| have == r))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the fledge CRDs are not installed ({} not served in fledge.dev/v1beta1); install them with `fledge crds | kubectl apply -f -` or `kubectl apply -f deploy/crds/fledge-crds.yaml`",
            missing.join(", ")
        );
    }
    Ok(())
}

fn canaries_for_deployment(
    canaries: &reflector::Store<Canary>,
    dep: &Deployment,
) -> Vec<ObjectRef<Canary>> {
    let ns = dep.namespace();
    let name = dep.name_any();
    // The primary belongs to its Canary too: its readiness gates promotion.
    let owner = dep
        .owner_references()
        .iter()
        .find(|o| o.kind == "Canary")
        .map(|o| o.name.clone());
    canaries
        .state()
        .iter()
        .filter(|c| c.namespace() == ns)
        .filter(|c| c.spec.target_ref.name == name || Some(c.name_any()) == owner)
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

fn watch_failed(what: &str, err: &watcher::Error) {
    tracing::warn!(watch = what, error = %err, "watch failed; retrying with backoff");
}

/// The Canary a generated object belongs to, from its `fledge.dev/canary` label.
fn generated_owner<K: Resource>(obj: &K) -> Option<ObjectRef<Canary>> {
    let name = obj.labels().get(workload::MANAGED_BY_LABEL)?;
    Some(ObjectRef::new(name).within(&obj.namespace()?))
}

fn canaries_tracking(
    canaries: &reflector::Store<Canary>,
    kind: &str,
    ns: Option<String>,
    name: &str,
) -> Vec<ObjectRef<Canary>> {
    let key = format!("{kind}/{name}");
    let primary_copy = name.strip_suffix("-primary");
    canaries
        .state()
        .iter()
        .filter(|c| c.namespace() == ns)
        .filter(|c| {
            c.status.as_ref().is_some_and(|s| {
                s.tracked_configs.contains_key(&key)
                    || primary_copy
                        .is_some_and(|n| s.tracked_configs.contains_key(&format!("{kind}/{n}")))
            })
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

fn canaries_using_template(
    canaries: &reflector::Store<Canary>,
    template: &MetricTemplate,
) -> Vec<ObjectRef<Canary>> {
    let ns = template.namespace();
    let name = template.name_any();
    canaries
        .state()
        .iter()
        .filter(|c| {
            c.spec.analysis().is_some_and(|a| {
                a.metrics.iter().any(|m| {
                    m.template_ref.as_ref().is_some_and(|r| {
                        r.name == name && r.namespace.clone().or_else(|| c.namespace()) == ns
                    })
                })
            })
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

fn canaries_using_alert(
    canaries: &reflector::Store<Canary>,
    provider: &AlertProvider,
) -> Vec<ObjectRef<Canary>> {
    let ns = provider.namespace();
    let name = provider.name_any();
    canaries
        .state()
        .iter()
        .filter(|c| {
            c.spec.analysis().is_some_and(|a| {
                a.alerts.iter().any(|alert| {
                    alert.provider_ref.name == name
                        && alert
                            .provider_ref
                            .namespace
                            .clone()
                            .or_else(|| c.namespace())
                            == ns
                })
            })
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}
