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
mod sources;
mod startup;
mod status;
pub mod telemetry;
mod watch;
pub mod workload;
mod writes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use prometheus_client::registry::Registry;

pub use config::{ControllerConfig, LogFormat};
pub use context::Context;
pub use error::{ReconcileError, RunError};

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

    let sources = sources::watch_all(&client, config.namespace.as_deref(), &metrics).await?;
    let ctx = Arc::new(Context::new(
        client.clone(),
        config.clone(),
        fledge_core::Config {
            default_provider: checked.default_provider,
            min_interval: config.min_interval,
        },
        sources.caches.clone(),
        health.clone(),
        metrics,
        sources.router_cache.clone(),
    )?);

    // Caches first: reconciling against a half-filled cache would see missing targets.
    tokio::spawn(sources.watches.wait_synced(health.clone()));
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

    let on_deployment = move |dep: &Deployment| {
        if optin_tx.try_send(ObjectRef::from_obj(dep)).is_err()
            && !optin_overflow.swap(true, Ordering::SeqCst)
        {
            tracing::warn!(
                deployment = %ObjectRef::from_obj(dep),
                "opt-in queue full; every Deployment is checked again once it drains"
            );
        }
    };
    let reconciler = sources
        .streams
        .into_controller(on_deployment)
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

/// Every 15 s, from the cache: `fledge_canary_total{namespace}` (cheap, and exact enough for a
/// gauge nobody alerts on at sub-minute resolution), and the series and bookkeeping of Canaries
/// deleted since the last pass are dropped (a deleted Failed Canary must not keep an alert on).
async fn count_canaries(ctx: Arc<Context>) {
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    loop {
        let canaries = ctx.caches.canaries.state();
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        let mut live: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for canary in &canaries {
            let ns = canary.namespace().unwrap_or_default();
            *counts.entry(ns.clone()).or_default() += 1;
            let metric_names = canary
                .spec
                .analysis()
                .map(|a| a.metrics.iter().map(|m| m.name.clone()).collect())
                .unwrap_or_default();
            live.insert((ns, canary.name_any()), metric_names);
        }
        // Only once the caches are synced: before that, every Canary looks deleted.
        if ctx.health.caches_synced.load(Ordering::SeqCst) {
            telemetry::forget_deleted(&ctx.metrics, &live);
            ctx.forget_all_but(
                &canaries
                    .iter()
                    .map(|c| ObjectRef::from_obj(c.as_ref()))
                    .collect(),
            );
        }
        for ns in namespaces.iter().filter(|ns| !counts.contains_key(*ns)) {
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
        namespaces = counts.into_keys().collect();
        tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    }
}
