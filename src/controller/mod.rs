//! The controller: watches Canaries and their targets, asks `fledge-core` what to do, and does
//! it through the Kubernetes API. Decisions live in `fledge-core`; builders of derived objects
//! in `workload`; this module tree only observes and acts.

pub mod workload;
