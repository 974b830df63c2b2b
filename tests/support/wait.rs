//! Waiting on the controller: for a phase (failing early on the wrong one), for an iteration,
//! and for the address of its `/metrics`.

use std::time::Duration;

use serde_json::Value;

use super::{Cluster, net};

/// How long the helpers here wait for the controller before giving up.
const WAIT: Duration = Duration::from_secs(60);

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
}
