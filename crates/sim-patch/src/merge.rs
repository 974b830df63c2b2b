//! JSON merge patch (RFC 7386, `application/merge-patch+json`): what kubectl
//! sends for `annotate`, `label`, `scale`, `patch --type merge`, and for
//! `apply` of custom resources. Objects merge key by key, `null` deletes,
//! everything else (lists included) is replaced. Pure; never I/O.

use serde_json::Value;

use crate::Error;

/// Applies a merge patch to `object` and returns the result.
///
/// The patch must be a JSON object: a Kubernetes object can only be patched
/// into another object, so anything else is a `BadRequest`.
pub fn apply(object: &Value, patch: &Value) -> Result<Value, Error> {
    if !patch.is_object() {
        return Err(Error::BadRequest(format!(
            "merge patch: the body must be a JSON object, got {}",
            kind_of(patch)
        )));
    }
    let mut out = object.clone();
    json_patch::merge(&mut out, patch);
    Ok(out)
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
