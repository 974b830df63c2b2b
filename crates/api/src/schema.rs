//! Small schema helpers for fields whose shape schemars can't express structurally on its own.
//! Used only through `#[schemars(schema_with = ...)]`; never changes serialization.

use schemars::{Schema, SchemaGenerator, json_schema};

/// A free-form object (Istio sub-objects we pass through untouched): typed as `object`, with
/// unknown fields preserved so the apiserver does not prune them.
pub(crate) fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A list of free-form objects (Istio `portLevelSettings`).
pub(crate) fn free_form_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

/// Pattern for every duration field: Go durations such as `30s`, `1m`, `1h30m`, `500ms`.
pub(crate) const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
