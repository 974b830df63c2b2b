//! The hooks of testdata/loadtester/canary.yaml, sent to the real binary as the controller would
//! send them, and the shipped Deployment's arguments and probes.

mod common;

use std::time::Duration;

use common::{Loadtester, Target, require_hey, wait_for_process};
use serde_json::{Value, json};

fn testdata(path: &str) -> String {
    let full = concat!(env!("CARGO_MANIFEST_DIR"), "/../../").to_owned() + path;
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The example's webhooks with the app's address replaced by the loopback target.
fn example_hooks(target: &Target) -> Vec<Value> {
    let canary: Value =
        serde_saphyr::from_str(&testdata("testdata/loadtester/canary.yaml")).unwrap();
    let host = target
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let text = canary["spec"]["analysis"]["webhooks"]
        .to_string()
        .replace("podinfo-canary.test:9898", &host);
    serde_json::from_str(&text).unwrap()
}

/// What the controller posts for a hook.
async fn send(lt: &Loadtester, hook: &Value) -> (u16, String) {
    let url = reqwest::Url::parse(hook["url"].as_str().unwrap()).unwrap();
    let mut payload = json!({"name": "podinfo", "namespace": "test", "phase": "Progressing",
        "checksum": "5d7f8c"});
    if let Some(m) = hook.get("metadata") {
        payload["metadata"] = m.clone();
    }
    lt.post(url.path(), payload).await
}

#[tokio::test]
async fn the_example_canary_hooks_work_unchanged() {
    require_hey();
    let mut lt = Loadtester::start(&[]);
    let target = Target::start().await;
    let hooks = example_hooks(&target);
    let by_name = |n: &str| hooks.iter().find(|h| h["name"] == n).unwrap().clone();

    assert_eq!(
        send(&lt, &by_name("acceptance-test")).await,
        (200, String::new())
    );
    assert_eq!(send(&lt, &by_name("load-test")).await.0, 202);
    assert_eq!(send(&lt, &by_name("load-test-native")).await.0, 202);
    // The next analysis step fires the same hooks again: deduplicated, not stacked.
    assert_eq!(
        send(&lt, &by_name("load-test")).await.1,
        "command already running"
    );
    assert_eq!(
        send(&lt, &by_name("load-test-native")).await.1,
        "load already running"
    );

    let gate = by_name("approve-promotion");
    assert_eq!(send(&lt, &gate).await.0, 403);
    lt.post(
        "/gate/open",
        json!({"name": "podinfo", "namespace": "test"}),
    )
    .await;
    assert_eq!(send(&lt, &gate).await, (200, "Approved".into()));
    assert_eq!(send(&lt, &by_name("manual-rollback")).await.0, 403);

    // Both load generators reach the app: hey's requests are the ones the native counter lacks.
    let native_sample =
        r#"fledge_loadtester_load_requests_total{canary="podinfo.test",outcome="ok"}"#;
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let native = lt.metric(native_sample).await;
        let hits = target.hits() as f64;
        // 1 request is the acceptance test's curl.
        if native >= 3.0 && hits - 1.0 - native >= 3.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "native {native}, total {hits}; logs {:?}",
            lt.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The native generator sends the example's header (hey's requests, interleaved, don't).
    assert!(target.with_header("x-canary") >= 3, "{}", target.hits());

    // Stopping the service stops the minute-long hey it started.
    let hey = format!("hey -z 1m -q 10 -c 2 {}", target.url);
    wait_for_process(&hey, true, Duration::from_secs(10));
    lt.stop();
    // hey must not outlive the load tester.
    wait_for_process(&hey, false, Duration::from_secs(10));
}

#[tokio::test]
async fn the_shipped_deployment_args_start_and_its_probes_answer() {
    let docs = testdata("deploy/loadtester/deployment.yaml");
    let deploy: Value = serde_saphyr::from_str(&docs).unwrap();
    let pod = &deploy["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    // Hardening the issue asks for.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["requests"]["memory"].is_string());

    // The container's args (with a free loopback port instead of 8080) are accepted ...
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .filter(|a| !a.starts_with("--port") && !a.starts_with("--log-format"))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let lt = Loadtester::start(&args);
    // ... and both probes hit a path that answers 200.
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = c[probe]["httpGet"]["path"].as_str().unwrap();
        assert_eq!(lt.get(path).await.0, 200, "{probe} {path}");
    }
}

#[tokio::test]
async fn stopping_the_service_kills_running_commands() {
    let mut lt = Loadtester::start(&[]);
    let marker = "sleep 1234.5";
    let (status, _) = lt
        .post(
            "/",
            json!({"name": "p", "namespace": "t", "metadata": {"cmd": marker}}),
        )
        .await;
    assert_eq!(status, 202);
    lt.wait_metric(
        r#"fledge_loadtester_tasks_running{task="cmd"}"#,
        1.0,
        Duration::from_secs(10),
    )
    .await;
    wait_for_process(marker, true, Duration::from_secs(10));
    lt.stop();
    // The command must not outlive the load tester.
    wait_for_process(marker, false, Duration::from_secs(10));
}
