//! fledge-sim: a simulated Kubernetes cluster in one process, for tests, the demo and benchmarks.
//!
//! It is an independent witness: it implements the Kubernetes API semantics from the API's
//! documented behaviour and shares no code with the controller crates (`core`, `routers`,
//! `metrics`). The controller must never depend on it in production.
//!
//! Layout: [`store`] holds objects and applies API semantics (the in-process API other parts of
//! the sim use); `server` speaks the Kubernetes wire protocol over HTTP on top of the store.

pub mod exporter;
pub mod scenario;
pub mod store;
pub mod traffic;
pub mod workloads;

pub use store::{ApiError, GroupResource, Store, StoreEvent, resources};
