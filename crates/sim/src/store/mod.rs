//! The sim's object store: the in-process "etcd + registry" behind the HTTP API server.
//!
//! Contract for in-process users (the workload and traffic simulation, tests):
//! * Objects are `serde_json::Value`s in their wire form (`apiVersion`, `kind`, `metadata`, ...),
//!   keyed by [`GroupResource`] (see [`resources`] for the builtin keys) plus namespace and name.
//!   Cluster-scoped objects use the namespace `""`.
//! * Every write goes through the same rules the HTTP API applies: uid, creationTimestamp,
//!   `generateName`, a cluster-wide `resourceVersion` that grows on every change, `generation`
//!   bumped on spec changes only, defaulting, optimistic concurrency (409 when a non-empty
//!   `metadata.resourceVersion` is stale), finalizers with `deletionTimestamp`.
//! * `create`/`update` ignore `status` for kinds with a status subresource (a Pod starts as
//!   `Pending`, a Deployment with `{}`); write status with [`Store::update_status`].
//! * A write that changes nothing keeps the resourceVersion and emits no event.
//! * [`Store::subscribe`] delivers every change as a [`StoreEvent`] (in resourceVersion order).
//!   A receiver that falls behind gets `Lagged`; recover with [`Store::watch_from`] using the last
//!   resourceVersion seen. Ownerless garbage collection runs in [`gc`], not here.
//!
//! The store never blocks on I/O and never holds its lock across an `.await`.

mod defaults;
mod error;
pub mod meta;
mod registry;
mod validate;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

pub use error::{ApiError, Cause};
pub use registry::{
    GroupResource, Registry, ResourceDef, ScalePaths, resources, split_api_version,
};
pub use validate::unknown_fields;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as delivered to subscribers and kept in the watch history.
#[derive(Clone, Debug)]
pub struct StoreEvent {
    pub event_type: EventType,
    pub resource: GroupResource,
    /// The object after the change (for `Deleted`: its last state, with the deletion's RV).
    pub object: Arc<Value>,
    /// The object before the change (`None` for `Added`).
    pub old: Option<Arc<Value>>,
    pub resource_version: u64,
}

/// How dependents are handled when their owner is deleted (`DeleteOptions.propagationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

/// `DeleteOptions` the store honours.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// The result of a delete: gone at once, or waiting for finalizers (with `deletionTimestamp`).
#[derive(Clone, Debug, PartialEq)]
pub enum Deleted {
    Gone(Value),
    Pending(Value),
}

impl Deleted {
    pub fn into_object(self) -> Value {
        match self {
            Deleted::Gone(v) | Deleted::Pending(v) => v,
        }
    }
}

/// Tuning for a store.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Events kept for watch resumption. A watch from an older resourceVersion gets 410 Gone.
    pub history_limit: usize,
    /// Capacity of the live broadcast channel per subscriber.
    pub channel_capacity: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            history_limit: 50_000,
            channel_capacity: 65_536,
        }
    }
}

type ObjKey = (String, String);

struct Inner {
    rv: u64,
    objects: HashMap<GroupResource, BTreeMap<ObjKey, Arc<Value>>>,
    by_uid: HashMap<String, (GroupResource, ObjKey)>,
    history: VecDeque<StoreEvent>,
    /// Highest resourceVersion no longer in `history` (watches from below it are too old).
    history_floor: u64,
    registry: Registry,
    next_ip: u32,
    config: StoreConfig,
}

/// The shared store. Cloning is cheap: all clones see the same objects.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    tx: broadcast::Sender<StoreEvent>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("Store")
            .field("resource_version", &inner.rv)
            .field("kinds", &inner.objects.len())
            .finish()
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new(StoreConfig::default())
    }
}

impl Store {
    /// A store holding the namespaces every cluster has (`default`, `kube-system`, ...).
    pub fn new(config: StoreConfig) -> Store {
        let (tx, _) = broadcast::channel(config.channel_capacity.max(16));
        let inner = Inner {
            rv: 0,
            objects: HashMap::new(),
            by_uid: HashMap::new(),
            history: VecDeque::new(),
            history_floor: 0,
            registry: Registry::default(),
            next_ip: 0,
            config,
        };
        let store = Store {
            inner: Arc::new(Mutex::new(inner)),
            tx,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            // The namespaces are valid and new; creation cannot fail.
            let _ = store.create(&resources::NAMESPACES, obj);
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (writes are applied last), so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot of the served resource definitions.
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    /// The current cluster-wide resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Number of stored objects, all kinds.
    pub fn object_count(&self) -> usize {
        self.lock().objects.values().map(BTreeMap::len).sum()
    }

    /// One object, or `None`.
    pub fn get(&self, gr: &GroupResource, namespace: &str, name: &str) -> Option<Value> {
        self.get_arc(gr, namespace, name).map(|a| (*a).clone())
    }

    /// One object without copying it.
    pub fn get_arc(&self, gr: &GroupResource, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let inner = self.lock();
        inner
            .objects
            .get(gr)?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// All objects of a kind, in one namespace or (`None`) all, sorted by namespace and name.
    pub fn list(&self, gr: &GroupResource, namespace: Option<&str>) -> Vec<Value> {
        self.list_arc(gr, namespace)
            .0
            .into_iter()
            .map(|a| (*a).clone())
            .collect()
    }

    /// Like [`Store::list`] without copying, plus the resourceVersion the list is consistent at.
    pub fn list_arc(&self, gr: &GroupResource, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let items = match inner.objects.get(gr) {
            None => Vec::new(),
            Some(map) => match namespace {
                None => map.values().cloned().collect(),
                Some(ns) => map
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect(),
            },
        };
        (items, inner.rv)
    }

    /// The object that has `uid`, if it exists.
    pub fn get_by_uid(&self, uid: &str) -> Option<(GroupResource, Arc<Value>)> {
        let inner = self.lock();
        let (gr, key) = inner.by_uid.get(uid)?;
        inner
            .objects
            .get(gr)?
            .get(key)
            .map(|o| (gr.clone(), o.clone()))
    }

    /// Live change notifications. See the module docs for `Lagged` recovery.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.tx.subscribe()
    }

    /// The events after `resource_version` still in the history, plus a receiver for everything
    /// later, with no gap and no duplicate between the two. 410 `Expired` when the history no
    /// longer reaches back that far.
    pub fn watch_from(
        &self,
        resource_version: u64,
    ) -> Result<(Vec<StoreEvent>, broadcast::Receiver<StoreEvent>), ApiError> {
        let inner = self.lock();
        if resource_version < inner.history_floor {
            return Err(ApiError::expired(format!(
                "too old resource version: {resource_version} ({})",
                inner.history_floor + 1
            )));
        }
        let rx = self.tx.subscribe();
        let start = inner
            .history
            .partition_point(|e| e.resource_version <= resource_version);
        let backlog = inner.history.range(start..).cloned().collect();
        Ok((backlog, rx))
    }

    /// Create an object (see the module docs for what the server fills in).
    pub fn create(&self, gr: &GroupResource, obj: Value) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let out = inner.create(gr, obj, &self.tx)?;
        Ok(out)
    }

    /// Replace an object (PUT). A non-empty `metadata.resourceVersion` must match the stored
    /// one. `status` is kept from the stored object when the kind has a status subresource.
    pub fn update(&self, gr: &GroupResource, obj: Value) -> Result<Value, ApiError> {
        self.lock().update(gr, obj, false, &self.tx)
    }

    /// Replace only `status`, taken from `obj` (PUT `/status`), with the same RV check.
    pub fn replace_status(&self, gr: &GroupResource, obj: Value) -> Result<Value, ApiError> {
        self.lock().update(gr, obj, true, &self.tx)
    }

    /// Set `status` unconditionally (no resourceVersion check): the simulated controllers' write.
    pub fn update_status(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let current = inner
            .get(gr, namespace, name)
            .ok_or_else(|| ApiError::not_found(gr, name))?;
        let mut obj = (*current).clone();
        obj["status"] = status;
        meta::metadata_mut(&mut obj).remove("resourceVersion");
        inner.update(gr, obj, true, &self.tx)
    }

    /// Delete with background propagation.
    pub fn delete(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
    ) -> Result<Deleted, ApiError> {
        self.delete_with(gr, namespace, name, &DeleteOptions::default())
    }

    /// Delete with explicit options. With finalizers (or foreground/orphan propagation) the
    /// object only gets a `deletionTimestamp`; it goes once its finalizers are removed.
    pub fn delete_with(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        self.lock().delete(gr, namespace, name, opts, &self.tx)
    }

    /// One pass of the garbage collector and namespace finalizer; see [`gc`].
    pub(crate) fn gc_pass(&self) -> usize {
        self.lock().gc_pass(&self.tx)
    }
}

mod collect;
mod crd;
pub mod gc;
mod write;

impl Store {
    /// Run a write with dry-run semantics: everything is checked and the would-be result
    /// returned, but nothing is stored or announced.
    pub fn dry_run<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        // The flag is per thread of execution: the closure's store calls run on this thread.
        DRY_RUN.with(|d| d.set(true));
        let out = f(self);
        DRY_RUN.with(|d| d.set(false));
        out
    }

    /// Objects, list resourceVersion and a live receiver taken atomically: a consistent start
    /// for a watch that begins with the current state.
    pub fn list_and_subscribe(
        &self,
        gr: &GroupResource,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, u64, broadcast::Receiver<StoreEvent>) {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let items = match inner.objects.get(gr) {
            None => Vec::new(),
            Some(map) => map
                .iter()
                .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
                .map(|(_, v)| v.clone())
                .collect(),
        };
        (items, inner.rv, rx)
    }
}

thread_local! {
    static DRY_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn is_dry_run() -> bool {
    DRY_RUN.with(|d| d.get())
}
