//! Field sets: which fields of an object a manager owns, in the FieldsV1
//! encoding of `metadata.managedFields` (`f:name`, `k:{"name":"c"}`,
//! `v:"x"`, `i:0`, and `.` for a node that is itself owned).
//!
//! A path is a list of encoded path elements; a set is sorted, so the paths
//! below a node follow it directly.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::Error;
use crate::schema::{ListType, is_atomic_map, list_type};

pub(crate) type Path = Vec<String>;
pub(crate) type PathSet = BTreeSet<Path>;

/// Fields the API server never tracks (`fieldmanager`'s stripMeta).
const UNTRACKED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The set of fields an object sets, by structured-merge-diff's rules:
/// scalars, atomic lists/maps, list items and empty maps are owned; a map or
/// a list that has content is owned only through its content.
///
/// With `strict`, a keyed list element without its key is an error (apply);
/// otherwise it is tracked by index (updates must not fail on odd objects).
pub(crate) fn of_object(kind: &str, obj: &Value, strict: bool) -> Result<PathSet, Error> {
    let mut out = PathSet::new();
    let Value::Object(top) = obj else {
        return Ok(out);
    };
    let walker = Walker { kind, strict };
    for (k, v) in top {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                if let Value::Object(meta) = v {
                    let tracked: Map<String, Value> = meta
                        .iter()
                        .filter(|(k, _)| !UNTRACKED_META.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if !tracked.is_empty() {
                        walker.field(
                            &mut out,
                            &mut vec![],
                            &mut vec![],
                            k,
                            &Value::Object(tracked),
                        )?;
                    }
                }
            }
            _ => walker.field(&mut out, &mut vec![], &mut vec![], k, v)?,
        }
    }
    Ok(out)
}

struct Walker<'a> {
    kind: &'a str,
    strict: bool,
}

impl Walker<'_> {
    /// Visits field `name` with value `v` under `path` (`names` = the field
    /// names only, for schema lookups).
    fn field(
        &self,
        out: &mut PathSet,
        path: &mut Path,
        names: &mut Vec<String>,
        name: &str,
        v: &Value,
    ) -> Result<(), Error> {
        path.push(format!("f:{name}"));
        names.push(name.to_string());
        let r = self.value(out, path, names, v);
        names.pop();
        path.pop();
        r
    }

    fn value(
        &self,
        out: &mut PathSet,
        path: &mut Path,
        names: &mut Vec<String>,
        v: &Value,
    ) -> Result<(), Error> {
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match v {
            Value::Object(m) if m.is_empty() || is_atomic_map(&name_refs) => {
                out.insert(path.clone());
            }
            Value::Object(m) => {
                for (k, child) in m {
                    self.field(out, path, names, k, child)?;
                }
            }
            Value::Array(items) => match list_type(self.kind, &name_refs) {
                ListType::Atomic => {
                    out.insert(path.clone());
                }
                ListType::Set => {
                    for item in items {
                        let mut p = path.clone();
                        p.push(format!("v:{item}"));
                        out.insert(p);
                    }
                }
                ListType::Map(keys) => {
                    for (i, item) in items.iter().enumerate() {
                        let pe = match item_key(item, keys) {
                            Some(k) => k,
                            None if self.strict => {
                                return Err(Error::Invalid(format!(
                                    "{}[{i}]: list element must be an object with key field(s) {}",
                                    display(path),
                                    keys.join(", ")
                                )));
                            }
                            None => format!("i:{i}"),
                        };
                        path.push(pe);
                        out.insert(path.clone());
                        let r = match item {
                            Value::Object(m) => m
                                .iter()
                                .try_for_each(|(k, child)| self.field(out, path, names, k, child)),
                            _ => Ok(()),
                        };
                        path.pop();
                        r?;
                    }
                }
            },
            _ => {
                out.insert(path.clone());
            }
        }
        Ok(())
    }
}

/// A key field of a list item, with the API server's default for `protocol`
/// so that `ports` entries without it match the defaulted live ones.
fn key_field(item: &Map<String, Value>, key: &str) -> Option<Value> {
    match item.get(key) {
        Some(v) => Some(v.clone()),
        None if key == "protocol" => Some(Value::String("TCP".into())),
        None => None,
    }
}

/// The `k:{...}` element of a keyed list item (keys in schema order).
pub(crate) fn item_key(item: &Value, keys: &[&str]) -> Option<String> {
    let obj = item.as_object()?;
    let mut parts = Vec::with_capacity(keys.len());
    for key in keys {
        let v = key_field(obj, key)?;
        parts.push(format!("{}:{v}", Value::String((*key).to_string())));
    }
    Some(format!("k:{{{}}}", parts.join(",")))
}

/// One decoded path element.
enum Pe {
    Field(String),
    Key(Map<String, Value>),
    Value(Value),
    Index(usize),
}

fn decode(pe: &str) -> Option<Pe> {
    let (tag, rest) = pe.split_at_checked(2)?;
    match tag {
        "f:" => Some(Pe::Field(rest.to_string())),
        "k:" => serde_json::from_str(rest).ok().map(Pe::Key),
        "v:" => serde_json::from_str(rest).ok().map(Pe::Value),
        "i:" => rest.parse().ok().map(Pe::Index),
        _ => None,
    }
}

fn position(items: &[Value], pe: &Pe) -> Option<usize> {
    match pe {
        Pe::Key(key) => items.iter().position(|item| {
            item.as_object()
                .is_some_and(|o| key.iter().all(|(k, v)| key_field(o, k).as_ref() == Some(v)))
        }),
        Pe::Value(v) => items.iter().position(|item| item == v),
        Pe::Index(i) => (*i < items.len()).then_some(*i),
        Pe::Field(_) => None,
    }
}

/// The value at `path`, if the object has one.
pub(crate) fn get<'v>(obj: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = obj;
    for pe in path {
        cur = match (decode(pe)?, cur) {
            (Pe::Field(name), Value::Object(m)) => m.get(&name)?,
            (pe, Value::Array(items)) => &items[position(items, &pe)?],
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at `path` (map field or list item), if present.
pub(crate) fn remove(obj: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for pe in parent {
        let next = match (decode(pe), cur) {
            (Some(Pe::Field(name)), Value::Object(m)) => m.get_mut(&name),
            (Some(pe), Value::Array(items)) => match position(items, &pe) {
                Some(i) => items.get_mut(i),
                None => None,
            },
            _ => None,
        };
        let Some(next) = next else { return };
        cur = next;
    }
    match (decode(last), cur) {
        (Some(Pe::Field(name)), Value::Object(m)) => {
            m.remove(&name);
        }
        (Some(pe), Value::Array(items)) => {
            if let Some(i) = position(items, &pe) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// Whether some path in `set` lies strictly below `path`.
pub(crate) fn has_descendant(set: &PathSet, path: &[String]) -> bool {
    set.range(path.to_vec()..)
        .find(|p| p.as_slice() != path)
        .is_some_and(|p| p.starts_with(path))
}

/// The path as Kubernetes prints it in conflict messages:
/// `.spec.template.spec.containers[name="c"].image`.
pub(crate) fn display(path: &[String]) -> String {
    let mut out = String::new();
    for pe in path {
        match decode(pe) {
            Some(Pe::Field(name)) => {
                out.push('.');
                out.push_str(&name);
            }
            Some(Pe::Key(key)) => {
                let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
            Some(Pe::Value(v)) => out.push_str(&format!("[={v}]")),
            Some(Pe::Index(i)) => out.push_str(&format!("[{i}]")),
            None => out.push_str(pe),
        }
    }
    out
}

/// Encodes a set as a FieldsV1 object.
pub(crate) fn to_fields_v1(set: &PathSet) -> Value {
    let mut root = Map::new();
    for path in set {
        mark(&mut root, path);
    }
    compact(&mut root);
    Value::Object(root)
}

fn mark(node: &mut Map<String, Value>, path: &[String]) {
    match path.split_first() {
        None => {
            node.insert(".".into(), Value::Object(Map::new()));
        }
        Some((pe, rest)) => {
            if let Value::Object(child) = node
                .entry(pe.clone())
                .or_insert_with(|| Value::Object(Map::new()))
            {
                mark(child, rest);
            }
        }
    }
}

/// An owned node without children is `{}`, not `{".": {}}`.
fn compact(node: &mut Map<String, Value>) {
    for child in node.values_mut() {
        if let Value::Object(c) = child {
            if c.len() == 1 && c.contains_key(".") {
                c.clear();
            } else {
                compact(c);
            }
        }
    }
}

/// Decodes a FieldsV1 object (unknown shapes are ignored).
pub(crate) fn from_fields_v1(v: &Value) -> PathSet {
    let mut out = PathSet::new();
    if let Value::Object(m) = v {
        collect(m, &mut Vec::new(), &mut out);
    }
    out
}

fn collect(node: &Map<String, Value>, path: &mut Path, out: &mut PathSet) {
    for (k, v) in node {
        if k == "." {
            out.insert(path.clone());
            continue;
        }
        path.push(k.clone());
        match v {
            Value::Object(m) if m.is_empty() => {
                out.insert(path.clone());
            }
            Value::Object(m) => collect(m, path, out),
            _ => {}
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests;
