//! One way to watch a kind: a reflector cache, a stream of changed objects for the
//! Controller's mappers, and a sync signal. [`Watches`] registers every watch by name, so
//! adding a watched kind is one call, and the controller starts reconciling only when all of
//! them have synced.
//!
//! A cache counts as synced when its watch stream carries its first `InitDone`, i.e. after the
//! reflector has swapped the initial list into the store. The signal is a `tokio::sync::watch`
//! channel, which any number of tasks can await. (kube-runtime's own
//! `Store::wait_until_ready` keeps a single waker: with the Controller's runner and a second
//! task both waiting on it, one of them could sleep forever.)

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::http::Health;
use super::telemetry::WatchLabels;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// How often the controller says which caches are still missing while it waits.
const UNSYNCED_REPORT_EVERY: Duration = Duration::from_secs(30);

/// The sync signals of every registered watch, by name.
#[derive(Default)]
pub struct Watches {
    synced: BTreeMap<&'static str, watch::Receiver<bool>>,
    /// `fledge_watch_errors_total`, by watch name.
    errors: Family<WatchLabels, Counter>,
}

impl Watches {
    pub fn new(errors: Family<WatchLabels, Counter>) -> Self {
        Watches {
            synced: BTreeMap::new(),
            errors,
        }
    }

    /// Watches `api` into a new reflector cache registered as `name`. Returns the cache and
    /// the stream of changed objects (to feed a Controller's mappers; it must be polled for
    /// the cache to fill). `on_event` sees every event after it reached the cache.
    /// managedFields are dropped before caching: they are large and never read.
    pub fn watch<K>(
        &mut self,
        name: &'static str,
        api: Api<K>,
        config: watcher::Config,
        dyntype: K::DynamicType,
        mut on_event: impl FnMut(&watcher::Event<K>) + Send + 'static,
    ) -> (
        Store<K>,
        impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    )
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Eq + Hash + Clone + Send + Sync,
    {
        let writer = reflector::store::Writer::<K>::new(dyntype);
        let reader = writer.as_reader();
        let (synced_tx, synced_rx) = watch::channel(false);
        self.synced.insert(name, synced_rx);
        let errors = self
            .errors
            .get_or_create(&WatchLabels { watch: name.into() })
            .clone();
        let stream = watcher(api, config.any_semantic())
            .default_backoff()
            .inspect_err(move |e| {
                errors.inc();
                watch_failed(name, e)
            })
            .modify(|o| o.managed_fields_mut().clear())
            .reflect(writer)
            .inspect_ok(move |event| {
                if matches!(event, watcher::Event::InitDone) {
                    synced_tx.send_replace(true);
                }
                on_event(event);
            })
            .touched_objects();
        (reader, stream)
    }

    /// Resolves once every registered cache has synced, then marks `health` ready. Until then
    /// it names the missing caches every 30 s: a watch that can never list (RBAC, a CRD gone)
    /// would otherwise leave the controller silently idle.
    pub async fn wait_synced(self, health: Arc<Health>) {
        let mut pending = self.synced;
        let mut report = tokio::time::interval_at(
            tokio::time::Instant::now() + UNSYNCED_REPORT_EVERY,
            UNSYNCED_REPORT_EVERY,
        );
        loop {
            pending.retain(|_, rx| !*rx.borrow());
            if pending.is_empty() {
                break;
            }
            let missing: Vec<&str> = pending.keys().copied().collect();
            let waits = pending.values_mut().map(|rx| Box::pin(rx.changed()));
            tokio::select! {
                (changed, _, _) = futures::future::select_all(waits) => {
                    if changed.is_err() {
                        // A watch stream was dropped before it synced: shutting down.
                        return;
                    }
                }
                _ = report.tick() => {
                    tracing::warn!(?missing, "still waiting for caches to sync; nothing is reconciled until they are");
                }
            }
        }
        health.caches_synced.store(true, Ordering::SeqCst);
        tracing::info!("caches synced");
    }
}

fn watch_failed(what: &str, err: &watcher::Error) {
    tracing::warn!(watch = what, error = %err, "watch failed; retrying with backoff");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn synced_only_when_every_cache_has_synced_and_any_number_may_wait() {
        let mut caches = Watches::default();
        let (a_tx, a_rx) = watch::channel(false);
        let (b_tx, b_rx) = watch::channel(false);
        caches.synced.insert("a", a_rx.clone());
        caches.synced.insert("b", b_rx);
        // A second waiter on the same signal (the Controller's runner, say) must not steal
        // the wake-up.
        let mut other = a_rx;
        let health = Arc::new(Health::default());
        let mut wait = Box::pin(caches.wait_synced(health.clone()));
        assert!(futures::poll!(&mut wait).is_pending());
        a_tx.send_replace(true);
        assert!(futures::poll!(&mut wait).is_pending());
        assert!(!health.caches_synced.load(Ordering::SeqCst));
        b_tx.send_replace(true);
        assert!(futures::poll!(&mut wait).is_ready());
        assert!(health.caches_synced.load(Ordering::SeqCst));
        assert!(other.wait_for(|v| *v).await.is_ok());
    }
}
