//! The one error type of this crate. Each variant corresponds to one family of
//! HTTP answers; the mapping itself belongs to the server (see `Error`).

use std::fmt;

/// Everything that can go wrong while parsing a selector or applying a patch.
///
/// Suggested HTTP mapping (the server decides): `BadRequest` → 400 `BadRequest`,
/// `Invalid` → 422 `Invalid`, `TestFailed` → 422 (the real API server answers
/// 422 for every failed JSON patch), `Conflict` → 409 `Conflict` with one
/// `FieldManagerConflict` cause per entry of the list (see
/// [`FieldConflict::cause_message`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request itself cannot be understood: a selector that does not
    /// parse, a patch body of the wrong shape, an unknown `$patch` directive.
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well formed but cannot be applied to this object, e.g. a
    /// JSON patch path that does not exist, or a list element without its
    /// merge key.
    #[error("{0}")]
    Invalid(String),
    /// A JSON patch `test` operation did not match the object.
    #[error("json patch: test operation {operation} failed at {path}: value did not match")]
    TestFailed {
        /// Index of the failing operation in the patch.
        operation: usize,
        /// JSON pointer of the tested value.
        path: String,
    },
    /// Server-side apply found fields owned by other managers with different
    /// values, and the request did not force.
    #[error("{}", ConflictMessage(.0))]
    Conflict(Vec<FieldConflict>),
}

/// One field owned by another manager that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The manager as Kubernetes prints it: `"name"` for appliers,
    /// `"name" using apps/v1` for updaters, with ` with subresource "status"`
    /// after the name for status writers.
    pub manager: String,
    /// The field path in structured-merge-diff form, e.g. `.spec.replicas` or
    /// `.spec.template.spec.containers[name="c"].image`.
    pub field: String,
}

impl FieldConflict {
    /// The `message` of the matching `Status.details.causes[]` entry, whose
    /// `reason` is `FieldManagerConflict` and `field` is [`Self::field`].
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager)
    }
}

/// Renders the exact message of the real API server (one conflict on one
/// line; several grouped by manager, managers sorted).
struct ConflictMessage<'a>(&'a [FieldConflict]);

impl fmt::Display for ConflictMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conflicts = self.0;
        if let [one] = conflicts {
            return write!(
                f,
                "Apply failed with 1 conflict: conflict with {}: {}",
                one.manager, one.field
            );
        }
        let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
        managers.sort_unstable();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for c in conflicts.iter().filter(|c| c.manager == manager) {
                lines.push(format!("- {}", c.field));
            }
        }
        write!(
            f,
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    }
}
