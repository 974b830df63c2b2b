//! What the controller must do, as data. Every action is absolute ("set routes to 80/20",
//! "scale the target to zero"), never relative, so re-applying a decision after a crash
//! between acting and writing the status is harmless. Carry them out in order.

use fledge_api::{CanaryPhase, HookType, Severity};

use crate::input::Routes;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Add fledge's finalizer to the Canary (`revertOnDeletion: true`).
    AddFinalizer,
    /// Remove it: the Canary may go.
    RemoveFinalizer,
    /// Create `<target>-primary` from the target (with `-primary` copies of its tracked
    /// ConfigMaps/Secrets and autoscaler) and the `<svc>-primary` / `<svc>-canary` Services,
    /// if missing. While the Canary has never been initialized (`status.lastPromotedSpec`
    /// empty), also update an existing primary from the target, so a target fixed after a
    /// failed initialization is picked up. Never touches routing.
    InitializePrimary,
    /// Point the apex Service at the primary and create or update the provider's routing
    /// objects from the spec (hosts, match, gateways...). New routing objects start at
    /// 100% primary; existing ones keep their weights (see [`Action::SetRoutes`]).
    ReconcileRouting,
    /// Scale the target to zero replicas (and pause its autoscaler, e.g. KEDA).
    ScaleTargetToZero,
    /// Scale the target up for a new revision: its own `spec.replicas` if > 0, else the
    /// primary's replicas when there is no autoscaler, else the autoscaler's minReplicas (at
    /// least 1); resume its autoscaler.
    ScaleTargetFromZero,
    /// Set the router's weights.
    SetRoutes(Routes),
    /// Copy the target's pod spec and tracked configs to the primary (`-primary` copies),
    /// and the autoscaler spec to the primary's autoscaler: the primary starts rolling out
    /// the new revision.
    PromoteToPrimary,
    /// Call every webhook of this type (post-rollout, event), fire and forget: failures are
    /// logged, not judged. `event` is set for `event` hooks.
    CallHooks {
        hook_type: HookType,
        phase: CanaryPhase,
        event: Option<Event>,
    },
    /// Record a Kubernetes Event on the Canary (reason [`crate::EVENT_REASON`]).
    Event(Event),
    /// Send an alert through the Canary's alert providers (filtered by their severity).
    Alert(Alert),
    /// Canary deleted with `revertOnDeletion`: give the target back its replicas (the
    /// primary's count) and resume its autoscaler.
    RestoreTarget,
    /// Canary deleted with `revertOnDeletion`, target ready again: point the apex Service
    /// back at the target and restore or remove the provider's routing objects.
    RevertRouting,
    /// Write the Canary's name into the target's `fledge.dev/canary` annotation, so `kubectl
    /// describe deployment` says which Canary manages it.
    MarkTarget,
    /// Remove the handled `fledge.dev/request` annotation from the Canary. Only in
    /// [`crate::Decision::after_status`]: the status that records the request as handled must
    /// be written first, or a crash in between would lose the request.
    ClearRequest,
}

pub use fledge_api::EventType;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub event_type: EventType,
    /// [`crate::EVENT_REASON`] (`Synced`), as in Flagger, for every event of a release;
    /// [`crate::INVALID_SPEC_REASON`] when the spec can't be acted on.
    pub reason: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub severity: Severity,
    pub message: String,
}
