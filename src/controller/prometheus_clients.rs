//! One Prometheus client per address (`--metrics-server` and each `spec.metricsServer`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fledge_metrics::{MetricProvider, PrometheusConfig, PrometheusProvider};

/// Per-query limit (Flagger: 5s).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One Prometheus client per address (`--metrics-server` and each `spec.metricsServer`),
/// built on first use and shared by every analysis step after it: a client owns a connection
/// pool, which per-step clients would throw away every interval.
#[derive(Default)]
pub struct PrometheusClients {
    clients: Mutex<HashMap<String, Arc<dyn MetricProvider>>>,
}

/// Distinct addresses kept; past it the map starts over (addresses come from Canary specs,
/// so a churn of one-off addresses must not grow it without bound).
const MAX_PROMETHEUS_CLIENTS: usize = 64;

impl PrometheusClients {
    pub fn get(&self, address: &str) -> Option<Arc<dyn MetricProvider>> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(address) {
            return Some(client.clone());
        }
        match PrometheusProvider::new(PrometheusConfig {
            timeout: QUERY_TIMEOUT,
            ..PrometheusConfig::new(address)
        }) {
            Ok(p) => {
                if clients.len() >= MAX_PROMETHEUS_CLIENTS {
                    clients.clear();
                }
                let client: Arc<dyn MetricProvider> = Arc::new(p);
                clients.insert(address.to_string(), client.clone());
                Some(client)
            }
            Err(err) => {
                tracing::warn!(address, error = %err, "metrics server unusable");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_prometheus_client_per_address() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let clients = PrometheusClients::default();
        let a = clients.get("http://prometheus:9090").expect("client");
        let again = clients.get("http://prometheus:9090").expect("client");
        let b = clients.get("http://other:9090").expect("client");
        assert!(
            Arc::ptr_eq(&a, &again),
            "the same address reuses its client"
        );
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(clients.get("not a url").is_none());
    }
}
