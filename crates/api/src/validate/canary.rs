//! Canary rules: what Flagger's CRD and controller reject, what fledge adds (no-data policy,
//! sample counts, comparison with the primary), and warnings for combinations Flagger resolves silently.

use std::collections::HashSet;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::comparison::{compare_primary_rules, range_rules};
use super::{Findings, Problem, ValidateOptions, is_http_url};
use crate::analysis::{BUILTIN_METRICS, CanaryAnalysis, CanaryMetric, CanaryWebhook, MAX_METRICS};
use crate::canary::{Canary, CanarySpec, Provider, Strategy};
use crate::duration::{format_duration, parse_duration};
use crate::template::{TemplateVars, render};

/// Every problem with a Canary, errors and warnings, in field order.
pub fn validate_canary(canary: &Canary, opts: &ValidateOptions) -> Vec<Problem> {
    let mut f = Findings::new("Canary", &canary.metadata);
    let spec = &canary.spec;
    target_ref(spec, &mut f);
    if let Some(server) = spec.metrics_server.as_deref().filter(|s| !s.is_empty())
        && !is_http_url(server)
    {
        f.error(
            "spec.metricsServer",
            format!("must be an http:// or https:// URL (got {server:?})"),
        );
    }
    if let Some(secs) = spec.progress_deadline_seconds
        && secs < 1
    {
        f.error(
            "spec.progressDeadlineSeconds",
            format!("must be at least 1 (got {secs}); the default is 600"),
        );
    }
    autoscaler_ref(spec, &mut f);
    service(spec, &mut f);
    if spec.analysis.is_some() && spec.canary_analysis.is_some() {
        f.warn(
            "spec.canaryAnalysis",
            "ignored because spec.analysis is set; remove the deprecated canaryAnalysis",
        );
    } else if spec.canary_analysis.is_some() {
        f.warn(
            "spec.canaryAnalysis",
            "deprecated; rename it to spec.analysis",
        );
    }
    match spec.analysis() {
        None => f.error(
            "spec.analysis",
            "required: set interval, threshold and stepWeight (canary), iterations (blue/green) or match with iterations (A/B testing)",
        ),
        Some(analysis) => {
            let path = format!("spec.{}", spec.analysis_field());
            analysis_rules(canary, analysis, &path, opts, &mut f);
        }
    }
    f.problems
}

fn target_ref(spec: &CanarySpec, f: &mut Findings) {
    let t = &spec.target_ref;
    if t.name.is_empty() {
        f.error(
            "spec.targetRef.name",
            "required: the name of the Deployment to drive",
        );
    }
    if t.kind != "Deployment" {
        let got = if t.kind.is_empty() {
            "nothing".to_string()
        } else {
            format!("{:?}", t.kind)
        };
        f.error(
            "spec.targetRef.kind",
            format!("must be Deployment (got {got}); fledge drives apps/v1 Deployments only"),
        );
    }
    if t.api_version != "apps/v1" {
        f.error(
            "spec.targetRef.apiVersion",
            format!("must be apps/v1 (got {:?})", t.api_version),
        );
    }
}

fn autoscaler_ref(spec: &CanarySpec, f: &mut Findings) {
    let Some(a) = &spec.autoscaler_ref else {
        return;
    };
    if !["HorizontalPodAutoscaler", "ScaledObject"].contains(&a.kind.as_str()) {
        f.error(
            "spec.autoscalerRef.kind",
            format!(
                "must be HorizontalPodAutoscaler or ScaledObject (got {:?})",
                a.kind
            ),
        );
    }
    if a.kind == "HorizontalPodAutoscaler" && a.api_version != "autoscaling/v2" {
        f.error(
            "spec.autoscalerRef.apiVersion",
            format!("must be autoscaling/v2 (got {:?})", a.api_version),
        );
    }
    if a.name.is_empty() {
        f.error("spec.autoscalerRef.name", "required");
    }
    if let Some(r) = &a.primary_scaler_replicas
        && let (Some(min), Some(max)) = (r.min_replicas, r.max_replicas)
        && min > max
    {
        f.error(
            "spec.autoscalerRef.primaryScalerReplicas",
            format!("minReplicas ({min}) must not exceed maxReplicas ({max})"),
        );
    }
}

fn service(spec: &CanarySpec, f: &mut Findings) {
    let s = &spec.service;
    match s.port {
        0 => f.error(
            "spec.service.port",
            "required: the port the generated Services expose (1-65535)",
        ),
        p if !(1..=65535).contains(&p) => {
            f.error(
                "spec.service.port",
                format!("must be between 1 and 65535 (got {p})"),
            );
        }
        _ => {}
    }
    match &s.target_port {
        Some(IntOrString::Int(p)) if !(1..=65535).contains(p) => {
            f.error(
                "spec.service.targetPort",
                format!("must be between 1 and 65535 or a port name (got {p})"),
            );
        }
        Some(IntOrString::String(name)) if name.is_empty() => {
            f.error(
                "spec.service.targetPort",
                "must be a port number or a port name, not empty",
            );
        }
        _ => {}
    }
    if let Some(timeout) = &s.timeout
        && let Err(e) = parse_duration(timeout)
    {
        f.error("spec.service.timeout", e.to_string());
    }
    if let Some(p) = spec.provider
        && !p.is_routed()
    {
        f.error(
            "spec.provider",
            format!(
                "{p} is not supported by this fledge version (supported: {}); set spec.provider to one of them",
                Provider::routed_list()
            ),
        );
    }
    if spec.provider == Some(Provider::Nginx) {
        match &spec.ingress_ref {
            None => f.error(
                "spec.ingressRef",
                "required for the nginx provider: name the Ingress that routes to the Service (kind Ingress, apiVersion networking.k8s.io/v1)",
            ),
            Some(r) if r.kind != "Ingress" => f.error(
                "spec.ingressRef.kind",
                format!("must be Ingress for the nginx provider (got {:?})", r.kind),
            ),
            Some(r) if r.name.is_empty() => {
                f.error("spec.ingressRef.name", "required: the Ingress' name")
            }
            Some(_) => {}
        }
    }
    if spec.provider.is_some_and(Provider::is_gateway_api) && s.gateway_refs.is_empty() {
        f.error(
            "spec.service.gatewayRefs",
            "required for the gatewayapi provider: list the Gateway(s) the HTTPRoute attaches to",
        );
    }
    if s.delegation == Some(true) && (!s.hosts.is_empty() || !s.gateways.is_empty()) {
        f.error(
            "spec.service.delegation",
            "a delegate VirtualService must have no hosts and no gateways",
        );
    }
}

fn analysis_rules(
    canary: &Canary,
    a: &CanaryAnalysis,
    path: &str,
    opts: &ValidateOptions,
    f: &mut Findings,
) {
    let spec = &canary.spec;
    let interval = match a.interval.as_deref() {
        None => Some(a.interval()),
        Some(text) => match parse_duration(text) {
            Ok(d) if d < opts.min_interval => {
                f.error(
                    format!("{path}.interval"),
                    format!(
                        "must be at least {} (got {text}); the controller's --min-interval lowers the minimum",
                        format_duration(opts.min_interval)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                f.error(format!("{path}.interval"), e.to_string());
                None
            }
        },
    };
    if let Some(t) = a.threshold
        && t < 1
    {
        f.error(
            format!("{path}.threshold"),
            format!("must be at least 1 (got {t}): the failed checks tolerated before rollback"),
        );
    }
    weights(a, path, f);
    percent(f, path, "stepWeightPromotion", a.step_weight_promotion, 0);
    percent(f, path, "mirrorWeight", a.mirror_weight, 0);
    percent(
        f,
        path,
        "primaryReadyThreshold",
        a.primary_ready_threshold,
        0,
    );
    percent(f, path, "canaryReadyThreshold", a.canary_ready_threshold, 0);
    if let Some(i) = a.iterations
        && i < 0
    {
        f.error(
            format!("{path}.iterations"),
            format!("must be 0 or more (got {i})"),
        );
    }
    strategy(spec, a, path, f);
    session_affinity(spec, a, path, f);
    if a.metrics.len() > MAX_METRICS {
        f.error(
            format!("{path}.metrics"),
            format!(
                "at most {MAX_METRICS} metrics (got {}); split the analysis into MetricTemplates that each check more",
                a.metrics.len()
            ),
        );
    }
    let mut names = HashSet::new();
    for (i, metric) in a.metrics.iter().enumerate() {
        let mpath = format!("{path}.metrics[{i}]");
        // The element's path, as the API server names a duplicate key in a list keyed by name.
        if !metric.name.is_empty() && !names.insert(metric.name.as_str()) {
            f.error(
                mpath.clone(),
                format!(
                    "duplicate metric name {:?}; names must be unique",
                    metric.name
                ),
            );
        }
        metric_rules(canary, metric, &mpath, f);
        if let Some(p) = spec.provider
            && metric.is_builtin()
            && !p.has_builtin_metrics()
        {
            f.warn(
                mpath,
                format!(
                    "fledge has no builtin {} query for the {p} provider, so this check will fail; use a MetricTemplate",
                    metric.name
                ),
            );
        }
    }
    let mut names = HashSet::new();
    for (i, hook) in a.webhooks.iter().enumerate() {
        let hpath = format!("{path}.webhooks[{i}]");
        if !hook.name.is_empty() && !names.insert(hook.name.as_str()) {
            f.error(
                hpath.clone(),
                format!(
                    "duplicate webhook name {:?}; names must be unique",
                    hook.name
                ),
            );
        }
        webhook_rules(hook, &hpath, interval, f);
    }
    for (i, alert) in a.alerts.iter().enumerate() {
        if alert.provider_ref.name.is_empty() {
            f.error(
                format!("{path}.alerts[{i}].providerRef.name"),
                "required: the AlertProvider to send to",
            );
        }
    }
}

fn percent(f: &mut Findings, path: &str, field: &str, value: Option<i32>, min: i32) {
    if let Some(v) = value
        && !(min..=100).contains(&v)
    {
        f.error(
            format!("{path}.{field}"),
            format!("must be between {min} and 100 (got {v})"),
        );
    }
}

fn weights(a: &CanaryAnalysis, path: &str, f: &mut Findings) {
    percent(f, path, "maxWeight", a.max_weight, 1);
    percent(f, path, "stepWeight", a.step_weight, 1);
    if let (Some(step), Some(max)) = (a.step_weight, a.max_weight)
        && (1..=100).contains(&step)
        && (1..=100).contains(&max)
        && step > max
    {
        f.error(
            format!("{path}.stepWeight"),
            format!("must not exceed maxWeight ({max}) (got {step})"),
        );
    }
    if a.step_weights.is_empty() {
        return;
    }
    if a.step_weight.is_some() {
        f.error(
            format!("{path}.stepWeights"),
            "stepWeight and stepWeights are mutually exclusive: keep the linear stepWeight or the explicit stepWeights schedule",
        );
    }
    for (i, w) in a.step_weights.iter().enumerate() {
        if !(1..=100).contains(w) {
            f.error(
                format!("{path}.stepWeights[{i}]"),
                format!("must be between 1 and 100 (got {w})"),
            );
        }
    }
    // The list's path, as the CRD's rule names it; the message names the entries.
    if let Some(i) = a.step_weights.windows(2).position(|w| w[1] <= w[0]) {
        f.error(
            format!("{path}.stepWeights"),
            format!(
                "must be strictly increasing (stepWeights[{}] = {} follows {}): e.g. [5, 10, 25, 50]",
                i + 1,
                a.step_weights[i + 1],
                a.step_weights[i]
            ),
        );
    }
    if let Some(max) = a.max_weight {
        f.warn(
            format!("{path}.maxWeight"),
            format!(
                "ignored ({max}): with stepWeights the last entry ({}) is the maximum weight",
                a.max_weight()
            ),
        );
    }
}

/// Combinations Flagger resolves silently: say which strategy wins.
fn strategy(spec: &CanarySpec, a: &CanaryAnalysis, path: &str, f: &mut Findings) {
    let linear = a.step_weight.is_some() || !a.step_weights.is_empty();
    let linear_field = if a.step_weight.is_some() {
        "stepWeight"
    } else {
        "stepWeights"
    };
    if spec.provider == Some(Provider::Kubernetes) {
        let plan = spec.strategy(Provider::Kubernetes);
        if !a.r#match.is_empty() {
            f.warn(format!("{path}.match"), format!("ignored: the kubernetes provider runs blue/green ({} iterations) and cannot route by match", plan.iterations));
        }
        if linear {
            f.warn(
                format!("{path}.{linear_field}"),
                format!("ignored: the kubernetes provider runs blue/green ({} iterations) without traffic weights", plan.iterations),
            );
        }
        if a.iterations.unwrap_or(0) < 1 {
            f.warn(format!("{path}.iterations"), "not set: the kubernetes provider runs blue/green with the default of 10 iterations");
        }
        return;
    }
    // Any provider but kubernetes decides the strategy from the analysis alone.
    let plan = spec.strategy(spec.provider.unwrap_or(Provider::Istio));
    if linear && plan.strategy != Strategy::Canary {
        f.warn(
            format!("{path}.{linear_field}"),
            format!("ignored: iterations is set, so {} wins ({} checks) and traffic weights are not used", plan.strategy, plan.iterations),
        );
    }
    if !a.r#match.is_empty() && a.iterations.unwrap_or(0) < 1 {
        f.warn(
            format!("{path}.match"),
            "ignored: A/B testing needs iterations; without it the canary strategy runs on stepWeight",
        );
    }
    if !linear && a.iterations.unwrap_or(0) < 1 {
        f.error(
            path.to_string(),
            "no schedule: set stepWeight or stepWeights (canary), iterations (blue/green), or match with iterations (A/B testing)",
        );
    }
    if a.mirror == Some(true) && plan.strategy == Strategy::ABTesting {
        f.warn(
            format!("{path}.mirror"),
            "ignored: A/B testing does not mirror traffic",
        );
    }
    if let Some(p) = spec.provider
        && a.mirror == Some(true)
        && !p.supports_mirroring()
    {
        f.error(
            format!("{path}.mirror"),
            format!(
                "the {p} provider cannot mirror traffic; only istio and gatewayapi can (remove mirror, or change spec.provider)"
            ),
        );
    }
    if spec.provider == Some(Provider::Nginx)
        && plan.strategy == Strategy::ABTesting
        && let Err((field, message)) = crate::nginx::ab_rules(&a.r#match)
    {
        f.error(format!("{path}.{field}"), message);
    }
    if let Some(p) = spec.provider
        && plan.strategy == Strategy::ABTesting
        && !p.supports_ab_testing()
    {
        f.error(
            format!("{path}.match"),
            format!(
                "the {p} provider cannot route by match, so A/B testing is not possible with it"
            ),
        );
    }
}

fn session_affinity(spec: &CanarySpec, a: &CanaryAnalysis, path: &str, f: &mut Findings) {
    let Some(s) = &a.session_affinity else { return };
    let spath = format!("{path}.sessionAffinity");
    if s.cookie_name.is_empty() {
        f.error(
            format!("{spath}.cookieName"),
            "required: the cookie that pins users to the canary",
        );
    }
    if s.primary_cookie_name.as_deref() == Some(s.cookie_name.as_str()) {
        f.error(
            format!("{spath}.primaryCookieName"),
            format!("must differ from cookieName (both are {:?})", s.cookie_name),
        );
    }
    if let Some(age) = s.max_age
        && age < 0
    {
        f.error(
            format!("{spath}.maxAge"),
            format!("must be 0 or more seconds (got {age})"),
        );
    }
    if let Some(p) = spec.provider
        && !p.supports_session_affinity()
    {
        f.error(
            spath,
            format!(
                "the {p} provider cannot pin sessions; only istio and gatewayapi support session affinity (remove sessionAffinity, or change spec.provider)"
            ),
        );
    }
}

fn metric_rules(canary: &Canary, m: &CanaryMetric, path: &str, f: &mut Findings) {
    if m.name.is_empty() {
        f.error(format!("{path}.name"), "required");
    }
    if m.template_ref.is_none() && m.query.is_none() && !BUILTIN_METRICS.contains(&m.name.as_str())
    {
        f.error(
            path.to_string(),
            format!(
                "metric {:?} has no templateRef and no query, and is not a builtin; use templateRef, or name it {}",
                m.name,
                BUILTIN_METRICS.join(" or ")
            ),
        );
    }
    if let Some(t) = &m.template_ref
        && t.name.is_empty()
    {
        f.error(
            format!("{path}.templateRef.name"),
            "required: the MetricTemplate to use",
        );
    }
    if let Some(interval) = &m.interval
        && let Err(e) = parse_duration(interval)
    {
        f.error(format!("{path}.interval"), e.to_string());
    }
    match &m.threshold_range {
        Some(r) => {
            range_rules(r, &format!("{path}.thresholdRange"), f);
            if m.threshold.is_some() {
                f.warn(
                    format!("{path}.threshold"),
                    "ignored: thresholdRange is set and wins over the deprecated threshold",
                );
            }
        }
        None if m.threshold.is_none() && m.compare_primary.is_none() => {
            f.warn(
                path.to_string(),
                "no thresholdRange: every check of this metric fails; set thresholdRange.min and/or thresholdRange.max",
            );
        }
        None => {}
    }
    compare_primary_rules(m, path, f);
    if let Some(n) = m.min_sample_count
        && n < 1
    {
        f.error(
            format!("{path}.minSampleCount"),
            format!("must be at least 1 (got {n})"),
        );
    }
    if let Some(query) = &m.query
        && let Err(e) = render(query, &TemplateVars::for_metric(canary, m))
    {
        f.error(format!("{path}.query"), e.to_string());
    }
}

fn webhook_rules(h: &CanaryWebhook, path: &str, interval: Option<Duration>, f: &mut Findings) {
    if h.name.is_empty() {
        f.error(format!("{path}.name"), "required");
    }
    if !is_http_url(&h.url) {
        f.error(
            format!("{path}.url"),
            format!("must be an http:// or https:// URL (got {:?})", h.url),
        );
    }
    if let Some(r) = h.retries
        && r < 0
    {
        f.error(
            format!("{path}.retries"),
            format!("must be 0 or more (got {r})"),
        );
    }
    let timeout = match h.timeout.as_deref().map(parse_duration) {
        Some(Err(e)) => {
            f.error(format!("{path}.timeout"), e.to_string());
            return;
        }
        Some(Ok(d)) => d,
        None => h.timeout(),
    };
    let attempts = u32::try_from(h.retries()).unwrap_or(0).saturating_add(1);
    let worst = timeout.saturating_mul(attempts);
    if let Some(interval) = interval
        && worst > interval
    {
        f.warn(
            format!("{path}.timeout"),
            format!(
                "worst case {} (timeout {} x {attempts} attempts) outlasts the analysis interval {}; checks will run late",
                format_duration(worst),
                format_duration(timeout),
                format_duration(interval)
            ),
        );
    }
}
