//! Revision detection: is the target's current revision new, the same as the one under (or
//! last under) analysis, or back at the revision the primary runs? Flagger compares the pod
//! template hash with `lastAppliedSpec` / `lastPromotedSpec` and the tracked config checksums
//! with `trackedConfigs`; so do we.

use fledge_api::CanaryStatus;

use crate::input::Revision;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevisionChange {
    /// Same as `lastAppliedSpec` and the tracked configs: nothing new.
    Unchanged,
    /// A revision that hasn't been analysed: start (or restart) an analysis.
    New,
    /// Back at `lastPromotedSpec` with unchanged configs: the primary already runs it, so
    /// there is nothing to analyse (a "manual rollback" in Flagger's words).
    BackToPromoted,
}

pub fn classify(status: &CanaryStatus, rev: &Revision) -> RevisionChange {
    let Some(applied) = status.last_applied_spec.as_deref() else {
        return RevisionChange::New;
    };
    if rev.configs != status.tracked_configs {
        return RevisionChange::New;
    }
    if rev.spec == applied {
        return RevisionChange::Unchanged;
    }
    if status.last_promoted_spec.as_deref() == Some(rev.spec.as_str()) {
        return RevisionChange::BackToPromoted;
    }
    RevisionChange::New
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn status(applied: Option<&str>, promoted: Option<&str>, cm: &str) -> CanaryStatus {
        CanaryStatus {
            last_applied_spec: applied.map(str::to_string),
            last_promoted_spec: promoted.map(str::to_string),
            tracked_configs: BTreeMap::from([("configmap/app".to_string(), cm.to_string())]),
            ..Default::default()
        }
    }

    fn rev(spec: &str, cm: &str) -> Revision {
        Revision {
            spec: spec.into(),
            configs: BTreeMap::from([("configmap/app".to_string(), cm.to_string())]),
            images: Vec::new(),
        }
    }

    #[test]
    fn table() {
        use RevisionChange::*;
        let cases = [
            (
                "never applied",
                status(None, None, "c1"),
                rev("a", "c1"),
                New,
            ),
            (
                "same spec and configs",
                status(Some("a"), Some("a"), "c1"),
                rev("a", "c1"),
                Unchanged,
            ),
            (
                "new spec",
                status(Some("a"), Some("a"), "c1"),
                rev("b", "c1"),
                New,
            ),
            (
                "config changed",
                status(Some("a"), Some("a"), "c1"),
                rev("a", "c2"),
                New,
            ),
            (
                "back to promoted",
                status(Some("b"), Some("a"), "c1"),
                rev("a", "c1"),
                BackToPromoted,
            ),
            (
                "back to promoted with new config",
                status(Some("b"), Some("a"), "c1"),
                rev("a", "c2"),
                New,
            ),
            (
                "failed revision re-applied",
                status(Some("b"), Some("a"), "c1"),
                rev("b", "c1"),
                Unchanged,
            ),
        ];
        for (name, st, r, want) in cases {
            assert_eq!(classify(&st, &r), want, "{name}");
        }
    }
}
