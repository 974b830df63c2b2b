//! fledge-core: the rollout state machine and its schedule arithmetic.
//!
//! Everything here is a pure function of (spec, status, observations, time). The controller
//! fills an [`Input`] from its caches and probes, asks [`checks_due`] which webhooks and metrics
//! this reconcile needs, runs them, and calls [`decide`] with the results. The [`Decision`] it
//! gets back holds the next status, the ordered [`Action`]s to carry out, and when to come back.
//!
//! This crate must never do I/O, read the clock, sleep, or know about Kubernetes clients: time
//! is passed in, and every timer is computed from timestamps stored in the status, so a
//! restarted controller resumes at the same step. See `docs/state-machine.md`.

mod action;
mod checks;
mod conditions;
mod input;
mod machine;
mod request;
mod revision;
mod schedule;

mod settings;
mod weights;

pub use action::{Action, Alert, Event, EventType};
pub use checks::{CheckRequest, CheckStage};
pub use conditions::{
    CONDITION_PROMOTED, CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED, FailureReason,
};
pub use input::{
    CheckResults, Config, HookOutcome, HookResult, Input, MetricResult, Observed, Readiness,
    Revision, Routes,
};
pub use machine::{Decision, checks_due, decide, release_under_way};
pub use request::{ManualRequest, REQUEST_ANNOTATION, RequestError, RequestKind};
pub use revision::{RevisionChange, classify};
pub use schedule::{Plan, PlanCheck, PlanStep, plan, plan_live, strategy_name};

pub use settings::{HookRef, Settings};
pub use weights::{desired_routes, next_canary_weight};

/// The Event reason Flagger gives every event it records; kept for dashboards and alerts that
/// filter on it.
pub const EVENT_REASON: &str = "Synced";

/// The reason of the Warning Event recorded once per distinct invalid-spec problem.
pub const INVALID_SPEC_REASON: &str = "InvalidSpec";
