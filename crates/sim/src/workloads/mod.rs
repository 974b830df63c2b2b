//! Workload simulation: a Deployment controller (ReplicaSets, pods with template hashes and
//! ownerReferences, Deployment status) and the HPA's min/max bounds, driven by store events,
//! scenario changes and timers. The decisions live in [`deployment`], [`pods`] and [`hpa`];
//! this module only reads the store and writes the difference. It writes only what real
//! controllers write: ReplicaSets, pods, statuses, and a Deployment's replicas for an HPA.

pub mod deployment;
pub mod hpa;
pub mod pods;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::scenario::ScenarioHandle;
use crate::store::{ApiError, GroupResource, Store, resources};

use deployment::{Observed, StartTimes};

/// The controller's memory between passes: pod start times and the RNG for pod names.
pub struct Controller {
    store: Store,
    scenario: ScenarioHandle,
    starts: StartTimes,
    rng: fastrand::Rng,
}

fn typed<T: DeserializeOwned>(v: &Value) -> Option<T> {
    match serde_json::from_value(v.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(
                name = v["metadata"]["name"].as_str().unwrap_or_default(),
                error = %e,
                "sim workloads: skipping an object that does not parse"
            );
            None
        }
    }
}

fn to_value<T: Serialize>(t: &T) -> Value {
    // Serialising typed k8s-openapi structs cannot fail.
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn with_type(mut v: Value, api_version: &str, kind: &str) -> Value {
    v["apiVersion"] = api_version.into();
    v["kind"] = kind.into();
    v
}

fn is_workload(gr: &GroupResource) -> bool {
    [
        resources::DEPLOYMENTS,
        resources::REPLICASETS,
        resources::PODS,
        resources::HPAS,
    ]
    .contains(gr)
}

impl Controller {
    pub fn new(store: Store, scenario: ScenarioHandle) -> Self {
        let seed = scenario.with(|s| s.seed);
        Controller {
            store,
            scenario,
            starts: StartTimes::new(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Reacts to workload changes at once, re-checks on scenario changes, and wakes for the
    /// next pod readiness or progress deadline (and every tick, in case a write failed).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut events = self.store.subscribe();
        let mut scenario = self.scenario.subscribe();
        loop {
            let wake_at = self.reconcile_all(Timestamp::now());
            let tick = self.scenario.with(|s| s.tick);
            let sleep = wake_at
                .and_then(|w| Duration::try_from(w.duration_since(Timestamp::now())).ok())
                .map_or(tick, |d| d.min(tick));
            let sleep = tokio::time::sleep(sleep);
            tokio::pin!(sleep);
            // Wait for something that can change a workload; other kinds' events don't count.
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = &mut sleep => break,
                    changed = scenario.changed() => match changed {
                        Ok(()) => break,
                        Err(_) => return,
                    },
                    event = events.recv() => match event {
                        Ok(e) if !is_workload(&e.resource) => {}
                        Ok(_) | Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return,
                    },
                }
            }
            // One pass covers every change queued so far.
            while let Ok(_) | Err(TryRecvError::Lagged(_)) = events.try_recv() {}
        }
    }

    /// One pass over every HPA and Deployment; returns the earliest time something will
    /// change on its own.
    pub fn reconcile_all(&mut self, now: Timestamp) -> Option<Timestamp> {
        self.apply_hpas();
        let deployments = self.store.list(&resources::DEPLOYMENTS, None);
        let replica_sets: Vec<ReplicaSet> = self
            .store
            .list(&resources::REPLICASETS, None)
            .iter()
            .filter_map(typed)
            .collect();
        let pods: Vec<Pod> = self
            .store
            .list(&resources::PODS, None)
            .iter()
            .filter_map(typed)
            .collect();
        // Index ReplicaSets and pods by their controlling owner once per pass: matching them
        // per Deployment made every pass quadratic in the number of workloads.
        let mut rs_by_owner = by_controller(replica_sets, |rs| &rs.metadata.owner_references);
        let mut pods_by_owner = by_controller(pods, |p| &p.metadata.owner_references);
        let scenario = self.scenario.snapshot();
        let mut wake: Option<Timestamp> = None;
        let mut live_pods = HashSet::new();
        for dv in &deployments {
            if dv["metadata"]["deletionTimestamp"].is_string() {
                continue;
            }
            let Some(d) = typed::<Deployment>(dv) else {
                continue;
            };
            let uid = d.metadata.uid.clone().unwrap_or_default();
            let owned_rs: Vec<ReplicaSet> = rs_by_owner.remove(&uid).unwrap_or_default();
            let owned_pods: Vec<Pod> = owned_rs
                .iter()
                .filter_map(|rs| rs.metadata.uid.as_ref())
                .flat_map(|rs_uid| pods_by_owner.remove(rs_uid).unwrap_or_default())
                .collect();
            let obs = Observed {
                deployment: d,
                replica_sets: owned_rs,
                pods: owned_pods,
            };
            let want = deployment::desired(&obs, &scenario, now, &mut self.starts, &mut self.rng);
            if let Err(e) = self.write(&obs, &want) {
                tracing::warn!(
                    deployment = dv["metadata"]["name"].as_str().unwrap_or_default(),
                    error = %e,
                    "sim workloads: write failed; retrying on the next pass"
                );
            }
            for p in &want.pods {
                let ns = p.metadata.namespace.as_deref().unwrap_or_default();
                live_pods.insert(format!(
                    "{ns}/{}",
                    p.metadata.name.as_deref().unwrap_or_default()
                ));
            }
            if let Some(t) = want.wake_at {
                wake = Some(wake.map_or(t, |w| w.min(t)));
            }
        }
        self.starts.retain(|k, _| live_pods.contains(k));
        wake
    }

    /// Writes the difference between what exists and `want`.
    fn write(&self, obs: &Observed, want: &deployment::Desired) -> Result<(), ApiError> {
        let store = &self.store;
        let existing: HashMap<&str, &ReplicaSet> = obs
            .replica_sets
            .iter()
            .filter_map(|rs| Some((rs.metadata.name.as_deref()?, rs)))
            .collect();
        // Pods of a ReplicaSet created in this pass need the uid the store gives it.
        let mut new_uids: HashMap<String, String> = HashMap::new();
        for rs in &want.replica_sets {
            let name = rs.metadata.name.as_deref().unwrap_or_default();
            let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
            let status = to_value(&rs.status);
            match existing.get(name) {
                None => {
                    let body = with_type(to_value(rs), "apps/v1", "ReplicaSet");
                    let created = store.create(&resources::REPLICASETS, body)?;
                    let uid = created["metadata"]["uid"].as_str().unwrap_or_default();
                    new_uids.insert(name.to_string(), uid.to_string());
                    store.update_status(&resources::REPLICASETS, ns, name, status)?;
                }
                Some(old) => {
                    let want_replicas = rs.spec.as_ref().and_then(|s| s.replicas);
                    if old.spec.as_ref().and_then(|s| s.replicas) != want_replicas
                        && let Some(mut current) = store.get(&resources::REPLICASETS, ns, name)
                    {
                        current["spec"]["replicas"] = want_replicas.into();
                        store.update(&resources::REPLICASETS, current)?;
                    }
                    if to_value(&old.status) != status {
                        store.update_status(&resources::REPLICASETS, ns, name, status)?;
                    }
                }
            }
        }

        let existing: HashMap<&str, &Pod> = obs
            .pods
            .iter()
            .filter_map(|p| Some((p.metadata.name.as_deref()?, p)))
            .collect();
        let wanted: HashSet<&str> = want
            .pods
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        for (name, pod) in &existing {
            if !wanted.contains(name) {
                let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
                store.delete(&resources::PODS, ns, name)?;
            }
        }
        for pod in &want.pods {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            let status = to_value(&pod.status);
            match existing.get(name) {
                None => {
                    let mut pod = pod.clone();
                    for o in pod.metadata.owner_references.iter_mut().flatten() {
                        if let Some(uid) = new_uids.get(&o.name) {
                            o.uid.clone_from(uid);
                        }
                    }
                    let body = with_type(to_value(&pod), "v1", "Pod");
                    store.create(&resources::PODS, body)?;
                    store.update_status(&resources::PODS, ns, name, status)?;
                }
                Some(old) if to_value(&old.status) != status => {
                    store.update_status(&resources::PODS, ns, name, status)?;
                }
                Some(_) => {}
            }
        }

        let d = &obs.deployment;
        let status = to_value(&want.status);
        if to_value(&d.status) != status {
            store.update_status(
                &resources::DEPLOYMENTS,
                d.metadata.namespace.as_deref().unwrap_or_default(),
                d.metadata.name.as_deref().unwrap_or_default(),
                status,
            )?;
        }
        Ok(())
    }

    /// Keeps each HPA's target within its bounds and reports the HPA's status.
    fn apply_hpas(&self) {
        for h in self.store.list(&resources::HPAS, None) {
            let ns = h["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = h["metadata"]["name"].as_str().unwrap_or_default();
            let Some(target) = hpa::target(&h) else {
                continue;
            };
            let Some(mut d) = self.store.get(&resources::DEPLOYMENTS, ns, target) else {
                continue;
            };
            let current = d["spec"]["replicas"]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(1);
            let desired = hpa::enforced_replicas(&h, current);
            if let Some(n) = desired {
                d["spec"]["replicas"] = n.into();
                if let Err(e) = self.store.update(&resources::DEPLOYMENTS, d) {
                    tracing::warn!(hpa = name, error = %e, "sim workloads: scaling failed");
                }
            }
            let status = hpa::status(current, desired.unwrap_or(current));
            if h["status"] != status
                && let Err(e) = self.store.update_status(&resources::HPAS, ns, name, status)
            {
                tracing::warn!(hpa = name, error = %e, "sim workloads: status write failed");
            }
        }
    }
}

/// Groups objects by the uid of their controlling owner reference.
fn by_controller<T>(
    objects: Vec<T>,
    owners: impl Fn(&T) -> &Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
) -> HashMap<String, Vec<T>> {
    let mut index: HashMap<String, Vec<T>> = HashMap::new();
    for object in objects {
        let owner = owners(&object)
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        if let Some(uid) = owner {
            index.entry(uid).or_default().push(object);
        }
    }
    index
}

/// Runs the workload controller until `shutdown`.
pub async fn run(store: Store, scenario: ScenarioHandle, shutdown: CancellationToken) {
    Controller::new(store, scenario).run(shutdown).await;
}
