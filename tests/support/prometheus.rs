//! A real Prometheus (Debian `prometheus`) on a free loopback port that scrapes the sim's
//! `/metrics` every second and logs every query it answers, so tests can check the PromQL the
//! controller rendered. Killed on drop, also when the test panics.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::net;

pub struct Prometheus {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (a base URL such as the sim's) every second and
    /// returns once the target has been scraped successfully.
    pub fn scraping(target: &str) -> Prometheus {
        net::require("prometheus", "prometheus");
        let mut dir = tempfile::tempdir().expect("temp dir");
        let host = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let config = dir.path().join("prometheus.yml");
        let query_log = dir.path().join("queries.log");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n  query_log_file: {}\nscrape_configs:\n  - job_name: fledge-sim\n    static_configs: [{{targets: [\"{host}\"]}}]\n",
                query_log.display()
            ),
        )
        .expect("write prometheus.yml");
        // The free port is released before Prometheus binds it; another test may take it in
        // between, so a start that fails on the port is retried on a new one.
        let mut attempt = 0;
        loop {
            let port = net::free_port();
            let log =
                std::fs::File::create(dir.path().join("prometheus.log")).expect("prometheus log");
            let child = Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn prometheus");
            let mut prom = Prometheus {
                child: Some(child),
                url: format!("http://127.0.0.1:{port}"),
                dir,
            };
            match prom.wait_until_scraped(&host) {
                Ok(()) => return prom,
                Err(log) if attempt < 3 && log.contains("address already in use") => {
                    attempt += 1;
                    prom.kill();
                    dir = std::mem::replace(&mut prom.dir, tempfile::tempdir().expect("temp dir"));
                }
                Err(log) => panic!("prometheus did not start: {log}"),
            }
        }
    }

    /// Ok once `host` has been scraped; Err(log) when Prometheus exited first. The instance
    /// label makes sure the answer comes from this Prometheus, not another test's that took
    /// the port.
    fn wait_until_scraped(&mut self, host: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        let up = format!("up{{job=\"fledge-sim\",instance=\"{host}\"}} == 1");
        loop {
            if self.query_values(&up).is_some_and(|v| !v.is_empty()) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("exited with {status}: {}", self.log()));
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not scrape the sim within 90s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An instant query's values (one per series), or None when Prometheus didn't answer.
    pub fn query_values(&self, promql: &str) -> Option<Vec<f64>> {
        let (status, body) =
            net::get_query(&format!("{}/api/v1/query", self.url), &[("query", promql)])?;
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).ok()?;
        let result = v["data"]["result"].as_array()?;
        Some(
            result
                .iter()
                .filter_map(|s| s["value"][1].as_str().and_then(|x| x.parse().ok()))
                .collect(),
        )
    }

    /// Every PromQL query Prometheus has answered so far (its query log), oldest first.
    pub fn queries(&self) -> Vec<String> {
        std::fs::read_to_string(self.query_log_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|v| v["params"]["query"].as_str().map(str::to_string))
            .collect()
    }

    fn query_log_path(&self) -> PathBuf {
        self.dir.path().join("queries.log")
    }

    /// SIGKILL, as when the server crashes; its port then refuses connections.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.kill();
    }
}
