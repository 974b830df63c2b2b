//! Every webhook type against a real loopback HTTP receiver, using the hooks of
//! testdata/webhooks/canary.yaml.

mod common;

use std::time::Duration;

use common::{Mode, Receiver, closed_port, testdata};
use fledge_api::{Canary, CanaryWebhook, HookType};
use fledge_hooks::{
    CanaryEvent, CanaryRef, EventType, HookError, RetryPolicy, Verdict, WebhookClient, classify,
    event_hooks,
};
use serde_json::json;

fn example_hooks(receiver: &Receiver) -> Vec<CanaryWebhook> {
    let canary: Canary = serde_saphyr::from_str(&testdata("webhooks/canary.yaml")).unwrap();
    let mut hooks = canary.spec.analysis.unwrap().webhooks;
    for h in &mut hooks {
        h.url = receiver.rebase(&h.url);
    }
    hooks
}

fn canary() -> CanaryRef {
    CanaryRef {
        name: "podinfo".into(),
        namespace: "test".into(),
        phase: "Progressing".into(),
        checksum: "5d7f8c".into(),
    }
}

fn event() -> CanaryEvent {
    CanaryEvent {
        message: "Advance podinfo.test canary weight 10".into(),
        event_type: EventType::Normal,
        timestamp: jiff::Timestamp::from_millisecond(1_763_780_000_000).unwrap(),
    }
}

/// Fast retries so the tests don't wait seconds between attempts.
fn client() -> WebhookClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    WebhookClient::with_retry_policy(RetryPolicy {
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    })
    .unwrap()
}

async fn call(client: &WebhookClient, hook: &CanaryWebhook) -> fledge_hooks::HookOutcome {
    if hook.type_ == HookType::Event {
        client.call_event(hook, &canary(), &event()).await
    } else {
        client.call(hook, &canary()).await
    }
}

#[tokio::test]
async fn every_hook_type_posts_flaggers_payload_and_passes_on_2xx() {
    let receiver = Receiver::start(Mode::Reply(200, "ok".into())).await;
    let hooks = example_hooks(&receiver);
    let types: Vec<HookType> = hooks.iter().map(|h| h.type_).collect();
    assert_eq!(
        types,
        HookType::ALL,
        "the example uses every type once, in order"
    );
    let client = client();
    for hook in &hooks {
        receiver.clear();
        let outcome = call(&client, hook).await;
        assert!(outcome.succeeded(), "{outcome}");
        assert_eq!(outcome.verdict(), classify(hook.type_, true));
        assert_eq!(outcome.result.as_ref().unwrap().body, "ok");
        let got = receiver.received();
        assert_eq!(got.len(), 1, "{}", hook.name);
        assert_eq!(got[0].headers["content-type"], "application/json");
        let mut want = json!({"name": "podinfo", "namespace": "test", "phase": "Progressing",
            "checksum": "5d7f8c"});
        let mut metadata = serde_json::to_value(&hook.metadata).unwrap();
        if hook.type_ == HookType::Event {
            metadata["eventMessage"] = json!("Advance podinfo.test canary weight 10");
            metadata["eventType"] = json!("Normal");
            metadata["timestamp"] = json!("1763780000000");
        }
        if metadata.as_object().is_some_and(|m| !m.is_empty()) {
            want["metadata"] = metadata;
        }
        assert_eq!(got[0].json(), want, "{}", hook.name);
        assert_eq!(got[0].path, reqwest::Url::parse(&hook.url).unwrap().path());
    }
}

#[tokio::test]
async fn a_403_is_a_refusal_with_each_types_meaning_and_is_not_retried() {
    let receiver = Receiver::start(Mode::Reply(403, "waiting for approval".into())).await;
    let client = client();
    let mut verdicts = Vec::new();
    for hook in example_hooks(&receiver) {
        receiver.clear();
        let hook = CanaryWebhook {
            retries: Some(3),
            ..hook
        };
        let outcome = call(&client, &hook).await;
        assert_eq!(
            outcome.result,
            Err(HookError::Status {
                status: 403,
                body: "waiting for approval".into()
            })
        );
        assert_eq!(outcome.attempts, 1, "a refusal is an answer, not a fault");
        assert_eq!(receiver.received().len(), 1);
        verdicts.push((hook.type_, outcome.verdict()));
    }
    use HookType::*;
    assert_eq!(
        verdicts,
        [
            (ConfirmRollout, Verdict::Hold),
            (PreRollout, Verdict::FailedCheck),
            (Rollout, Verdict::FailedCheck),
            (ConfirmTrafficIncrease, Verdict::Hold),
            (ConfirmPromotion, Verdict::Hold),
            (PostRollout, Verdict::Ignore),
            (Rollback, Verdict::Ignore),
            (Event, Verdict::Ignore),
        ]
    );
}

#[tokio::test]
async fn a_rollback_hook_answering_2xx_means_roll_back() {
    let receiver = Receiver::start(Mode::Reply(200, "Approved".into())).await;
    let hook = example_hooks(&receiver)
        .into_iter()
        .find(|h| h.type_ == HookType::Rollback)
        .unwrap();
    let outcome = client().call(&hook, &canary()).await;
    assert_eq!(outcome.verdict(), Verdict::RollBack);
}

#[tokio::test]
async fn a_500_is_retried_and_the_error_keeps_status_and_body() {
    let receiver = Receiver::start(Mode::Reply(500, "boom: database down".into())).await;
    let hook = example_hooks(&receiver)
        .into_iter()
        .find(|h| h.name == "load-test")
        .unwrap();
    assert_eq!(hook.retries, Some(2));
    let outcome = client().call(&hook, &canary()).await;
    assert_eq!(outcome.attempts, 3);
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(outcome.verdict(), Verdict::FailedCheck);
    assert_eq!(
        outcome.to_string(),
        "webhook load-test (rollout) failed after 3 attempts: HTTP 500 Internal Server Error: boom: database down"
    );
}

#[tokio::test]
async fn a_flaky_hook_passes_once_a_retry_succeeds() {
    let receiver = Receiver::start(Mode::FailFirst(2)).await;
    let hook = CanaryWebhook {
        name: "flaky".into(),
        url: format!("{}/", receiver.base),
        retries: Some(2),
        ..Default::default()
    };
    let outcome = client().call(&hook, &canary()).await;
    assert!(outcome.succeeded(), "{outcome}");
    assert_eq!(outcome.attempts, 3);
}

#[tokio::test]
async fn a_slow_hook_times_out() {
    let receiver = Receiver::start(Mode::Slow(Duration::from_secs(30))).await;
    let hook = CanaryWebhook {
        name: "slow".into(),
        type_: HookType::PreRollout,
        url: format!("{}/", receiver.base),
        timeout: Some("300ms".into()),
        ..Default::default()
    };
    let outcome = client().call(&hook, &canary()).await;
    assert_eq!(
        outcome.result,
        Err(HookError::Timeout {
            timeout: Duration::from_millis(300)
        })
    );
    assert_eq!(outcome.verdict(), Verdict::FailedCheck);
    assert_eq!(
        outcome.to_string(),
        "webhook slow (pre-rollout) failed: no answer within the 0.3s timeout"
    );
}

#[tokio::test]
async fn connection_refused_is_reported_without_panicking() {
    let hook = CanaryWebhook {
        name: "gone".into(),
        type_: HookType::ConfirmPromotion,
        url: format!("http://127.0.0.1:{}/gate/check", closed_port()),
        retries: Some(1),
        ..Default::default()
    };
    let outcome = client().call(&hook, &canary()).await;
    assert_eq!(outcome.attempts, 2);
    match &outcome.result {
        Err(HookError::Connect(msg)) => assert!(msg.contains("refused"), "{msg}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert_eq!(outcome.verdict(), Verdict::Hold);
}

#[tokio::test]
async fn invalid_urls_fail_without_a_request() {
    let hook = CanaryWebhook {
        name: "typo".into(),
        url: "htp:/loadtester".into(),
        retries: Some(5),
        ..Default::default()
    };
    let outcome = client().call(&hook, &canary()).await;
    assert_eq!(outcome.attempts, 1);
    assert!(matches!(outcome.result, Err(HookError::InvalidUrl { .. })));
}

#[tokio::test]
async fn hooks_in_one_step_run_concurrently_and_keep_their_order() {
    // Each request is held until all three are in flight; sent one by one they would fail.
    let receiver = Receiver::start(Mode::Together(3)).await;
    let hooks: Vec<CanaryWebhook> = ["a", "b", "c"]
        .into_iter()
        .map(|n| CanaryWebhook {
            name: n.into(),
            url: format!("{}/{n}", receiver.base),
            ..Default::default()
        })
        .collect();
    let outcomes = client().run_concurrently(&hooks, &canary()).await;
    let names: Vec<&str> = outcomes.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    for o in &outcomes {
        assert!(o.succeeded(), "{o}");
        assert_eq!(o.result.as_ref().unwrap().body, "together");
    }
}

#[tokio::test]
async fn the_global_event_webhook_gets_events_when_the_canary_has_no_event_hook() {
    let receiver = Receiver::start(Mode::Reply(202, String::new())).await;
    let url = format!("{}/events", receiver.base);
    let targets = event_hooks(&[], Some(&url));
    let warning = CanaryEvent {
        message: "Rolling back podinfo.test failed checks threshold reached 5".into(),
        event_type: EventType::Warning,
        timestamp: jiff::Timestamp::from_millisecond(1_763_780_000_123).unwrap(),
    };
    let outcomes = client().send_event(&targets, &canary(), &warning).await;
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].succeeded());
    assert_eq!(outcomes[0].name, "events");
    let got = receiver.received();
    assert_eq!(
        got[0].json()["metadata"],
        json!({"eventMessage": "Rolling back podinfo.test failed checks threshold reached 5",
            "eventType": "Warning", "timestamp": "1763780000123"})
    );
}

#[tokio::test]
async fn user_metadata_cannot_override_event_fields_on_the_wire() {
    let receiver = Receiver::start(Mode::Reply(200, String::new())).await;
    let hook = CanaryWebhook {
        name: "audit".into(),
        type_: HookType::Event,
        url: format!("{}/", receiver.base),
        metadata: [
            ("eventType", "Normal"),
            ("eventMessage", "all good"),
            ("env", "prod"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        ..Default::default()
    };
    let warning = CanaryEvent {
        event_type: EventType::Warning,
        message: "Canary failed! Scaling down podinfo.test".into(),
        ..event()
    };
    client().call_event(&hook, &canary(), &warning).await;
    let meta = receiver.received()[0].json()["metadata"].clone();
    assert_eq!(meta["eventType"], "Warning");
    assert_eq!(
        meta["eventMessage"],
        "Canary failed! Scaling down podinfo.test"
    );
    assert_eq!(meta["env"], "prod");
}

#[tokio::test]
async fn disable_tls_accepts_a_self_signed_certificate_and_verification_is_the_default() {
    let receiver = Receiver::start_tls(Mode::Reply(200, "secure".into())).await;
    let hook = CanaryWebhook {
        name: "tls".into(),
        type_: HookType::PreRollout,
        url: format!("{}/", receiver.base),
        ..Default::default()
    };
    let client = client();
    let verified = client.call(&hook, &canary()).await;
    assert!(
        !verified.succeeded(),
        "a self-signed certificate must be refused: {verified}"
    );
    assert!(receiver.received().is_empty());

    let insecure = CanaryWebhook {
        disable_tls: Some(true),
        ..hook
    };
    let outcome = client.call(&insecure, &canary()).await;
    assert!(outcome.succeeded(), "{outcome}");
    assert_eq!(outcome.result.unwrap().body, "secure");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn every_type_treats_500_slow_and_refused_as_failures() {
    let error = Receiver::start(Mode::Reply(500, "internal".into())).await;
    let slow = Receiver::start(Mode::Slow(Duration::from_secs(30))).await;
    let refused = format!("http://127.0.0.1:{}", closed_port());
    let client = client();
    for hook in example_hooks(&error) {
        let want = classify(hook.type_, false);
        let base = CanaryWebhook {
            retries: Some(0),
            timeout: Some("200ms".into()),
            ..hook.clone()
        };
        let on_500 = call(&client, &base).await;
        assert!(
            matches!(&on_500.result, Err(HookError::Status { status: 500, body }) if body == "internal"),
            "{on_500}"
        );
        let on_slow = call(
            &client,
            &CanaryWebhook {
                url: slow.rebase(&hook.url),
                ..base.clone()
            },
        )
        .await;
        assert!(
            matches!(on_slow.result, Err(HookError::Timeout { .. })),
            "{on_slow}"
        );
        let path = reqwest::Url::parse(&hook.url).unwrap().path().to_owned();
        let on_refused = call(
            &client,
            &CanaryWebhook {
                url: format!("{refused}{path}"),
                ..base
            },
        )
        .await;
        assert!(
            matches!(on_refused.result, Err(HookError::Connect(_))),
            "{on_refused}"
        );
        for outcome in [on_500, on_slow, on_refused] {
            assert_eq!(outcome.verdict(), want, "{outcome}");
        }
    }
    // Every type reached the 500 receiver with a payload.
    assert_eq!(error.received().len(), HookType::ALL.len());
    assert_eq!(slow.received().len(), HookType::ALL.len());
}
