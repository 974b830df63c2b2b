//! In-memory gates for manual approval and manual rollback, keyed like Flagger's load tester
//! (`<name>.<namespace>` and `rollback.<name>.<namespace>`). Gates start closed and are lost on
//! restart; run one replica.

use std::collections::HashSet;
use std::sync::Mutex;

use fledge_hooks::WebhookPayload;

use crate::metrics::GateKind;

#[derive(Default)]
pub struct Gates {
    open: Mutex<HashSet<String>>,
}

pub fn key(kind: GateKind, payload: &WebhookPayload) -> String {
    match kind {
        GateKind::Gate => payload.canary_key(),
        GateKind::Rollback => format!("rollback.{}", payload.canary_key()),
    }
}

impl Gates {
    pub fn set(&self, key: String, open: bool) {
        // A poisoned lock only means another request panicked mid-insert; the set is still valid.
        let mut set = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    pub fn is_open(&self, key: &str) -> bool {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(name: &str, ns: &str) -> WebhookPayload {
        WebhookPayload {
            name: name.into(),
            namespace: ns.into(),
            ..Default::default()
        }
    }

    #[test]
    fn gates_start_closed_and_are_per_canary_and_kind() {
        let gates = Gates::default();
        let a = payload("podinfo", "test");
        let b = payload("podinfo", "prod");
        assert!(!gates.is_open(&key(GateKind::Gate, &a)));
        gates.set(key(GateKind::Gate, &a), true);
        assert!(gates.is_open(&key(GateKind::Gate, &a)));
        assert!(!gates.is_open(&key(GateKind::Gate, &b)));
        assert!(!gates.is_open(&key(GateKind::Rollback, &a)));
        gates.set(key(GateKind::Gate, &a), false);
        assert!(!gates.is_open(&key(GateKind::Gate, &a)));
    }

    #[test]
    fn keys_match_flagger() {
        let p = payload("podinfo", "test");
        assert_eq!(key(GateKind::Gate, &p), "podinfo.test");
        assert_eq!(key(GateKind::Rollback, &p), "rollback.podinfo.test");
    }
}
