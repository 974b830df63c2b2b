//! Workload simulation: a Deployment controller (ReplicaSets, pods, status) and the HPA's
//! min/max, driven by store events and timers. It writes only the objects a real controller
//! would: ReplicaSets, pods, Deployment and HPA status, and a Deployment's replicas for an HPA.

pub mod deployment;
pub mod pods;
