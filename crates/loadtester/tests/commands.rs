//! `cmd`, `bash` and `kubectl` tasks through the real binary, with real `sh`, `bash`, `hey` and
//! `kubectl`.

mod common;

use std::time::Duration;

use common::{Loadtester, Target, require_hey};
use serde_json::json;

fn task(metadata: serde_json::Value) -> serde_json::Value {
    json!({"name": "podinfo", "namespace": "test", "phase": "Progressing",
        "checksum": "abc", "metadata": metadata})
}

#[tokio::test]
async fn cmd_runs_hey_in_the_background_and_deduplicates() {
    require_hey();
    let lt = Loadtester::start(&[]);
    let target = Target::start().await;
    let cmd = format!("hey -z 2s -q 10 -c 2 {}", target.url);

    let (status, text) = lt.post("/", task(json!({"cmd": cmd}))).await;
    assert_eq!((status, text.as_str()), (202, "command started"));
    // The same command for the same canary while it runs is accepted but not started twice.
    let (status, text) = lt.post("/", task(json!({"type": "cmd", "cmd": cmd}))).await;
    assert_eq!((status, text.as_str()), (202, "command already running"));

    let done = lt
        .wait_metric(
            r#"fledge_loadtester_tasks_total{task="cmd",result="success"}"#,
            1.0,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(done, 1.0, "hey did not finish; logs: {:?}", lt.logs());
    assert_eq!(
        lt.metric(r#"fledge_loadtester_tasks_total{task="cmd",result="deduplicated"}"#)
            .await,
        1.0
    );
    assert!(
        target.hits() >= 5,
        "hey sent only {} requests",
        target.hits()
    );
    // Finished, so the same command may run again.
    assert_eq!(
        lt.post("/", task(json!({"cmd": "true"}))).await.1,
        "command started"
    );
}

#[tokio::test]
async fn bash_returns_output_when_asked_and_500_on_failure() {
    let lt = Loadtester::start(&[]);
    let (status, text) = lt
        .post("/", task(json!({"type": "bash", "cmd": "echo hello; echo warn >&2", "returnCmdOutput": "true"})))
        .await;
    assert_eq!((status, text.as_str()), (200, "hello\nwarn\n"));

    let (status, text) = lt
        .post("/", task(json!({"type": "bash", "cmd": "echo hello"})))
        .await;
    assert_eq!((status, text.as_str()), (200, ""));

    let (status, text) = lt
        .post(
            "/",
            task(json!({"type": "bash", "cmd": "echo smoke test failed; exit 3"})),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(text, "command failed (exit status: 3): smoke test failed\n");
}

#[tokio::test]
async fn kubectl_runs_the_real_kubectl() {
    let lt = Loadtester::start(&[]);
    let (status, text) = lt
        .post(
            "/",
            task(json!({"type": "kubectl", "cmd": "version --client", "returnCmdOutput": "true"})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Client Version"), "{text}");
    let (status, text) = lt
        .post(
            "/",
            task(json!({"type": "kubectl", "cmd": "no-such-subcommand"})),
        )
        .await;
    assert_eq!(status, 500, "{text}");
    assert!(
        text.starts_with("command failed (exit status: 1)"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_requests_get_400_with_a_message_and_the_service_survives() {
    let lt = Loadtester::start(&[]);
    for (body, want) in [
        (
            task(json!({"type": "helm", "cmd": "test x"})),
            "fledge-loadtester does not run",
        ),
        (
            task(json!({"type": "frobnicate"})),
            r#"unknown task type "frobnicate" in metadata.type (supported types: cmd, bash, kubectl, load)"#,
        ),
        (
            json!({"name": "podinfo", "namespace": "test"}),
            "metadata not found in payload",
        ),
        (
            task(json!({"type": "bash"})),
            r#"metadata.cmd is required for task type "bash""#,
        ),
        (
            task(json!({"cmd": "true", "logCmdOutput": "yes"})),
            "metadata.logCmdOutput must be",
        ),
        (
            task(json!({"type": "load", "url": "http://127.0.0.1:1/", "rps": "1e-300"})),
            r#"metadata.rps: must be a number from 0.001 to 10000 (got "1e-300")"#,
        ),
    ] {
        let (status, text) = lt.post("/", body.clone()).await;
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(want), "{body}: {text}");
    }
    assert_eq!(lt.get("/healthz").await.0, 200);
}

#[tokio::test]
async fn commands_time_out_without_blocking_other_requests() {
    let lt = Loadtester::start(&["--timeout", "2s"]);
    let slow = {
        let body = task(json!({"type": "bash", "cmd": "sleep 60"}));
        let base = lt.base.clone();
        tokio::spawn(async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}/"))
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    };
    // While the slow command runs, the service keeps answering.
    let running = lt
        .wait_metric(
            r#"fledge_loadtester_tasks_running{task="bash"}"#,
            1.0,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(running, 1.0);
    assert_eq!(lt.get("/healthz").await.0, 200);
    assert!(!slow.is_finished());
    assert_eq!(
        lt.post("/", task(json!({"type": "bash", "cmd": "true"})))
            .await
            .0,
        200
    );

    let (status, text) = slow.await.unwrap();
    assert_eq!(status, 500);
    assert_eq!(text, "bash timed out after 2s and was killed");
    assert_eq!(
        lt.metric(r#"fledge_loadtester_tasks_total{task="bash",result="timeout"}"#)
            .await,
        1.0
    );
    assert_eq!(
        lt.metric(r#"fledge_loadtester_tasks_running{task="bash"}"#)
            .await,
        0.0
    );

    // Asynchronous commands are held to the same limit.
    assert_eq!(lt.post("/", task(json!({"cmd": "sleep 60"}))).await.0, 202);
    let timed_out = lt
        .wait_metric(
            r#"fledge_loadtester_tasks_total{task="cmd",result="timeout"}"#,
            1.0,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(timed_out, 1.0);
}
