//! The pure half of the simulated Kubernetes API server: label and field
//! selectors, the four patch types (JSON merge, JSON patch, strategic merge,
//! server-side apply with `managedFields`), and the rules that decide what a
//! write may change and whether it bumps `metadata.generation`.
//!
//! Every function takes and returns `serde_json::Value`s. This crate must
//! never do I/O, read the clock or know about HTTP: the server (`crates/sim`)
//! parses requests, passes the time in, and maps [`Error`] variants to
//! status codes.

pub mod apply;
mod error;
pub mod jsonpatch;
pub mod merge;
pub mod schema;
pub mod selector;
pub mod strategic;
pub mod write;

pub use error::{Error, FieldConflict};
