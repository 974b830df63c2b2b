//! Waiting on the controller: for a phase (failing early on the wrong one), for an iteration,
//! and for proof that the controller has reconciled after a change, so a test can assert that
//! the change did *not* do something without sleeping "long enough" first.
//!
//! The proof comes from the controller's own `/metrics`: `fledge_reconcile_duration_seconds`
//! is a histogram observed once at the end of every reconcile (`src/controller/reconcile.rs`),
//! so its `_count` is the number of reconciles finished. The controller serialises the
//! reconciles of one Canary, so with one Canary in the cluster (as in every e2e test), the
//! second reconcile to finish after a point in time also *started* after that point, with
//! what was written before it in its caches.

use std::time::Duration;

use serde_json::Value;

use super::openmetrics::parse_openmetrics;
use super::{Cluster, net};

/// The counter of finished reconciles on the controller's `/metrics`.
pub const RECONCILES: &str = "fledge_reconcile_duration_seconds_count";

/// How long the helpers here wait for the controller before giving up.
const WAIT: Duration = Duration::from_secs(60);

/// The annotation [`Cluster::wait_reconciled`] writes on the Canary to make the controller
/// reconcile when nothing else does. Nothing in fledge reads it.
pub const NUDGE_ANNOTATION: &str = "e2e.fledge.dev/nudge";

impl Cluster {
    /// Waits for `phase`, failing at once if the Canary reaches `never` first.
    pub fn wait_phase_not(
        &self,
        ns: &str,
        name: &str,
        phase: &str,
        never: &str,
        timeout: Duration,
    ) -> Value {
        self.wait_for(&format!("canary {ns}/{name} phase {phase}"), timeout, |c| {
            let v = c.get("canary", ns, name)?;
            assert_ne!(
                v["status"]["phase"], never,
                "the canary reached {never} while waiting for {phase}: {:#}",
                v["status"]
            );
            (v["status"]["phase"] == phase).then_some(v)
        })
    }

    /// Waits until the Canary's `status.iterations` is at least `n`; returns it.
    pub fn wait_iterations(&self, ns: &str, name: &str, n: i64, timeout: Duration) -> i64 {
        self.wait_for(&format!("iteration {n}"), timeout, |c| {
            let it = super::iterations(&c.canary(ns, name));
            (it >= n).then_some(it)
        })
    }

    /// The `/metrics` URL of controller `index`, from the address it logs when it starts
    /// serving (it listens on `127.0.0.1:0`).
    pub fn controller_metrics_url(&self, index: usize) -> String {
        self.wait_for("the controller's metrics address in its log", WAIT, |c| {
            let log = net::strip_ansi(&c.controller_log(index));
            let line = log
                .lines()
                .find(|l| l.contains("serving /healthz, /readyz and /metrics"))?
                .to_string();
            let addr: String = line
                .split("address=")
                .nth(1)?
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            Some(format!("http://{addr}/metrics"))
        })
    }

    /// Reconciles controller `index` has finished so far.
    pub fn reconciles(&self, index: usize) -> u64 {
        let url = self.controller_metrics_url(index);
        self.wait_for(&format!("{RECONCILES} on {url}"), WAIT, |_| {
            reconciles_at(&url)
        })
    }

    /// Returns once controller `index` has finished two reconciles of Canary `ns/name` that
    /// ended after this call began: the second one started after the first ended, so after
    /// everything the test wrote before this call. Use it after a change that must *not* make
    /// the controller do something, before asserting that it didn't.
    ///
    /// A change the controller ignores may cause a single reconcile or none, so while the
    /// count stands still the Canary is nudged with [`NUDGE_ANNOTATION`] (a metadata-only
    /// change that fledge ignores but that, like any change, triggers a reconcile).
    pub fn wait_reconciled(&self, index: usize, ns: &str, name: &str) {
        let url = self.controller_metrics_url(index);
        let start = self.reconciles(index);
        let mut last = start;
        let mut idle_polls = 0;
        let mut nudges = 0u32;
        self.wait_for(
            &format!("two reconciles of {ns}/{name} after {RECONCILES} {start}"),
            WAIT,
            |c| {
                let now = reconciles_at(&url)?;
                if now >= start + 2 {
                    return Some(());
                }
                if now == last {
                    idle_polls += 1;
                } else {
                    last = now;
                    idle_polls = 0;
                }
                // wait_for polls every 100ms: nudge after half a second without a reconcile.
                if idle_polls >= 5 {
                    idle_polls = 0;
                    nudges += 1;
                    c.kubectl(&[
                        "-n",
                        ns,
                        "annotate",
                        &format!("canary/{name}"),
                        &format!("{NUDGE_ANNOTATION}={nudges}"),
                        "--overwrite",
                    ]);
                }
                None
            },
        );
    }

    /// Waits until the Canary's next step is overdue by a whole `interval`: its
    /// `status.lastStepTime` plus twice `interval` has passed. For asserting that nothing moves
    /// while no controller runs, when there is no controller to ask; the deadline comes from
    /// the Canary's own status. Returns the Canary.
    pub fn wait_step_overdue(&self, ns: &str, name: &str, interval: Duration) -> Value {
        let canary = self.canary(ns, name);
        let last: jiff::Timestamp = canary["status"]["lastStepTime"]
            .as_str()
            .unwrap_or_else(|| panic!("canary {ns}/{name} has no lastStepTime: {canary:#}"))
            .parse()
            .expect("lastStepTime is RFC 3339");
        let due = last
            .checked_add(jiff::SignedDuration::try_from(interval * 2).expect("interval"))
            .expect("lastStepTime + 2 intervals");
        self.wait_for(
            &format!("a step of {ns}/{name} overdue by {interval:?} (past {due})"),
            interval * 2 + WAIT,
            |c| (jiff::Timestamp::now() > due).then(|| c.canary(ns, name)),
        )
    }
}

/// The reconcile count at a controller's `/metrics` URL, or None when it doesn't answer.
fn reconciles_at(url: &str) -> Option<u64> {
    let (status, body) = net::get(url)?;
    if status != 200 {
        return None;
    }
    let samples = parse_openmetrics(&body);
    let (_, _, value) = samples
        .iter()
        .find(|(n, labels, _)| n == RECONCILES && labels.is_empty())?;
    Some(*value as u64)
}
