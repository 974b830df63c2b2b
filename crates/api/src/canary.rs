//! The `Canary` custom resource: Flagger's `CanarySpec` field for field (so a Flagger manifest
//! deserializes after changing only `apiVersion`), plus the accessors that apply Flagger's
//! defaults. No validation here (see `validate`) and no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::CanaryAnalysis;
use crate::service::CanaryService;
use crate::status::CanaryStatus;

/// Flagger's default `progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// `spec.service` has a serde default (so a Canary without it still loads and `fledge
/// validate` can name `spec.service.port`), but no schema default: the default's port 0 is
/// below the schema's own minimum, and the API server refuses such a CRD. A CEL rule requires
/// `service` instead.
fn no_service_default(schema: &mut schemars::Schema) {
    if let Some(service) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("service"))
        .and_then(|s| s.as_object_mut())
    {
        service.remove("default");
    }
}

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "fledge.dev",
    version = "v1beta1",
    kind = "Canary",
    plural = "canaries",
    namespaced,
    status = "CanaryStatus",
    shortname = "canary",
    doc = "Canary drives the progressive delivery of a Deployment (Flagger-compatible schema).",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Weight","type":"integer","jsonPath":".status.canaryWeight"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend","priority":1}"#,
    printcolumn = r#"{"name":"FailedChecks","type":"integer","jsonPath":".status.failedChecks"}"#,
    printcolumn = r#"{"name":"Interval","type":"string","jsonPath":".spec.analysis.interval"}"#,
    printcolumn = r#"{"name":"Mirror","type":"boolean","jsonPath":".spec.analysis.mirror","priority":1}"#,
    printcolumn = r#"{"name":"StepWeight","type":"integer","jsonPath":".spec.analysis.stepWeight"}"#,
    printcolumn = r#"{"name":"StepWeights","type":"string","jsonPath":".spec.analysis.stepWeights","priority":1}"#,
    printcolumn = r#"{"name":"MaxWeight","type":"integer","jsonPath":".spec.analysis.maxWeight"}"#,
    printcolumn = r#"{"name":"LastTransitionTime","type":"string","jsonPath":".status.lastTransitionTime"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = no_service_default)]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.service)", "message": "required: the port the generated Services expose", "fieldPath": ".service.port", "reason": "FieldValueRequired"},
    {"rule": "has(self.analysis) || has(self.canaryAnalysis)", "message": "required: the analysis (interval, threshold, and a schedule)", "fieldPath": ".analysis", "reason": "FieldValueRequired"},
    {"rule": "!has(self.provider) || self.provider != 'nginx' || has(self.ingressRef)", "message": "required for the nginx provider: the Ingress whose canary clone fledge writes", "fieldPath": ".ingressRef", "reason": "FieldValueRequired"},
    {"rule": "!has(self.provider) || !self.provider.startsWith('gatewayapi') || (has(self.service) && has(self.service.gatewayRefs) && size(self.service.gatewayRefs) > 0)", "message": "the gatewayapi provider needs spec.service.gatewayRefs", "fieldPath": ".service.gatewayRefs", "reason": "FieldValueRequired"},
]))]
pub struct CanarySpec {
    /// Traffic provider for this canary; overrides the controller's `--mesh-provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// Prometheus address for the builtin metrics; overrides the controller's `--metrics-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_server: Option<String>,
    /// The workload whose new revisions are analysed (fledge supports `Deployment`).
    pub target_ref: TargetRef,
    /// HorizontalPodAutoscaler (autoscaling/v2) or KEDA ScaledObject copied for the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_ref: Option<AutoscalerRef>,
    /// Ingress for the NGINX and Skipper providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_ref: Option<LocalObjectReference>,
    /// ApisixRoute for the APISIX provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_ref: Option<LocalObjectReference>,
    /// Gloo Upstream whose settings are copied into the generated upstreams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_ref: Option<CrossNamespaceObjectReference>,
    /// The Services (apex, `-primary`, `-canary`) and routing generated for the target.
    #[serde(default)]
    pub service: CanaryService,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<CanaryAnalysis>,
    /// Deprecated alias of `analysis` (Flagger v1alpha); `analysis` wins when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_analysis: Option<CanaryAnalysis>,
    /// Seconds a rollout may make no progress before it is rolled back (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub progress_deadline_seconds: Option<i32>,
    /// Promote new revisions without analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_analysis: Option<bool>,
    /// On deletion of the Canary, hand traffic and the target back as they were before fledge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_on_deletion: Option<bool>,
    /// Stop acting on this canary until unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Traffic providers, spelled as in Flagger's CRD enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Provider {
    #[serde(rename = "apisix")]
    Apisix,
    #[serde(rename = "appmesh")]
    AppMesh,
    #[serde(rename = "appmesh:v1beta2")]
    AppMeshV1beta2,
    #[serde(rename = "contour")]
    Contour,
    #[serde(rename = "gatewayapi:v1")]
    GatewayApiV1,
    #[serde(rename = "gatewayapi:v1beta1")]
    GatewayApiV1beta1,
    #[serde(rename = "gloo")]
    Gloo,
    #[serde(rename = "istio")]
    Istio,
    #[serde(rename = "knative")]
    Knative,
    #[serde(rename = "kubernetes")]
    Kubernetes,
    #[serde(rename = "kuma")]
    Kuma,
    #[serde(rename = "linkerd")]
    Linkerd,
    #[serde(rename = "nginx")]
    Nginx,
    #[serde(rename = "osm")]
    Osm,
    #[serde(rename = "skipper")]
    Skipper,
    #[serde(rename = "smi:v1alpha1")]
    SmiV1alpha1,
    #[serde(rename = "smi:v1alpha2")]
    SmiV1alpha2,
    #[serde(rename = "smi:v1alpha3")]
    SmiV1alpha3,
    #[serde(rename = "traefik")]
    Traefik,
}

impl Provider {
    pub const ALL: [Provider; 19] = [
        Self::Apisix,
        Self::AppMesh,
        Self::AppMeshV1beta2,
        Self::Contour,
        Self::GatewayApiV1,
        Self::GatewayApiV1beta1,
        Self::Gloo,
        Self::Istio,
        Self::Knative,
        Self::Kubernetes,
        Self::Kuma,
        Self::Linkerd,
        Self::Nginx,
        Self::Osm,
        Self::Skipper,
        Self::SmiV1alpha1,
        Self::SmiV1alpha2,
        Self::SmiV1alpha3,
        Self::Traefik,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apisix => "apisix",
            Self::AppMesh => "appmesh",
            Self::AppMeshV1beta2 => "appmesh:v1beta2",
            Self::Contour => "contour",
            Self::GatewayApiV1 => "gatewayapi:v1",
            Self::GatewayApiV1beta1 => "gatewayapi:v1beta1",
            Self::Gloo => "gloo",
            Self::Istio => "istio",
            Self::Knative => "knative",
            Self::Kubernetes => "kubernetes",
            Self::Kuma => "kuma",
            Self::Linkerd => "linkerd",
            Self::Nginx => "nginx",
            Self::Osm => "osm",
            Self::Skipper => "skipper",
            Self::SmiV1alpha1 => "smi:v1alpha1",
            Self::SmiV1alpha2 => "smi:v1alpha2",
            Self::SmiV1alpha3 => "smi:v1alpha3",
            Self::Traefik => "traefik",
        }
    }

    /// The providers this build of fledge routes traffic through. `fledge validate` and the
    /// controller both refuse any other, from this one list.
    pub const ROUTED: [Provider; 11] = [
        Self::Kubernetes,
        Self::GatewayApiV1,
        Self::GatewayApiV1beta1,
        Self::Istio,
        Self::Contour,
        Self::Nginx,
        Self::Linkerd,
        Self::SmiV1alpha1,
        Self::SmiV1alpha2,
        Self::SmiV1alpha3,
        Self::Traefik,
    ];

    pub fn is_routed(self) -> bool {
        Self::ROUTED.contains(&self)
    }

    /// `kubernetes, gatewayapi:v1, ...`: for error messages.
    pub fn routed_list() -> String {
        Self::ROUTED
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Parses a provider name as written in `spec.provider` or `--mesh-provider`.
    pub fn parse(name: &str) -> Option<Provider> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    pub fn is_gateway_api(self) -> bool {
        matches!(self, Self::GatewayApiV1 | Self::GatewayApiV1beta1)
    }

    /// What each provider's router can do: the one list `fledge validate`, the controller and
    /// docs/routers.md's matrix (checked by a test) go by. Providers fledge doesn't route
    /// through can do nothing here (they are refused for `spec.provider` anyway).
    ///
    /// Routing by header/cookie match (A/B testing).
    pub fn supports_ab_testing(self) -> bool {
        matches!(
            self,
            Self::Istio
                | Self::Nginx
                | Self::Contour
                | Self::GatewayApiV1
                | Self::GatewayApiV1beta1
        )
    }

    /// Providers for which fledge has builtin `request-success-rate` / `request-duration`
    /// queries (see docs/metrics.md); others need MetricTemplates.
    pub fn has_builtin_metrics(self) -> bool {
        matches!(
            self,
            Self::Kubernetes
                | Self::GatewayApiV1
                | Self::GatewayApiV1beta1
                | Self::Istio
                | Self::Linkerd
                | Self::Nginx
                | Self::Contour
                | Self::Traefik
        )
    }

    /// Providers that can mirror traffic to the canary.
    pub fn supports_mirroring(self) -> bool {
        matches!(
            self,
            Self::Istio | Self::GatewayApiV1 | Self::GatewayApiV1beta1
        )
    }

    /// Providers that support cookie-based session affinity.
    pub fn supports_session_affinity(self) -> bool {
        matches!(
            self,
            Self::Istio | Self::GatewayApiV1 | Self::GatewayApiV1beta1
        )
    }
}

/// An unknown provider name; the message lists the known ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}; use one of: {list}", list = Provider::ALL.map(Provider::as_str).join(", "))]
pub struct UnknownProvider(pub String);

impl std::str::FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_string()))
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The workload a Canary drives. Flagger allows `Deployment`, `DaemonSet` and (Knative)
/// `Service`; fledge's validator accepts only `Deployment`, the schema keeps Flagger's enum.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    pub api_version: String,
    #[schemars(extend("enum" = ["DaemonSet", "Deployment", "Service"]))]
    pub kind: String,
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Reference to an autoscaler copied for the primary as `<name>-primary`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerRef {
    pub api_version: String,
    #[schemars(extend("enum" = ["HorizontalPodAutoscaler", "ScaledObject"]))]
    pub kind: String,
    pub name: String,
    /// KEDA only: trigger name → query used for the primary's ScaledObject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_scaler_queries: Option<BTreeMap<String, String>>,
    /// Replica bounds for the primary's autoscaler, when they should differ from the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_scaler_replicas: Option<ScalerReplicas>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalerReplicas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_replicas: Option<i32>,
}

/// `{apiVersion, kind, name}` in the Canary's namespace (ingressRef, routeRef).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// `{apiVersion, kind, name, namespace}` (upstreamRef).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// How a release proceeds, derived as Flagger does (`Canary.DeploymentStrategy()` plus the
/// kubernetes-provider override in its scheduler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Traffic weight moves up in steps.
    Canary,
    /// N checks with the canary behind its own Service, then a switch.
    BlueGreen,
    /// N checks with only matching requests (headers/cookies) sent to the canary.
    ABTesting,
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Canary => "canary",
            Self::BlueGreen => "blue-green",
            Self::ABTesting => "A/B testing",
        })
    }
}

/// The strategy in force plus the numbers that drive it, after Flagger's defaulting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategyPlan {
    pub strategy: Strategy,
    /// Traffic is mirrored to the canary (blue/green with `mirror: true`, or the mirror
    /// pre-stage of a canary release).
    pub mirroring: bool,
    /// Checks to run for blue/green and A/B (0 for canary).
    pub iterations: i32,
    /// True when the kubernetes provider forced blue/green (and dropped any `match`).
    pub forced_by_provider: bool,
}

impl CanarySpec {
    /// `analysis`, or the deprecated `canaryAnalysis` when only that is set.
    pub fn analysis(&self) -> Option<&CanaryAnalysis> {
        self.analysis.as_ref().or(self.canary_analysis.as_ref())
    }

    /// The field name the analysis was given under, for messages (`analysis` or `canaryAnalysis`).
    pub fn analysis_field(&self) -> &'static str {
        if self.analysis.is_none() && self.canary_analysis.is_some() {
            "canaryAnalysis"
        } else {
            "analysis"
        }
    }

    /// Seconds without progress before rollback (Flagger's default 600).
    pub fn progress_deadline(&self) -> Duration {
        let secs = self
            .progress_deadline_seconds
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
        Duration::from_secs(u64::try_from(secs).unwrap_or(600))
    }

    /// Flagger skips analysis when asked to, or when there is no analysis at all.
    pub fn skip_analysis(&self) -> bool {
        self.skip_analysis.unwrap_or(false) || self.analysis().is_none()
    }

    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }

    pub fn revert_on_deletion(&self) -> bool {
        self.revert_on_deletion.unwrap_or(false)
    }

    /// The apex Service name: `service.name`, else the target's name.
    pub fn service_name(&self) -> &str {
        match self.service.name.as_deref() {
            Some(name) if !name.is_empty() => name,
            _ => &self.target_ref.name,
        }
    }

    /// `<service>-primary`.
    pub fn primary_service_name(&self) -> String {
        format!("{}-primary", self.service_name())
    }

    /// `<service>-canary`.
    pub fn canary_service_name(&self) -> String {
        format!("{}-canary", self.service_name())
    }

    /// `<target>-primary`: the Deployment that serves production traffic.
    pub fn primary_target_name(&self) -> String {
        format!("{}-primary", self.target_ref.name)
    }

    /// The provider, given the controller's default (its `--mesh-provider`).
    pub fn provider_or(&self, default: Provider) -> Provider {
        self.provider.unwrap_or(default)
    }

    /// Which strategy runs, given the provider in force (see [`CanarySpec::provider_or`]).
    /// Follows Flagger: `match` + `iterations` → A/B; `iterations` → blue/green; else canary.
    /// The kubernetes provider forces blue/green (match ignored, iterations default 10).
    pub fn strategy(&self, provider: Provider) -> StrategyPlan {
        let analysis = self.analysis();
        let iterations = analysis.and_then(|a| a.iterations).unwrap_or(0);
        let has_match = analysis.is_some_and(|a| !a.r#match.is_empty());
        let mirror = analysis.and_then(|a| a.mirror).unwrap_or(false);
        if provider == Provider::Kubernetes {
            return StrategyPlan {
                strategy: Strategy::BlueGreen,
                mirroring: false,
                iterations: if iterations < 1 { 10 } else { iterations },
                forced_by_provider: true,
            };
        }
        let strategy = if has_match && iterations > 0 {
            Strategy::ABTesting
        } else if iterations > 0 {
            Strategy::BlueGreen
        } else {
            Strategy::Canary
        };
        StrategyPlan {
            strategy,
            mirroring: mirror && strategy != Strategy::ABTesting,
            iterations: if strategy == Strategy::Canary {
                0
            } else {
                iterations
            },
            forced_by_provider: false,
        }
    }
}
