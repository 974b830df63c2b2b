//! Runs the webhooks and metric queries the state machine asked for (`fledge_core::checks_due`)
//! and turns their answers into `fledge_core::CheckResults`. Stages run in order and stop at
//! the first one that ends the step, as Flagger does (no metrics after a failed rollout hook).

use std::collections::BTreeMap;
use std::sync::Arc;

use fledge_api::{Canary, MetricProviderType, MetricTemplate, Verdict};
use fledge_core::{CheckRequest, CheckResults, CheckStage, HookOutcome, HookResult, MetricResult};
use fledge_hooks::payload::CanaryRef;
use fledge_metrics::{Credentials, Measured, MetricProvider, Providers, QuerySource, TemplateKey};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::context::Context;
use super::prometheus_clients::{QUERY_TIMEOUT, template_key};
use super::telemetry::MetricLabels;

pub async fn run(
    ctx: &Context,
    canary: &Canary,
    request: &CheckRequest,
    checksum: &str,
    now: Timestamp,
) -> CheckResults {
    let mut results = CheckResults::default();
    let hooks = canary
        .spec
        .analysis()
        .map(|a| a.webhooks.clone())
        .unwrap_or_default();
    let canary_ref = CanaryRef {
        name: canary.name_any(),
        namespace: canary.namespace().unwrap_or_default(),
        phase: canary
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .map(|p| p.to_string())
            .unwrap_or_default(),
        checksum: checksum.to_string(),
    };
    for stage in &request.stages {
        match stage {
            CheckStage::Hooks(hook_type) => {
                let due: Vec<_> = hooks.iter().filter(|h| h.type_ == *hook_type).collect();
                let outcomes = ctx.webhooks.run_concurrently(due, &canary_ref).await;
                results
                    .hooks
                    .extend(outcomes.into_iter().map(|o| HookResult {
                        name: o.name.clone(),
                        hook_type: *hook_type,
                        outcome: if o.succeeded() {
                            HookOutcome::Accepted
                        } else {
                            HookOutcome::Refused(o.to_string())
                        },
                    }));
            }
            CheckStage::Metrics => {
                let measured = metrics(ctx, canary, now).await;
                record_telemetry(ctx, canary, &measured);
                results
                    .metrics
                    .extend(
                        measured
                            .into_iter()
                            .map(|m| m.record)
                            .map(|r| MetricResult {
                                name: r.name,
                                value: r.value,
                                primary_value: r.primary_value,
                                threshold: r.threshold,
                                verdict: r.verdict,
                                message: r.message,
                            }),
                    );
            }
        }
        if stage.halts(&results) {
            break;
        }
    }
    results
}

async fn metrics(ctx: &Context, canary: &Canary, now: Timestamp) -> Vec<Measured> {
    let provider = canary.spec.provider_or(ctx.core.default_provider);
    let templates = &ctx.caches.templates;
    let planned = fledge_metrics::plan(canary, provider, |key: &TemplateKey| {
        templates.get(&ObjectRef::new(&key.name).within(&key.namespace))
    });
    let address = canary
        .spec
        .metrics_server
        .clone()
        .unwrap_or_else(|| ctx.config.metrics_server.clone());
    let mut providers = Providers {
        metrics_server: ctx.prometheus.get(&address),
        templates: BTreeMap::new(),
    };
    for check in planned.iter().flatten() {
        for query in check.queries() {
            if let QuerySource::Template(key) = &query.source
                && !providers.templates.contains_key(key)
            {
                let built = template_provider(ctx, &address, key).await;
                providers.templates.insert(key.clone(), built);
            }
        }
    }
    fledge_metrics::analyze(&planned, &providers, now).await
}

async fn template_provider(
    ctx: &Context,
    metrics_server: &str,
    key: &TemplateKey,
) -> Result<Arc<dyn MetricProvider>, String> {
    let template: Arc<MetricTemplate> = ctx
        .caches
        .templates
        .get(&ObjectRef::new(&key.name).within(&key.namespace))
        .ok_or_else(|| format!("MetricTemplate {key} not found"))?;
    // Reused while neither the template nor its Secret changed (their resourceVersions, from
    // the caches), so a step neither builds a client nor reads the Secret.
    let secret_version = template.spec.provider.secret_ref.as_ref().map(|r| {
        ctx.caches
            .secrets
            .get(&ObjectRef::new(&r.name).within(&key.namespace))
            .and_then(|m| m.resource_version())
    });
    let cache_key = match (template.resource_version(), &secret_version) {
        (Some(version), None) => Some(template_key(
            &key.to_string(),
            &version,
            None,
            metrics_server,
        )),
        (Some(version), Some(Some(secret))) => Some(template_key(
            &key.to_string(),
            &version,
            Some(secret),
            metrics_server,
        )),
        // No version to key on, or a Secret the cache doesn't have: build (and report) afresh.
        _ => None,
    };
    if let Some(client) = cache_key
        .as_deref()
        .and_then(|k| ctx.prometheus.template(k))
    {
        return Ok(client);
    }
    let credentials = match &template.spec.provider.secret_ref {
        None => None,
        Some(secret_ref) => {
            // Secrets are not cached (only their metadata is); read it when a query needs it.
            let secret = Api::<Secret>::namespaced(ctx.client.clone(), &key.namespace)
                .get(&secret_ref.name)
                .await
                .map_err(|e| {
                    format!(
                        "secret {}/{} (spec.provider.secretRef): {}",
                        key.namespace,
                        secret_ref.name,
                        kube_reason(&e)
                    )
                })?;
            let data = secret.data.unwrap_or_default();
            Some(
                Credentials::from_secret_data(
                    &format!("{}/{}", key.namespace, secret_ref.name),
                    &data,
                )
                .map_err(|e| e.to_string())?,
            )
        }
    };
    // A Prometheus template without an address queries the same Prometheus as the builtin
    // metrics, so one MetricTemplate serves clusters whose Prometheus lives at different URLs.
    // (A `web` template must have its own; validation says so.)
    let template = if template.spec.provider.type_ == MetricProviderType::Prometheus
        && template
            .spec
            .provider
            .address
            .as_deref()
            .is_none_or(|a| a.trim().is_empty())
    {
        let mut t = (*template).clone();
        t.spec.provider.address = Some(metrics_server.to_string());
        Arc::new(t)
    } else {
        template
    };
    let client = fledge_metrics::template_provider(&template, credentials, QUERY_TIMEOUT)
        .map_err(|e| e.to_string())?;
    if let Some(k) = cache_key {
        ctx.prometheus.keep_template(k, client.clone());
    }
    Ok(client)
}

/// The API error's reason without echoing any request body.
fn kube_reason(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("{} ({})", status.reason, status.code),
        other => other.to_string(),
    }
}

fn record_telemetry(ctx: &Context, canary: &Canary, measured: &[Measured]) {
    for Measured { record, unmeasured } in measured {
        let labels = MetricLabels {
            namespace: canary.namespace().unwrap_or_default(),
            name: canary.name_any(),
            metric: record.name.clone(),
        };
        if let Some(value) = record.value {
            ctx.metrics
                .metric_analysis
                .get_or_create(&labels)
                .set(value);
        }
        match record.verdict {
            Verdict::Pass => ctx.metrics.checks_passed.get_or_create(&labels).inc(),
            Verdict::Fail => ctx.metrics.checks_failed.get_or_create(&labels).inc(),
            Verdict::Skipped | Verdict::Inconclusive => 0,
        };
        ctx.metrics
            .track(&labels.namespace, &labels.name, Some(&labels.metric));
        // Created at 0 with the first check, so an alert's increase() sees the first error.
        let errors = ctx.metrics.query_errors.get_or_create(&labels);
        if *unmeasured {
            errors.inc();
        }
    }
}
