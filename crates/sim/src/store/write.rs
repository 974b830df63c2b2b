//! The write paths of the store (create, update, delete, garbage-collection actions), applied
//! under the store lock. Everything a real API server's registry does on a write lives here;
//! HTTP concerns (patch decoding, content types, dry-run) never do.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::registry::defs_from_crd;
use super::{
    ApiError, Cause, DeleteOptions, Deleted, EventType, GroupResource, Inner, ObjKey, Propagation,
    ResourceDef, StoreEvent, defaults, meta, resources, validate,
};

const SERVER_FIELDS: [&str; 6] = [
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];
const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

fn without_meta_and_status(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

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
    pub(super) fn get(&self, gr: &GroupResource, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(gr)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    fn def(&self, gr: &GroupResource) -> Result<ResourceDef, ApiError> {
        self.registry
            .by_storage(gr)
            .cloned()
            .ok_or_else(ApiError::no_route)
    }

    fn emit(&mut self, tx: &broadcast::Sender<StoreEvent>, event: StoreEvent) {
        self.history.push_back(event.clone());
        while self.history.len() > self.config.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.history_floor = old.resource_version;
            }
        }
        // No receivers is normal (nobody watching).
        let _ = tx.send(event);
    }

    /// Store `obj` with a fresh resourceVersion and announce it.
    fn put(
        &mut self,
        tx: &broadcast::Sender<StoreEvent>,
        gr: &GroupResource,
        mut obj: Value,
        old: Option<Arc<Value>>,
    ) -> Value {
        if super::is_dry_run() {
            let rv = old
                .as_ref()
                .map(|o| meta::resource_version(o).to_string())
                .unwrap_or_default();
            meta::metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv));
            return obj;
        }
        self.rv += 1;
        let rv = self.rv;
        meta::metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let key = (
            meta::namespace(&obj).to_string(),
            meta::name(&obj).to_string(),
        );
        let arc = Arc::new(obj);
        self.by_uid
            .insert(meta::uid(&arc).to_string(), (gr.clone(), key.clone()));
        self.objects
            .entry(gr.clone())
            .or_default()
            .insert(key, arc.clone());
        let event_type = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(
            tx,
            StoreEvent {
                event_type,
                resource: gr.clone(),
                object: arc.clone(),
                old,
                resource_version: rv,
            },
        );
        (*arc).clone()
    }

    /// Remove an object for good (finalizers are done) and announce it.
    fn remove(
        &mut self,
        tx: &broadcast::Sender<StoreEvent>,
        gr: &GroupResource,
        key: &ObjKey,
    ) -> Option<Value> {
        if super::is_dry_run() {
            return self.objects.get(gr)?.get(key).map(|o| (**o).clone());
        }
        let old = self.objects.get_mut(gr)?.remove(key)?;
        self.by_uid.remove(meta::uid(&old));
        self.rv += 1;
        let rv = self.rv;
        let mut last = (*old).clone();
        meta::metadata_mut(&mut last).insert("resourceVersion".into(), json!(rv.to_string()));
        let arc = Arc::new(last);
        self.emit(
            tx,
            StoreEvent {
                event_type: EventType::Deleted,
                resource: gr.clone(),
                object: arc.clone(),
                old: Some(old),
                resource_version: rv,
            },
        );
        if *gr == resources::CRDS {
            self.drop_crd(tx, &key.1);
        }
        Some((*arc).clone())
    }

    /// A CRD is gone: stop serving its resources and delete its custom resources.
    fn drop_crd(&mut self, tx: &broadcast::Sender<StoreEvent>, crd_name: &str) {
        let Some((plural, group)) = crd_name.split_once('.') else {
            return;
        };
        let gr = GroupResource::new(group, plural);
        let keys: Vec<ObjKey> = self
            .objects
            .get(&gr)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            self.remove(tx, &gr, &key);
        }
        self.registry.set_custom(crd_name, Vec::new());
    }

    /// CRD status the real apiextensions server reports once names are accepted.
    fn crd_status(crd: &Value) -> Value {
        let now = meta::now_rfc3339();
        let mut names = crd["spec"]["names"].clone();
        let kind = names["kind"].as_str().unwrap_or_default().to_string();
        if names.get("singular").is_none() {
            names["singular"] = json!(kind.to_ascii_lowercase());
        }
        if names.get("listKind").is_none() {
            names["listKind"] = json!(format!("{kind}List"));
        }
        let stored: Vec<Value> = crd["spec"]["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter(|v| v["storage"] == true)
                    .map(|v| v["name"].clone())
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        })
    }

    fn check_crd(crd: &Value) -> Result<(), ApiError> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let plural = spec["names"]["plural"].as_str().unwrap_or_default();
        let name = meta::name(crd);
        let mut causes = Vec::new();
        if group.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.group",
                "Required value",
            ));
        }
        if plural.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.names.plural",
                "Required value",
            ));
        }
        if spec["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
        {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.names.kind",
                "Required value",
            ));
        }
        if causes.is_empty() && name != format!("{plural}.{group}") {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        let versions = spec["versions"].as_array().map(Vec::len).unwrap_or(0);
        if versions == 0 {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            ));
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "CustomResourceDefinition.apiextensions.k8s.io",
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                name,
                causes,
            ))
        }
    }

    fn register_crd(&mut self, crd: &Value) {
        self.registry
            .set_custom(meta::name(crd), defs_from_crd(crd));
    }

    pub(super) fn create(
        &mut self,
        gr: &GroupResource,
        mut obj: Value,
        tx: &broadcast::Sender<StoreEvent>,
    ) -> Result<Value, ApiError> {
        let def = self.def(gr)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not a JSON object",
            ));
        }
        let m = meta::metadata_mut(&mut obj);
        for f in SERVER_FIELDS {
            m.remove(f);
        }
        m.remove("selfLink");
        let ns = if def.namespaced {
            match m.get("namespace").and_then(Value::as_str) {
                Some(ns) if !ns.is_empty() => ns.to_string(),
                _ => {
                    return Err(ApiError::bad_request(
                        "the namespace of the object must be set (metadata.namespace)",
                    ));
                }
            }
        } else {
            m.remove("namespace");
            String::new()
        };
        let given = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = if !given.is_empty() {
            given
        } else if let Some(prefix) = m
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            let prefix = prefix.to_string();
            let mut candidate = format!("{prefix}{}", meta::random_suffix());
            while self.get(gr, &ns, &candidate).is_some() {
                candidate = format!("{prefix}{}", meta::random_suffix());
            }
            candidate
        } else {
            return Err(ApiError::invalid(
                &def.kind_group(),
                &def.group,
                &def.kind,
                "",
                vec![Cause::new(
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )],
            ));
        };
        if let Err(why) = meta::check_subdomain(&name) {
            return Err(ApiError::invalid(
                &def.kind_group(),
                &def.group,
                &def.kind,
                &name,
                vec![Cause::new(
                    "FieldValueInvalid",
                    "metadata.name",
                    format!("Invalid value: \"{name}\": {why}"),
                )],
            ));
        }
        if def.namespaced {
            match self.get(&resources::NAMESPACES, "", &ns) {
                None => return Err(ApiError::not_found(&resources::NAMESPACES, &ns)),
                Some(n) if meta::is_deleting(&n) => {
                    return Err(ApiError::forbidden(format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        gr.qualified()
                    )));
                }
                Some(_) => {}
            }
        }
        if self.get(gr, &ns, &name).is_some() {
            return Err(ApiError::already_exists(gr, &name));
        }
        let m = meta::metadata_mut(&mut obj);
        m.insert("name".into(), json!(name));
        m.insert("uid".into(), json!(meta::new_uid()));
        m.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
        if def.tracks_generation() {
            m.insert("generation".into(), json!(1));
        }
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        if def.has_status {
            let status = match gr.resource.as_ref() {
                _ if def.custom => Value::Null,
                "pods" => json!({"phase": "Pending", "qosClass": "BestEffort"}),
                "namespaces" => json!({"phase": "Active"}),
                _ => json!({}),
            };
            if let Some(o) = obj.as_object_mut() {
                if status.is_null() {
                    o.remove("status")
                } else {
                    o.insert("status".into(), status)
                };
            }
        }
        defaults::apply(&gr.qualified(), &mut obj, None, &mut self.next_ip);
        validate::validate(&def, &mut obj)?;
        if *gr == resources::CRDS {
            Self::check_crd(&obj)?;
            obj["status"] = Self::crd_status(&obj);
            if !super::is_dry_run() {
                self.register_crd(&obj);
            }
        }
        Ok(self.put(tx, gr, obj, None))
    }

    pub(super) fn update(
        &mut self,
        gr: &GroupResource,
        obj: Value,
        status_only: bool,
        tx: &broadcast::Sender<StoreEvent>,
    ) -> Result<Value, ApiError> {
        let def = self.def(gr)?;
        let ns = if def.namespaced {
            meta::namespace(&obj).to_string()
        } else {
            String::new()
        };
        let name = meta::name(&obj).to_string();
        if name.is_empty() {
            return Err(ApiError::bad_request("name is required (metadata.name)"));
        }
        let old = self
            .get(gr, &ns, &name)
            .ok_or_else(|| ApiError::not_found(gr, &name))?;
        let rv = meta::resource_version(&obj);
        if !rv.is_empty() && rv != meta::resource_version(&old) {
            return Err(ApiError::stale(gr, &name));
        }
        let uid = meta::uid(&obj);
        if !uid.is_empty() && uid != meta::uid(&old) {
            return Err(ApiError::conflict(
                gr,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::uid(&old)
                ),
            ));
        }
        let mut new = if status_only {
            let mut n = (*old).clone();
            match obj.get("status") {
                Some(s) if !s.is_null() => n["status"] = s.clone(),
                _ => {
                    if let Some(o) = n.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            n
        } else {
            let mut n = obj;
            if !n.is_object() {
                return Err(ApiError::bad_request(
                    "the body of the request was not a JSON object",
                ));
            }
            let old_meta = &old["metadata"];
            let m = meta::metadata_mut(&mut n);
            for f in SERVER_FIELDS {
                match old_meta.get(f) {
                    Some(v) => m.insert(f.to_string(), v.clone()),
                    None => m.remove(f),
                };
            }
            if !m.contains_key("managedFields")
                && let Some(mf) = old_meta.get("managedFields")
            {
                m.insert("managedFields".into(), mf.clone());
            }
            if def.namespaced {
                m.insert("namespace".into(), json!(ns));
            }
            n["apiVersion"] = json!(def.api_version());
            n["kind"] = json!(def.kind);
            if def.has_status
                && let Some(o) = n.as_object_mut()
            {
                match old.get("status") {
                    Some(s) => o.insert("status".into(), s.clone()),
                    None => o.remove("status"),
                };
            }
            defaults::apply(&gr.qualified(), &mut n, Some(&old), &mut self.next_ip);
            validate::validate(&def, &mut n)?;
            if *gr == resources::CRDS {
                Self::check_crd(&n)?;
            }
            if def.tracks_generation()
                && without_meta_and_status(&n) != without_meta_and_status(&old)
            {
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                meta::metadata_mut(&mut n).insert("generation".into(), json!(generation));
            }
            n
        };
        meta::metadata_mut(&mut new).insert(
            "resourceVersion".into(),
            json!(meta::resource_version(&old)),
        );
        if new == *old {
            return Ok((*old).clone());
        }
        if *gr == resources::CRDS && !status_only {
            let keep = old["status"]["conditions"].clone();
            new["status"] = Self::crd_status(&new);
            if keep.is_array() {
                new["status"]["conditions"] = keep;
            }
            if !super::is_dry_run() {
                self.register_crd(&new);
            }
        }
        if meta::is_deleting(&new)
            && meta::finalizers(&new).is_empty()
            && *gr != resources::NAMESPACES
        {
            if super::is_dry_run() {
                return Ok(new);
            }
            let key = (ns, name);
            self.objects
                .entry(gr.clone())
                .or_default()
                .insert(key.clone(), Arc::new(new));
            return self
                .remove(tx, gr, &key)
                .ok_or_else(|| ApiError::not_found(gr, &key.1));
        }
        Ok(self.put(tx, gr, new, Some(old)))
    }

    pub(super) fn delete(
        &mut self,
        gr: &GroupResource,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
        tx: &broadcast::Sender<StoreEvent>,
    ) -> Result<Deleted, ApiError> {
        let def = self.def(gr)?;
        let ns = if def.namespaced { ns } else { "" };
        let old = self
            .get(gr, ns, name)
            .ok_or_else(|| ApiError::not_found(gr, name))?;
        if let Some(uid) = &opts.precondition_uid
            && uid != meta::uid(&old)
        {
            let why = format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid(&old)
            );
            return Err(ApiError::conflict(gr, name, &why));
        }
        if let Some(rv) = &opts.precondition_resource_version
            && rv != meta::resource_version(&old)
        {
            let why = format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta::resource_version(&old)
            );
            return Err(ApiError::conflict(gr, name, &why));
        }
        let mut new = (*old).clone();
        if *gr == resources::NAMESPACES {
            if PROTECTED_NAMESPACES.contains(&name) {
                return Err(ApiError::forbidden(format!(
                    "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                )));
            }
            new["status"]["phase"] = json!("Terminating");
        }
        let mut fins = meta::finalizers(&old);
        let extra = match opts.propagation {
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Orphan => Some("orphan"),
            Propagation::Background => None,
        };
        if let Some(f) = extra
            && !fins.iter().any(|x| x == f)
            && !meta::is_deleting(&old)
        {
            fins.push(f.to_string());
        }
        if fins.is_empty() && *gr != resources::NAMESPACES {
            let key = (ns.to_string(), name.to_string());
            return self
                .remove(tx, gr, &key)
                .map(Deleted::Gone)
                .ok_or_else(|| ApiError::not_found(gr, name));
        }
        let m = meta::metadata_mut(&mut new);
        if !fins.is_empty() {
            m.insert("finalizers".into(), json!(fins));
        }
        if m.get("deletionTimestamp").is_none_or(Value::is_null) {
            m.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if new == *old {
            return Ok(Deleted::Pending(new));
        }
        Ok(Deleted::Pending(self.put(tx, gr, new, Some(old))))
    }

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
