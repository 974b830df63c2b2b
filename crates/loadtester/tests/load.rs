//! The native load generator (`type: load`) through the real binary.

mod common;

use std::time::Duration;

use common::{Loadtester, Target};
use serde_json::json;

#[tokio::test]
async fn load_sends_real_requests_and_counts_them() {
    let lt = Loadtester::start(&[]);
    let target = Target::start().await;
    let body = json!({"name": "podinfo", "namespace": "test", "metadata": {
        "type": "load", "url": target.url, "rps": "20", "duration": "2s", "concurrency": "2",
        "headers": "X-Canary: insider\n"}});

    let (status, text) = lt.post("/", body.clone()).await;
    assert_eq!((status, text.as_str()), (202, "load started"));
    let (status, text) = lt.post("/", body).await;
    assert_eq!((status, text.as_str()), (202, "load already running"));

    let done = lt
        .wait_metric(
            r#"fledge_loadtester_tasks_total{task="load",result="success"}"#,
            1.0,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(done, 1.0, "load did not finish; logs: {:?}", lt.logs());
    let counted = lt
        .metric(r#"fledge_loadtester_load_requests_total{canary="podinfo.test",outcome="ok"}"#)
        .await;
    // What the target received is exactly what the load tester reports.
    assert_eq!(counted, target.hits() as f64);
    // 20 rps for 2s is about 40 requests; allow for a slow test machine.
    assert!((10.0..=45.0).contains(&counted), "sent {counted} requests");
    assert_eq!(target.last_headers().unwrap()["x-canary"], "insider");
}

#[tokio::test]
async fn load_counts_unreachable_targets_as_errors() {
    let lt = Loadtester::start(&[]);
    // A port that was free a moment ago: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let body = json!({"name": "podinfo", "namespace": "test", "metadata": {
        "type": "load", "url": format!("http://127.0.0.1:{port}/"), "rps": "10", "duration": "1s",
        "concurrency": "1"}});
    assert_eq!(lt.post("/", body).await.0, 202);
    lt.wait_metric(
        r#"fledge_loadtester_tasks_total{task="load",result="success"}"#,
        1.0,
        Duration::from_secs(30),
    )
    .await;
    let errors = lt
        .metric(r#"fledge_loadtester_load_requests_total{canary="podinfo.test",outcome="error"}"#)
        .await;
    assert!(errors >= 1.0, "no errors counted");
}

#[tokio::test]
async fn load_rejects_bad_specs() {
    let lt = Loadtester::start(&["--timeout", "10s"]);
    let (status, text) = lt
        .post(
            "/",
            json!({"name": "p", "namespace": "t", "metadata": {
            "type": "load", "url": "http://127.0.0.1:1/", "duration": "1m"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        text.contains("metadata.duration: 60s is longer than this load tester's --timeout (10s)"),
        "{text}"
    );
}
