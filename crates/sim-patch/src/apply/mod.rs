//! Server-side apply (`application/apply-patch+yaml`) and field ownership in
//! `metadata.managedFields`.
//!
//! [`server_side`] merges an applied configuration into the live object,
//! refuses to change fields other managers own (unless forced, which takes
//! them over), removes fields the manager applied before and dropped now
//! (when nobody else owns them), and records what the manager owns.
//! [`record_update`] records the fields a non-apply write (create, update,
//! any other patch) set or changed as owned by that writer (operation
//! `Update`), so a later apply by someone else conflicts on them.
//!
//! Lists follow [`crate::schema`]: keyed lists are `listType=map`, scalar
//! sets `listType=set`, everything else atomic. For the `kubectl` manager the
//! upstream bridge from client-side apply is kept: conflicts on fields its
//! `last-applied-configuration` still holds are forced, and that annotation is
//! rewritten on each apply. Not modelled: the `.` entries a real `Update`
//! records for maps it creates, and version conversion of field sets. Pure:
//! the time is passed in; never I/O.

mod fieldset;
mod last_applied;

use serde_json::{Map, Value, json};

use crate::Error;
use crate::FieldConflict;
use crate::schema::{ListType, is_atomic_map, list_type};
use fieldset::{
    PathSet, display, from_fields_v1, get, has_descendant, item_key, remove, to_fields_v1,
};

/// Who writes, to what, and when.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// The object's kind (e.g. `Deployment`), which selects list semantics.
    pub kind: &'a str,
    /// The `fieldManager` of the request.
    pub manager: &'a str,
    /// `Some("status")` for writes to the status subresource (entries carry
    /// `subresource: status` and are separate owners), `None` otherwise.
    pub subresource: Option<&'a str>,
    /// The RFC 3339 time recorded in the entry (`2026-01-01T00:00:00Z`).
    pub now: &'a str,
}

/// Applies `config` as `writer.manager` to `live` (or creates the object when
/// `live` is `None`) and returns the new object with its `managedFields`.
///
/// As on the API server, an apply to the main resource ignores `status` in
/// `config`, and an apply to `/status` ignores everything but `status`, so
/// neither owns nor changes the other part ([`crate::write`] has the rule).
/// `null` values and `metadata.managedFields` in `config` are ignored. The
/// caller handles resourceVersion and generation. An apply that changes
/// nothing returns the live object unchanged, entry times included, so it can
/// keep its resourceVersion.
pub fn server_side(
    writer: &Writer,
    live: Option<&Value>,
    config: &Value,
    force: bool,
) -> Result<Value, Error> {
    let Value::Object(_) = config else {
        return Err(Error::BadRequest(format!(
            "apply: the applied configuration must be an object, got {}",
            crate::merge::kind_of(config)
        )));
    };
    let mut config = strip_nulls(config);
    scope(&mut config, writer.subresource);
    let applied = fieldset::of_object(writer.kind, &config, true)?;
    let api_version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let api_version = api_version.as_str();
    let Some(live) = live else {
        let mut obj = config;
        let entry = Entry::new(writer, "Apply", api_version, applied);
        set_entries(&mut obj, vec![entry]);
        return Ok(obj);
    };
    let mut entries = entries_of(live);
    let me = |e: &Entry| e.is(writer, "Apply", None);

    let merged = merge(writer.kind, live, &config, &mut Vec::new());
    let mut conflicts = Vec::new();
    for (i, entry) in entries.iter().enumerate().filter(|(_, e)| !me(e)) {
        for path in entry.fields.intersection(&applied) {
            if !has_descendant(&applied, path) && get(live, path) != get(&merged, path) {
                conflicts.push((i, path.clone()));
            }
        }
    }
    if !force && !conflicts.is_empty() {
        let allowed = match writer.manager {
            last_applied::KUBECTL => last_applied::still_applied(writer.kind, live),
            _ => PathSet::new(),
        };
        let blocking: Vec<_> = conflicts
            .iter()
            .filter(|(_, p)| !allowed.contains(p))
            .collect();
        // Conflicts only on what kubectl itself last applied client-side are forced.
        if !blocking.is_empty() {
            return Err(Error::Conflict(
                blocking
                    .iter()
                    .map(|(i, path)| FieldConflict {
                        manager: entries[*i].printed(),
                        field: display(path),
                    })
                    .collect(),
            ));
        }
    }
    for (i, path) in &conflicts {
        entries[*i].fields.remove(path);
    }

    let previous = entries
        .iter()
        .find(|e| me(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: PathSet = entries
        .iter()
        .filter(|e| !me(e))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut result = merged;
    for path in previous.difference(&applied) {
        if !others.contains(path) && !has_descendant(&others, path) {
            remove(&mut result, path);
        }
    }

    if writer.manager == last_applied::KUBECTL {
        last_applied::sync(&mut result, live, &config);
    }

    let unchanged =
        previous == applied && without_managed_fields(&result) == without_managed_fields(live);
    match entries.iter_mut().find(|e| me(e)) {
        Some(e) if unchanged && e.api_version == api_version => {}
        Some(e) => {
            e.fields = applied;
            e.api_version = api_version.to_string();
            e.time = Some(writer.now.to_string());
        }
        None => entries.push(Entry::new(writer, "Apply", api_version, applied)),
    }
    set_entries(&mut result, entries);
    Ok(result)
}

/// Records a non-apply write of `new` (over `old`, `None` for a create) by
/// `writer.manager` with operation `Update`, and returns `new` with the
/// updated `managedFields` (taken from `old`; the writer's own edits to
/// `managedFields` are not honoured).
///
/// Fields the write added or changed move to the writer; fields it removed
/// leave every owner. A write that changes nothing leaves them as they were.
pub fn record_update(writer: &Writer, old: Option<&Value>, new: &Value) -> Result<Value, Error> {
    let api_version = new
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let old_set = match old {
        Some(o) => fieldset::of_object(writer.kind, o, false)?,
        None => PathSet::new(),
    };
    let new_set = fieldset::of_object(writer.kind, new, false)?;
    let removed: PathSet = old_set.difference(&new_set).cloned().collect();
    let changed: PathSet = new_set
        .iter()
        .filter(|p| match old {
            None => true,
            Some(o) => {
                !old_set.contains(*p) || (!has_descendant(&new_set, p) && get(o, p) != get(new, p))
            }
        })
        .cloned()
        .collect();
    let mut entries = old.map(entries_of).unwrap_or_else(|| entries_of(new));
    let mut out = new.clone();
    if changed.is_empty() && removed.is_empty() {
        set_entries(&mut out, entries);
        return Ok(out);
    }
    let me = |e: &Entry| e.is(writer, "Update", Some(api_version));
    for e in entries.iter_mut().filter(|e| !me(e)) {
        e.fields
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    match entries.iter_mut().find(|e| me(e)) {
        Some(e) => {
            e.fields.extend(changed);
            e.fields.retain(|p| !removed.contains(p));
            e.time = Some(writer.now.to_string());
        }
        None => entries.push(Entry::new(writer, "Update", api_version, changed)),
    }
    set_entries(&mut out, entries);
    Ok(out)
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: PathSet,
}

impl Entry {
    fn new(writer: &Writer, operation: &str, api_version: &str, fields: PathSet) -> Self {
        Self {
            manager: writer.manager.to_string(),
            operation: operation.to_string(),
            api_version: api_version.to_string(),
            time: Some(writer.now.to_string()),
            subresource: writer.subresource.map(str::to_string),
            fields,
        }
    }

    /// The API server identifies an owner by manager, operation and
    /// subresource, plus the API version for `Update`s.
    fn is(&self, writer: &Writer, operation: &str, api_version: Option<&str>) -> bool {
        self.manager == writer.manager
            && self.operation == operation
            && self.subresource.as_deref() == writer.subresource
            && api_version.is_none_or(|v| v == self.api_version)
    }

    /// The manager as conflict messages print it. The API server prints its
    /// manager identifier, which never includes the time.
    fn printed(&self) -> String {
        let mut out = Value::String(self.manager.clone()).to_string();
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {}", Value::String(sub.clone())));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), to_fields_v1(&self.fields));
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), json!(s));
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            manager: s("manager")?,
            operation: s("operation")?,
            api_version: s("apiVersion").unwrap_or_default(),
            time: s("time"),
            subresource: s("subresource"),
            fields: v.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
        })
    }
}

fn entries_of(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// Writes the entries in the API server's order (Apply before Update, then
/// by time and manager), dropping owners left with nothing.
fn set_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        (&a.operation, &a.time, &a.manager, &a.api_version).cmp(&(
            &b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
        ))
    });
    let Value::Object(top) = obj else { return };
    let meta = top
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

/// Drops what the target may not change, and managedFields, which are the
/// server's to write.
fn scope(config: &mut Value, subresource: Option<&str>) {
    let Value::Object(top) = config else { return };
    match subresource {
        None => {
            top.remove("status");
        }
        Some("status") => {
            top.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
            if let Some(Value::Object(meta)) = top.get_mut("metadata") {
                meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace"));
            }
        }
        Some(_) => {}
    }
    if let Some(Value::Object(meta)) = top.get_mut("metadata") {
        meta.remove("managedFields");
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.remove("managedFields");
    }
    out
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// Merges an applied configuration into the live object: maps by field,
/// keyed lists by key, sets by value; everything else is replaced.
fn merge(kind: &str, live: &Value, config: &Value, names: &mut Vec<String>) -> Value {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !is_atomic_map(&refs) => {
            let mut out = l.clone();
            for (k, cv) in c {
                names.push(k.clone());
                let merged = match l.get(k) {
                    Some(lv) => merge(kind, lv, cv, names),
                    None => cv.clone(),
                };
                names.pop();
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match list_type(kind, &refs) {
            ListType::Atomic => config.clone(),
            ListType::Set => {
                let mut out = l.clone();
                out.extend(c.iter().filter(|v| !l.contains(v)).cloned());
                Value::Array(out)
            }
            ListType::Map(keys) => {
                let mut out = l.clone();
                for item in c {
                    let key = item_key(item, keys);
                    match out
                        .iter()
                        .position(|o| key.is_some() && item_key(o, keys) == key)
                    {
                        Some(i) => out[i] = merge(kind, &out[i], item, names),
                        None => out.push(item.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => config.clone(),
    }
}

#[cfg(test)]
mod tests;
