//! The one error type of this crate. Messages name the object, the field path when the spec is
//! at fault, and what to do about it.

use fledge_api::Provider;

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error(
        "provider {provider} is not supported by this fledge version (supported: {}); \
         set spec.provider or --mesh-provider to one of them",
        Provider::routed_list()
    )]
    UnsupportedProvider { provider: Provider },

    /// The Canary asks for something this router can't express.
    #[error("canary {canary}: {field}: {message}")]
    InvalidSpec {
        canary: String,
        field: String,
        message: String,
    },

    /// The target workload can't be routed to as it is.
    #[error("{kind} {object}: {field}: {message}")]
    InvalidTarget {
        kind: &'static str,
        object: String,
        field: String,
        message: String,
    },

    /// An object in the cluster is in a state fledge won't overwrite or can't read.
    #[error("{kind} {object}: {message}")]
    Object {
        kind: &'static str,
        object: String,
        message: String,
    },

    #[error("{verb} {kind} {object}: {source}")]
    Kube {
        verb: &'static str,
        kind: &'static str,
        object: String,
        #[source]
        source: kube::Error,
    },
}

impl RouterError {
    /// True for a 409 from the API server: someone wrote the object between our read and our
    /// write. The caller should requeue; the next reconcile reads the new version.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Kube { source: kube::Error::Api(status), .. } if status.code == 409)
    }

    pub(crate) fn kube(
        verb: &'static str,
        kind: &'static str,
        namespace: &str,
        name: &str,
        source: kube::Error,
    ) -> Self {
        Self::Kube {
            verb,
            kind,
            object: format!("{namespace}/{name}"),
            source,
        }
    }
}
