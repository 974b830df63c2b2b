//! Test helpers: a real Prometheus server backfilled with an exact history (promtool), killed
//! when dropped, and a tiny builder for that history in OpenMetrics text.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails (never skips) when a tool the test needs is missing.
pub fn require(tool: &str, version_arg: &str, package: &str) -> String {
    match Command::new(tool)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => tool.to_string(),
        _ => panic!(
            "`{tool}` is needed by this test and was not found; install it with: apt-get install -y {package}"
        ),
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Samples every `step` seconds from `t0`, for series with a constant per-second rate.
pub struct History {
    pub t0: i64,
    pub step: i64,
    pub steps: i64,
    text: String,
}

impl History {
    /// A history ending about now: `t0` is 20 minutes ago, aligned to the minute, so that
    /// evaluation times on the sample grid exist and the blocks are inside the retention.
    pub fn recent() -> Self {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let t0 = (now - 20 * 60) / 60 * 60;
        Self {
            t0,
            step: 15,
            steps: 80,
            text: String::new(),
        }
    }

    /// An evaluation time on the sample grid, in the middle of the history.
    pub fn eval_time(&self) -> k8s_openapi::jiff::Timestamp {
        k8s_openapi::jiff::Timestamp::from_second(self.t0 + 10 * 60).unwrap()
    }

    /// A counter growing by `per_second` each second. `series` is `name{labels}`. Series of
    /// the same metric name must be added one after another (OpenMetrics families).
    pub fn counter(&mut self, series: &str, per_second: f64) -> &mut Self {
        for i in 0..=self.steps {
            let t = i * self.step;
            let _ = writeln!(
                self.text,
                "{series} {} {}",
                per_second * t as f64,
                self.t0 + t
            );
        }
        self
    }

    pub fn openmetrics(&self) -> String {
        format!("{}# EOF\n", self.text)
    }
}

/// A real Prometheus on a free loopback port, with no scrape targets, serving whatever was
/// backfilled. Killed on drop, also when the test panics.
pub struct Prometheus {
    child: Child,
    pub address: String,
    dir: tempfile::TempDir,
}

pub struct Tls {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl Prometheus {
    pub async fn start(history: Option<&History>) -> Self {
        Self::start_with(history, false).await
    }

    pub async fn start_with(history: Option<&History>, tls: bool) -> Self {
        install_ring();
        let prometheus = require("prometheus", "--version", "prometheus");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        if let Some(history) = history {
            let promtool = require("promtool", "--version", "prometheus");
            let file = dir.path().join("history.om");
            std::fs::write(&file, history.openmetrics()).unwrap();
            let out = Command::new(promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&file)
                .arg(&data)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "promtool failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let port = free_port();
        let mut cmd = Command::new(prometheus);
        cmd.arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=100y")
            .arg("--log.level=warn");
        let scheme = if tls {
            let tls = self_signed(dir.path());
            let web = dir.path().join("web.yml");
            std::fs::write(
                &web,
                format!(
                    "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                    tls.cert.display(),
                    tls.key.display()
                ),
            )
            .unwrap();
            cmd.arg(format!("--web.config.file={}", web.display()));
            "https"
        } else {
            "http"
        };
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap();
        let mut server = Self {
            child,
            address: format!("{scheme}://127.0.0.1:{port}"),
            dir,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/-/ready", self.address);
        loop {
            if let Ok(resp) = client.get(&url).send().await
                && resp.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after 60s: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed certificate for 127.0.0.1, made with the openssl CLI.
fn self_signed(dir: &Path) -> Tls {
    let openssl = require("openssl", "version", "openssl");
    let tls = Tls {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let out = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&tls.key)
        .arg("-out")
        .arg(&tls.cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tls
}
