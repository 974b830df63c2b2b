//! The garbage collector's decisions and actions over the store: dependents whose owners are
//! all gone, foreground and orphan deletion, and emptying terminating namespaces. Decides on a
//! snapshot under the lock, then acts through the ordinary write paths. [`super::gc`] runs it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{
    DeleteOptions, GroupResource, Inner, ObjKey, Propagation, StoreEvent, meta, resources,
};

enum GcAction {
    Delete(GroupResource, ObjKey, Propagation),
    RemoveFinalizer(GroupResource, ObjKey, &'static str),
    Orphan {
        owner_uid: String,
        dependents: Vec<(GroupResource, ObjKey)>,
    },
    FinishNamespace(String),
}

impl Inner {
    /// Garbage collection and namespace termination: decide on a consistent snapshot, then act.
    /// Returns how many actions were taken (the caller repeats until none are left).
    pub(super) fn gc_pass(&mut self, tx: &broadcast::Sender<StoreEvent>) -> usize {
        let mut dependents: HashMap<&str, Vec<(GroupResource, ObjKey)>> = HashMap::new();
        let mut populated_namespaces: HashMap<&str, Vec<(GroupResource, ObjKey, bool)>> =
            HashMap::new();
        let mut actions = Vec::new();
        for (gr, map) in &self.objects {
            for (key, obj) in map {
                let owners = obj["metadata"]["ownerReferences"].as_array();
                for owner in owners.into_iter().flatten() {
                    if let Some(uid) = owner["uid"].as_str() {
                        dependents
                            .entry(uid)
                            .or_default()
                            .push((gr.clone(), key.clone()));
                    }
                }
                if !key.0.is_empty() {
                    populated_namespaces.entry(&key.0).or_default().push((
                        gr.clone(),
                        key.clone(),
                        meta::is_deleting(obj),
                    ));
                }
                let owner_uids = meta::owner_uids(obj);
                if !owner_uids.is_empty()
                    && !meta::is_deleting(obj)
                    && owner_uids.iter().all(|u| !self.by_uid.contains_key(u))
                {
                    actions.push(GcAction::Delete(
                        gr.clone(),
                        key.clone(),
                        Propagation::Background,
                    ));
                }
            }
        }
        let deleting: Vec<(GroupResource, ObjKey, Arc<Value>)> = self
            .objects
            .iter()
            .flat_map(|(gr, map)| map.iter().map(move |(k, o)| (gr, k, o)))
            .filter(|(_, _, o)| meta::is_deleting(o))
            .map(|(gr, k, o)| (gr.clone(), k.clone(), o.clone()))
            .collect();
        for (gr, key, obj) in deleting {
            let fins = meta::finalizers(&obj);
            let deps = dependents.get(meta::uid(&obj)).cloned().unwrap_or_default();
            if gr == resources::NAMESPACES {
                match populated_namespaces.get(key.1.as_str()) {
                    Some(content) => {
                        for (cgr, ckey, deleting) in content {
                            if !deleting {
                                actions.push(GcAction::Delete(
                                    cgr.clone(),
                                    ckey.clone(),
                                    Propagation::Background,
                                ));
                            }
                        }
                    }
                    None if fins.is_empty() => {
                        actions.push(GcAction::FinishNamespace(key.1.clone()))
                    }
                    None => {}
                }
            }
            if fins.iter().any(|f| f == "foregroundDeletion") {
                if deps.is_empty() {
                    actions.push(GcAction::RemoveFinalizer(
                        gr.clone(),
                        key.clone(),
                        "foregroundDeletion",
                    ));
                } else {
                    for (dgr, dkey) in deps.iter() {
                        let dep_deleting = self
                            .objects
                            .get(dgr)
                            .and_then(|m| m.get(dkey))
                            .is_some_and(|o| meta::is_deleting(o));
                        if !dep_deleting {
                            actions.push(GcAction::Delete(
                                dgr.clone(),
                                dkey.clone(),
                                Propagation::Foreground,
                            ));
                        }
                    }
                }
            }
            if fins.iter().any(|f| f == "orphan") {
                actions.push(GcAction::Orphan {
                    owner_uid: meta::uid(&obj).to_string(),
                    dependents: deps,
                });
                actions.push(GcAction::RemoveFinalizer(gr, key, "orphan"));
            }
        }
        drop(dependents);
        drop(populated_namespaces);
        let mut done = HashSet::new();
        let mut count = 0;
        for action in actions {
            count += usize::from(self.gc_apply(tx, action, &mut done));
        }
        count
    }

    fn gc_apply(
        &mut self,
        tx: &broadcast::Sender<StoreEvent>,
        action: GcAction,
        done: &mut HashSet<(GroupResource, ObjKey)>,
    ) -> bool {
        match action {
            GcAction::Delete(gr, key, propagation) => {
                if !done.insert((gr.clone(), key.clone())) {
                    return false;
                }
                let opts = DeleteOptions {
                    propagation,
                    ..Default::default()
                };
                self.delete(&gr, &key.0, &key.1, &opts, tx).is_ok()
            }
            GcAction::RemoveFinalizer(gr, key, finalizer) => {
                let Some(obj) = self.get(&gr, &key.0, &key.1) else {
                    return false;
                };
                let mut new = (*obj).clone();
                let fins: Vec<String> = meta::finalizers(&obj)
                    .into_iter()
                    .filter(|f| f != finalizer)
                    .collect();
                meta::metadata_mut(&mut new).insert("finalizers".into(), json!(fins));
                if fins.is_empty() {
                    meta::metadata_mut(&mut new).remove("finalizers");
                }
                self.update(&gr, new, false, tx).is_ok()
            }
            GcAction::Orphan {
                owner_uid,
                dependents,
            } => {
                let mut any = false;
                for (gr, key) in dependents {
                    let Some(obj) = self.get(&gr, &key.0, &key.1) else {
                        continue;
                    };
                    let mut new = (*obj).clone();
                    if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != owner_uid.as_str());
                        if refs.is_empty() {
                            meta::metadata_mut(&mut new).remove("ownerReferences");
                        }
                    }
                    any |= self.update(&gr, new, false, tx).is_ok();
                }
                any
            }
            GcAction::FinishNamespace(name) => self
                .remove(tx, &resources::NAMESPACES, &(String::new(), name))
                .is_some(),
        }
    }
}
