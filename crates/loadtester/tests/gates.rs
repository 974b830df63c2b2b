//! Manual gates and rollback flags, through the real binary.

mod common;

use common::Loadtester;
use serde_json::json;

#[tokio::test]
async fn gates_are_closed_until_opened_and_per_canary() {
    let lt = Loadtester::start(&[]);
    let podinfo = json!({"name": "podinfo", "namespace": "test"});
    let other = json!({"name": "other", "namespace": "test"});

    assert_eq!(
        lt.post("/gate/check", podinfo.clone()).await,
        (403, "Forbidden".into())
    );
    assert_eq!(
        lt.post("/gate/open", podinfo.clone()).await,
        (202, "gate opened".into())
    );
    assert_eq!(
        lt.post("/gate/check", podinfo.clone()).await,
        (200, "Approved".into())
    );
    assert_eq!(lt.post("/gate/check", other.clone()).await.0, 403);
    // The rollback flag is a separate switch.
    assert_eq!(lt.post("/rollback/check", podinfo.clone()).await.0, 403);
    assert_eq!(
        lt.post("/gate/close", podinfo.clone()).await,
        (202, "gate closed".into())
    );
    assert_eq!(lt.post("/gate/check", podinfo.clone()).await.0, 403);

    assert_eq!(
        lt.metric(r#"fledge_loadtester_gate_checks_total{gate="gate",answer="open"}"#)
            .await,
        1.0
    );
    assert_eq!(
        lt.metric(r#"fledge_loadtester_gate_checks_total{gate="gate",answer="closed"}"#)
            .await,
        3.0
    );
}

#[tokio::test]
async fn rollback_flag_opens_and_closes() {
    let lt = Loadtester::start(&[]);
    let p = json!({"name": "podinfo", "namespace": "test", "phase": "Progressing"});
    assert_eq!(
        lt.post("/rollback/check", p.clone()).await,
        (403, "Forbidden".into())
    );
    assert_eq!(
        lt.post("/rollback/open", p.clone()).await,
        (202, "rollback opened".into())
    );
    assert_eq!(
        lt.post("/rollback/check", p.clone()).await,
        (200, "Approved".into())
    );
    assert_eq!(lt.post("/gate/check", p.clone()).await.0, 403);
    assert_eq!(
        lt.post("/rollback/close", p.clone()).await,
        (202, "rollback closed".into())
    );
    assert_eq!(lt.post("/rollback/check", p).await.0, 403);
}

#[tokio::test]
async fn fixed_gates_health_and_form_encoded_bodies() {
    let lt = Loadtester::start(&[]);
    assert_eq!(
        lt.post("/gate/approve", json!({})).await,
        (200, "Approved".into())
    );
    assert_eq!(
        lt.post("/gate/halt", json!({})).await,
        (403, "Forbidden".into())
    );
    assert_eq!(lt.get("/healthz").await, (200, "OK".into()));
    // `curl -d` (Flagger's documented way to open a gate) sends a form content type.
    let resp = reqwest::Client::new()
        .post(format!("{}/gate/open", lt.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"name":"podinfo","namespace":"test"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let (status, text) = lt.post_raw("/gate/check", "not json").await;
    assert_eq!(status, 400);
    assert!(text.starts_with("invalid webhook payload"), "{text}");
}

#[tokio::test]
async fn namespace_regexp_rejects_other_namespaces() {
    let lt = Loadtester::start(&["--namespace-regexp", "^test$"]);
    let allowed = json!({"name": "podinfo", "namespace": "test",
        "metadata": {"type": "bash", "cmd": "true"}});
    let denied = json!({"name": "podinfo", "namespace": "prod",
        "metadata": {"type": "bash", "cmd": "true"}});
    assert_eq!(lt.post("/", allowed).await.0, 200);
    let (status, text) = lt.post("/", denied.clone()).await;
    assert_eq!(status, 403);
    assert!(
        text.contains(r#"namespace "prod" does not match --namespace-regexp "^test$""#),
        "{text}"
    );
    // Gates are guarded too: a denied namespace cannot open its gate.
    assert_eq!(lt.post("/gate/open", denied).await.0, 403);
}
