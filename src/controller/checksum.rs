//! Checksums of a revision: of the tracked configs (the primary's pod-template annotation, so
//! only a config change restarts the primary's pods through it) and of the whole revision (the
//! webhook payload's `checksum`, as Flagger's).

use std::collections::BTreeMap;

/// The webhook payload's `checksum`: the revision under analysis, pod template and tracked
/// configs together (as Flagger's), so two image-only releases never share one.
pub fn payload_checksum(revision: &fledge_core::Revision) -> String {
    let mut all = revision.configs.clone();
    all.insert("spec".into(), revision.spec.clone());
    tracked_checksum(&all)
}

/// A deterministic checksum of the tracked configs, for the primary's pod-template annotation
/// (only a config change must restart the primary's pods through it).
pub fn tracked_checksum(configs: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    if configs.is_empty() {
        return String::new();
    }
    let mut hasher = Sha256::new();
    for (k, v) in configs {
        hasher.update(k.as_bytes());
        hasher.update([0]);
        hasher.update(v.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_checksum_changes_with_the_spec() {
        let rev = |spec: &str| fledge_core::Revision {
            spec: spec.into(),
            ..fledge_core::Revision::default()
        };
        assert_ne!(payload_checksum(&rev("a")), payload_checksum(&rev("b")));
        assert_eq!(payload_checksum(&rev("a")), payload_checksum(&rev("a")));
    }

    #[test]
    fn tracked_checksum_is_stable_and_sensitive() {
        let a: BTreeMap<String, String> = [("configmap/a".to_string(), "1".to_string())].into();
        let b: BTreeMap<String, String> = [("configmap/a".to_string(), "2".to_string())].into();
        assert_eq!(tracked_checksum(&a), tracked_checksum(&a.clone()));
        assert_ne!(tracked_checksum(&a), tracked_checksum(&b));
        assert_eq!(tracked_checksum(&BTreeMap::new()), "");
    }
}
