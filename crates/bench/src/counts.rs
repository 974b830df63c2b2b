//! Arithmetic on the sim's request statistics and on latency samples: deltas between two
//! `/sim/stats` snapshots split into reads, writes and watches, and percentiles. Pure; no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use fledge_sim::StatsSnapshot;
use serde::Serialize;

/// What a request does to the API server's load, as the targets count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Read,
    Write,
    Watch,
}

/// `get`/`list` read; `watch` opens a stream; everything else the sim counts changes state.
pub fn classify(verb: &str) -> Class {
    match verb {
        "get" | "list" => Class::Read,
        "watch" => Class::Watch,
        _ => Class::Write,
    }
}

/// Requests made between two snapshots.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Delta {
    pub reads: u64,
    pub writes: u64,
    /// Watch streams started (re-established or new), not streams open.
    pub watches: u64,
    /// Every request the sim served, discovery and OpenAPI included.
    pub total: u64,
    /// `verb resource` → count, only the non-zero ones.
    pub by_request: BTreeMap<String, u64>,
}

impl Delta {
    /// Requests other than watch starts: what a busy or idle controller costs beyond its
    /// standing watches.
    pub fn non_watch(&self) -> u64 {
        self.total.saturating_sub(self.watches)
    }

    /// The `n` largest `verb resource` counts, largest first (ties by name).
    pub fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = self
            .by_request
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    /// Removes requests the bench itself made (so they are not charged to the controller).
    pub fn minus_own(mut self, verb: &str, resource: &str, count: u64) -> Delta {
        let key = format!("{verb} {resource}");
        if let Some(v) = self.by_request.get_mut(&key) {
            let taken = count.min(*v);
            *v -= taken;
            if *v == 0 {
                self.by_request.remove(&key);
            }
            match classify(verb) {
                Class::Read => self.reads -= taken,
                Class::Write => self.writes -= taken,
                Class::Watch => self.watches -= taken,
            }
            self.total = self.total.saturating_sub(taken);
        }
        self
    }
}

/// The requests made between `before` and `after`.
pub fn delta(before: &StatsSnapshot, after: &StatsSnapshot) -> Delta {
    let mut d = Delta {
        total: after.total_requests.saturating_sub(before.total_requests),
        ..Delta::default()
    };
    for (verb, resources) in &after.requests {
        for (resource, count) in resources {
            let n = count.saturating_sub(before.count(verb, resource));
            if n == 0 {
                continue;
            }
            match classify(verb) {
                Class::Read => d.reads += n,
                Class::Write => d.writes += n,
                Class::Watch => d.watches += n,
            }
            d.by_request.insert(format!("{verb} {resource}"), n);
        }
    }
    d
}

/// Nearest-rank percentile (`p` in 0..=1) of unsorted samples; zero for none.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(total: u64, entries: &[(&str, &str, u64)]) -> StatsSnapshot {
        let mut requests: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (verb, resource, n) in entries {
            requests
                .entry(verb.to_string())
                .or_default()
                .insert(resource.to_string(), *n);
        }
        StatsSnapshot {
            requests,
            total_requests: total,
            watches_open: 0,
            watches_started: 0,
            objects_stored: 0,
            resource_version: 0,
        }
    }

    #[test]
    fn verbs_are_classified_as_the_targets_count_them() {
        for (verb, class) in [
            ("get", Class::Read),
            ("list", Class::Read),
            ("watch", Class::Watch),
            ("create", Class::Write),
            ("update", Class::Write),
            ("patch", Class::Write),
            ("delete", Class::Write),
            ("deletecollection", Class::Write),
        ] {
            assert_eq!(classify(verb), class, "{verb}");
        }
    }

    #[test]
    fn delta_counts_only_new_requests_including_new_resources() {
        let before = snap(
            10,
            &[
                ("list", "canaries.fledge.dev", 2),
                ("patch", "canaries.fledge.dev/status", 5),
            ],
        );
        let after = snap(
            19,
            &[
                ("list", "canaries.fledge.dev", 2),
                ("patch", "canaries.fledge.dev/status", 8),
                ("create", "events", 2),
                ("get", "configmaps", 1),
                ("watch", "deployments.apps", 1),
            ],
        );
        let d = delta(&before, &after);
        assert_eq!((d.reads, d.writes, d.watches, d.total), (1, 5, 1, 9));
        assert_eq!(d.non_watch(), 8);
        assert!(!d.by_request.contains_key("list canaries.fledge.dev"));
        assert_eq!(
            d.top(2),
            vec![
                ("patch canaries.fledge.dev/status".to_string(), 3),
                ("create events".to_string(), 2)
            ]
        );
    }

    #[test]
    fn own_requests_are_removed_and_never_below_zero() {
        let d = delta(
            &snap(0, &[]),
            &snap(
                5,
                &[("patch", "deployments.apps", 3), ("create", "events", 2)],
            ),
        );
        let d = d.minus_own("patch", "deployments.apps", 3);
        assert_eq!((d.writes, d.total), (2, 2));
        assert!(!d.by_request.contains_key("patch deployments.apps"));
        let d = d
            .minus_own("create", "events", 10)
            .minus_own("get", "pods", 1);
        assert_eq!((d.writes, d.total, d.reads), (0, 0, 0));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let samples = ms(&[50, 10, 40, 20, 30]);
        assert_eq!(percentile(&samples, 0.5), Duration::from_millis(30));
        assert_eq!(percentile(&samples, 0.99), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 0.0), Duration::from_millis(10));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        let hundred: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&hundred, 0.99), Duration::from_millis(99));
    }
}
