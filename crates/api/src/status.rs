//! `Canary.status`: every bit of rollout progress lives here, so a restarted controller resumes
//! at the same step. Flagger's fields keep their names and meanings; the rest are ours (see the
//! status contract in DESIGN.md). Timers are stored as timestamps, never as "seconds left".

use std::collections::BTreeMap;

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most analysis records kept in `status.analysisHistory`; older ones are dropped first.
pub const ANALYSIS_HISTORY_LIMIT: usize = 20;
/// The most releases kept in `status.releases` (about 200 bytes each); oldest dropped first.
pub const RELEASE_HISTORY_LIMIT: usize = 10;
/// The most steps kept in `status.steps` (about 120 bytes each, plus about 50 per check), and
/// only those of the current and the last release; oldest dropped first.
pub const STEP_HISTORY_LIMIT: usize = 30;

/// Flagger's phases, with the same spelling. An absent phase means "not seen yet".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CanaryPhase {
    Initializing,
    Initialized,
    Waiting,
    Progressing,
    WaitingPromotion,
    Promoting,
    Finalising,
    Succeeded,
    Failed,
    Terminating,
    Terminated,
}

impl CanaryPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "Initializing",
            Self::Initialized => "Initialized",
            Self::Waiting => "Waiting",
            Self::Progressing => "Progressing",
            Self::WaitingPromotion => "WaitingPromotion",
            Self::Promoting => "Promoting",
            Self::Finalising => "Finalising",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Terminating => "Terminating",
            Self::Terminated => "Terminated",
        }
    }
}

impl std::fmt::Display for CanaryPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<CanaryPhase>,
    #[serde(default)]
    pub failed_checks: i32,
    #[serde(default)]
    pub canary_weight: i32,
    #[serde(default)]
    pub iterations: i32,
    /// Traffic is mirrored to the canary right now (the mirror pre-stage of a canary release,
    /// or a mirrored blue/green run). Flagger reads this back from the router; we keep it here
    /// so the status alone says what the routes should be.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mirrored: bool,
    /// `"configmap/<name>"` / `"secret/<name>"` → checksum of its data, as in Flagger.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tracked_configs: BTreeMap<String, String>,
    /// Hash of the target's pod template (plus tracked configs) the current analysis is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_spec: Option<String>,
    /// Hash of the revision that the primary runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_promoted_spec: Option<String>,
    /// When the phase last changed (Flagger updates this on every tick; we don't: Flagger #1696).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CanaryCondition>,

    // ---- beyond Flagger ----
    /// `metadata.generation` of the spec the controller last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One human sentence: what is happening now, or why it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the last analysis step ran; the next one is due `interval` later. Stored so that a
    /// restarted controller neither skips nor repeats a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step_time: Option<Time>,
    /// The last manual request (`fledge.dev/request` annotation value and its time) that the
    /// controller carried out, so a request is acted on once even if the annotation lingers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_request: Option<String>,
    /// Paused by a `pause` request (`kubectl fledge pause`, Argo CD's pause action) until a
    /// `resume` request. Kept in status, not in the spec, so a GitOps sync re-applying the
    /// Canary neither resumes nor unpauses it (`spec.suspend` is the declarative switch).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Bounded history of the latest analysis checks, newest last
    /// (at most [`ANALYSIS_HISTORY_LIMIT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis_history: Vec<AnalysisRecord>,
    /// The latest releases, newest last (at most [`RELEASE_HISTORY_LIMIT`]); the last one is
    /// open (no `ended`) while its analysis runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<ReleaseRecord>,
    /// The analysis steps of the current and the last release, newest last (at most
    /// [`STEP_HISTORY_LIMIT`]), each with its checks' values and verdicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_cookie: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_session_affinity_cookie: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_session_affinity_cookie: Option<String>,
}

/// One release: a revision of the target, from the start of its analysis to its promotion,
/// rollback or replacement by a newer revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRecord {
    /// The revision's pod-template hash (`lastAppliedSpec` while it ran).
    pub revision: String,
    /// The container images of the revision, in pod-spec order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// The tracked configs' checksums (`trackedConfigs` while it ran).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, String>,
    pub started: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Time>,
    /// `Succeeded`, `Failed`, or `Superseded` (a newer revision replaced it mid-analysis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Why it ended: the `Stalled` reason of a failure (`FailedChecks`, `Aborted`, ...), or the
    /// last message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One analysis step: what the release looked like right after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub time: Time,
    /// The revision under analysis.
    pub revision: String,
    pub phase: CanaryPhase,
    pub canary_weight: i32,
    pub iterations: i32,
    pub failed_checks: i32,
    /// What each check of this step measured (thresholds are in the spec and in
    /// `analysisHistory`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<StepCheck>,
}

/// One check of one step, kept small: the step history holds dozens of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepCheck {
    /// The metric's or webhook's name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub verdict: Verdict,
}

/// A status condition with the fields kstatus, Flux and `kubectl wait` read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryCondition {
    /// `Promoted` (Flagger), `Ready`, `Reconciling` or `Stalled`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// Changes only when `status` changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// What one analysis check found. Kept on the Canary so `kubectl describe` shows why a release
/// was held, promoted or rolled back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRecord {
    pub time: Time,
    /// `metric` or `webhook`.
    pub kind: String,
    /// The metric's or webhook's name.
    pub name: String,
    /// The measured value, if there was one (the canary's, for a metric with
    /// `comparePrimary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The primary's value for the same window, for a metric with `comparePrimary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_value: Option<f64>,
    /// The bounds it was judged against, human-readable (e.g. `>= 99`, `<= 500`, `99..101`,
    /// `canary - primary >= -1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Verdict {
    /// Within bounds (or the webhook said yes).
    Pass,
    /// Out of bounds, or an error: counts toward the failed-checks threshold.
    Fail,
    /// No data and the metric's policy says skip: neither pass nor fail.
    Skipped,
    /// Fewer samples than `minSampleCount`: neither pass nor fail, and the release does not
    /// advance on it.
    Inconclusive,
}
