//! The garbage collector: deletes objects whose owners are all gone (background propagation),
//! deletes dependents of owners in foreground deletion, orphans dependents for `orphan`, and
//! empties terminating namespaces. It reacts to store events and sweeps periodically; it never
//! decides anything the store's snapshot does not show.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{EventType, Store};

/// How often the collector sweeps even without events (catches dependents created with owner
/// references to objects that never existed).
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Run the collector until `shutdown` is cancelled.
pub async fn run(store: Store, shutdown: CancellationToken) {
    let mut rx = store.subscribe();
    loop {
        let triggered = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => true,
            ev = rx.recv() => match ev {
                Ok(ev) => ev.event_type == EventType::Deleted || super::meta::is_deleting(&ev.object),
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            },
        };
        if triggered {
            // Each pass may enable more work (a removed finalizer frees an owner); bounded so
            // a pathological cycle cannot spin forever.
            for _ in 0..64 {
                if store.gc_pass() == 0 {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{DeleteOptions, Propagation, resources};

    fn deployment_and_rs(store: &Store) -> String {
        let d = store
            .create(
                &resources::DEPLOYMENTS,
                json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {
                    "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}}),
            )
            .unwrap();
        let uid = d["metadata"]["uid"].as_str().unwrap().to_string();
        store
            .create(
                &resources::REPLICASETS,
                json!({"metadata": {"name": "d-1", "namespace": "default", "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
                    "spec": {"selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}}),
            )
            .unwrap();
        uid
    }

    fn settle(store: &Store) {
        while store.gc_pass() > 0 {}
    }

    #[test]
    fn background_deletion_removes_dependents() {
        let store = Store::default();
        deployment_and_rs(&store);
        store
            .delete(&resources::DEPLOYMENTS, "default", "d")
            .unwrap();
        assert!(
            store
                .get(&resources::REPLICASETS, "default", "d-1")
                .is_some()
        );
        settle(&store);
        assert!(
            store
                .get(&resources::REPLICASETS, "default", "d-1")
                .is_none()
        );
    }

    #[test]
    fn foreground_deletion_waits_for_dependents() {
        let store = Store::default();
        deployment_and_rs(&store);
        let opts = DeleteOptions {
            propagation: Propagation::Foreground,
            ..Default::default()
        };
        store
            .delete_with(&resources::DEPLOYMENTS, "default", "d", &opts)
            .unwrap();
        let d = store.get(&resources::DEPLOYMENTS, "default", "d").unwrap();
        assert_eq!(d["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        settle(&store);
        assert!(
            store
                .get(&resources::REPLICASETS, "default", "d-1")
                .is_none()
        );
        assert!(store.get(&resources::DEPLOYMENTS, "default", "d").is_none());
    }

    #[test]
    fn orphan_deletion_keeps_dependents_without_owner() {
        let store = Store::default();
        deployment_and_rs(&store);
        let opts = DeleteOptions {
            propagation: Propagation::Orphan,
            ..Default::default()
        };
        store
            .delete_with(&resources::DEPLOYMENTS, "default", "d", &opts)
            .unwrap();
        settle(&store);
        assert!(store.get(&resources::DEPLOYMENTS, "default", "d").is_none());
        let rs = store
            .get(&resources::REPLICASETS, "default", "d-1")
            .unwrap();
        assert!(rs["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn namespace_deletion_empties_it_first() {
        let store = Store::default();
        store
            .create(&resources::NAMESPACES, json!({"metadata": {"name": "t"}}))
            .unwrap();
        store
            .create(
                &resources::CONFIGMAPS,
                json!({"metadata": {"name": "c", "namespace": "t", "finalizers": ["x/y"]}}),
            )
            .unwrap();
        store.delete(&resources::NAMESPACES, "", "t").unwrap();
        assert_eq!(
            store.get(&resources::NAMESPACES, "", "t").unwrap()["status"]["phase"],
            "Terminating"
        );
        settle(&store);
        // The finalizer holds the ConfigMap and with it the namespace.
        assert!(store.get(&resources::NAMESPACES, "", "t").is_some());
        let mut cm = store.get(&resources::CONFIGMAPS, "t", "c").unwrap();
        cm["metadata"]["finalizers"] = json!([]);
        store.update(&resources::CONFIGMAPS, cm).unwrap();
        settle(&store);
        assert!(store.get(&resources::CONFIGMAPS, "t", "c").is_none());
        assert!(store.get(&resources::NAMESPACES, "", "t").is_none());
    }
}
