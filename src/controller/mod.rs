//! The controller: watches Canaries and what they refer to, asks `fledge-core` what to do, and
//! does it through the Kubernetes API. Decisions live in `fledge-core`; builders of derived
//! objects in `workload`; this module tree observes and acts.
//!
//! Layout: `startup` (flags, connection, CRDs) → `watch` (every cache, one helper) → `index`
//! (which Canaries an object concerns) → `reconcile` (observe → checks → decide → act → status),
//! with `act` carrying out core's actions through `writes` (Kubernetes writes) and `notify`
//! (Events, webhooks, alerts). `optin` turns annotated Deployments into Canaries.
//!
//! Reads come from the caches, except for the data of a tracked ConfigMap or Secret whose
//! resourceVersion changed (only metadata is cached), the HorizontalPodAutoscalers of
//! autoscaled targets, the Secret an AlertProvider or MetricTemplate names (read when needed,
//! never cached), and the current version of an object fledge is about to overwrite (a
//! `-primary` config copy). Only the Lease holder reconciles and runs opt-in; followers keep
//! their caches warm and write nothing.

mod act;
mod checks;
mod checksum;
mod config;
mod context;
mod error;
pub mod http;
mod index;
mod leader;
mod notify;
mod observe;
mod optin;
mod prometheus_clients;
mod reconcile;
mod recorder;
mod startup;
mod status;
pub mod telemetry;
mod watch;
pub mod workload;
mod writes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use fledge_api::{AlertProvider, Canary, MetricTemplate};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use prometheus_client::registry::Registry;

pub use config::{ControllerConfig, LogFormat};
pub use context::Context;
pub use error::{ReconcileError, RunError};
use index::CanaryIndex;
use watch::Watches;

/// Opt-in requests queued between the Deployment watch and the opt-in task.
const OPT_IN_QUEUE: usize = 1024;

/// Checks the flags, connects, checks that the CRDs are served, starts the HTTP endpoints,
/// leader election and the watches, and reconciles until SIGINT/SIGTERM. Returns an error (and
/// the process exits non-zero) when it cannot start or loses leadership.
pub async fn run(config: ControllerConfig) -> Result<(), RunError> {
    let checked = startup::check_flags(&config)?;
    let client = startup::connect(&config).await?;
    startup::preflight(&client).await?;

    let mut registry = Registry::default();
    let metrics = telemetry::Metrics::register(&mut registry);
    let health = Arc::new(http::Health {
        leader_elect: config.leader_elect,
        ..http::Health::default()
    });
    let bound = http::serve(config.listen, health.clone(), Arc::new(registry))
        .await
        .map_err(|e| {
            RunError::flag(
                "--listen",
                config.listen.to_string(),
                format!("cannot bind: {e}"),
            )
        })?;
    tracing::info!(address = %bound, "serving /healthz, /readyz and /metrics");

    // Without leader election this replica always leads: a channel that says so once, and a
    // loss that never comes.
    let (leading, lost) = if config.leader_elect {
        let election = leader::spawn(client.clone(), &config, health.clone()).await?;
        (
            election.leading,
            futures::future::Either::Left(election.lost),
        )
    } else {
        (
            tokio::sync::watch::channel(true).1,
            futures::future::Either::Right(futures::future::pending()),
        )
    };

    let ns = config.namespace.as_deref();
    let mut watches = Watches::default();
    let index = Arc::new(RwLock::new(CanaryIndex::default()));
    let indexer = index.clone();
    let (canaries, canary_stream) = watches.watch(
        "canaries",
        scoped::<Canary>(&client, ns),
        watcher::Config::default(),
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
    let (deployments, deploy_stream) = watches.watch(
        "deployments",
        scoped::<Deployment>(&client, ns),
        watcher::Config::default(),
        (),
        |_| {},
    );
    // ConfigMaps and Secrets: metadata only, so no Secret data ever sits in memory; the data
    // of a tracked one is read when its resourceVersion changes.
    let (configmaps, cm_stream) = watches.watch(
        "configmaps",
        scoped::<PartialObjectMeta<ConfigMap>>(&client, ns),
        watcher::Config::default(),
        (),
        |_| {},
    );
    let (secrets, secret_stream) = watches.watch(
        "secrets",
        scoped::<PartialObjectMeta<Secret>>(&client, ns),
        watcher::Config::default(),
        (),
        |_| {},
    );
    let (templates, template_stream) = watches.watch(
        "metrictemplates",
        scoped::<MetricTemplate>(&client, ns),
        watcher::Config::default(),
        (),
        |_| {},
    );
    let (alert_providers, alert_stream) = watches.watch(
        "alertproviders",
        scoped::<AlertProvider>(&client, ns),
        watcher::Config::default(),
        (),
        |_| {},
    );
    // Generated Services and HTTPRoutes (by label): routers read them from here instead of
    // the API server, and a change to one (a hand edit included) wakes its Canary.
    let generated = watcher::Config::default().labels(fledge_api::names::CANARY_LABEL);
    let (services, svc_stream) = watches.watch(
        "services",
        scoped::<Service>(&client, ns),
        generated.clone(),
        (),
        |_| {},
    );
    let route_resource = fledge_routers::gatewayapi::ApiVersion::V1.resource();
    let routes_served = startup::served_resources(&client, &route_resource.api_version)
        .await?
        .is_some_and(|served| served.contains(&route_resource.plural));
    let (http_routes, route_stream) = if routes_served {
        let api: Api<DynamicObject> = match ns {
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
    let router_cache: Arc<dyn fledge_routers::ObjectCache> =
        Arc::new(fledge_routers::ReflectorCache {
            services,
            http_routes,
        });

    let ctx = Arc::new(Context::new(
        client.clone(),
        config.clone(),
        fledge_core::Config {
            default_provider: checked.default_provider,
            min_interval: config.min_interval,
        },
        context::Caches {
            canaries: canaries.clone(),
            deployments,
            configmaps,
            secrets,
            templates,
            alert_providers,
        },
        health.clone(),
        metrics,
        router_cache,
    )?);

    // Caches first: reconciling against a half-filled cache would see missing targets.
    tokio::spawn(watches.wait_synced(health.clone()));
    let (optin_tx, optin_rx) = tokio::sync::mpsc::channel::<ObjectRef<Deployment>>(OPT_IN_QUEUE);
    let optin_overflow = Arc::new(AtomicBool::new(false));
    tokio::spawn(optin::run(
        ctx.clone(),
        optin_rx,
        leading.clone(),
        optin_overflow.clone(),
    ));
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

    let (by_target, by_config, by_secret, by_template, by_alert) = (
        index.clone(),
        index.clone(),
        index.clone(),
        index.clone(),
        index,
    );
    let reconciler = Controller::for_stream(canary_stream, canaries)
        .with_config(kube::runtime::controller::Config::default().concurrency(16))
        .watches_stream(deploy_stream, move |dep: Deployment| {
            if optin_tx.try_send(ObjectRef::from_obj(&dep)).is_err()
                && !optin_overflow.swap(true, Ordering::SeqCst)
            {
                tracing::warn!(
                    deployment = %ObjectRef::from_obj(&dep),
                    "opt-in queue full; every Deployment is checked again once it drains"
                );
            }
            canaries_for_deployment(&read(&by_target), &dep)
        })
        .watches_stream(cm_stream, move |cm| {
            read(&by_config).canaries_tracking(
                index::CONFIGMAP,
                &cm.namespace().unwrap_or_default(),
                &cm.name_any(),
            )
        })
        .watches_stream(secret_stream, move |s| {
            read(&by_secret).canaries_tracking(
                index::SECRET,
                &s.namespace().unwrap_or_default(),
                &s.name_any(),
            )
        })
        .watches_stream(template_stream, move |t: MetricTemplate| {
            read(&by_template).canaries(
                index::METRIC_TEMPLATE,
                &t.namespace().unwrap_or_default(),
                &t.name_any(),
            )
        })
        .watches_stream(alert_stream, move |a: AlertProvider| {
            read(&by_alert).canaries(
                index::ALERT_PROVIDER,
                &a.namespace().unwrap_or_default(),
                &a.name_any(),
            )
        })
        .watches_stream(svc_stream, |s: Service| generated_owner(&s))
        .watches_stream_with(
            route_stream,
            |r: DynamicObject| generated_owner(&r),
            route_resource,
        )
        .reconcile_all_on(became_leader)
        .shutdown_on_signal()
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| futures::future::ready(()));
    tokio::select! {
        () = reconciler => {
            health.reconciler_stopped.store(true, Ordering::SeqCst);
            tracing::info!("controller stopped");
            Ok(())
        }
        reason = lost => {
            health.reconciler_stopped.store(true, Ordering::SeqCst);
            let reason = reason.unwrap_or_else(|_| "leader election stopped".to_string());
            Err(RunError::other("leader election", reason))
        }
    }
}

/// `fledge_canary_total{namespace}`, from the cache every 15s: cheap, and exact enough for a
/// gauge nobody alerts on at sub-minute resolution.
/// The same pass forgets the per-Canary bookkeeping of deleted Canaries.
async fn count_canaries(ctx: Arc<Context>) {
    let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    loop {
        let mut counts: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        let canaries = ctx.caches.canaries.state();
        ctx.forget_all_but(
            &canaries
                .iter()
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect(),
        );
        for canary in canaries {
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
        tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    }
}

fn read(index: &RwLock<CanaryIndex>) -> std::sync::RwLockReadGuard<'_, CanaryIndex> {
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

/// The Canaries a Deployment concerns: those targeting it, and the one owning it (a primary's
/// readiness gates promotion).
fn canaries_for_deployment(index: &CanaryIndex, dep: &Deployment) -> Vec<ObjectRef<Canary>> {
    let ns = dep.namespace().unwrap_or_default();
    let mut found = index.canaries(index::DEPLOYMENT, &ns, &dep.name_any());
    if let Some(owner) = dep.owner_references().iter().find(|o| o.kind == "Canary") {
        found.push(ObjectRef::new(&owner.name).within(&ns));
    }
    found.dedup();
    found
}

/// The Canary a generated object belongs to, from its `fledge.dev/canary` label.
fn generated_owner<K: Resource>(obj: &K) -> Option<ObjectRef<Canary>> {
    let name = obj.labels().get(workload::MANAGED_BY_LABEL)?;
    Some(ObjectRef::new(name).within(&obj.namespace()?))
}
