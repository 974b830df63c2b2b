//! What `get`, `list`, `-o json|yaml` and the dashboard show about a Canary: one model, built
//! from the Canary and the objects around it. Pure: the callers fetch or watch, this only
//! arranges, so the terminal tree, the scripts' JSON and the web page can't disagree.

use std::collections::BTreeMap;

use fledge_api::{Canary, CanaryPhase, Routes};
use fledge_core::{Config, Plan, PlanStep, RequestKind, plan, plan_live, release_under_way};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Service};
use kube::ResourceExt;
use serde::Serialize;
use serde_json::Value;

/// The most Events a detail carries, newest kept.
pub const EVENTS_SHOWN: usize = 20;

/// The objects around a Canary, as read or watched by the caller.
#[derive(Default)]
pub struct Around<'a> {
    pub deployments: Vec<&'a Deployment>,
    pub services: Vec<&'a Service>,
    /// Events of any object; those about this Canary are picked out.
    pub events: Vec<&'a Event>,
    /// The split read back from the live routing object, if it could be.
    pub route: Option<Routes>,
}

/// One line of a list.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub namespace: String,
    pub name: String,
    pub phase: Option<CanaryPhase>,
    pub strategy: &'static str,
    pub canary_weight: i32,
    pub max_weight: Option<i32>,
    pub iterations: i32,
    pub total_iterations: Option<i32>,
    /// Canary strategy: which weight step the release is at (0 before the first), of how
    /// many, from the planner's schedule (so `stepWeights` and `stepWeight` count alike).
    pub step: Option<usize>,
    pub total_steps: Option<usize>,
    pub failed_checks: i32,
    pub threshold: i32,
    pub paused: bool,
    pub suspended: bool,
    /// The images of the revision under test (or of the last release).
    pub images: Vec<String>,
    pub message: Option<String>,
    pub last_event: Option<String>,
    /// Since the current release started, else since the Canary was created.
    pub age_seconds: i64,
    /// The `Ready` condition.
    pub ready: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    pub summary: Summary,
    /// The Canary as the API returns it, without `metadata.managedFields`.
    pub canary: Value,
    pub objects: Vec<ObjectView>,
    pub route: Option<Routes>,
    /// Oldest first, at most [`EVENTS_SHOWN`].
    pub events: Vec<EventView>,
    pub plan: PlanView,
    pub metrics: Vec<MetricBand>,
    pub actions: BTreeMap<&'static str, ActionView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectView {
    pub kind: &'static str,
    pub name: String,
    /// Deployments only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub time: Option<String>,
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
}

/// The planner's view from now: the rest of the release under way, or the next release.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    /// What `offsetSeconds` counts from.
    pub start: String,
    /// True: the rest of the release under way; false: what the next release will do.
    pub from_now: bool,
    pub steps: Vec<PlanStep>,
    pub min_duration_seconds: u64,
    pub interval_seconds: u64,
}

/// A metric's threshold range, for charts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricBand {
    pub name: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Whether a request makes sense now, and why not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionView {
    pub allowed: bool,
    pub reason: Option<String>,
}

/// The weights a release steps through, from a whole release's plan.
fn step_weights(plan: &Plan) -> Vec<i32> {
    let mut weights: Vec<i32> = Vec::new();
    for s in &plan.steps {
        if s.phase == CanaryPhase::Progressing
            && s.canary_weight > 0
            && weights.last() != Some(&s.canary_weight)
        {
            weights.push(s.canary_weight);
        }
    }
    weights
}

pub fn summary(canary: &Canary, around: &Around<'_>, config: &Config, now: Timestamp) -> Summary {
    let plan = plan(canary, config);
    let status = canary.status.clone().unwrap_or_default();
    let weights = step_weights(&plan);
    let (step, total_steps) = match plan.max_weight {
        Some(_) if !weights.is_empty() => (
            Some(
                weights
                    .iter()
                    .position(|w| *w == status.canary_weight)
                    .map_or(0, |i| i + 1),
            ),
            Some(weights.len()),
        ),
        _ => (None, None),
    };
    let images = status
        .releases
        .last()
        .map(|r| r.images.clone())
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| target_images(canary, around));
    let started = status
        .releases
        .last()
        .map(|r| r.started.0)
        .or_else(|| canary.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let age_seconds = started
        .map(|t| now.duration_since(t).as_secs())
        .unwrap_or(0);
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status == "True");
    Summary {
        namespace: canary.namespace().unwrap_or_default(),
        name: canary.name_any(),
        phase: status.phase,
        strategy: plan.strategy,
        canary_weight: status.canary_weight,
        max_weight: plan.max_weight,
        iterations: status.iterations,
        total_iterations: plan.iterations,
        step,
        total_steps,
        failed_checks: status.failed_checks,
        threshold: plan.threshold,
        paused: status.paused,
        suspended: canary.spec.suspend == Some(true),
        images,
        message: status.message.clone(),
        last_event: events_of(canary, around).last().map(|e| e.message.clone()),
        age_seconds: age_seconds.max(0),
        ready,
    }
}

pub fn detail(canary: &Canary, around: &Around<'_>, config: &Config, now: Timestamp) -> Detail {
    let plan = plan_live(canary, config, now);
    let from_now = release_under_way(canary.status.as_ref().and_then(|s| s.phase));
    let mut object = serde_json::to_value(canary).unwrap_or(Value::Null);
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let metrics = canary
        .spec
        .analysis()
        .map(|a| {
            a.metrics
                .iter()
                .map(|m| MetricBand {
                    name: m.name.clone(),
                    min: m.threshold_range.as_ref().and_then(|r| r.min),
                    max: m.threshold_range.as_ref().and_then(|r| r.max),
                })
                .collect()
        })
        .unwrap_or_default();
    let actions = RequestKind::ALL
        .into_iter()
        .map(|kind| {
            let reason = kind.refusal(canary);
            (
                kind.as_str(),
                ActionView {
                    allowed: reason.is_none(),
                    reason,
                },
            )
        })
        .collect();
    let mut events = events_of(canary, around);
    let excess = events.len().saturating_sub(EVENTS_SHOWN);
    events.drain(..excess);
    Detail {
        summary: summary(canary, around, config, now),
        canary: object,
        objects: objects(canary, around),
        route: around.route,
        events,
        plan: PlanView {
            start: now.to_string(),
            from_now,
            min_duration_seconds: plan.min_duration_seconds,
            interval_seconds: plan.interval_seconds,
            steps: plan.steps,
        },
        metrics,
        actions,
    }
}

/// The list's summaries (planning each Canary for its strategy and totals).
pub fn summaries(
    canaries: &[&Canary],
    around: &Around<'_>,
    config: &Config,
    now: Timestamp,
) -> Vec<Summary> {
    let mut out: Vec<Summary> = canaries
        .iter()
        .map(|c| summary(c, around, config, now))
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

fn target_images(canary: &Canary, around: &Around<'_>) -> Vec<String> {
    let ns = canary.namespace();
    around
        .deployments
        .iter()
        .find(|d| d.namespace() == ns && d.name_any() == canary.spec.target_ref.name)
        .and_then(|d| d.spec.as_ref()?.template.spec.as_ref())
        .map(|p| {
            p.containers
                .iter()
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The target, its primary, and the Services fledge generates (those that exist).
fn objects(canary: &Canary, around: &Around<'_>) -> Vec<ObjectView> {
    let ns = canary.namespace();
    let target = &canary.spec.target_ref.name;
    let mut out = Vec::new();
    for name in [format!("{target}-primary"), target.clone()] {
        if let Some(d) = around
            .deployments
            .iter()
            .find(|d| d.namespace() == ns && d.name_any() == name)
        {
            out.push(ObjectView {
                kind: "Deployment",
                ready: Some(
                    d.status
                        .as_ref()
                        .and_then(|s| s.ready_replicas)
                        .unwrap_or(0),
                ),
                desired: Some(d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)),
                name,
            });
        }
    }
    let apex = canary.spec.service_name().to_string();
    for name in [
        apex.clone(),
        format!("{apex}-primary"),
        format!("{apex}-canary"),
    ] {
        if around
            .services
            .iter()
            .any(|s| s.namespace() == ns && s.name_any() == name)
        {
            out.push(ObjectView {
                kind: "Service",
                name,
                ready: None,
                desired: None,
            });
        }
    }
    out
}

/// The Events about this Canary, oldest first.
fn events_of(canary: &Canary, around: &Around<'_>) -> Vec<EventView> {
    let ns = canary.namespace();
    let name = canary.name_any();
    // Sorted by time, then by write order: Event times have whole seconds, and within a second
    // the resourceVersion (numeric on etcd and the sim) says which was written last.
    let mut found: Vec<((Option<Timestamp>, u64), EventView)> = around
        .events
        .iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Canary")
                && e.involved_object.name.as_deref() == Some(name.as_str())
                && e.involved_object.namespace == ns
        })
        .map(|e| {
            let time = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or_else(|| e.event_time.as_ref().map(|t| t.0))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0));
            let written = e
                .metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            (
                (time, written),
                EventView {
                    time: time.map(|t| t.to_string()),
                    type_: e.type_.clone().unwrap_or_else(|| "Normal".into()),
                    reason: e.reason.clone().unwrap_or_default(),
                    message: e.message.clone().unwrap_or_default(),
                    count: e.count.unwrap_or(1),
                },
            )
        })
        .collect();
    found.sort_by_key(|(t, _)| *t);
    found.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_api::status::{CanaryStatus, ReleaseRecord, Time};
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn canary(phase: CanaryPhase, weight: i32) -> Canary {
        let yaml = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test, generation: 1,
  managedFields: [{manager: kubectl}]}
spec:
  provider: gatewayapi:v1
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 30s
    threshold: 3
    maxWeight: 50
    stepWeight: 10
    metrics:
      - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
"#;
        let mut c: Canary = serde_saphyr::from_str(yaml).expect("canary");
        c.status = Some(CanaryStatus {
            phase: Some(phase),
            canary_weight: weight,
            failed_checks: 1,
            observed_generation: Some(1),
            last_applied_spec: Some("abc".into()),
            last_promoted_spec: Some("old".into()),
            last_step_time: Some(Time("2026-12-07T08:00:00Z".parse().expect("time"))),
            releases: vec![ReleaseRecord {
                revision: "abc".into(),
                images: vec!["podinfo:2".into()],
                configs: Default::default(),
                started: Time("2026-12-07T07:59:00Z".parse().expect("time")),
                ended: None,
                outcome: None,
                reason: None,
            }],
            ..Default::default()
        });
        c
    }

    fn event(object: &str, message: &str, at: &str) -> Event {
        Event {
            metadata: ObjectMeta::default(),
            involved_object: ObjectReference {
                kind: Some("Canary".into()),
                name: Some(object.into()),
                namespace: Some("test".into()),
                ..Default::default()
            },
            message: Some(message.into()),
            reason: Some("Synced".into()),
            last_timestamp: Some(Time(at.parse().expect("time"))),
            ..Default::default()
        }
    }

    #[test]
    fn a_detail_mid_release_plans_from_now_and_says_which_requests_make_sense() {
        let now: Timestamp = "2026-12-07T08:00:10Z".parse().expect("now");
        let c = canary(CanaryPhase::Progressing, 20);
        let events = [
            event("podinfo", "second", "2026-12-07T08:00:00Z"),
            event("podinfo", "first", "2026-12-07T07:59:00Z"),
            event("other", "not ours", "2026-12-07T08:00:05Z"),
        ];
        let around = Around {
            events: events.iter().collect(),
            route: Some(Routes::canary(20, false)),
            ..Default::default()
        };
        let d = detail(&c, &around, &Config::default(), now);
        assert_eq!(d.summary.strategy, "canary");
        assert_eq!(d.summary.max_weight, Some(50));
        assert_eq!((d.summary.step, d.summary.total_steps), (Some(2), Some(5)));
        assert_eq!(d.summary.threshold, 3);
        assert_eq!(d.summary.images, ["podinfo:2"]);
        assert_eq!(d.summary.age_seconds, 70);
        assert_eq!(d.summary.last_event.as_deref(), Some("second"));
        let messages: Vec<&str> = d.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(d.plan.from_now);
        assert_eq!(d.plan.steps[0].canary_weight, 30);
        assert_eq!(
            d.plan.steps[0].offset_seconds, 20,
            "due 30 s after the last step"
        );
        assert!(d.actions["promote"].allowed && d.actions["abort"].allowed);
        assert_eq!(
            d.actions["retry"].reason.as_deref(),
            Some("nothing to retry in phase Progressing")
        );
        assert!(d.canary["metadata"].get("managedFields").is_none());
        assert_eq!(d.metrics[0].min, Some(99.0));
    }

    #[test]
    fn between_releases_the_plan_is_the_next_release() {
        let now: Timestamp = "2026-12-07T08:00:10Z".parse().expect("now");
        let c = canary(CanaryPhase::Succeeded, 0);
        let d = detail(&c, &Around::default(), &Config::default(), now);
        assert!(!d.plan.from_now);
        assert_eq!(
            d.plan.steps.last().map(|s| s.phase),
            Some(CanaryPhase::Succeeded)
        );
        assert!(!d.actions["abort"].allowed);
    }
}
