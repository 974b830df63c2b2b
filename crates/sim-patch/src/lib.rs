//! The pure half of the simulated Kubernetes API server (`crates/sim`):
//! label and field selectors, the four patch types, field ownership in
//! `metadata.managedFields`, and the rules for what a write may change.
//!
//! Every function takes and returns `serde_json::Value`s. This crate must
//! never do I/O, read the clock or know about HTTP: the server parses
//! requests (JSON or YAML), passes the time in, and maps [`Error`] variants
//! to status codes.
//!
//! | request | function |
//! |---|---|
//! | `?labelSelector=`, `spec.selector` | [`selector::LabelSelector::parse`], [`selector::LabelSelector::from_label_selector`] |
//! | `?fieldSelector=` | [`selector::FieldSelector::parse`] |
//! | `application/merge-patch+json` | [`merge::apply`] |
//! | `application/json-patch+json` | [`jsonpatch::apply`] |
//! | `application/strategic-merge-patch+json` (builtin kinds only; 415 for CRs) | [`strategic::apply`] |
//! | `application/apply-patch+yaml` | [`apply::server_side`] |
//! | any other write (create, update, patch) | [`apply::record_update`] |
//! | main resource vs `/status` | [`write::restrict`], [`write::spec_changed`] |
//!
//! A write is then: patch → [`write::restrict`] → [`apply::record_update`]
//! (an apply: [`apply::server_side`], which scopes itself by
//! [`apply::Writer::subresource`]) → compare with the stored object (no
//! change: keep the resourceVersion) → bump `generation` if
//! [`write::spec_changed`].

pub mod apply;
mod error;
pub mod jsonpatch;
pub mod merge;
pub mod schema;
pub mod selector;
pub mod strategic;
pub mod write;

pub use error::{Error, FieldConflict};
