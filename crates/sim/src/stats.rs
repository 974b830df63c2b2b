//! Request statistics of the simulated API server: requests per verb and resource, watch
//! streams open. Benchmarks read them (`GET /sim/stats`) to count a controller's API load.
//! Counting only; never changes how a request is served.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

#[derive(Default)]
struct Inner {
    /// verb → resource (`deployments.apps`) → count.
    requests: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    total: AtomicU64,
    watches_open: AtomicI64,
    watches_started: AtomicU64,
}

/// Shared counters. Cheap to clone.
#[derive(Clone, Default)]
pub struct Stats {
    inner: Arc<Inner>,
}

/// A point-in-time copy of the counters, as served at `/sim/stats`.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    /// verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`)
    /// → group-qualified resource (`deployments.apps`, `configmaps`, `deployments.apps/status`) → count.
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// All API requests (discovery and OpenAPI included).
    pub total_requests: u64,
    pub watches_open: i64,
    pub watches_started: u64,
    pub objects_stored: usize,
    pub resource_version: u64,
}

impl StatsSnapshot {
    /// Requests of one verb on one resource (0 when none).
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.requests
            .get(verb)
            .and_then(|m| m.get(resource))
            .copied()
            .unwrap_or(0)
    }

    /// Requests of one verb, all resources.
    pub fn verb_total(&self, verb: &str) -> u64 {
        self.requests
            .get(verb)
            .map(|m| m.values().sum())
            .unwrap_or(0)
    }
}

/// Decrements the open-watch gauge when a watch stream ends, however it ends.
pub struct WatchGuard(Stats);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.inner.watches_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    pub fn request(&self) {
        self.inner.total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record(&self, verb: &str, resource: &str) {
        let mut map = self
            .inner
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *map.entry(verb.to_string())
            .or_default()
            .entry(resource.to_string())
            .or_default() += 1;
    }

    pub fn watch_started(&self) -> WatchGuard {
        self.inner.watches_open.fetch_add(1, Ordering::Relaxed);
        self.inner.watches_started.fetch_add(1, Ordering::Relaxed);
        WatchGuard(self.clone())
    }

    pub fn snapshot(&self, objects_stored: usize, resource_version: u64) -> StatsSnapshot {
        let requests = self
            .inner
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        StatsSnapshot {
            requests,
            total_requests: self.inner.total.load(Ordering::Relaxed),
            watches_open: self.inner.watches_open.load(Ordering::Relaxed),
            watches_started: self.inner.watches_started.load(Ordering::Relaxed),
            objects_stored,
            resource_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_watch_gauge() {
        let s = Stats::default();
        s.record("list", "deployments.apps");
        s.record("list", "deployments.apps");
        s.record("get", "configmaps");
        let g = s.watch_started();
        let snap = s.snapshot(3, 9);
        assert_eq!(snap.count("list", "deployments.apps"), 2);
        assert_eq!(snap.verb_total("get"), 1);
        assert_eq!(snap.watches_open, 1);
        drop(g);
        assert_eq!(s.snapshot(0, 0).watches_open, 0);
    }
}
