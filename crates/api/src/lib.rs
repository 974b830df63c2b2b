//! fledge's API types: Canary, MetricTemplate, AlertProvider (group `fledge.dev`, version
//! `v1beta1`), their defaults, validation with field paths, and CRD generation. No I/O here.

pub mod status;
