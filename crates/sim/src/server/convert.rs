//! Conversion between the stored form of an object and the form a request's group version
//! serves: `apiVersion`/`kind` for CRD versions (conversion strategy `None`) and the
//! `events.k8s.io/v1` ⇄ core `v1` Event field mapping (one set of events, two shapes, so
//! `kubectl describe` sees what a kube-rs `Recorder` wrote). Pure.

use serde_json::{Map, Value, json};

use crate::store::ResourceDef;

/// (events.k8s.io/v1 field, core/v1 field) pairs that carry the same data.
const EVENT_FIELDS: [(&str, &str); 7] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn rename(obj: &mut Value, pairs: impl Iterator<Item = (&'static str, &'static str)>) {
    if let Some(map) = obj.as_object_mut() {
        for (from, to) in pairs {
            if let Some(v) = map.remove(from) {
                map.insert(to.to_string(), v);
            }
        }
    }
}

fn is_events_v1(def: &ResourceDef) -> bool {
    def.group == "events.k8s.io"
}

/// Whether the stored object differs from what `def`'s group version shows.
pub fn needs_view(def: &ResourceDef, stored: &Value) -> bool {
    is_events_v1(def)
        || stored["kind"] != def.kind.as_str()
        || stored["apiVersion"] != def.api_version().as_str()
}

/// The stored object as `def`'s group version shows it.
pub fn to_view(def: &ResourceDef, stored: &Value) -> Value {
    let mut obj = stored.clone();
    if is_events_v1(def) {
        rename(&mut obj, EVENT_FIELDS.iter().map(|(v1, core)| (*core, *v1)));
        if let Some(map) = obj.as_object_mut() {
            map.remove("involvedObject");
        }
    }
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), json!(def.api_version()));
        map.insert("kind".into(), json!(def.kind));
    }
    obj
}

/// A request body in `def`'s shape converted to the stored shape.
pub fn from_view(def: &ResourceDef, mut obj: Value) -> Value {
    if is_events_v1(def) {
        rename(&mut obj, EVENT_FIELDS.iter().copied());
        // Core readers (kubectl describe) sort and show by these; fill them from eventTime.
        if let Some(map) = obj.as_object_mut() {
            let time = map.get("eventTime").cloned().filter(|t| !t.is_null());
            if let Some(t) = time {
                let secs = t.as_str().map(|s| {
                    s.split('.')
                        .next()
                        .unwrap_or(s)
                        .trim_end_matches('Z')
                        .to_string()
                        + "Z"
                });
                let stamp = secs.map(Value::String).unwrap_or(t);
                map.entry("firstTimestamp").or_insert(stamp.clone());
                let last = map
                    .get("series")
                    .and_then(|s| s.get("lastObservedTime"))
                    .cloned()
                    .unwrap_or(stamp);
                map.insert("lastTimestamp".into(), last);
            }
            if let Some(count) = map.get("series").and_then(|s| s.get("count")).cloned() {
                map.insert("count".into(), count);
            }
            map.entry("count").or_insert(json!(1));
            let component = map.get("reportingComponent").cloned();
            let source = map
                .entry("source")
                .or_insert_with(|| Value::Object(Map::new()));
            if let (Some(src), Some(c)) = (source.as_object_mut(), component) {
                src.entry("component").or_insert(c);
            }
        }
        obj["apiVersion"] = json!("v1");
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Registry;

    #[test]
    fn events_round_trip_between_groups() {
        let reg = Registry::default();
        let v1 = reg.find("events.k8s.io", "v1", "events").unwrap();
        let written = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Canary", "name": "podinfo"}, "note": "weight 10", "reason": "Synced",
            "type": "Normal", "eventTime": "2026-01-01T00:00:00.123456Z", "reportingController": "fledge"});
        let stored = from_view(v1, written);
        assert_eq!(stored["involvedObject"]["name"], "podinfo");
        assert_eq!(stored["message"], "weight 10");
        assert_eq!(stored["lastTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(stored["source"]["component"], "fledge");
        let back = to_view(v1, &stored);
        assert_eq!(back["regarding"]["name"], "podinfo");
        assert_eq!(back["apiVersion"], "events.k8s.io/v1");
        let core = reg.find("", "v1", "events").unwrap();
        assert_eq!(to_view(core, &stored)["message"], "weight 10");
    }
}
