//! Test harness: runs the real `fledge-loadtester` binary on a free loopback port and a loopback
//! HTTP target that counts the requests it receives.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The running binary; killed on drop, also when the test panics.
pub struct Loadtester {
    child: Child,
    pub base: String,
    logs: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

impl Loadtester {
    pub fn start(extra: &[&str]) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut child = Command::new(env!("CARGO_BIN_EXE_fledge-loadtester"))
            .args([
                "--address",
                "127.0.0.1",
                "--port",
                "0",
                "--log-format",
                "text",
            ])
            .args(extra)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fledge-loadtester");
        let stdout = child.stdout.take().expect("stdout piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&logs);
        // Keep draining stdout for the process's whole life so logging never blocks it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                    let _ = tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let mut lt = Loadtester {
            child,
            base: String::new(),
            logs,
            client: reqwest::Client::new(),
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!("loadtester did not log its address; logs: {:?}", lt.logs())
            });
        lt.base = format!("http://{addr}");
        lt
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// POSTs a body and returns status and text.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .expect("request to loadtester");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, String) {
        self.post_raw(path, body.to_string()).await
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request to loadtester");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    /// The value of one sample in `/metrics`, e.g.
    /// `fledge_loadtester_tasks_total{task="cmd",result="success"}`; 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        metric_value(&text, sample)
    }

    /// Polls a metric until it reaches `want` or the deadline passes.
    pub async fn wait_metric(&self, sample: &str, want: f64, within: Duration) -> f64 {
        let until = tokio::time::Instant::now() + within;
        loop {
            let v = self.metric(sample).await;
            if v >= want || tokio::time::Instant::now() >= until {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Loadtester {
    /// SIGTERM, as Kubernetes stops a pod, then SIGKILL if it is still up after 10s.
    pub fn stop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Loadtester {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Processes whose command line contains `needle` (read from /proc).
pub fn processes_with(needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains(needle))
        .collect()
}

/// Polls until a process whose command line contains `needle` exists (`present`) or none does
/// (`!present`). A freshly spawned child shows its parent's command line until its exec
/// completes, so one look right after a spawn is not enough.
pub fn wait_for_process(needle: &str, present: bool, timeout: std::time::Duration) {
    let until = std::time::Instant::now() + timeout;
    while processes_with(needle).is_empty() == present {
        assert!(
            std::time::Instant::now() < until,
            "after {timeout:?} a process with {needle:?} is still {}",
            if present { "missing" } else { "running" }
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn metric_value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// A loopback HTTP server that answers 200 to everything and counts requests.
pub struct Target {
    pub url: String,
    hits: Arc<AtomicU64>,
    headers: Arc<Mutex<Vec<axum::http::HeaderMap>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Target {
    pub async fn start() -> Self {
        let hits = Arc::new(AtomicU64::new(0));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let (h, hd) = (Arc::clone(&hits), Arc::clone(&headers));
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (h, hd) = (Arc::clone(&h), Arc::clone(&hd));
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                hd.lock().unwrap().push(req.headers().clone());
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Target {
            url,
            hits,
            headers,
            _shutdown: tx,
        }
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    /// How many requests carried header `name`.
    pub fn with_header(&self, name: &str) -> usize {
        self.headers
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.contains_key(name))
            .count()
    }

    pub fn last_headers(&self) -> Option<axum::http::HeaderMap> {
        self.headers.lock().unwrap().last().cloned()
    }
}

/// `hey` must be installed; say how if it is not.
pub fn require_hey() {
    let found = Command::new("hey")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`hey` not found on PATH; install it with: apt-get install -y hey"
    );
}
