//! `spec.analysis`: schedule, metrics, webhooks and alerts, with Flagger's names, and the
//! accessors that apply Flagger's defaults. Fields we add beyond Flagger: `onNoData`,
//! `minSampleCount` and `comparePrimary` on metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::comparison::PrimaryComparison;
use crate::duration::parse_duration;
use crate::schema::DURATION_PATTERN;
use crate::service::HttpMatchRequest;

/// Flagger's default analysis interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Flagger's minimum analysis interval (the controller's `--min-interval` can lower it).
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Default metric query range (`{{ interval }}`).
pub const DEFAULT_METRIC_INTERVAL: &str = "1m";
/// Default webhook timeout.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cookie max age for session affinity, in seconds.
pub const DEFAULT_SESSION_AFFINITY_MAX_AGE: i32 = 86400;
/// Builtin metric: percentage of non-5xx requests (threshold is a minimum).
pub const METRIC_REQUEST_SUCCESS_RATE: &str = "request-success-rate";
/// Builtin metric: request duration P99 in milliseconds (threshold is a maximum).
pub const METRIC_REQUEST_DURATION: &str = "request-duration";
/// The most metrics one analysis may have (the CRD's `maxItems`).
pub const MAX_METRICS: usize = 100;
/// Every builtin metric name.
pub const BUILTIN_METRICS: [&str; 2] = [METRIC_REQUEST_SUCCESS_RATE, METRIC_REQUEST_DURATION];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.stepWeight) && has(self.stepWeights))", "message": "stepWeight and stepWeights are mutually exclusive", "fieldPath": ".stepWeights"},
    {"rule": "!has(self.stepWeight) || !has(self.maxWeight) || self.stepWeight <= self.maxWeight", "message": "stepWeight must not exceed maxWeight", "fieldPath": ".stepWeight"},
    {"rule": "!has(self.stepWeights) || (self.stepWeights.isSorted() && self.stepWeights.all(w, self.stepWeights.indexOf(w) == self.stepWeights.lastIndexOf(w)))", "message": "stepWeights must be strictly increasing", "fieldPath": ".stepWeights"},
]))]
pub struct CanaryAnalysis {
    /// Time between checks (Go duration, default 60s, at least 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: Option<String>,
    /// Failed checks tolerated before rollback (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub threshold: Option<i32>,
    /// Highest canary weight before promotion (default 100, or the last `stepWeights` entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_weight: Option<i32>,
    /// Weight added per successful check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub step_weight: Option<i32>,
    /// Explicit weight schedule, strictly increasing, e.g. `[1, 5, 10, 50]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(range(min = 1, max = 100)))]
    pub step_weights: Vec<i32>,
    /// Weight moved back to the primary per check while promoting (0 = all at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub step_weight_promotion: Option<i32>,
    /// Number of checks for blue/green and A/B testing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub iterations: Option<i32>,
    /// Mirror traffic to the canary (Istio, Gateway API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<bool>,
    /// Percentage of traffic mirrored (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub mirror_weight: Option<i32>,
    /// Percent of the primary's replicas that must be ready (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub primary_ready_threshold: Option<i32>,
    /// Percent of the canary's replicas that must be ready (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub canary_ready_threshold: Option<i32>,
    /// A/B testing: requests that go to the canary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<HttpMatchRequest>,
    /// Cookie stickiness for users who reached the canary (Istio, Gateway API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<SessionAffinity>,
    /// At most [`MAX_METRICS`]: the bound keeps the CEL rules' estimated cost within the API server's
    /// budget (each rule is costed for the longest list the schema allows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = MAX_METRICS),
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"])
    )]
    pub metrics: Vec<CanaryMetric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub webhooks: Vec<CanaryWebhook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<CanaryAlert>,
}

impl CanaryAnalysis {
    /// The interval as written, parsed; default 60s. Unparsable falls back to 60s as in
    /// Flagger (the validator reports it). Not clamped: see [`CanaryAnalysis::effective_interval`].
    pub fn interval(&self) -> Duration {
        self.interval
            .as_deref()
            .and_then(|s| parse_duration(s).ok())
            .unwrap_or(DEFAULT_INTERVAL)
    }

    /// The interval the controller runs at: never below `min` (Flagger: 10s).
    pub fn effective_interval(&self, min: Duration) -> Duration {
        self.interval().max(min)
    }

    /// Failed checks before rollback; `<= 0` or unset means 1.
    pub fn threshold(&self) -> i32 {
        self.threshold.filter(|t| *t > 0).unwrap_or(1)
    }

    /// Highest canary weight: the last `stepWeights` entry (capped at 100) when set, else
    /// `maxWeight`, else 100.
    pub fn max_weight(&self) -> i32 {
        if let Some(last) = self.step_weights.last() {
            return (*last).min(100);
        }
        match self.max_weight {
            Some(w) if w > 0 => w,
            _ => 100,
        }
    }

    /// Linear step (0 when unset).
    pub fn step_weight(&self) -> i32 {
        self.step_weight.unwrap_or(0)
    }

    /// 0 means route everything back to the primary in one step.
    pub fn step_weight_promotion(&self) -> i32 {
        self.step_weight_promotion.unwrap_or(0)
    }

    pub fn iterations(&self) -> i32 {
        self.iterations.unwrap_or(0)
    }

    pub fn mirror(&self) -> bool {
        self.mirror.unwrap_or(false)
    }

    pub fn primary_ready_threshold(&self) -> i32 {
        self.primary_ready_threshold.unwrap_or(100)
    }

    pub fn canary_ready_threshold(&self) -> i32 {
        self.canary_ready_threshold.unwrap_or(100)
    }
}

/// Cookie-based session affinity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.primaryCookieName) || self.primaryCookieName != self.cookieName", "message": "cookieName and primaryCookieName must differ", "fieldPath": ".primaryCookieName"},
]))]
pub struct SessionAffinity {
    /// Cookie set for users routed to the canary.
    pub cookie_name: String,
    /// Cookie set for users routed to the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_cookie_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// Cookie lifetime in seconds (default 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Strict", "Lax", "None"]))]
    pub same_site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
}

impl SessionAffinity {
    pub fn max_age(&self) -> i32 {
        self.max_age.unwrap_or(DEFAULT_SESSION_AFFINITY_MAX_AGE)
    }
}

/// One metric check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.templateRef) || has(self.query) || self.name in ['request-success-rate', 'request-duration']", "message": "a metric needs templateRef or query unless it is request-success-rate or request-duration"},
    {"rule": "!has(self.comparePrimary) || !has(self.comparePrimary.significance) || has(self.minSampleCount)", "message": "comparePrimary.significance needs minSampleCount: the fewest requests on each side worth testing, e.g. 100", "fieldPath": ".minSampleCount"},
]))]
pub struct CanaryMetric {
    /// Unique within the analysis; `request-success-rate` / `request-duration` are builtins.
    pub name: String,
    /// Query range (`{{ interval }}`), default 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: Option<String>,
    /// Deprecated: a single bound (minimum for request-success-rate, maximum otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_range: Option<ThresholdRange>,
    /// Deprecated inline PromQL query (use templateRef).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<TemplateRef>,
    /// Values for `{{ variables.X }}` in the template's query.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub template_variables: BTreeMap<String, String>,
    /// fledge: what a query that returns no data counts as (default `fail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_no_data: Option<OnNoData>,
    /// fledge: fewer samples than this make the check inconclusive instead of judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_sample_count: Option<i64>,
    /// fledge: judge the canary against its primary, both queried for the same window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_primary: Option<PrimaryComparison>,
}

impl CanaryMetric {
    /// Query range, default 1m (unparsable falls back to 1m; the validator reports it).
    pub fn interval(&self) -> Duration {
        self.interval
            .as_deref()
            .and_then(|s| parse_duration(s).ok())
            .unwrap_or(Duration::from_secs(60))
    }

    /// The interval as text for `{{ interval }}` (default `1m`).
    pub fn interval_str(&self) -> &str {
        self.interval.as_deref().unwrap_or(DEFAULT_METRIC_INTERVAL)
    }

    pub fn on_no_data(&self) -> OnNoData {
        self.on_no_data.unwrap_or_default()
    }

    /// A builtin metric: no template and no inline query, and a builtin name.
    pub fn is_builtin(&self) -> bool {
        self.template_ref.is_none()
            && self.query.is_none()
            && BUILTIN_METRICS.contains(&self.name.as_str())
    }

    /// The bounds the value is judged against: `thresholdRange` if set, else the deprecated
    /// `threshold` as a minimum for request-success-rate and a maximum for everything else.
    pub fn bounds(&self) -> ThresholdRange {
        if let Some(range) = &self.threshold_range {
            return range.clone();
        }
        match self.threshold {
            Some(t) if self.name == METRIC_REQUEST_SUCCESS_RATE => ThresholdRange {
                min: Some(t),
                max: None,
            },
            Some(t) => ThresholdRange {
                min: None,
                max: Some(t),
            },
            None => ThresholdRange::default(),
        }
    }
}

/// Inclusive bounds for a metric value; at least one must be set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.min) || has(self.max)", "message": "set min, max or both"},
    {"rule": "!has(self.min) || !has(self.max) || self.min <= self.max", "message": "min must not exceed max"},
]))]
pub struct ThresholdRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ThresholdRange {
    /// Within both bounds (inclusive).
    pub fn contains(&self, value: f64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

/// Reference to a MetricTemplate (namespace defaults to the Canary's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// What a metric query without data counts as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnNoData {
    /// A failed check (Flagger's behaviour): a quiet canary is never promoted by accident.
    #[default]
    Fail,
    /// Neither pass nor fail: the step advances on the other checks (if every check is
    /// skipped, nothing holds the step; use minSampleCount to hold a quiet canary).
    Skip,
    /// Counts as a passed check.
    Pass,
}

/// A webhook called at a point of the rollout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.url.startsWith('http://') || self.url.startsWith('https://')", "message": "url must be an http:// or https:// URL", "fieldPath": ".url"},
]))]
pub struct CanaryWebhook {
    /// Unique within the analysis.
    pub name: String,
    /// When it is called (default `rollout`: at every check).
    #[serde(default, rename = "type")]
    pub type_: HookType,
    pub url: String,
    /// Per-call timeout, Go duration (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Extra attempts after a failed call (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub retries: Option<i32>,
    /// Skip TLS verification.
    #[serde(
        default,
        rename = "disableTLS",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_tls: Option<bool>,
    /// Don't alert when this hook fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_alert: Option<bool>,
    /// Sent as `metadata` in the payload.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl CanaryWebhook {
    /// Per-call timeout, default 10s (unparsable falls back to 10s; the validator reports it).
    pub fn timeout(&self) -> Duration {
        self.timeout
            .as_deref()
            .and_then(|s| parse_duration(s).ok())
            .unwrap_or(DEFAULT_WEBHOOK_TIMEOUT)
    }

    pub fn retries(&self) -> i32 {
        self.retries.unwrap_or(0).max(0)
    }

    pub fn disable_tls(&self) -> bool {
        self.disable_tls.unwrap_or(false)
    }

    pub fn mute_alert(&self) -> bool {
        self.mute_alert.unwrap_or(false)
    }
}

/// Flagger's webhook types. `""` in a manifest means `rollout`. (Variant notes are plain
/// comments: doc comments would turn the schema's `enum` into a `oneOf`.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(extend("enum" = ["", "confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase", "confirm-promotion", "post-rollout", "rollback", "event"]))]
pub enum HookType {
    // Gate before a new revision starts (called until it says yes).
    ConfirmRollout,
    // Before traffic shifts; failure counts as a failed check.
    PreRollout,
    // At every check; failure counts as a failed check.
    #[default]
    #[serde(alias = "")]
    Rollout,
    // Gate before each weight increase.
    ConfirmTrafficIncrease,
    // Gate before promotion.
    ConfirmPromotion,
    // After promotion or rollback.
    PostRollout,
    // Polled during analysis; yes means roll back now.
    Rollback,
    // Receives every event.
    Event,
}

impl HookType {
    pub const ALL: [HookType; 8] = [
        Self::ConfirmRollout,
        Self::PreRollout,
        Self::Rollout,
        Self::ConfirmTrafficIncrease,
        Self::ConfirmPromotion,
        Self::PostRollout,
        Self::Rollback,
        Self::Event,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmRollout => "confirm-rollout",
            Self::PreRollout => "pre-rollout",
            Self::Rollout => "rollout",
            Self::ConfirmTrafficIncrease => "confirm-traffic-increase",
            Self::ConfirmPromotion => "confirm-promotion",
            Self::PostRollout => "post-rollout",
            Self::Rollback => "rollback",
            Self::Event => "event",
        }
    }
}

impl std::fmt::Display for HookType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert sent through an AlertProvider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryAlert {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Lowest severity sent (default `info`: everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub provider_ref: ProviderRef,
}

impl CanaryAlert {
    pub fn severity(&self) -> Severity {
        self.severity.unwrap_or_default()
    }
}

/// Alert severity, ordered `Info < Warn < Error`. `""` in a manifest means `info`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[schemars(extend("enum" = ["", "info", "warn", "error"]))]
pub enum Severity {
    #[default]
    #[serde(alias = "")]
    Info,
    Warn,
    Error,
}

/// Reference to an AlertProvider (namespace defaults to the Canary's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}
