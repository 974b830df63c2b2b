//! Pods as the simulated kubelet would report them: names and template hashes shaped like the
//! real controllers' (so Flagger's pod-name regexes match), and a status derived from the
//! image's scenario profile and the time the pod started. Pure: time and randomness are
//! passed in.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, Pod,
    PodCondition, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

use crate::scenario::Scenario;

/// The label tying pods and ReplicaSets to one pod template.
pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// The characters Kubernetes uses for generated name parts (no vowels, no look-alikes).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `pod-template-hash` of a template: FNV-1a over its JSON (minus any existing hash
/// label), spelled with Kubernetes' safe alphabet.
pub fn template_hash(template: &PodTemplateSpec) -> String {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(TEMPLATE_HASH_LABEL);
    }
    // Serialising typed k8s-openapi structs cannot fail (no non-string map keys).
    let bytes = serde_json::to_vec(&t).unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// A 5-character suffix like the ones ReplicaSets give their pods.
pub fn pod_suffix(rng: &mut fastrand::Rng) -> String {
    (0..5)
        .map(|_| ALPHANUMS[rng.usize(..ALPHANUMS.len())] as char)
        .collect()
}

/// A new pod of `rs`, with the RS's template and a controller ownerReference to it.
pub fn new_pod(rs: &ReplicaSet, name: String) -> Pod {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: rs.metadata.namespace.clone(),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: rs.metadata.name.clone().unwrap_or_default(),
                uid: rs.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(crate::kubelet::NODE.into()),
            ..template.spec.unwrap_or_default()
        }),
        status: None,
    }
}

fn images(pod: &Pod) -> Vec<(String, String)> {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

/// When the pod's containers are up, if its images can ever get there: start plus the longest
/// ready delay among its images. `None` when an image is marked not ready.
pub fn ready_at(pod: &Pod, started: Timestamp, scenario: &Scenario) -> Option<Timestamp> {
    let mut at = started;
    for (_, image) in images(pod) {
        let profile = scenario.image_profile(&image);
        if !profile.ready {
            return None;
        }
        let delay = jiff::SignedDuration::try_from(profile.ready_delay).ok()?;
        at = at.max(started.checked_add(delay).ok()?);
    }
    Some(at)
}

fn condition(type_: &str, ok: bool, at: Timestamp, reason: Option<&str>) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        last_transition_time: Some(Time(at)),
        reason: reason.map(Into::into),
        ..PodCondition::default()
    }
}

/// The status the simulated kubelet reports for `pod` at `now`. Every timestamp derives from
/// `started` or the ready time, so recomputing an unchanged pod gives an identical status.
pub fn pod_status(pod: &Pod, started: Timestamp, now: Timestamp, scenario: &Scenario) -> PodStatus {
    let ready_time = ready_at(pod, started, scenario);
    let ready = ready_time.is_some_and(|t| t <= now);
    // A container that never gets ready still starts once its delay has passed; it then
    // crash-loops, which is what `kubectl get pods` shows for a bad image.
    let scenario_delay = jiff::SignedDuration::try_from(scenario.ready_delay).unwrap_or_default();
    let settled_at =
        ready_time.unwrap_or_else(|| started.checked_add(scenario_delay).unwrap_or(started));
    let running = settled_at <= now;
    let statuses = images(pod)
        .into_iter()
        .map(|(name, image)| {
            let state = if ready {
                ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(Time(settled_at)),
                    }),
                    ..ContainerState::default()
                }
            } else {
                let reason = if running {
                    "CrashLoopBackOff"
                } else {
                    "ContainerCreating"
                };
                ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.into()),
                        message: None,
                    }),
                    ..ContainerState::default()
                }
            };
            ContainerStatus {
                name,
                image,
                image_id: String::new(),
                ready,
                restart_count: 0,
                started: Some(ready),
                state: Some(state),
                ..ContainerStatus::default()
            }
        })
        .collect();
    let not_ready = (!ready).then_some("ContainersNotReady");
    let ready_since = if ready { settled_at } else { started };
    PodStatus {
        phase: Some(if running { "Running" } else { "Pending" }.into()),
        conditions: Some(vec![
            condition("PodScheduled", true, started, None),
            condition("Initialized", true, started, None),
            condition("ContainersReady", ready, ready_since, not_ready),
            condition("Ready", ready, ready_since, not_ready),
        ]),
        container_statuses: Some(statuses),
        host_ip: Some("10.0.0.1".into()),
        pod_ip: Some(pod_ip(pod)),
        start_time: Some(Time(started)),
        qos_class: Some("BestEffort".into()),
        ..PodStatus::default()
    }
}

/// A stable address in 10.244.0.0/16 derived from the pod's name.
fn pod_ip(pod: &Pod) -> String {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let h = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (h >> 8) % 256, h % 254 + 1)
}

/// Whether a pod counts as ready in its current status.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Template labels plus the hash label.
pub fn hashed_labels(template: &PodTemplateSpec, hash: &str) -> BTreeMap<String, String> {
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(TEMPLATE_HASH_LABEL.into(), hash.into());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ImageRule;
    use k8s_openapi::api::core::v1::Container;
    use std::time::Duration;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "podinfo".to_string())].into()),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "podinfod".into(),
                    image: Some(image.into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        }
    }

    fn pod(image: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("podinfo-abc-xyz12".into()),
                ..ObjectMeta::default()
            },
            spec: template(image).spec,
            status: None,
        }
    }

    #[test]
    fn template_hash_is_stable_safe_and_ignores_its_own_label() {
        let t = template("podinfo:1");
        let h = template_hash(&t);
        assert!(
            !h.is_empty() && h.bytes().all(|b| ALPHANUMS.contains(&b)),
            "{h}"
        );
        let mut labelled = t.clone();
        labelled.metadata.as_mut().unwrap().labels = Some(hashed_labels(&t, &h));
        assert_eq!(template_hash(&labelled), h);
        assert_ne!(template_hash(&template("podinfo:2")), h);
    }

    #[test]
    fn generated_pod_names_match_flaggers_canary_regex_only_for_the_canary() {
        let mut rng = fastrand::Rng::with_seed(3);
        let hash = template_hash(&template("podinfo:1"));
        let suffix = pod_suffix(&mut rng);
        let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        // `podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)`, fully anchored:
        let matches = |name: &str| {
            name.strip_prefix("podinfo-")
                .and_then(|rest| rest.split_once('-'))
                .is_some_and(|(a, b)| ok(a) && ok(b))
        };
        assert!(matches(&format!("podinfo-{hash}-{suffix}")));
        assert!(!matches(&format!("podinfo-primary-{hash}-{suffix}")));
    }

    #[test]
    fn status_progresses_from_creating_to_ready_for_good_images() {
        let scenario = Scenario {
            ready_delay: Duration::from_secs(2),
            ..Scenario::default()
        };
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let p = pod("podinfo:1");
        let early = pod_status(&p, t0, t0 + jiff::SignedDuration::from_secs(1), &scenario);
        assert_eq!(early.phase.as_deref(), Some("Pending"));
        let late = pod_status(&p, t0, t0 + jiff::SignedDuration::from_secs(2), &scenario);
        assert_eq!(late.phase.as_deref(), Some("Running"));
        let ready = Pod {
            status: Some(late.clone()),
            ..p.clone()
        };
        assert!(is_ready(&ready));
        // Recomputing later gives the identical status (no write loops).
        assert_eq!(
            pod_status(&p, t0, t0 + jiff::SignedDuration::from_secs(60), &scenario),
            late
        );
    }

    #[test]
    fn bad_images_crash_loop_and_never_become_ready() {
        let mut scenario = Scenario::default();
        let mut bad = ImageRule::new("*:bad").unwrap();
        bad.ready = false;
        scenario.images.push(bad);
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let p = pod("podinfo:bad");
        assert_eq!(ready_at(&p, t0, &scenario), None);
        let s = pod_status(
            &p,
            t0,
            t0 + jiff::SignedDuration::from_secs(3600),
            &scenario,
        );
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let waiting = s.container_statuses.unwrap()[0]
            .state
            .clone()
            .unwrap()
            .waiting
            .unwrap();
        assert_eq!(waiting.reason.as_deref(), Some("CrashLoopBackOff"));
        assert!(!is_ready(&Pod {
            status: Some(pod_status(&p, t0, t0, &scenario)),
            ..p
        }));
    }
}
