//! Kubernetes strategic merge patch (`application/strategic-merge-patch+json`)
//! for builtin kinds: what `kubectl apply` (client-side), `set image`, and
//! `patch` without `--type` send. Maps merge and `null` deletes, as in a JSON
//! merge patch; lists merge by the key from [`crate::schema`], scalar sets
//! merge as sets, every other list is replaced.
//!
//! Directives: `$patch: replace|delete` (on maps and list elements),
//! `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
//! `$setElementOrder/<field>`, which orders the result the way the API server
//! does (ordered patch items interleaved with server-only items, keeping the
//! live order of the latter). Directives never reach the result.
//!
//! Custom resources have no patch metadata; the server answers 415 for them
//! instead of calling this. Pure; never I/O.

use serde_json::{Map, Value};

use crate::Error;
use crate::merge::kind_of;
use crate::schema::{ListType, list_type};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";
const SET_ORDER: &str = "$setElementOrder/";

/// Applies a strategic merge patch to `object`, an object of `kind` (e.g.
/// `"Deployment"`), and returns the result.
pub fn apply(kind: &str, object: &Value, patch: &Value) -> Result<Value, Error> {
    let Value::Object(patch) = patch else {
        return Err(Error::BadRequest(format!(
            "strategic merge patch: the body must be a JSON object, got {}",
            kind_of(patch)
        )));
    };
    let Value::Object(object) = object else {
        return Err(Error::Invalid(format!(
            "strategic merge patch: the target must be an object, got {}",
            kind_of(object)
        )));
    };
    let merger = Merger { kind };
    Ok(Value::Object(merger.map(
        object.clone(),
        patch,
        &mut Vec::new(),
    )?))
}

struct Merger<'a> {
    kind: &'a str,
}

impl Merger<'_> {
    fn map(
        &self,
        mut orig: Map<String, Value>,
        patch: &Map<String, Value>,
        path: &mut Vec<String>,
    ) -> Result<Map<String, Value>, Error> {
        if let Some(directive) = patch.get(PATCH) {
            return match directive.as_str() {
                Some("replace") => Ok(clean_map(patch)),
                Some("delete") => Ok(Map::new()),
                _ => Err(bad(
                    path,
                    format!("unknown {PATCH} directive {directive} (use replace or delete)"),
                )),
            };
        }
        if let Some(retain) = patch.get(RETAIN_KEYS) {
            let keys = strings(retain)
                .ok_or_else(|| bad(path, format!("{RETAIN_KEYS} must be a list of field names")))?;
            if let Some((k, _)) = patch
                .iter()
                .find(|(k, v)| !k.starts_with('$') && !v.is_null() && !keys.contains(&k.as_str()))
            {
                return Err(bad(
                    path,
                    format!("{RETAIN_KEYS} must name every field the patch sets; {k:?} is missing"),
                ));
            }
            orig.retain(|k, _| keys.contains(&k.as_str()));
        }
        for (k, values) in patch {
            let Some(field) = k.strip_prefix(DELETE_FROM) else {
                continue;
            };
            let values = values
                .as_array()
                .ok_or_else(|| bad(path, format!("{k} must be a list of values")))?;
            if let Some(Value::Array(items)) = orig.get_mut(field) {
                items.retain(|item| !values.contains(item));
            }
        }
        for (k, pv) in patch {
            if k.starts_with('$') {
                continue;
            }
            if pv.is_null() {
                orig.remove(k);
                continue;
            }
            let order = self.order(patch, k, path)?;
            path.push(k.clone());
            let merged = match (orig.remove(k), pv) {
                (Some(Value::Object(o)), Value::Object(p)) => {
                    Some(Value::Object(self.map(o, p, path)?))
                }
                (None | Some(Value::Null), Value::Object(p)) => {
                    Some(Value::Object(self.map(Map::new(), p, path)?))
                }
                (Some(Value::Array(o)), Value::Array(p)) => {
                    Some(Value::Array(self.list(o, p, order, path)?))
                }
                (None | Some(Value::Null), Value::Array(p)) => {
                    Some(Value::Array(self.list(Vec::new(), p, order, path)?))
                }
                // Type changes replace; a bare `{"$patch": ...}` leaves nothing.
                (_, other) => clean(other),
            };
            path.pop();
            if let Some(merged) = merged {
                orig.insert(k.clone(), merged);
            }
        }
        // An order directive without its list only reorders the live list.
        for k in patch.keys() {
            let Some(field) = k.strip_prefix(SET_ORDER) else {
                continue;
            };
            if patch.contains_key(field) {
                continue;
            }
            let order = self.order(patch, field, path)?.unwrap_or_default();
            if let Some(Value::Array(items)) = orig.get_mut(field) {
                path.push(field.to_string());
                let key = self.key_fn(path);
                path.pop();
                let live = items.clone();
                *items = normalize(std::mem::take(items), order, &live, &key);
            }
        }
        Ok(orig)
    }

    fn order<'p>(
        &self,
        patch: &'p Map<String, Value>,
        field: &str,
        path: &[String],
    ) -> Result<Option<&'p [Value]>, Error> {
        match patch.get(&format!("{SET_ORDER}{field}")) {
            None => Ok(None),
            Some(Value::Array(order)) => Ok(Some(order)),
            Some(_) => Err(bad(path, format!("{SET_ORDER}{field} must be a list"))),
        }
    }

    /// How list elements are identified when ordering: by merge key, or by
    /// value for scalar sets.
    fn key_fn(&self, path: &[String]) -> impl Fn(&Value) -> Option<Value> + use<> {
        let key = match self.list_type(path) {
            ListType::Map(keys) => keys.first().copied(),
            _ => None,
        };
        move |v: &Value| match key {
            Some(key) => v.get(key).cloned(),
            None => Some(v.clone()),
        }
    }

    fn list_type(&self, path: &[String]) -> ListType {
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        list_type(self.kind, &names)
    }

    fn list(
        &self,
        mut orig: Vec<Value>,
        patch: &[Value],
        order: Option<&[Value]>,
        path: &mut Vec<String>,
    ) -> Result<Vec<Value>, Error> {
        let key = match self.list_type(path) {
            ListType::Atomic => return Ok(clean_list(patch)),
            ListType::Set => {
                // A set holds scalars (finalizers, args); the API server can't decode anything
                // else there, and an object would carry its directives into the result.
                if let Some(p) = patch.iter().find(|p| p.is_object() || p.is_array()) {
                    return Err(bad(
                        path,
                        format!("a list of values, got {} in the patch", kind_of(p)),
                    ));
                }
                let live = orig.clone();
                for p in patch {
                    if !orig.contains(p) {
                        orig.push(p.clone());
                    }
                }
                let key_of = self.key_fn(path);
                return Ok(normalize(orig, order.unwrap_or(patch), &live, &key_of));
            }
            ListType::Map(keys) => keys.first().copied().unwrap_or("name"),
        };
        let mut items = Vec::new();
        for p in patch {
            let Some(directive) = p.get(PATCH) else {
                items.push(p);
                continue;
            };
            match directive.as_str() {
                Some("replace") => return Ok(clean_list(patch)),
                Some("delete") => {
                    let value = p.get(key).ok_or_else(|| missing_key(path, key, p))?;
                    orig.retain(|o| o.get(key) != Some(value));
                }
                _ => {
                    return Err(bad(
                        path,
                        format!("unknown {PATCH} directive {directive} in a list element"),
                    ));
                }
            }
        }
        let live = orig.clone();
        for p in &items {
            let Value::Object(pm) = p else {
                return Err(Error::Invalid(format!(
                    "{}: list elements must be objects, got {}",
                    at(path),
                    kind_of(p)
                )));
            };
            let value = pm.get(key).ok_or_else(|| missing_key(path, key, p))?;
            match orig.iter().position(|o| o.get(key) == Some(value)) {
                Some(pos) => {
                    let base = match orig[pos].take() {
                        Value::Object(o) => o,
                        _ => Map::new(),
                    };
                    orig[pos] = Value::Object(self.map(base, pm, path)?);
                }
                None => orig.push(Value::Object(self.map(Map::new(), pm, path)?)),
            }
        }
        let key_of = self.key_fn(path);
        let patch_order: Vec<Value> = items.into_iter().cloned().collect();
        Ok(normalize(
            orig,
            order.unwrap_or(&patch_order),
            &live,
            &key_of,
        ))
    }
}

/// Orders a merged list as the API server does: the items named in `order`
/// (the patch list or `$setElementOrder`) follow that order; the other
/// ("server-only") items keep their live order and are interleaved by their
/// live position. Items absent from the live list go before server-only ones.
fn normalize(
    merged: Vec<Value>,
    order: &[Value],
    live: &[Value],
    key_of: &dyn Fn(&Value) -> Option<Value>,
) -> Vec<Value> {
    let order_keys: Vec<Option<Value>> = order.iter().map(key_of).collect();
    let rank = |v: &Value| {
        let k = key_of(v);
        order_keys.iter().position(|o| o.is_some() && *o == k)
    };
    let (mut ordered, server_only): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|v| rank(v).is_some());
    ordered.sort_by_key(|v| rank(v));
    let live_keys: Vec<Option<Value>> = live.iter().map(key_of).collect();
    let live_pos = |v: &Value| {
        let k = key_of(v);
        live_keys.iter().position(|o| o.is_some() && *o == k)
    };
    let mut out = Vec::with_capacity(ordered.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = ordered.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!((live_pos(l), live_pos(r)), (Some(a), Some(b)) if a < b),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// A patch value with its directives and nulls removed, as stored when there
/// is nothing to merge it into. `None` for a directive-only list element.
fn clean(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) if m.contains_key(PATCH) && m.len() == 1 => None,
        Value::Object(m) => Some(Value::Object(clean_map(m))),
        Value::Array(items) => Some(Value::Array(clean_list(items))),
        other => Some(other.clone()),
    }
}

fn clean_map(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .filter_map(|(k, v)| Some((k.clone(), clean(v)?)))
        .collect()
}

fn clean_list(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter(|v| v.get(PATCH).is_none())
        .filter_map(clean)
        .collect()
}

fn strings(v: &Value) -> Option<Vec<&str>> {
    v.as_array()?.iter().map(Value::as_str).collect()
}

fn at(path: &[String]) -> String {
    if path.is_empty() {
        "<root>".to_string()
    } else {
        path.join(".")
    }
}

fn bad(path: &[String], reason: String) -> Error {
    Error::BadRequest(format!("strategic merge patch: {}: {reason}", at(path)))
}

fn missing_key(path: &[String], key: &str, element: &Value) -> Error {
    Error::Invalid(format!(
        "strategic merge patch: {}: element {element} does not contain declared merge key {key:?}",
        at(path)
    ))
}

#[cfg(test)]
mod tests;
