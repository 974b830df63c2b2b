//! One Prometheus client per address (`--metrics-server` and each `spec.metricsServer`), and
//! one per MetricTemplate version (its address, headers and credentials).

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
    /// Built from a MetricTemplate, by [`template_key`].
    templates: Mutex<HashMap<String, Arc<dyn MetricProvider>>>,
}

/// What a template's client depends on: the template's and its Secret's resourceVersions (a
/// change of either builds a new client) and the address a template without one uses.
pub fn template_key(
    template: &str,
    template_version: &str,
    secret_version: Option<&str>,
    metrics_server: &str,
) -> String {
    format!(
        "{template}@{template_version} secret@{} {metrics_server}",
        secret_version.unwrap_or("-")
    )
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

    /// The client built for a template version earlier, if any.
    pub fn template(&self, key: &str) -> Option<Arc<dyn MetricProvider>> {
        self.templates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// Keeps the client of a template version for the next steps.
    pub fn keep_template(&self, key: String, client: Arc<dyn MetricProvider>) {
        let mut templates = self.templates.lock().unwrap_or_else(|p| p.into_inner());
        if templates.len() >= MAX_PROMETHEUS_CLIENTS {
            templates.clear();
        }
        templates.insert(key, client);
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

    #[test]
    fn a_template_client_is_kept_until_the_template_or_its_secret_changes() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let clients = PrometheusClients::default();
        let base = template_key("test/errors", "7", Some("3"), "http://prometheus:9090");
        for changed in [
            template_key("test/errors", "8", Some("3"), "http://prometheus:9090"),
            template_key("test/errors", "7", Some("4"), "http://prometheus:9090"),
            template_key("test/errors", "7", None, "http://prometheus:9090"),
            template_key("test/errors", "7", Some("3"), "http://other:9090"),
            template_key("other/errors", "7", Some("3"), "http://prometheus:9090"),
        ] {
            assert_ne!(base, changed);
        }
        assert!(clients.template(&base).is_none());
        let client = clients.get("http://prometheus:9090").expect("client");
        clients.keep_template(base.clone(), client.clone());
        let kept = clients.template(&base).expect("kept");
        assert!(Arc::ptr_eq(&kept, &client));
    }
}
