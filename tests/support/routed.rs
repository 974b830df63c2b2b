//! Helpers shared by the router end-to-end tests: the two releases every provider must get
//! right (a healthy canary promoted, a faulty one rolled back, each on that provider's builtin
//! metrics), real requests through the sim's service proxy, and the success rates an analysis
//! recorded.

use std::time::Duration;

use serde_json::Value;

use super::net::{get, runtime};
use super::openmetrics::parse_openmetrics;
use super::{Cluster, IMG1};

/// The scenario's image that always answers 200.
pub const HEALTHY: &str = "ghcr.io/stefanprodan/podinfo:6.0.1";
/// The scenario's image that fails about a third of its requests.
pub const FAULTY: &str = "ghcr.io/stefanprodan/podinfo:6.0.3";
const T: Duration = Duration::from_secs(60);
const RELEASE: Duration = Duration::from_secs(150);

/// The (primary, canary) weights a provider's routing object says, read with the test's code.
pub type Weights = fn(&Cluster) -> Option<(i64, i64)>;

/// A healthy image for `ns/podinfo`: the route passes through `midway` (primary, canary), the
/// release succeeds with every success rate at 100%, and the route ends back at (100, 0).
/// Returns the finished Canary.
pub fn promotes_a_healthy_canary(
    c: &Cluster,
    ns: &str,
    weights: Weights,
    midway: (i64, i64),
) -> Value {
    c.set_image(ns, "podinfo", HEALTHY);
    c.wait_for(&format!("the route at {midway:?}"), T, |c| {
        (weights(c) == Some(midway)).then_some(())
    });
    let done = c.wait_phase_not(ns, "podinfo", "Succeeded", "Failed", RELEASE);
    assert_eq!(c.image(ns, "podinfo-primary"), HEALTHY);
    let passed = success_rates(&done, "Pass");
    assert!(!passed.is_empty(), "{:#}", done["status"]);
    for v in passed {
        assert!((v - 100.0).abs() < 1e-6, "success rate {v}");
    }
    assert_eq!(weights(c), Some((100, 0)));
    done
}

/// `revertOnDeletion`: deleting Canary `ns/podinfo` deletes the routing objects it generated
/// (`(kind, name)` for kubectl) and points the apex Service at the target's pods again.
pub fn reverted_on_deletion(c: &Cluster, ns: &str, generated: &[(&str, &str)]) {
    c.kubectl(&["-n", ns, "delete", "canary", "podinfo", "--wait=false"]);
    for (kind, name) in generated {
        c.wait_for(&format!("{kind} {name} deleted"), T, |c| {
            c.get(kind, ns, name).is_none().then_some(())
        });
    }
    c.wait_for("the apex Service back on the target's pods", T, |c| {
        let svc = c.get("service", ns, "podinfo")?;
        (svc["spec"]["selector"]["app"] == "podinfo").then_some(())
    });
}

/// A faulty image for `ns/podinfo`: the release fails on success rates the provider's metrics
/// put between 50% and 90%, the primary keeps its image and the route ends at (100, 0).
pub fn rolls_back_a_faulty_canary(c: &Cluster, ns: &str, weights: Weights) -> Value {
    c.set_image(ns, "podinfo", FAULTY);
    let done = c.wait_phase_not(ns, "podinfo", "Failed", "Succeeded", RELEASE);
    let failed = success_rates(&done, "Fail");
    assert!(!failed.is_empty(), "{:#}", done["status"]);
    for v in failed {
        assert!((50.0..90.0).contains(&v), "success rate {v}");
    }
    assert_eq!(c.image(ns, "podinfo-primary"), IMG1);
    assert_eq!(weights(c), Some((100, 0)));
    done
}

/// What one request through the sim's service proxy got back.
#[derive(Debug)]
pub struct Answer {
    /// The Deployment whose pod answered (`podinfo` is the canary).
    pub deployment: String,
    /// The `Set-Cookie` headers of the response.
    pub set_cookies: Vec<String>,
}

impl Answer {
    pub fn by_canary(&self) -> bool {
        self.deployment == "podinfo"
    }
}

impl Cluster {
    /// Sends `n` requests for `ns/podinfo` through the sim's service proxy with `headers`.
    pub fn proxied(&self, ns: &str, n: usize, headers: &[(&str, &str)]) -> Vec<Answer> {
        let url = format!(
            "{}/api/v1/namespaces/{ns}/services/podinfo/proxy/",
            self.url
        );
        runtime().block_on(async {
            let client = reqwest::Client::new();
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let mut request = client.get(&url);
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                let resp = request.send().await.expect("proxied request");
                let text =
                    |v: &reqwest::header::HeaderValue| v.to_str().unwrap_or_default().to_string();
                out.push(Answer {
                    deployment: resp
                        .headers()
                        .get("x-fledge-sim-deployment")
                        .map(text)
                        .unwrap_or_default(),
                    set_cookies: resp
                        .headers()
                        .get_all(reqwest::header::SET_COOKIE)
                        .iter()
                        .map(text)
                        .collect(),
                });
            }
            out
        })
    }

    /// Sends `n` requests for `ns/podinfo` through the sim's service proxy with `headers`;
    /// returns how many the canary (the target Deployment `podinfo`'s pods) answered.
    pub fn canary_answers(&self, ns: &str, n: usize, headers: &[(&str, &str)]) -> usize {
        self.proxied(ns, n, headers)
            .iter()
            .filter(|a| a.by_canary())
            .count()
    }

    /// The sum of the sim's `fledge_sim_requests_total` samples whose labels include `labels`.
    pub fn sim_requests(&self, labels: &[(&str, &str)]) -> f64 {
        let (_, body) = get(&format!("{}/metrics", self.url)).expect("the sim's /metrics");
        parse_openmetrics(&body)
            .into_iter()
            .filter(|(name, l, _)| {
                name == "fledge_sim_requests_total"
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }
}

/// An A/B Canary fixture (testdata/routers/canary-*-ab.yaml) made quick and held: two checks
/// at 1s, then a closed confirm-promotion gate keeps the release in WaitingPromotion with the
/// match routes in place, for counting real requests.
pub fn held_ab(manifest: &str) -> String {
    let held = manifest
        .replace("iterations: 10", "iterations: 2")
        .replace("interval: 1m", "interval: 1s")
        .replace(
            "    match:",
            "    webhooks:\n      - {name: gate, type: confirm-promotion, url: http://127.0.0.1:9/closed}\n    match:",
        );
    assert!(
        held.contains("iterations: 2") && held.contains("/closed"),
        "{held}"
    );
    held
}

/// Waits for `ns/podinfo` to be Stalled on an invalid spec whose message contains `says`, and
/// checks that a Warning Event says it too and that no primary Deployment was written.
pub fn stalled_on_invalid_spec(c: &Cluster, ns: &str, says: &str) {
    let stalled = c.wait_for("Stalled condition", T, |c| {
        super::condition(&c.canary(ns, "podinfo"), "Stalled").filter(|x| x["status"] == "True")
    });
    assert_eq!(stalled["reason"], "InvalidSpec");
    let message = stalled["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message}");
    let events = c.events(ns, "podinfo");
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Warning InvalidSpec ") && e.contains(says)),
        "no Warning Event says {says:?}: {events:?}"
    );
    assert!(c.get("deployment", ns, "podinfo-primary").is_none());
}

/// The `request-success-rate` values recorded with `verdict` in `status.analysisHistory`.
pub fn success_rates(canary: &Value, verdict: &str) -> Vec<f64> {
    canary["status"]["analysisHistory"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == "request-success-rate" && r["verdict"] == verdict)
        .filter_map(|r| r["value"].as_f64())
        .collect()
}
