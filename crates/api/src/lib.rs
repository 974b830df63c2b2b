//! fledge's API types: Canary, MetricTemplate, AlertProvider (group `fledge.dev`, version
//! `v1beta1`), their defaults, validation with field paths, and CRD generation. No I/O here:
//! callers read files and talk to clusters; this crate only describes and checks objects.

pub mod alert_provider;
pub mod analysis;
pub mod canary;
pub mod comparison;
pub mod crd;
pub mod duration;
pub mod event;
pub mod metric_template;
pub mod names;
pub mod nginx;
pub mod routes;
mod schema;
pub mod service;
pub mod status;
pub mod template;
pub mod validate;

pub use alert_provider::{AlertProvider, AlertProviderSpec, AlertProviderType};
pub use analysis::{
    CanaryAlert, CanaryAnalysis, CanaryMetric, CanaryWebhook, HookType, OnNoData, ProviderRef,
    SessionAffinity, Severity, TemplateRef, ThresholdRange,
};
pub use canary::{Canary, CanarySpec, Provider, Strategy, StrategyPlan, TargetRef};
pub use comparison::{PrimaryComparison, RelativeBound, Side, Worse};
pub use duration::{DurationError, parse_duration};
pub use event::EventType;
pub use metric_template::{
    MetricProvider, MetricProviderType, MetricTemplate, MetricTemplateSpec, WebMethod,
};
pub use routes::Routes;
pub use service::CanaryService;
pub use status::{
    AnalysisRecord, CanaryCondition, CanaryPhase, CanaryStatus, ReleaseRecord, StepCheck,
    StepRecord, Verdict,
};

/// The API group of every fledge kind.
pub const GROUP: &str = "fledge.dev";
/// The version of every fledge kind.
pub const VERSION: &str = "v1beta1";
/// `fledge.dev/v1beta1`.
pub const API_VERSION: &str = "fledge.dev/v1beta1";
/// Flagger's apiVersion, accepted by `fledge validate` so users can check manifests before moving.
pub const FLAGGER_API_VERSION: &str = "flagger.app/v1beta1";
