//! A real Prometheus scrapes the sim's `/metrics`, and Flagger's builtin success-rate queries
//! for each provider read about 70 for a canary at 20% weight whose image succeeds 70% of the
//! time (testdata/sim/scenario-canary-70.yaml). The duration queries read plausible values.

mod traffic_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use traffic_support::start_canary_70;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A Prometheus process that is killed when dropped (also when the test panics).
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(target: &str) -> Prometheus {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "prometheus not found: apt-get install -y prometheus hey"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: fledge-sim\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Runs an instant query; `None` until it returns a sample.
async fn query(client: &reqwest::Client, prom: &str, q: &str) -> Option<f64> {
    let resp = client
        .get(format!(
            "{prom}/api/v1/query?query={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .ok()?;
    let body: serde_json::Value = resp.json().await.ok()?;
    body["data"]["result"][0]["value"][1]
        .as_str()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn ratio(ok: &str, all: &str) -> String {
    format!("sum(rate({ok}[30s])) / sum(rate({all}[30s])) * 100")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_queries_read_the_canary_success_rate() {
    let sim = start_canary_70(|_| {}).await;
    let prom = start_prometheus(&sim.addr().to_string());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();

    let pods =
        r#"kubernetes_namespace="test",kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)""#;
    let istio = r#"reporter="destination",destination_workload_namespace="test",destination_workload=~"podinfo""#;
    let linkerd = r#"namespace="test",deployment=~"podinfo",direction="inbound""#;
    let nginx = r#"namespace="test",ingress="podinfo",canary!="""#;
    let success_rates = [
        (
            "kubernetes",
            ratio(
                &format!(r#"http_request_duration_seconds_count{{{pods},status!~"5.*"}}"#),
                &format!("http_request_duration_seconds_count{{{pods}}}"),
            ),
        ),
        (
            "istio",
            ratio(
                &format!(r#"istio_requests_total{{{istio},response_code!~"5.*"}}"#),
                &format!("istio_requests_total{{{istio}}}"),
            ),
        ),
        (
            "linkerd",
            ratio(
                &format!(r#"response_total{{{linkerd},classification!="failure"}}"#),
                &format!("response_total{{{linkerd}}}"),
            ),
        ),
        (
            "nginx",
            ratio(
                &format!(r#"nginx_ingress_controller_requests{{{nginx},status!~"5.*"}}"#),
                &format!("nginx_ingress_controller_requests{{{nginx}}}"),
            ),
        ),
        (
            "appmesh",
            ratio(
                &format!(r#"envoy_cluster_upstream_rq{{{pods},envoy_response_code!~"5.*"}}"#),
                &format!("envoy_cluster_upstream_rq{{{pods}}}"),
            ),
        ),
    ];
    // Canary request rate: 20% of 50 rps, across every pod of the canary only. A short window,
    // because rate() over 30s of a counter younger than 30s under-reads until the window fills.
    let canary_rps = format!("sum(rate(http_request_duration_seconds_count{{{pods}}}[5s]))");
    let durations = [
        (
            "kubernetes p99 ms",
            format!(
                "histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{{{pods}}}[30s])) by (le)) * 1000"
            ),
        ),
        (
            "istio p99 ms",
            format!(
                "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{{{istio}}}[30s])) by (le))"
            ),
        ),
        (
            "linkerd p99 ms",
            format!(
                "histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{{{linkerd}}}[30s])) by (le))"
            ),
        ),
        (
            "nginx mean ms",
            format!(
                "sum(rate(nginx_ingress_controller_response_duration_seconds_sum{{{nginx}}}[30s])) / sum(rate(nginx_ingress_controller_response_duration_seconds_count{{{nginx}}}[30s])) * 1000"
            ),
        ),
    ];

    // Prometheus needs a few scrapes before rate() has two samples; poll until every query
    // reads in range, and report the last readings if they never do.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut readings = Vec::new();
        for (name, q) in &success_rates {
            let v = query(&client, &prom.url, q).await;
            readings.push((*name, v, v.is_some_and(|v| (65.0..=75.0).contains(&v))));
        }
        let rps = query(&client, &prom.url, &canary_rps).await;
        readings.push((
            "canary rps",
            rps,
            rps.is_some_and(|v| (8.0..=12.0).contains(&v)),
        ));
        for (name, q) in &durations {
            // p50 20ms, p99 80ms: bucket interpolation stays well inside these bounds.
            let v = query(&client, &prom.url, q).await;
            readings.push((*name, v, v.is_some_and(|v| (10.0..=250.0).contains(&v))));
        }
        if readings.iter().all(|(_, _, ok)| *ok) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queries never all read in range: {readings:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(prom);
    sim.shutdown().await;
}
