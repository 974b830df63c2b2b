//! One reconcile of one Canary: observe (caches) → run the checks that are due → decide
//! (`fledge-core`, pure) → act → write status. Instrumented with one span per reconcile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fledge_api::{Canary, CanaryPhase};
use fledge_core::{CheckResults, Input};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action as Requeue;
use tracing::Instrument;

use super::act::Actor;
use super::checksum::{payload_checksum, tracked_checksum};
use super::context::Context;
use super::error::ReconcileError;
use super::notify::Notifier;
use super::telemetry::CanaryLabels;
use super::{checks, observe, status};

/// How long a non-leader, or a replica whose caches are still filling, waits before looking
/// again. Cheap: no API calls happen until it leads.
const NOT_READY_REQUEUE: Duration = Duration::from_millis(500);
/// Our own write hasn't reached the cache yet; it normally arrives within milliseconds.
const STALE_REQUEUE: Duration = Duration::from_millis(100);
/// After a 409: long enough for the watch to deliver the other writer's version.
const CONFLICT_REQUEUE: Duration = Duration::from_millis(200);

pub async fn reconcile(canary: Arc<Canary>, ctx: Arc<Context>) -> Result<Requeue, ReconcileError> {
    let phase = canary
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .map(CanaryPhase::as_str)
        .unwrap_or("");
    let span = tracing::info_span!(
        "reconcile",
        namespace = %canary.namespace().unwrap_or_default(),
        name = %canary.name_any(),
        phase,
    );
    let started = Instant::now();
    let result = reconcile_inner(&canary, &ctx).instrument(span).await;
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.forget_failures(&canary);
    }
    result
}

async fn reconcile_inner(canary: &Canary, ctx: &Context) -> Result<Requeue, ReconcileError> {
    if !ctx
        .health
        .caches_synced
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        return Ok(Requeue::requeue(NOT_READY_REQUEUE));
    }
    if !ctx.may_write() {
        // Followers keep caches warm and wait; leadership triggers a full reconcile.
        return Ok(Requeue::await_change());
    }
    if ctx.is_stale(canary) {
        return Ok(Requeue::requeue(STALE_REQUEUE));
    }
    let now = Timestamp::now();
    let mut obs = observe::observe(ctx, canary, now).await?;
    // A provider without a router is an invalid spec that validation has already reported
    // (`spec.provider`); any other invalid spec keeps its router, so that deleting the Canary
    // can still give the target its traffic back.
    let provider = canary.spec.provider_or(ctx.core.default_provider);
    let router = fledge_routers::router_with_cache(
        provider,
        ctx.client.clone(),
        Some(ctx.router_cache.clone()),
        &ctx.router_options,
    )
    .ok();
    // What the router can't express is an invalid spec too: stalled and said, nothing written.
    if obs.observed.invalid_spec.is_none()
        && let Err(fledge_routers::RouterError::InvalidSpec { field, message, .. }) =
            fledge_routers::check_spec(provider, canary, &ctx.router_options)
    {
        obs.observed.invalid_spec = Some(format!("{field}: {message}"));
    }
    if let Some(router) = &router
        && obs.observed.invalid_spec.is_none()
    {
        // The user's objects the router reads (nginx's Ingress): stalled on, not failed on.
        // Other errors (the API server unreachable, say) surface where the router writes.
        match router.check_target(canary).await {
            Err(fledge_routers::RouterError::InvalidSpec { field, message, .. }) => {
                obs.observed.invalid_target = Some(format!("{field}: {message}"));
            }
            Err(e @ fledge_routers::RouterError::InvalidTarget { .. }) => {
                obs.observed.invalid_target = Some(e.to_string());
            }
            _ => {}
        }
        obs.observed.routes = observe::live_routes(router.as_ref(), canary).await;
    }

    let no_checks = CheckResults::default();
    let input = Input {
        canary,
        config: &ctx.core,
        observed: &obs.observed,
        checks: &no_checks,
    };
    let due = fledge_core::checks_due(&input, now);
    let checksum = obs
        .observed
        .target
        .as_ref()
        .map(payload_checksum)
        .unwrap_or_default();
    let results = if due.is_empty() {
        CheckResults::default()
    } else {
        checks::run(ctx, canary, &due, &checksum, now).await
    };
    let decision = fledge_core::decide(
        &Input {
            checks: &results,
            ..input
        },
        now,
    );
    tracing::debug!(actions = decision.actions.len(), requeue = ?decision.requeue_after, "decided");

    let actor = Actor {
        ctx,
        canary,
        obs: &obs,
        router,
        tracked_checksum: obs
            .observed
            .target
            .as_ref()
            .map(|r| tracked_checksum(&r.configs))
            .unwrap_or_default(),
        notifier: Notifier {
            ctx,
            canary,
            payload_checksum: checksum,
        },
    };
    actor.apply(&decision.actions).await?;
    status::write(ctx, canary, &decision.status).await?;
    actor.apply(&decision.after_status).await?;
    record_gauges(ctx, canary, &decision.status);
    record_rollout_end(ctx, canary, &decision.status, now);

    Ok(match decision.requeue_after {
        Some(after) => Requeue::requeue(after),
        None => Requeue::await_change(),
    })
}

fn record_gauges(ctx: &Context, canary: &Canary, status: &fledge_api::CanaryStatus) {
    let labels = CanaryLabels {
        namespace: canary.namespace().unwrap_or_default(),
        name: canary.name_any(),
    };
    ctx.metrics.track(&labels.namespace, &labels.name, None);
    let code = match status.phase {
        Some(CanaryPhase::Succeeded | CanaryPhase::Initialized) => 1,
        Some(CanaryPhase::Failed) => 2,
        _ => 0,
    };
    ctx.metrics.canary_status.get_or_create(&labels).set(code);
    ctx.metrics
        .canary_weight
        .get_or_create(&labels)
        .set(i64::from(status.canary_weight));
    // For alerts on a release stuck longer than its schedule allows.
    let interval = fledge_core::Settings::from_canary(canary, &ctx.core).interval;
    ctx.metrics
        .interval
        .get_or_create(&labels)
        .set(interval.as_secs_f64());
    if let Some(last) = &status.last_step_time {
        ctx.metrics
            .last_step
            .get_or_create(&labels)
            .set(last.0.as_millisecond() as f64 / 1000.0);
    }
}

/// A release ends when the phase becomes Succeeded or Failed after an analysis. It began when
/// `Reconciling` last turned True (a condition's lastTransitionTime moves only on a real
/// transition), so no extra timestamp needs to live in status.
fn record_rollout_end(
    ctx: &Context,
    canary: &Canary,
    new: &fledge_api::CanaryStatus,
    now: Timestamp,
) {
    use super::telemetry::{Outcome, OutcomeLabels};
    let old = canary.status.as_ref();
    let old_phase = old.and_then(|s| s.phase);
    let outcome = match (old_phase, new.phase) {
        (Some(a), Some(b)) if a == b => return,
        (_, Some(CanaryPhase::Succeeded))
            if new.canary_weight == 0
                && old_phase == Some(CanaryPhase::Progressing)
                && canary.spec.skip_analysis() =>
        {
            Outcome::Skipped
        }
        (_, Some(CanaryPhase::Succeeded)) => Outcome::Succeeded,
        (_, Some(CanaryPhase::Failed)) => Outcome::Failed,
        _ => return,
    };
    let started = old
        .into_iter()
        .flat_map(|s| s.conditions.iter())
        .find(|c| c.type_ == fledge_core::CONDITION_RECONCILING && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref());
    if let Some(started) = started {
        let seconds = (now.as_millisecond() - started.0.as_millisecond()) as f64 / 1000.0;
        ctx.metrics
            .rollout_duration
            .get_or_create(&OutcomeLabels { outcome })
            .observe(seconds.max(0.0));
    }
}

/// Retries with exponential backoff per Canary (1s doubling to 5 min), so one broken Canary
/// doesn't spin while the others go on.
pub fn error_policy(canary: Arc<Canary>, err: &ReconcileError, ctx: Arc<Context>) -> Requeue {
    let labels = CanaryLabels {
        namespace: canary.namespace().unwrap_or_default(),
        name: canary.name_any(),
    };
    ctx.metrics.reconcile_errors.get_or_create(&labels).inc();
    if err.is_conflict() {
        // Someone wrote between our read and our write: the next read sees it. No backoff.
        tracing::info!(namespace = %labels.namespace, name = %labels.name, error = %err, "conflict; reconciling again");
        return Requeue::requeue(CONFLICT_REQUEUE);
    }
    let delay = ctx.next_backoff(&canary);
    tracing::warn!(
        namespace = %labels.namespace,
        name = %labels.name,
        error = %err,
        retry_in = ?delay,
        "reconcile failed"
    );
    Requeue::requeue(delay)
}
