//! JSON patch (RFC 6902, `application/json-patch+json`), as sent by
//! `kubectl patch --type json`. Applied atomically: on any error the object
//! is untouched. Pure; never I/O.

use serde_json::Value;

use crate::Error;

/// The most operations one patch may have (the API server's `maxJSONPatchOperations`).
pub const MAX_OPERATIONS: usize = 10_000;

/// How much `copy` operations may add to the object, in bytes of JSON: the API server's limit
/// (its largest request body, 3 MiB). Without it, a few dozen copies of the root double the
/// object each time.
pub const MAX_COPIED_BYTES: usize = 3 * 1024 * 1024;

/// Applies a JSON patch (a list of operations) to `object`.
///
/// Errors: a body that is not a list of valid operations, or one with more than
/// [`MAX_OPERATIONS`], is `BadRequest`; a failing `test` operation is `TestFailed`; a path
/// that does not exist (or a `move` into itself), or copies that add more than
/// [`MAX_COPIED_BYTES`], is `Invalid`.
pub fn apply(object: &Value, patch: &Value) -> Result<Value, Error> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| Error::BadRequest(format!("json patch: invalid body: {e}")))?;
    if ops.0.len() > MAX_OPERATIONS {
        return Err(Error::BadRequest(format!(
            "json patch: {} operations, more than the {MAX_OPERATIONS} allowed",
            ops.0.len()
        )));
    }
    // Atomic by working on a copy that is dropped on error. Not `json_patch::patch`: when its
    // undo of a failed patch fails in turn, it panics (fuzzing found such a patch:
    // `crates/fuzz/regressions/json_patch`). One operation at a time, to count what copies add.
    let mut out = object.clone();
    let mut copied = 0usize;
    for (index, op) in ops.0.iter().enumerate() {
        if let json_patch::PatchOperation::Copy(copy) = op
            && let Some(value) = out.pointer(copy.from.as_str())
        {
            copied = copied.saturating_add(json_size(value));
            if copied > MAX_COPIED_BYTES {
                return Err(Error::Invalid(format!(
                    "json patch: operation {index}: the copies add more than \
                     {MAX_COPIED_BYTES} bytes to the object"
                )));
            }
        }
        json_patch::patch_unsafe(&mut out, std::slice::from_ref(op)).map_err(|e| match e.kind {
            json_patch::PatchErrorKind::TestFailed => Error::TestFailed {
                operation: index,
                path: e.path.to_string(),
            },
            _ => Error::Invalid(format!(
                "json patch: {}",
                e.to_string()
                    .replacen("operation '/0'", &format!("operation '/{index}'"), 1)
            )),
        })?;
    }
    Ok(out)
}

/// The length of `value` as compact JSON.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value into a counter can't fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests;
