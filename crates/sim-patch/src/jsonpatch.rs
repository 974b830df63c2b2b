//! JSON patch (RFC 6902, `application/json-patch+json`), as sent by
//! `kubectl patch --type json`. Applied atomically: on any error the object
//! is untouched. Pure; never I/O.

use serde_json::Value;

use crate::Error;

/// Applies a JSON patch (a list of operations) to `object`.
///
/// Errors: a body that is not a list of valid operations is `BadRequest`; a
/// failing `test` operation is `TestFailed`; a path that does not exist (or
/// a `move` into itself) is `Invalid`.
pub fn apply(object: &Value, patch: &Value) -> Result<Value, Error> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| Error::BadRequest(format!("json patch: invalid body: {e}")))?;
    // Atomic by working on a copy that is dropped on error. Not `json_patch::patch`: when its
    // undo of a failed patch fails in turn, it panics (fuzzing found such a patch:
    // `crates/fuzz/regressions/json_patch`).
    let mut out = object.clone();
    json_patch::patch_unsafe(&mut out, &ops).map_err(|e| match e.kind {
        json_patch::PatchErrorKind::TestFailed => Error::TestFailed {
            operation: e.operation,
            path: e.path.to_string(),
        },
        _ => Error::Invalid(format!("json patch: {e}")),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
