//! The sim as the kubelet (and scheduler) of a real control plane: it registers one Node and
//! keeps it healthy (its Lease and Ready condition), binds every unscheduled Pod to it, reports
//! each bound Pod's status with the same decision the in-process sim uses
//! ([`pods::pod_status`]: Running and Ready after the scenario's delay, never ready for an image
//! the scenario marks so), and finishes the deletion of Pods being deleted, as a kubelet does
//! once their containers stop. It runs no API server and no controllers: the real
//! kube-controller-manager owns Deployments, ReplicaSets, EndpointSlices and garbage collection.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Binding, Node, NodeCondition, NodeStatus, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::scenario::ScenarioHandle;
use crate::workloads::pods;

/// The Node the sim registers; the in-process sim's pods name it too.
pub const NODE: &str = "sim-node";
const FIELD_MANAGER: &str = "fledge-sim-kubelet";
/// How often the Node's Lease and Ready condition are renewed (the kubelet's default).
const HEARTBEAT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("registering Node {NODE}: {0}")]
    Register(#[source] kube::Error),
}

/// Registers the Node and reports it Ready; returns when it has been since, for [`serve`].
pub async fn register(client: &Client) -> Result<Time, KubeletError> {
    let since = Time(Timestamp::now());
    heartbeat(client, &since)
        .await
        .map_err(KubeletError::Register)?;
    Ok(since)
}

/// Serves Pods and keeps the Node healthy until `shutdown` completes. API errors are logged
/// and retried on the next event or tick.
pub async fn serve(
    client: Client,
    scenario: ScenarioHandle,
    since: Time,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let pods: Api<Pod> = Api::all(client.clone());
    let mut events = watcher(pods, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut kubelet = Kubelet {
        client: client.clone(),
        scenario,
        pods: HashMap::new(),
    };
    let mut beat = tokio::time::interval(HEARTBEAT);
    let tick = kubelet.scenario.with(|s| s.tick);
    let mut pass = tokio::time::interval(tick);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = beat.tick() => {
                if let Err(e) = heartbeat(&client, &since).await {
                    tracing::warn!(error = %e, "sim kubelet: heartbeat failed");
                }
            }
            // Pods turn ready with time, not only on events.
            _ = pass.tick() => kubelet.sync_all().await,
            event = events.next() => match event {
                Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => {
                    kubelet.seen(pod).await;
                }
                Some(Ok(watcher::Event::Delete(pod))) => {
                    kubelet.pods.remove(&key(&pod));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::warn!(error = %e, "sim kubelet: pod watch"),
                None => return,
            },
        }
    }
}

fn key(pod: &Pod) -> (String, String) {
    (pod.namespace().unwrap_or_default(), pod.name_any())
}

struct Kubelet {
    client: Client,
    scenario: ScenarioHandle,
    /// Every Pod bound here, as last seen, with when it started.
    pods: HashMap<(String, String), (Pod, Timestamp)>,
}

impl Kubelet {
    async fn seen(&mut self, pod: Pod) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        match node {
            None if pod.metadata.deletion_timestamp.is_none() => self.bind(&pod).await,
            Some(NODE) => {
                let started = self
                    .pods
                    .get(&key(&pod))
                    .map(|(_, t)| *t)
                    .or_else(|| pod.status.as_ref()?.start_time.as_ref().map(|t| t.0))
                    .unwrap_or_else(Timestamp::now);
                self.pods.insert(key(&pod), (pod.clone(), started));
                self.sync(&pod, started).await;
            }
            _ => {}
        }
    }

    async fn sync_all(&mut self) {
        let pods: Vec<(Pod, Timestamp)> = self.pods.values().cloned().collect();
        for (pod, started) in pods {
            self.sync(&pod, started).await;
        }
    }

    /// What the scheduler does: a Binding to the one Node.
    async fn bind(&self, pod: &Pod) {
        let (ns, name) = key(pod);
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(NODE.into()),
                ..ObjectReference::default()
            },
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        // The API answers a Binding with a Status, read as a plain value.
        if let Err(e) = api
            .create_subresource::<Binding, serde_json::Value>(
                "binding",
                &name,
                &PostParams::default(),
                &binding,
            )
            .await
        {
            tracing::debug!(namespace = %ns, pod = %name, error = %e, "sim kubelet: bind");
        }
    }

    /// Writes the Pod's status if the decision differs from what it says; finishes a deletion.
    async fn sync(&self, pod: &Pod, started: Timestamp) {
        let (ns, name) = key(pod);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        if pod.metadata.deletion_timestamp.is_some() {
            // The containers are gone at once; the kubelet confirms with a zero grace period.
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: pod.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            if let Err(e) = api.delete(&name, &params).await {
                tracing::debug!(namespace = %ns, pod = %name, error = %e, "sim kubelet: delete");
            }
            return;
        }
        let want = self
            .scenario
            .with(|s| pods::pod_status(pod, started, Timestamp::now(), s));
        let same = pod.status.as_ref().is_some_and(|have| {
            have.phase == want.phase
                && pods::is_ready(pod)
                    == want
                        .conditions
                        .iter()
                        .flatten()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                && have.pod_ip.is_some()
        });
        if same {
            return;
        }
        let patch = json!({ "status": want });
        if let Err(e) = api
            .patch_status(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "status": patch["status"],
                })),
            )
            .await
        {
            tracing::debug!(namespace = %ns, pod = %name, error = %e, "sim kubelet: status");
        }
    }
}

/// Registers the Node (once) and renews its Lease and Ready condition (Ready since `since`).
async fn heartbeat(client: &Client, since: &Time) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    if nodes.get_opt(NODE).await?.is_none() {
        let node = Node {
            metadata: ObjectMeta {
                name: Some(NODE.into()),
                labels: Some(
                    [
                        ("kubernetes.io/hostname".to_string(), NODE.to_string()),
                        ("kubernetes.io/os".to_string(), "linux".to_string()),
                    ]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            ..Node::default()
        };
        nodes.create(&PostParams::default(), &node).await?;
    }
    let now = Time(Timestamp::now());
    let capacity = [
        ("cpu".to_string(), Quantity("64".into())),
        ("memory".to_string(), Quantity("256Gi".into())),
        ("pods".to_string(), Quantity("10000".into())),
    ];
    let status = NodeStatus {
        capacity: Some(capacity.clone().into()),
        allocatable: Some(capacity.into()),
        conditions: Some(vec![NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: Some("KubeletReady".into()),
            message: Some("fledge sim is posting ready status".into()),
            last_heartbeat_time: Some(now),
            last_transition_time: Some(since.clone()),
        }]),
        ..NodeStatus::default()
    };
    nodes
        .patch_status(
            NODE,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "Node", "status": status})),
        )
        .await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(NODE.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(NODE.into()),
            lease_duration_seconds: Some(40),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..LeaseSpec::default()
        }),
    };
    leases
        .patch(
            NODE,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": NODE},
                "spec": lease.spec,
            })),
        )
        .await?;
    Ok(())
}
