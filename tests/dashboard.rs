//! `kubectl fledge dashboard` against the controller, `fledge sim` and a real Prometheus: its
//! HTTP API and Server-Sent Events during a real release, actions with and without the token,
//! `--read-only`, and (tests/browser/dashboard.mjs, Playwright driving Debian's chromium) the
//! page itself: the list, the weight moving without a reload, the promote button, and a
//! rollback showing the failing metric against its threshold.

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::net::{require, runtime};
use support::prometheus::Prometheus;
use support::{Cluster, IMG1, podinfo, repo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(90);
const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-fledge");
const SCENARIO: &str = include_str!("../testdata/e2e/scenario-traffic.yaml");
/// Healthy in the scenario (100% success).
const HEALTHY: &str = "ghcr.io/stefanprodan/podinfo:6.0.1";
/// 70% success: rolled back.
const FAULTY: &str = "ghcr.io/stefanprodan/podinfo:6.0.3";

/// A Gateway API canary with weights 10..50 every 2s, judged on the success rate, and a
/// closed confirm-promotion gate: the release waits at 50% until someone promotes it.
fn canary(prometheus: &str) -> String {
    format!(
        r#"apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: {NS}}}
spec:
  provider: gatewayapi:v1
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  progressDeadlineSeconds: 60
  metricsServer: {prometheus}
  service:
    port: 9898
    hosts: [podinfo.example.com]
    gatewayRefs: [{{name: public, namespace: gateways}}]
  analysis:
    interval: 2s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
    metrics:
      - name: request-success-rate
        interval: 10s
        thresholdRange: {{min: 99}}
        minSampleCount: 50
    webhooks:
      - name: release-gate
        type: confirm-promotion
        url: http://127.0.0.1:9/closed
"#
    )
}

/// A sim with traffic, Prometheus scraping it, podinfo and the Canary, a controller; returns
/// once the Canary is Initialized.
fn world() -> (Cluster, Prometheus) {
    world_in(Cluster::with(SCENARIO, None))
}

/// [`world`] in `c`, either world.
fn world_in(mut c: Cluster) -> (Cluster, Prometheus) {
    let prom = Prometheus::scraping(&c.url);
    c.apply_file(&repo().join("testdata/crds/gateway-api-httproutes.yaml"));
    c.apply(&podinfo(NS, IMG1, 2));
    c.apply(&canary(&prom.url));
    c.start_controller(&[]);
    c.wait_phase(NS, "podinfo", "Initialized", T);
    (c, prom)
}

/// A running `kubectl fledge dashboard`; killed on drop.
struct Dashboard {
    child: Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    /// The URL it printed, with the token.
    url: String,
    token: String,
}

impl Dashboard {
    fn start(c: &Cluster, extra: &[&str]) -> Dashboard {
        // Through kubectl's plugin discovery, which execs the plugin in its own process.
        let dir = std::path::Path::new(PLUGIN).parent().expect("plugin dir");
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new("kubectl")
            .args(["fledge", "dashboard", "--port", "0", "-n", NS])
            .args(extra)
            .env("KUBECONFIG", &c.kubeconfig)
            .env("PATH", path)
            // The test controller's --min-interval, so the plan's times match what it does.
            .env("FLEDGE_MIN_INTERVAL", "1s")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl-fledge dashboard");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("dashboard URL");
        if first.is_empty() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("the dashboard printed no URL: {err}");
        }
        let url = first.trim().to_string();
        let (base, token) = url
            .split_once("/?token=")
            .map(|(b, t)| (b.to_string(), t.to_string()))
            .unwrap_or_else(|| panic!("first line is not the URL with its token: {url}"));
        assert!(base.starts_with("http://127.0.0.1:"), "{url}");
        Dashboard {
            child,
            base,
            url,
            token,
        }
    }

    fn get(&self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let url = format!("{}{path}", self.base);
        runtime().block_on(async {
            let resp = reqwest::get(&url).await.expect("GET");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            (status, resp.text().await.expect("body"), headers)
        })
    }

    fn json(&self, path: &str) -> (u16, Value) {
        let (status, body, _) = self.get(path);
        (status, serde_json::from_str(&body).expect("JSON"))
    }

    fn act(&self, action: &str, token: Option<&str>) -> (u16, Value) {
        let url = format!("{}/api/canaries/{NS}/podinfo/actions/{action}", self.base);
        runtime().block_on(async {
            let mut request = reqwest::Client::new().post(&url);
            if let Some(token) = token {
                request = request.header("X-Fledge-Token", token);
            }
            let resp = request.send().await.expect("POST");
            let status = resp.status().as_u16();
            (status, resp.json().await.expect("JSON"))
        })
    }

    /// Server-Sent Events from `path`, as (event, data) pairs, read in the background.
    fn events(&self, path: &str) -> mpsc::Receiver<(String, Value)> {
        let (tx, rx) = mpsc::channel();
        let url = format!("{}{path}", self.base);
        runtime().spawn(async move {
            let Ok(mut resp) = reqwest::get(&url).await else {
                return;
            };
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let mut event = String::from("message");
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(e) = line.strip_prefix("event:") {
                            event = e.trim().to_string();
                        } else if let Some(d) = line.strip_prefix("data:") {
                            data.push_str(d.trim_start());
                        }
                    }
                    if data.is_empty() {
                        continue; // a keep-alive comment
                    }
                    let value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    if tx.send((event, value)).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads events until one satisfies `pred`; returns it.
fn next_matching(
    rx: &mpsc::Receiver<(String, Value)>,
    what: &str,
    pred: impl Fn(&str, &Value) -> bool,
) -> Value {
    let deadline = Instant::now() + T;
    let mut last = Value::Null;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok((event, data)) if pred(&event, &data) => return data,
            Ok((_, data)) => last = data,
            Err(_) => break,
        }
    }
    panic!(
        "no event with {what}; the last one's summary: {:#}",
        last["summary"]
    );
}

fn phase(detail: &Value) -> &str {
    detail["summary"]["phase"].as_str().unwrap_or_default()
}

fn weight(detail: &Value) -> i64 {
    detail["summary"]["canaryWeight"].as_i64().unwrap_or(-1)
}

/// A raw HTTP/1.1 request with the given Host header; the status code.
fn status_with_host(base: &str, host: &str) -> u16 {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET /api/canaries HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("status");
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_dashboard_serves_streams_and_acts_only_with_its_token() {
    for c in worlds(SCENARIO) {
        let (c, _prom) = world_in(c);
        let d = Dashboard::start(&c, &[]);

        // The page and its assets come from the binary, with a policy that allows nothing else.
        let (status, page, headers) = d.get("/");
        assert_eq!(status, 200);
        assert!(page.contains("<title>fledge"), "{page}");
        let csp = headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        for asset in ["/app.js", "/app.css"] {
            assert_eq!(d.get(asset).0, 200, "{asset}");
        }
        // A page that rebinds some other name to 127.0.0.1 gets nothing.
        assert_eq!(status_with_host(&d.base, "evil.example:80"), 403);
        assert_eq!(status_with_host(&d.base, &d.base[7..]), 200);

        let (_, config) = d.json("/api/config");
        assert_eq!(config["readOnly"], false);
        assert_eq!(config["namespace"], NS);
        let (status, list) = d.json("/api/canaries");
        assert_eq!(status, 200);
        assert_eq!(list["items"][0]["name"], "podinfo");
        assert_eq!(list["items"][0]["phase"], "Initialized");
        let (status, missing) = d.json("/api/canaries/test/nothere");
        assert_eq!(status, 404, "{missing}");

        // The stream pushes the release as it moves.
        let list_events = d.events("/api/stream");
        let events = d.events("/api/canaries/test/podinfo/stream");
        let first = next_matching(&events, "the first detail", |e, _| e == "detail");
        assert_eq!(phase(&first), "Initialized");
        c.set_image(NS, "podinfo", HEALTHY);
        let moving = next_matching(&events, "a weight above 0", |_, d| weight(d) > 0);
        let at = weight(&moving);
        let later = next_matching(&events, "a later weight", |_, d| weight(d) > at);
        assert!(later["summary"]["images"][0] == HEALTHY, "{later:#}");
        assert!(
            later["canary"]["status"]["steps"]
                .as_array()
                .is_some_and(|s| !s.is_empty()),
            "the steps are there for the charts"
        );
        assert_eq!(later["route"]["canary"], later["summary"]["canaryWeight"]);
        next_matching(&list_events, "the list during the release", |_, l| {
            l["items"][0]["canaryWeight"].as_i64().unwrap_or(0) > 0
        });

        // Actions: refused without the token or with a wrong one, carried out with it.
        let (status, body) = d.act("promote", None);
        assert_eq!(status, 403, "{body}");
        let (status, body) = d.act("promote", Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(status, 403, "{body}");
        next_matching(&events, "WaitingPromotion", |_, d| {
            phase(d) == "WaitingPromotion"
        });
        let (status, body) = d.act("promote", Some(&d.token));
        assert_eq!(status, 200, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("promote carried out")),
            "{body}"
        );
        let done = next_matching(&events, "Succeeded", |_, d| phase(d) == "Succeeded");
        assert_eq!(done["actions"]["abort"]["allowed"], false);
        // What makes no sense now is refused with why.
        let (status, body) = d.act("abort", Some(&d.token));
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|m| m.contains("nothing to abort in phase Succeeded")),
            "{body}"
        );
        let (status, _) = d.act("explode", Some(&d.token));
        assert_eq!(status, 404);
        assert!(d.url.contains(&d.token));

        // Read-only: no actions at all, even with its token.
        let ro = Dashboard::start(&c, &["--read-only"]);
        let (_, config) = ro.json("/api/config");
        assert_eq!(config["readOnly"], true);
        let (status, body) = ro.act("pause", Some(&ro.token));
        assert_eq!(status, 403, "{body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|m| m.contains("read-only")),
            "{body}"
        );
        c.assert_no_refusals();
    }
}

/// Where the browser test leaves its screenshots: `FLEDGE_SCREENSHOTS` (make screenshots sets
/// docs/images), else a temp dir.
fn screenshot_dir(c: &Cluster) -> PathBuf {
    std::env::var_os("FLEDGE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| c.path("screenshots"))
}

fn browser(d: &Dashboard, scenario: &str, shots: &std::path::Path) {
    let out = Command::new("node")
        .arg(repo().join("tests/browser/dashboard.mjs"))
        .args(["--url", &d.url, "--canary", &format!("{NS}/podinfo")])
        .args(["--scenario", scenario, "--screenshots"])
        .arg(shots)
        .output()
        .expect("node (Debian package nodejs; make test installs it)");
    assert!(
        out.status.success(),
        "browser scenario {scenario} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn in_a_browser_a_release_moves_on_screen_is_promoted_and_a_rollback_shows_the_failing_metric() {
    require("chromium", "chromium");
    assert!(
        repo()
            .join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (make test does)"
    );
    let (c, _prom) = world();
    let d = Dashboard::start(&c, &[]);
    let shots = screenshot_dir(&c);
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    c.set_image(NS, "podinfo", HEALTHY);
    browser(&d, "release", &shots);
    assert_eq!(c.phase(NS, "podinfo"), "Succeeded");
    assert_eq!(c.image(NS, "podinfo-primary"), HEALTHY);

    c.set_image(NS, "podinfo", FAULTY);
    browser(&d, "rollback", &shots);
    assert_eq!(c.phase(NS, "podinfo"), "Failed");
    for shot in [
        "dashboard-list.png",
        "dashboard-release.png",
        "dashboard-rollback.png",
    ] {
        let bytes = std::fs::read(shots.join(shot)).expect(shot);
        assert!(bytes.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
}
