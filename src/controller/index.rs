//! Which Canaries a watched object concerns, kept up to date from the Canary reflector's events
//! (as linkerd's policy controller keeps its indexes): a target Deployment, a tracked
//! ConfigMap or Secret, a MetricTemplate or an AlertProvider maps to its Canaries in one
//! lookup instead of a scan of every Canary on every event. Pure: no client, no clock.

use std::collections::{HashMap, HashSet};

use fledge_api::Canary;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

/// A namespaced object by kind: `("deployment" | "configmap" | "secret" | "metrictemplate" |
/// "alertprovider", namespace, name)`.
type Key = (&'static str, String, String);

pub const DEPLOYMENT: &str = "deployment";
pub const CONFIGMAP: &str = "configmap";
pub const SECRET: &str = "secret";
pub const METRIC_TEMPLATE: &str = "metrictemplate";
pub const ALERT_PROVIDER: &str = "alertprovider";

#[derive(Default)]
pub struct CanaryIndex {
    canaries_by: HashMap<Key, HashSet<ObjectRef<Canary>>>,
    /// What each Canary is indexed under, to undo on update and delete.
    keys_of: HashMap<ObjectRef<Canary>, Vec<Key>>,
    /// During a relist: the Canaries seen so far; the rest are dropped at its end.
    relisted: Option<HashSet<ObjectRef<Canary>>>,
}

impl CanaryIndex {
    /// Follows one event of the Canary watch, relists included.
    pub fn apply_event(&mut self, event: &watcher::Event<Canary>) {
        match event {
            watcher::Event::Apply(c) => self.upsert(c),
            watcher::Event::Delete(c) => self.remove(&ObjectRef::from_obj(c)),
            watcher::Event::Init => self.relisted = Some(HashSet::new()),
            watcher::Event::InitApply(c) => {
                self.upsert(c);
                if let Some(seen) = &mut self.relisted {
                    seen.insert(ObjectRef::from_obj(c));
                }
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.relisted.take() {
                    let gone: Vec<_> = self
                        .keys_of
                        .keys()
                        .filter(|c| !seen.contains(*c))
                        .cloned()
                        .collect();
                    for canary in gone {
                        self.remove(&canary);
                    }
                }
            }
        }
    }

    pub fn upsert(&mut self, canary: &Canary) {
        let at = ObjectRef::from_obj(canary);
        self.remove(&at);
        let keys = keys(canary);
        for key in &keys {
            self.canaries_by
                .entry(key.clone())
                .or_default()
                .insert(at.clone());
        }
        self.keys_of.insert(at, keys);
    }

    pub fn remove(&mut self, canary: &ObjectRef<Canary>) {
        for key in self.keys_of.remove(canary).unwrap_or_default() {
            if let Some(set) = self.canaries_by.get_mut(&key) {
                set.remove(canary);
                if set.is_empty() {
                    self.canaries_by.remove(&key);
                }
            }
        }
    }

    /// The Canaries indexed under `kind` `namespace/name`, by name.
    pub fn canaries(
        &self,
        kind: &'static str,
        namespace: &str,
        name: &str,
    ) -> Vec<ObjectRef<Canary>> {
        let mut found: Vec<_> = self
            .canaries_by
            .get(&(kind, namespace.to_string(), name.to_string()))
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// A ConfigMap or Secret wakes the Canaries tracking it, and `<name>-primary` (the copy)
    /// wakes those tracking `<name>`.
    pub fn canaries_tracking(
        &self,
        kind: &'static str,
        namespace: &str,
        name: &str,
    ) -> Vec<ObjectRef<Canary>> {
        let mut found = self.canaries(kind, namespace, name);
        if let Some(source) = name.strip_suffix("-primary") {
            found.extend(self.canaries(kind, namespace, source));
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found.dedup();
        found
    }
}

#[cfg(test)]
impl CanaryIndex {
    fn len(&self) -> usize {
        self.keys_of.len()
    }

    fn is_empty(&self) -> bool {
        self.keys_of.is_empty()
    }
}

/// Everything a Canary is looked up by.
fn keys(canary: &Canary) -> Vec<Key> {
    let ns = canary.namespace().unwrap_or_default();
    let mut keys = vec![(DEPLOYMENT, ns.clone(), canary.spec.target_ref.name.clone())];
    if let Some(status) = &canary.status {
        for tracked in status.tracked_configs.keys() {
            match tracked.split_once('/') {
                Some(("configmap", name)) => keys.push((CONFIGMAP, ns.clone(), name.to_string())),
                Some(("secret", name)) => keys.push((SECRET, ns.clone(), name.to_string())),
                _ => {}
            }
        }
    }
    if let Some(analysis) = canary.spec.analysis() {
        for r in analysis
            .metrics
            .iter()
            .filter_map(|m| m.template_ref.as_ref())
        {
            let at = r.namespace.clone().unwrap_or_else(|| ns.clone());
            keys.push((METRIC_TEMPLATE, at, r.name.clone()));
        }
        for alert in &analysis.alerts {
            let at = alert
                .provider_ref
                .namespace
                .clone()
                .unwrap_or_else(|| ns.clone());
            keys.push((ALERT_PROVIDER, at, alert.provider_ref.name.clone()));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canary(ns: &str, name: &str, target: &str, extra: serde_json::Value) -> Canary {
        let mut doc = json!({
            "apiVersion": "fledge.dev/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "service": {"port": 80},
                "analysis": {
                    "interval": "30s",
                    "metrics": [
                        {"name": "errors", "templateRef": {"name": "errors"}},
                        {"name": "latency", "templateRef": {"name": "latency", "namespace": "shared"}}
                    ],
                    "alerts": [{"name": "team", "providerRef": {"name": "slack"}}]
                }
            }
        });
        json_patch::merge(&mut doc, &extra);
        serde_json::from_value(doc).expect("canary")
    }

    fn names(refs: Vec<ObjectRef<Canary>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    #[rustfmt::skip]
    fn lookups() {
        let mut index = CanaryIndex::default();
        index.upsert(&canary("test", "a", "podinfo", json!({"status": {"trackedConfigs": {"configmap/cfg": "1", "secret/creds": "2"}}})));
        index.upsert(&canary("test", "b", "backend", json!({})));
        index.upsert(&canary("other", "c", "podinfo", json!({})));
        // (kind, namespace, name, expected Canaries)
        let table: Vec<(&'static str, &str, &str, Vec<&str>)> = vec![
            (DEPLOYMENT, "test", "podinfo", vec!["a"]),
            (DEPLOYMENT, "other", "podinfo", vec!["c"]),
            (DEPLOYMENT, "test", "nothing", vec![]),
            (CONFIGMAP, "test", "cfg", vec!["a"]),
            (SECRET, "test", "creds", vec!["a"]),
            (CONFIGMAP, "test", "creds", vec![]),
            (METRIC_TEMPLATE, "test", "errors", vec!["a", "b"]),
            (METRIC_TEMPLATE, "shared", "latency", vec!["a", "b", "c"]),
            (METRIC_TEMPLATE, "test", "latency", vec![]),
            (METRIC_TEMPLATE, "other", "errors", vec!["c"]),
            (ALERT_PROVIDER, "test", "slack", vec!["a", "b"]),
            (ALERT_PROVIDER, "other", "slack", vec!["c"]),
        ];
        for (kind, ns, name, want) in table {
            let mut got = names(index.canaries(kind, ns, name));
            got.sort();
            assert_eq!(got, want, "{kind} {ns}/{name}");
        }
        assert_eq!(names(index.canaries_tracking(CONFIGMAP, "test", "cfg-primary")), ["a"]);
        assert_eq!(names(index.canaries_tracking(CONFIGMAP, "test", "cfg")), ["a"]);
        assert_eq!(names(index.canaries_tracking(SECRET, "test", "creds-primary")), ["a"]);
        assert_eq!(names(index.canaries_tracking(CONFIGMAP, "test", "other-primary")), Vec::<String>::new());
    }

    #[test]
    fn an_update_moves_a_canary_and_a_delete_forgets_it() {
        let mut index = CanaryIndex::default();
        index.upsert(&canary("test", "a", "old", json!({})));
        index.upsert(&canary("test", "a", "new", json!({})));
        assert_eq!(index.canaries(DEPLOYMENT, "test", "old"), vec![]);
        assert_eq!(names(index.canaries(DEPLOYMENT, "test", "new")), ["a"]);
        index.apply_event(&watcher::Event::Delete(canary(
            "test",
            "a",
            "new",
            json!({}),
        )));
        assert_eq!(index.canaries(DEPLOYMENT, "test", "new"), vec![]);
        assert!(index.is_empty());
        assert!(
            index.canaries_by.is_empty(),
            "no empty sets are left behind"
        );
    }

    #[test]
    fn a_relist_drops_canaries_deleted_while_the_watch_was_down() {
        let mut index = CanaryIndex::default();
        index.upsert(&canary("test", "kept", "one", json!({})));
        index.upsert(&canary("test", "gone", "two", json!({})));
        index.apply_event(&watcher::Event::Init);
        index.apply_event(&watcher::Event::InitApply(canary(
            "test",
            "kept",
            "one",
            json!({}),
        )));
        index.apply_event(&watcher::Event::InitApply(canary(
            "test",
            "new",
            "three",
            json!({}),
        )));
        // Until the relist ends, lookups still answer from what was known.
        assert_eq!(names(index.canaries(DEPLOYMENT, "test", "two")), ["gone"]);
        index.apply_event(&watcher::Event::InitDone);
        assert_eq!(index.canaries(DEPLOYMENT, "test", "two"), vec![]);
        assert_eq!(names(index.canaries(DEPLOYMENT, "test", "three")), ["new"]);
        assert_eq!(index.len(), 2);
    }
}
