//! Kubernetes Events on Canaries (core/v1, what `kubectl describe` lists), aggregated the way
//! client-go's recorder does it: the same reason and message on the same object within ten
//! minutes bumps `count` instead of creating another Event.
//!
//! Why not kube-runtime's `events::Recorder`: it writes `events.k8s.io/v1` Events, whose
//! `note` the API server refuses above 1 KiB, and an invalid-spec message that lists several
//! problems (or a rollback message with the failing values) can be longer. core/v1 Events have
//! no such limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};

use super::telemetry::Metrics;

const COMPONENT: &str = "fledge";
/// Repeats older than this start a new Event, as in client-go.
const AGGREGATE_SECONDS: i64 = 600;
/// Bound on remembered events; the oldest are forgotten first.
const MEMORY: usize = 4096;

struct Seen {
    name: String,
    count: i32,
    last: Timestamp,
}

pub struct Recorder {
    client: Client,
    metrics: Arc<Metrics>,
    seen: Mutex<HashMap<(String, String, String, String), Seen>>,
}

impl Recorder {
    pub fn new(client: Client, metrics: Arc<Metrics>) -> Self {
        Recorder {
            client,
            metrics,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an Event about `obj`. Failures are logged, never fatal: an Event is a courtesy.
    pub async fn publish<K>(&self, obj: &K, event_type: &str, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        let ns = obj.namespace().unwrap_or_else(|| "default".into());
        let uid = obj.uid().unwrap_or_default();
        let now = Timestamp::now();
        let key = (
            uid.clone(),
            reason.to_string(),
            message.to_string(),
            event_type.to_string(),
        );
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let repeat = {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.get(&key)
                .filter(|s| now.as_second() - s.last.as_second() < AGGREGATE_SECONDS)
                .map(|s| (s.name.clone(), s.count + 1))
        };
        let result = match repeat {
            Some((name, count)) => {
                let patch = serde_json::json!({
                    "count": count,
                    "lastTimestamp": Time(now),
                });
                self.metrics.count_write("patch", "Event");
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| (name, count))
            }
            None => {
                let name = format!("{}.{:x}", obj.name_any(), now.as_nanosecond());
                let event = Event {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        ..ObjectMeta::default()
                    },
                    involved_object: ObjectReference {
                        api_version: Some(K::api_version(&()).into_owned()),
                        kind: Some(K::kind(&()).into_owned()),
                        name: Some(obj.name_any()),
                        namespace: Some(ns.clone()),
                        uid: Some(uid.clone()),
                        resource_version: obj.resource_version(),
                        field_path: None,
                    },
                    reason: Some(reason.to_string()),
                    message: Some(message.to_string()),
                    type_: Some(event_type.to_string()),
                    count: Some(1),
                    first_timestamp: Some(Time(now)),
                    last_timestamp: Some(Time(now)),
                    event_time: None::<MicroTime>,
                    source: Some(EventSource {
                        component: Some(COMPONENT.into()),
                        host: None,
                    }),
                    reporting_component: Some(COMPONENT.into()),
                    reporting_instance: None,
                    ..Event::default()
                };
                self.metrics.count_write("create", "Event");
                api.create(&PostParams::default(), &event)
                    .await
                    .map(|_| (name, 1))
            }
        };
        match result {
            Ok((name, count)) => {
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.len() >= MEMORY
                    && let Some(oldest) = seen
                        .iter()
                        .min_by_key(|(_, s)| s.last)
                        .map(|(k, _)| k.clone())
                {
                    seen.remove(&oldest);
                }
                seen.insert(
                    key,
                    Seen {
                        name,
                        count,
                        last: now,
                    },
                );
            }
            Err(err) => {
                tracing::warn!(error = %err, reason, message, "could not record event");
                // A lost aggregate target (deleted Event) starts over next time.
                self.seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
            }
        }
    }
}
