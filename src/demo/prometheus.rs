//! The demo's real Prometheus: a child process on a free loopback port with its data in the
//! demo's temp dir, scraping the simulated cluster's `/metrics` every second. The process is
//! killed when [`Prometheus`] drops (normal exit, error, Ctrl-C or panic). It never touches a
//! Prometheus it did not start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

/// The install command shown when `prometheus` is missing.
pub const INSTALL: &str = "apt-get update && apt-get install -y prometheus";

/// `prometheus` on `$PATH`, or an error saying how to install it.
pub fn find() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "prometheus is not installed (the demo runs a real Prometheus); install it with `{INSTALL}` as root, or run `make demo`"
            )
        })
}

/// The scrape configuration: the sim's `/metrics`, every second.
pub fn config_yaml(sim_addr: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: fledge-sim\n    metrics_path: /metrics\n    static_configs:\n      - targets: [\"{sim_addr}\"]\n"
    )
}

/// A running Prometheus child process.
pub struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus in `dir` (config, TSDB and log live there) and waits until it answers
    /// `/-/ready`. A port taken between picking and binding is retried with another one.
    pub async fn start(binary: &Path, dir: &Path, sim_addr: &str) -> anyhow::Result<Prometheus> {
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_yaml(sim_addr))
            .with_context(|| format!("writing {}", config.display()))?;
        let mut last_error = None;
        for attempt in 0..3 {
            let port = free_port()?;
            let log = dir.join(format!("prometheus-{attempt}.log"));
            let log_file = std::fs::File::create(&log)
                .with_context(|| format!("creating {}", log.display()))?;
            let child = Command::new(binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-lifecycle")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file)
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            let mut prometheus = Prometheus {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
            };
            match prometheus.wait_ready(Duration::from_secs(30)).await {
                Ok(()) => return Ok(prometheus),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("prometheus did not start")))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let client = http_client()?;
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "prometheus exited ({status}) before it was ready; see {}",
                    self.log.display()
                );
            }
            let ready = client
                .get(format!("{}/-/ready", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "prometheus at {} was not ready after {timeout:?}; see {}",
                    self.url,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Evaluates an instant query; `Some(value)` of the first sample, `None` for no data.
    pub async fn query(
        &self,
        client: &reqwest::Client,
        promql: &str,
    ) -> anyhow::Result<Option<f64>> {
        let response: Value = client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .with_context(|| format!("querying prometheus at {}", self.url))?
            .json()
            .await
            .with_context(|| format!("reading the answer of prometheus at {}", self.url))?;
        Ok(response["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok()))
    }

    /// Polls `promql` until `accept` says yes, or fails after `timeout` naming `what`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(Option<f64>) -> bool,
    ) -> anyhow::Result<()> {
        let client = http_client()?;
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("prometheus exited ({status}); see {}", self.log.display());
            }
            if let Ok(value) = self.query(&client, promql).await
                && accept(value)
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("timed out after {timeout:?} waiting for {what} in prometheus ({promql})");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building an HTTP client")
}

/// A port that was free a moment ago (Prometheus can't be handed a bound socket).
fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_scrapes_the_sim_every_second() {
        let yaml = config_yaml("127.0.0.1:4567");
        let doc: Value = serde_saphyr::from_str(&yaml).expect("valid YAML");
        assert_eq!(doc["global"]["scrape_interval"], "1s");
        assert_eq!(doc["scrape_configs"][0]["metrics_path"], "/metrics");
        assert_eq!(
            doc["scrape_configs"][0]["static_configs"][0]["targets"][0],
            "127.0.0.1:4567"
        );
    }
}
