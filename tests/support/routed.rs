//! Helpers shared by the router end-to-end tests: real requests through the sim's service
//! proxy, and the success rates an analysis recorded.

use serde_json::Value;

use super::Cluster;
use super::net::runtime;

impl Cluster {
    /// Sends `n` requests for `ns/service` through the sim's service proxy with `headers`;
    /// returns how many the canary (the target Deployment `podinfo`'s pods) answered.
    pub fn canary_answers(&self, ns: &str, n: usize, headers: &[(&str, &str)]) -> usize {
        let url = format!(
            "{}/api/v1/namespaces/{ns}/services/podinfo/proxy/",
            self.url
        );
        runtime().block_on(async {
            let client = reqwest::Client::new();
            let mut canary = 0;
            for _ in 0..n {
                let mut request = client.get(&url);
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                let resp = request.send().await.expect("proxied request");
                let deployment = resp
                    .headers()
                    .get("x-fledge-sim-deployment")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                if deployment == "podinfo" {
                    canary += 1;
                }
            }
            canary
        })
    }
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
