//! fledge-loadtester: a Flagger-compatible webhook service. It runs commands (`hey`, `bash`,
//! `kubectl`) and a native HTTP load generator for canary analysis, and answers manual approval
//! gates and rollback flags, so that Canary manifests written for Flagger's load tester work
//! unchanged.
//!
//! It must never block the server while a command runs and never panic on a request: every bad
//! request gets a 4xx with a message naming the field to fix. Reading a request is pure
//! ([`server::read_payload`], [`tasks::Task::parse`]) so that it can be fuzzed.

pub mod args;
mod exec;
mod gates;
mod metrics;
pub mod server;
pub mod tasks;
