//! What the controller tells the machine: the Canary (spec and status), controller-wide
//! settings, what it observed in the cluster, and the results of the checks that
//! [`crate::checks_due`] asked for. Every field is cheap to fill from reflector caches; only
//! the check results need I/O (webhooks, metric queries).

use std::collections::BTreeMap;
use std::time::Duration;

use fledge_api::{Canary, HookType, Provider, Verdict};

/// Controller-wide settings that change how a spec is read.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The provider for canaries without `spec.provider` (the controller's `--mesh-provider`).
    pub default_provider: Provider,
    /// The shortest analysis interval allowed (Flagger: 10s).
    pub min_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_provider: Provider::Kubernetes,
            min_interval: fledge_api::analysis::MIN_INTERVAL,
        }
    }
}

/// Everything [`crate::decide`] reads. Borrowed so the controller can build it from its cache
/// without cloning the Canary.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// Spec, metadata (name, namespace, generation) and current status.
    pub canary: &'a Canary,
    pub config: &'a Config,
    pub observed: &'a Observed,
    /// Results of the checks [`crate::checks_due`] returned for this same input; empty when
    /// none were due.
    pub checks: &'a CheckResults,
}

/// What the controller saw in the cluster for this reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Validation problems of the spec, one line each with the field path. When set, the
    /// machine only reports `Stalled(InvalidSpec)` and touches nothing else.
    pub invalid_spec: Option<String>,
    /// A live object the router reads can't carry this Canary (the Ingress the nginx provider
    /// clones routes elsewhere, say). Stalled like an invalid spec, but rechecked every
    /// analysis interval: the controller doesn't watch that object, so its fix would go
    /// unseen otherwise. Ignored while `invalid_spec` is set.
    pub invalid_target: Option<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The Canary carries fledge's finalizer.
    pub has_finalizer: bool,
    /// The target's current revision; `None` when the target Deployment doesn't exist.
    pub target: Option<Revision>,
    /// The `<target>-primary` Deployment.
    pub primary: Readiness,
    /// The target (canary) Deployment.
    pub canary: Readiness,
    /// The routes as the router reports them; `None` when unknown (not created yet, or the
    /// router can't read them back). Used only to repair drift.
    pub routes: Option<Routes>,
    /// The value of the `fledge.dev/request` annotation, if any.
    pub request: Option<String>,
    /// The target Deployment's `spec.replicas`, `None` when unknown.
    pub target_replicas: Option<i32>,
    /// The target's `fledge.dev/canary` annotation already names this Canary (or opts the
    /// target in with `enabled`, which is the user's switch and stays).
    pub target_marked: bool,
}

/// A workload's readiness, classified by the controller from the Deployment's status
/// (Flagger's `IsPrimaryReady` / `IsCanaryReady`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not ready yet, worth waiting for; the message says what is missing
    /// (e.g. `1 of 2 updated replicas are available`).
    Waiting(String),
    /// Not ready and the progress deadline has passed (or the rollout can never finish).
    Failed(String),
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness::Waiting("not observed yet".into())
    }
}

/// The target's revision: what a change is measured by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revision {
    /// Hash of the target's pod template (Flagger's `lastAppliedSpec`).
    pub spec: String,
    /// Tracked ConfigMaps/Secrets: `configmap/<name>` / `secret/<name>` → checksum.
    pub configs: BTreeMap<String, String>,
    /// The container images, in pod-spec order, for the release history (not compared).
    pub images: Vec<String>,
}

pub use fledge_api::Routes;

/// Results of the checks that were due. Order doesn't matter; results are matched by name
/// (and type for webhooks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckResults {
    pub hooks: Vec<HookResult>,
    pub metrics: Vec<MetricResult>,
}

impl CheckResults {
    /// All webhooks answered yes and all metrics passed: what `fledge plan` assumes.
    pub fn all_passing(request: &crate::CheckRequest, settings: &crate::Settings) -> Self {
        let mut results = CheckResults::default();
        for stage in &request.stages {
            match stage {
                crate::CheckStage::Hooks(t) => {
                    results
                        .hooks
                        .extend(settings.hooks_of(*t).map(|h| HookResult {
                            name: h.name.clone(),
                            hook_type: *t,
                            // A rollback hook that says yes rolls back: "passing" means it declines.
                            outcome: if *t == HookType::Rollback {
                                HookOutcome::Refused("no rollback requested".into())
                            } else {
                                HookOutcome::Accepted
                            },
                        }))
                }
                crate::CheckStage::Metrics => {
                    results
                        .metrics
                        .extend(settings.metrics.iter().map(|m| MetricResult {
                            name: m.clone(),
                            value: None,
                            primary_value: None,
                            threshold: None,
                            verdict: Verdict::Pass,
                            message: None,
                        }))
                }
            }
        }
        results
    }
}

/// One webhook call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookResult {
    pub name: String,
    pub hook_type: HookType,
    pub outcome: HookOutcome,
}

/// A webhook said yes (HTTP status <= 202) or no (anything else, or an error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookOutcome {
    Accepted,
    /// The reason: response body or transport error.
    Refused(String),
}

/// One metric check, already judged by the metrics crate (thresholds, no-data policy,
/// sample size). A provider error is a `Fail` with the error as message.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricResult {
    pub name: String,
    pub value: Option<f64>,
    /// The primary's value, for a metric with `comparePrimary`.
    pub primary_value: Option<f64>,
    /// The bounds, human-readable (`>= 99`, `<= 500`).
    pub threshold: Option<String>,
    pub verdict: Verdict,
    pub message: Option<String>,
}
