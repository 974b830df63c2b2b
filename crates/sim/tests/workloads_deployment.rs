//! Table tests of the simulated Deployment controller's decisions: status progression with the
//! real reasons, the progress deadline for a bad image, rollouts replacing old pods, and
//! scaling to zero. Each step feeds the previous step's result back as the observed state, the
//! way the store would.

use std::time::Duration;

use fledge_sim::scenario::{ImageRule, Scenario};
use fledge_sim::workloads::deployment::{self, Desired, Observed, StartTimes};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

fn scenario() -> Scenario {
    let mut bad = ImageRule::new("*:bad").unwrap();
    bad.ready = false;
    Scenario {
        ready_delay: Duration::from_secs(2),
        images: vec![bad],
        ..Scenario::default()
    }
}

fn podinfo(image: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "d-1", "generation": 1},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 5,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {"metadata": {"labels": {"app": "podinfo"}},
                         "spec": {"containers": [{"name": "podinfod", "image": image}]}}}
    }))
    .unwrap()
}

/// The simulated cluster in miniature: holds the observed state, applies each result.
struct Sim {
    scenario: Scenario,
    obs: Observed,
    starts: StartTimes,
    rng: fastrand::Rng,
    t0: Timestamp,
}

impl Sim {
    fn new(d: Deployment) -> Self {
        Sim {
            scenario: scenario(),
            obs: Observed {
                deployment: d,
                replica_sets: vec![],
                pods: vec![],
            },
            starts: StartTimes::new(),
            rng: fastrand::Rng::with_seed(1),
            t0: "2026-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    fn at(&mut self, secs: i64) -> Desired {
        let now = self.t0 + SignedDuration::from_secs(secs);
        let want = deployment::desired(
            &self.obs,
            &self.scenario,
            now,
            &mut self.starts,
            &mut self.rng,
        );
        self.obs.replica_sets = want.replica_sets.clone();
        self.obs.pods = want.pods.clone();
        self.obs.deployment.status = Some(want.status.clone());
        want
    }

    fn roll_to(&mut self, image: &str) {
        let d = &mut self.obs.deployment;
        let spec = d.spec.as_mut().unwrap();
        spec.template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
        d.metadata.generation = Some(d.metadata.generation.unwrap() + 1);
    }
}

/// (replicas, updated, ready, Available, Progressing reason)
type Row = (i32, i32, i32, &'static str, &'static str);

fn row(d: &Desired) -> Row {
    let s = &d.status;
    let cond = |t: &str| {
        s.conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == t)
            .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
            .unwrap()
    };
    let avail = cond("Available");
    let avail: &'static str = match (avail.0.as_str(), avail.1.as_str()) {
        ("True", "MinimumReplicasAvailable") => "True",
        ("False", "MinimumReplicasUnavailable") => "False",
        other => panic!("unexpected Available {other:?}"),
    };
    let prog = cond("Progressing");
    let reason: &'static str = match (prog.0.as_str(), prog.1.as_str()) {
        ("True", "NewReplicaSetCreated") => "NewReplicaSetCreated",
        ("True", "ReplicaSetUpdated") => "ReplicaSetUpdated",
        ("True", "NewReplicaSetAvailable") => "NewReplicaSetAvailable",
        ("True", "FoundNewReplicaSet") => "FoundNewReplicaSet",
        ("False", "ProgressDeadlineExceeded") => "ProgressDeadlineExceeded",
        other => panic!("unexpected Progressing {other:?}"),
    };
    (
        s.replicas.unwrap_or(0),
        s.updated_replicas.unwrap_or(0),
        s.ready_replicas.unwrap_or(0),
        avail,
        reason,
    )
}

#[test]
fn a_good_image_becomes_available_after_the_ready_delay() {
    let mut sim = Sim::new(podinfo("podinfo:1", 2));
    let steps: [(i64, Row); 4] = [
        (0, (2, 2, 0, "False", "NewReplicaSetCreated")),
        (1, (2, 2, 0, "False", "NewReplicaSetCreated")),
        (2, (2, 2, 2, "True", "NewReplicaSetAvailable")),
        (60, (2, 2, 2, "True", "NewReplicaSetAvailable")),
    ];
    for (t, want) in steps {
        let d = sim.at(t);
        assert_eq!(row(&d), want, "at {t}s");
        assert_eq!(d.status.observed_generation, Some(1));
    }
    let rs = &sim.obs.replica_sets[0];
    let rs_name = rs.metadata.name.clone().unwrap();
    let hash = rs.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(rs_name, format!("podinfo-{hash}"));
    assert_eq!(rs.metadata.owner_references.as_ref().unwrap()[0].uid, "d-1");
    for p in &sim.obs.pods {
        let name = p.metadata.name.clone().unwrap();
        assert!(
            name.starts_with(&format!("{rs_name}-")) && name.len() == rs_name.len() + 6,
            "{name}"
        );
        assert_eq!(
            p.metadata.labels.as_ref().unwrap()["pod-template-hash"],
            hash
        );
        assert_eq!(
            p.metadata.owner_references.as_ref().unwrap()[0].name,
            rs_name
        );
    }
}

#[test]
fn the_first_pass_schedules_a_wake_up_for_readiness() {
    let mut sim = Sim::new(podinfo("podinfo:1", 1));
    let d = sim.at(0);
    assert_eq!(d.wake_at, Some(sim.t0 + SignedDuration::from_secs(2)));
    let d = sim.at(2);
    assert_eq!(d.wake_at, None, "nothing left to wait for");
}

#[test]
fn a_bad_image_keeps_the_old_pods_and_exceeds_the_progress_deadline() {
    let mut sim = Sim::new(podinfo("podinfo:1", 2));
    sim.at(0);
    sim.at(2);
    sim.roll_to("podinfo:bad");
    let steps: [(i64, Row); 4] = [
        // The new ReplicaSet comes up at full size next to the old one.
        (10, (4, 2, 2, "True", "NewReplicaSetCreated")),
        (14, (4, 2, 2, "True", "NewReplicaSetCreated")),
        (15, (4, 2, 2, "True", "ProgressDeadlineExceeded")),
        (100, (4, 2, 2, "True", "ProgressDeadlineExceeded")),
    ];
    for (t, want) in steps {
        let d = sim.at(t);
        assert_eq!(row(&d), want, "at {t}s");
        assert_eq!(d.status.observed_generation, Some(2));
    }
    let msg = sim
        .obs
        .deployment
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()[1]
        .message
        .clone()
        .unwrap();
    assert!(msg.ends_with("has timed out progressing."), "{msg}");

    // A fixed image recovers: once its pods are ready, both old ReplicaSets go to zero.
    sim.roll_to("podinfo:3");
    let steps: [(i64, Row); 2] = [
        (200, (6, 2, 2, "True", "NewReplicaSetCreated")),
        (202, (2, 2, 2, "True", "NewReplicaSetAvailable")),
    ];
    for (t, want) in steps {
        assert_eq!(row(&sim.at(t)), want, "at {t}s");
    }
    let images: Vec<_> = sim
        .obs
        .pods
        .iter()
        .map(|p| {
            p.spec.as_ref().unwrap().containers[0]
                .image
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(images, ["podinfo:3", "podinfo:3"]);
    let sizes: Vec<_> = sim
        .obs
        .replica_sets
        .iter()
        .map(|rs| rs.spec.as_ref().unwrap().replicas.unwrap())
        .collect();
    assert_eq!(sizes, [0, 0, 2], "old, bad, new");
}

#[test]
fn progress_resets_the_deadline_and_scaling_to_zero_removes_pods() {
    let mut sim = Sim::new(podinfo("podinfo:1", 1));
    assert_eq!(row(&sim.at(0)), (1, 1, 0, "False", "NewReplicaSetCreated"));
    assert_eq!(row(&sim.at(2)), (1, 1, 1, "True", "NewReplicaSetAvailable"));
    // Scaling up is progress, then completes.
    sim.obs.deployment.spec.as_mut().unwrap().replicas = Some(3);
    assert_eq!(row(&sim.at(3)), (3, 3, 1, "False", "ReplicaSetUpdated"));
    assert_eq!(row(&sim.at(5)), (3, 3, 3, "True", "NewReplicaSetAvailable"));
    sim.obs.deployment.spec.as_mut().unwrap().replicas = Some(0);
    let d = sim.at(6);
    assert_eq!(row(&d), (0, 0, 0, "True", "NewReplicaSetAvailable"));
    assert!(d.pods.is_empty());
}

#[test]
fn ready_pods_stay_ready_until_their_image_is_marked_bad() {
    let mut sim = Sim::new(podinfo("podinfo:1", 1));
    sim.at(0);
    assert_eq!(row(&sim.at(2)), (1, 1, 1, "True", "NewReplicaSetAvailable"));
    // A longer delay set later applies to new pods only.
    sim.scenario.ready_delay = Duration::from_secs(60);
    assert_eq!(row(&sim.at(3)), (1, 1, 1, "True", "NewReplicaSetAvailable"));
    // Marking the running image bad takes readiness away.
    let mut bad = ImageRule::new("podinfo:1").unwrap();
    bad.ready = false;
    sim.scenario.images.insert(0, bad);
    assert_eq!(
        row(&sim.at(4)),
        (1, 1, 0, "False", "NewReplicaSetAvailable")
    );
}
