//! The controller's errors: [`RunError`] for the process (flags, connection, CRDs, lost
//! leadership), [`ReconcileError`] for one reconcile of one Canary. Messages name the object and the
//! field or flag at fault, and what to do.

use super::workload::WorkloadError;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Router(#[from] fledge_routers::RouterError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error("canary {canary}: spec.targetRef.name: deployment {target} not found")]
    TargetMissing { canary: String, target: String },
    #[error(
        "canary {canary}: spec.autoscalerRef.name: horizontalpodautoscaler {name} not found; create it or remove autoscalerRef"
    )]
    AutoscalerMissing { canary: String, name: String },
    #[error(
        "{kind} {namespace}/{name} is used by the target's pod spec but does not exist; create it or mark the reference optional"
    )]
    MissingConfig {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("{0}; retrying")]
    Retry(String),
}

impl ReconcileError {
    /// Someone else wrote the object between our read and our write (HTTP 409). Nothing is
    /// wrong: the next reconcile reads the new version, so it runs at once, not after backoff.
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Router(e) => e.is_conflict(),
            Self::Kube {
                source: kube::Error::Api(status),
                ..
            } => status.code == 409,
            Self::Retry(_) => true,
            _ => false,
        }
    }
}

/// Why the controller could not start, or had to stop (leadership lost). Each names the flag or
/// the cluster object at fault.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{flag} {value:?}: {message}")]
    Flag {
        flag: &'static str,
        value: String,
        message: String,
    },
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{what}: {message}")]
    Other { what: String, message: String },
}

impl RunError {
    pub fn flag(flag: &'static str, value: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Flag {
            flag,
            value: value.into(),
            message: message.into(),
        }
    }

    pub fn other(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Other {
            what: what.into(),
            message: message.to_string(),
        }
    }
}
