//! The write paths of the store (create, update, delete, garbage-collection actions), applied
//! under the store lock. Everything a real API server's registry does on a write lives here;
//! HTTP concerns (patch decoding, content types, dry-run) never do.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

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
    pub(super) fn remove(
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
}
