//! The simulated Deployment controller's decisions: which ReplicaSets and pods a Deployment
//! should have now, and the status (replica counts, `Available` and `Progressing` conditions
//! with the real controller's reasons and messages) to report. Pure: the caller passes the
//! observed objects, the time, the pods' start times and the RNG, and writes the result.
//!
//! Simplification of the rolling update: the new ReplicaSet is created at full size at once,
//! and the old ones are scaled to zero when all of its pods are ready (Recreate: at once). So a
//! bad image leaves the old pods serving, as a stuck real rollout would.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::scenario::Scenario;

use super::pods::{self, TEMPLATE_HASH_LABEL};

const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// What the caller knows about one Deployment.
#[derive(Debug, Clone)]
pub struct Observed {
    pub deployment: Deployment,
    /// ReplicaSets controlled by the Deployment.
    pub replica_sets: Vec<ReplicaSet>,
    /// Pods controlled by those ReplicaSets.
    pub pods: Vec<Pod>,
}

/// Everything the Deployment should own now, with statuses, and when to look again.
#[derive(Debug, Clone)]
pub struct Desired {
    pub replica_sets: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub status: DeploymentStatus,
    /// The next time something changes without any event (a pod gets ready, a deadline).
    pub wake_at: Option<Timestamp>,
}

/// Start times of pods, keyed by `namespace/name`. Kept in memory with sub-second precision
/// because stored timestamps are whole seconds; a pod missing here falls back to its
/// `creationTimestamp`, then to `now`.
pub type StartTimes = HashMap<String, Timestamp>;

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn rs_hash(rs: &ReplicaSet) -> Option<&str> {
    rs.metadata
        .labels
        .as_ref()?
        .get(TEMPLATE_HASH_LABEL)
        .map(String::as_str)
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn owned_by(pod: &Pod, rs: &ReplicaSet) -> bool {
    pod.metadata.owner_references.iter().flatten().any(|o| {
        o.kind == "ReplicaSet"
            && o.controller == Some(true)
            && Some(&o.name) == rs.metadata.name.as_ref()
    })
}

fn new_replica_set(
    d: &Deployment,
    template: &PodTemplateSpec,
    hash: &str,
    revision: i64,
    replicas: i32,
) -> ReplicaSet {
    let name = format!("{}-{hash}", d.metadata.name.as_deref().unwrap_or_default());
    let labels = pods::hashed_labels(template, hash);
    let mut selector = d
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(TEMPLATE_HASH_LABEL.into(), hash.into());
    let mut tmpl = template.clone();
    tmpl.metadata.get_or_insert_with(Default::default).labels = Some(labels.clone());
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: d.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some([(REVISION_ANNOTATION.to_string(), revision.to_string())].into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: d.metadata.name.clone().unwrap_or_default(),
                uid: d.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: None,
            selector,
            template: Some(tmpl),
        }),
        status: None,
    }
}

/// `maxUnavailable` resolved against `replicas` the way the real controller does.
fn max_unavailable(d: &Deployment, replicas: i32) -> i32 {
    let Some(strategy) = d.spec.as_ref().and_then(|s| s.strategy.as_ref()) else {
        return replicas / 4;
    };
    if strategy.type_.as_deref() == Some("Recreate") || replicas == 0 {
        return 0;
    }
    let ru = strategy.rolling_update.as_ref();
    let resolve = |v: Option<&IntOrString>, round_up: bool| -> i32 {
        match v {
            None => {
                if round_up {
                    (replicas + 3) / 4
                } else {
                    replicas / 4
                }
            }
            Some(IntOrString::Int(n)) => *n,
            Some(IntOrString::String(s)) => {
                let pct = s.trim_end_matches('%').parse::<i64>().unwrap_or(25);
                let scaled = i64::from(replicas) * pct;
                let v = if round_up {
                    (scaled + 99) / 100
                } else {
                    scaled / 100
                };
                i32::try_from(v).unwrap_or(i32::MAX)
            }
        }
    };
    let surge = resolve(ru.and_then(|r| r.max_surge.as_ref()), true);
    let unavailable = resolve(ru.and_then(|r| r.max_unavailable.as_ref()), false);
    if surge == 0 && unavailable == 0 {
        1
    } else {
        unavailable.min(replicas)
    }
}

fn started_at(pod: &Pod, starts: &StartTimes, now: Timestamp) -> Timestamp {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    starts
        .get(&key(ns, name))
        .copied()
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(now)
}

/// Computes what `obs.deployment` should own at `now`. New pods get start time `now`, recorded
/// in `starts`; their names come from `rng`.
pub fn desired(
    obs: &Observed,
    scenario: &Scenario,
    now: Timestamp,
    starts: &mut StartTimes,
    rng: &mut fastrand::Rng,
) -> Desired {
    let d = &obs.deployment;
    let spec = d.spec.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let template = spec.template.clone();
    let hash = pods::template_hash(&template);
    let namespace = d.metadata.namespace.clone().unwrap_or_default();

    let mut replica_sets = obs.replica_sets.clone();
    replica_sets.sort_by_key(revision);
    let created_new = !replica_sets
        .iter()
        .any(|rs| rs_hash(rs) == Some(hash.as_str()));
    if created_new {
        let next = replica_sets.iter().map(revision).max().unwrap_or(0) + 1;
        replica_sets.push(new_replica_set(d, &template, &hash, next, replicas));
    }

    // Existing pods per ReplicaSet with a status recomputed for `now`.
    let mut per_rs: Vec<Vec<Pod>> = replica_sets
        .iter()
        .map(|rs| {
            let mut mine: Vec<Pod> = obs
                .pods
                .iter()
                .filter(|p| owned_by(p, rs))
                .cloned()
                .collect();
            for p in &mut mine {
                let start = started_at(p, starts, now);
                // A ready pod stays ready (and keeps its status) until its image is marked not
                // ready; a longer readyDelay set later does not take readiness away.
                let stays_ready = pods::is_ready(p) && pods::ready_at(p, start, scenario).is_some();
                if !stays_ready {
                    p.status = Some(pods::pod_status(p, start, now, scenario));
                }
            }
            mine
        })
        .collect();

    let new_idx = replica_sets
        .iter()
        .position(|rs| rs_hash(rs) == Some(hash.as_str()))
        .unwrap_or(replica_sets.len() - 1);
    let new_ready = per_rs[new_idx].iter().filter(|p| pods::is_ready(p)).count();
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
    let new_complete = new_ready >= usize::try_from(replicas).unwrap_or(0);

    for (i, rs) in replica_sets.iter_mut().enumerate() {
        let want = if i == new_idx {
            replicas
        } else if recreate || new_complete {
            0
        } else {
            rs_replicas(rs)
        };
        rs.spec.get_or_insert_with(Default::default).replicas = Some(want);
        let want = usize::try_from(want).unwrap_or(0);
        let mine = &mut per_rs[i];
        // Scale down not-ready pods first, then the newest names (any stable order will do).
        mine.sort_by_key(|p| (!pods::is_ready(p), p.metadata.name.clone()));
        mine.truncate(want);
        while mine.len() < want {
            let name = format!(
                "{}-{}",
                rs.metadata.name.as_deref().unwrap_or_default(),
                pods::pod_suffix(rng)
            );
            let mut pod = pods::new_pod(rs, name.clone());
            starts.insert(key(&namespace, &name), now);
            pod.status = Some(pods::pod_status(&pod, now, now, scenario));
            mine.push(pod);
        }
        mine.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let count = i32::try_from(mine.len()).unwrap_or(i32::MAX);
        let ready = i32::try_from(mine.iter().filter(|p| pods::is_ready(p)).count()).unwrap_or(0);
        rs.status = Some(ReplicaSetStatus {
            replicas: count,
            fully_labeled_replicas: Some(count),
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            observed_generation: Some(rs.metadata.generation.unwrap_or(1)),
            ..ReplicaSetStatus::default()
        });
    }

    let count = |v: &[Pod], ready_only: bool| {
        let n = v
            .iter()
            .filter(|p| !ready_only || pods::is_ready(p))
            .count();
        i32::try_from(n).unwrap_or(i32::MAX)
    };
    let counts = Counts {
        wanted: replicas,
        total: per_rs.iter().map(|v| count(v, false)).sum(),
        updated: count(&per_rs[new_idx], false),
        ready: per_rs.iter().map(|v| count(v, true)).sum(),
    };
    let new_rs_name = replica_sets[new_idx]
        .metadata
        .name
        .clone()
        .unwrap_or_default();
    let deadline = SignedDuration::from_secs(
        spec.progress_deadline_seconds
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
            .into(),
    );
    let status = deployment_status(d, &counts, &new_rs_name, created_new, deadline, now);

    // Wake for the next pod to get ready, and for the deadline of a rollout still in progress.
    let mut wake_at: Option<Timestamp> = None;
    let mut wake = |t: Timestamp| {
        if t > now {
            wake_at = Some(wake_at.map_or(t, |w| w.min(t)));
        }
    };
    for p in per_rs.iter().flatten().filter(|p| !pods::is_ready(p)) {
        if let Some(t) = pods::ready_at(p, started_at(p, starts, now), scenario) {
            wake(t);
        }
    }
    let progress = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing");
    if !counts.complete()
        && let Some(c) = progress
        && !matches!(
            c.reason.as_deref(),
            Some("ProgressDeadlineExceeded" | "NewReplicaSetAvailable")
        )
        && let Some(t) = &c.last_update_time
        && let Ok(end) = t.0.checked_add(deadline)
    {
        wake(end);
    }

    Desired {
        replica_sets,
        pods: per_rs.into_iter().flatten().collect(),
        status,
        wake_at,
    }
}

/// Pod counts of one Deployment after this pass.
struct Counts {
    /// `spec.replicas`.
    wanted: i32,
    /// Pods of all its ReplicaSets.
    total: i32,
    /// Pods of the current template's ReplicaSet.
    updated: i32,
    ready: i32,
}

impl Counts {
    fn complete(&self) -> bool {
        self.updated == self.wanted && self.total == self.wanted && self.ready == self.wanted
    }
}

/// The Deployment's status: counts, `Available`, and `Progressing` as the real controller's
/// `syncRolloutStatus` sets them.
fn deployment_status(
    d: &Deployment,
    c: &Counts,
    new_rs: &str,
    created_new: bool,
    deadline: SignedDuration,
    now: Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let mut conditions = old.conditions.clone().unwrap_or_default();

    let available = c.ready >= c.wanted - max_unavailable(d, c.wanted);
    let (reason, message) = if available {
        (
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let available_cond = (reason, message.to_string());
    set_condition(
        &mut conditions,
        "Available",
        available,
        available_cond,
        now,
        false,
    );

    let progressed = c.updated > old.updated_replicas.unwrap_or(0)
        || c.total - c.updated < old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0)
        || c.ready > old.ready_replicas.unwrap_or(0)
        || c.ready > old.available_replicas.unwrap_or(0);
    let current = conditions.iter().find(|x| x.type_ == "Progressing");
    // As in Kubernetes, a rollout that once completed never times out afterwards.
    let timed_out = current.is_some_and(|x| {
        x.reason.as_deref() == Some("ProgressDeadlineExceeded")
            || x.reason.as_deref() != Some("NewReplicaSetAvailable")
                && x.last_update_time
                    .as_ref()
                    .and_then(|t| t.0.checked_add(deadline).ok())
                    .is_some_and(|end| end <= now)
    });
    // (status, reason, message, whether lastUpdateTime moves even if the reason stays)
    let progressing = if created_new {
        Some((
            true,
            "NewReplicaSetCreated",
            format!("Created new replica set \"{new_rs}\""),
            true,
        ))
    } else if c.complete() {
        let message = format!("ReplicaSet \"{new_rs}\" has successfully progressed.");
        Some((true, "NewReplicaSetAvailable", message, false))
    } else if progressed {
        let message = format!("ReplicaSet \"{new_rs}\" is progressing.");
        Some((true, "ReplicaSetUpdated", message, true))
    } else if current.is_none() {
        Some((
            true,
            "FoundNewReplicaSet",
            format!("Found new replica set \"{new_rs}\""),
            true,
        ))
    } else if timed_out {
        let message = format!("ReplicaSet \"{new_rs}\" has timed out progressing.");
        Some((false, "ProgressDeadlineExceeded", message, false))
    } else {
        None
    };
    if let Some((ok, reason, message, touch)) = progressing {
        set_condition(
            &mut conditions,
            "Progressing",
            ok,
            (reason, message),
            now,
            touch,
        );
    }
    // Conditions in the real controller's order.
    conditions.sort_by_key(|x| x.type_ != "Available");

    DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nonzero(c.total),
        updated_replicas: nonzero(c.updated),
        ready_replicas: nonzero(c.ready),
        available_replicas: nonzero(c.ready),
        unavailable_replicas: nonzero((c.wanted - c.ready).max(0)),
        conditions: Some(conditions),
        ..DeploymentStatus::default()
    }
}

fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// Sets a condition the way the real controller does: timestamps move only when status (or,
/// with `touch`, progress) changes, so recomputing an unchanged state writes nothing.
fn set_condition(
    conditions: &mut Vec<DeploymentCondition>,
    type_: &str,
    ok: bool,
    (reason, message): (&str, String),
    now: Timestamp,
    touch: bool,
) {
    let status = if ok { "True" } else { "False" };
    let existing = conditions.iter().position(|c| c.type_ == type_);
    if let Some(i) = existing {
        let c = &conditions[i];
        if c.status == status && c.reason.as_deref() == Some(reason) && !touch {
            return;
        }
        let transition = if c.status == status {
            c.last_transition_time.clone()
        } else {
            Some(Time(now))
        };
        conditions[i] = DeploymentCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_update_time: Some(Time(now)),
            last_transition_time: transition,
        };
    } else {
        conditions.push(DeploymentCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_update_time: Some(Time(now)),
            last_transition_time: Some(Time(now)),
        });
    }
}
