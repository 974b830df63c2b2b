//! fledge-metrics: metric providers behind one trait (Prometheus, and `web` for HTTP/JSON
//! endpoints), the builtin
//! `request-success-rate` / `request-duration` queries per traffic provider, rendering of
//! MetricTemplate queries (through the API crate's one renderer), and the judgement of each
//! value against thresholds, the "no data" policy and the minimum sample count.
//!
//! Flow for one analysis step: [`plan()`] (pure) → the controller builds [`Providers`] for the
//! sources the plan names → [`analyze()`] (queries, concurrently) → one
//! [`fledge_api::AnalysisRecord`] per metric for `status.analysisHistory`.
//!
//! This crate never talks to the Kubernetes API (the controller fetches templates and
//! Secrets), never decides whether a release advances (crates/core does), and never counts an
//! error or an unreachable provider as a pass.

pub mod analyze;
pub mod builtin;
pub mod compare;
pub mod credentials;
pub mod evaluate;
mod http;
pub mod plan;
pub mod prometheus;
pub mod provider;
pub mod web;

pub use analyze::{Measured, Providers, analyze, template_provider};
pub use builtin::{Builtin, BuiltinQueries, NoBuiltinQueries, queries_for};
pub use credentials::{Auth, Credentials, CredentialsError};
pub use evaluate::{
    CheckResult, Criteria, Measurement, QueryOutcome, evaluate, evaluate_against_primary,
};
pub use plan::{
    PlanError, PlanProblem, PlannedCheck, PlannedQuery, PlannedSide, QuerySource, TemplateKey, plan,
};
pub use prometheus::{PrometheusConfig, PrometheusProvider};
pub use provider::{BoxFuture, MetricProvider, ProviderError};
pub use web::{WebConfig, WebProvider};
