//! Alerts to a loopback receiver in each provider's format, severity routing, proxies, and the
//! guarantee that addresses never show up in errors. Uses testdata/webhooks/alertproviders.yaml
//! and the alerts of testdata/webhooks/canary.yaml.

mod common;

use std::collections::BTreeMap;

use common::{Mode, Receiver, closed_port, testdata};
use fledge_api::{AlertProvider, AlertProviderType, Canary, Severity};
use fledge_hooks::alerts::{AlertRoute, route};
use fledge_hooks::{
    AlertError, AlertMessage, AlertSender, AlertTarget, Field, ReleaseDetails, Secret, alert_fields,
};
use serde_json::json;

/// The example providers by name, plus the Secret's `address` for those with a secretRef.
fn example_providers() -> BTreeMap<String, (AlertProvider, Option<String>)> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&testdata("webhooks/alertproviders.yaml")).unwrap();
    let secrets: BTreeMap<String, String> = docs
        .iter()
        .filter(|d| d["kind"] == "Secret")
        .map(|d| {
            let name = d["metadata"]["name"].as_str().unwrap().to_owned();
            (
                name,
                d["stringData"]["address"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    docs.into_iter()
        .filter(|d| d["kind"] == "AlertProvider")
        .map(|d| {
            let p: AlertProvider = serde_json::from_value(d).unwrap();
            let secret = p.spec.secret_ref.as_ref().map(|r| secrets[&r.name].clone());
            (p.metadata.name.clone().unwrap(), (p, secret))
        })
        .collect()
}

/// The example provider's target, with its address (from the spec or the Secret) rebased onto
/// the receiver and its proxy dropped.
fn target(receiver: &Receiver, name: &str) -> AlertTarget {
    let (provider, secret) = &example_providers()[name];
    let mut t = AlertTarget::from_spec(&provider.spec, secret.clone().map(Secret::from)).unwrap();
    t.address = Secret::new(receiver.rebase(t.address.expose()));
    t.proxy = None;
    t
}

fn message(severity: Severity) -> AlertMessage {
    let details = ReleaseDetails {
        target: "Deployment/podinfo.test".into(),
        failed_checks_threshold: 5,
        progress_deadline: std::time::Duration::from_secs(600),
        routing: Some("Weight step: 10 max: 50".into()),
    };
    AlertMessage {
        name: "podinfo".into(),
        namespace: "test".into(),
        message: "New revision detected! Scaling up podinfo.test".into(),
        severity,
        fields: alert_fields(Some("prod-eu"), Some(&details)),
    }
}

fn sender() -> AlertSender {
    let _ = rustls::crypto::ring::default_provider().install_default();
    AlertSender::new().unwrap()
}

#[tokio::test]
async fn each_provider_gets_its_own_format() {
    let receiver = Receiver::start(Mode::Reply(200, "ok".into())).await;
    let providers = example_providers();
    let kinds: Vec<AlertProviderType> = providers.values().map(|(p, _)| p.spec.type_).collect();
    for kind in AlertProviderType::ALL {
        assert!(kinds.contains(&kind), "example for {kind:?} missing");
    }
    let sender = sender();
    let msg = message(Severity::Info);
    let mut bodies = BTreeMap::new();
    for name in providers.keys() {
        receiver.clear();
        sender.send(&target(&receiver, name), &msg).await.unwrap();
        let got = receiver.received();
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0].headers["content-type"], "application/json");
        bodies.insert(name.clone(), (got[0].path.clone(), got[0].json()));
    }

    // Slack, from the Secret's address, with the provider's channel and username.
    let (path, slack) = &bodies["team-slack"];
    assert_eq!(path, "/services/T000/B000/placeholder");
    assert_eq!(slack["channel"], "deployments");
    assert_eq!(slack["username"], "fledge");
    let att = &slack["attachments"][0];
    assert_eq!(att["author_name"], "podinfo.test");
    assert_eq!(
        att["text"],
        "New revision detected! Scaling up podinfo.test"
    );
    assert_eq!(att["color"], "good");
    assert_eq!(
        att["fields"],
        json!([
            {"title": "Cluster", "value": "prod-eu", "short": false},
            {"title": "Target", "value": "Deployment/podinfo.test", "short": false},
            {"title": "Failed checks threshold", "value": "5", "short": false},
            {"title": "Progress deadline", "value": "600s", "short": false},
            {"title": "Traffic routing", "value": "Weight step: 10 max: 50", "short": false},
        ])
    );

    // Teams MessageCard with facts.
    let (_, teams) = &bodies["on-call-teams"];
    assert_eq!(teams["@type"], "MessageCard");
    assert_eq!(teams["themeColor"], "0076D7");
    assert_eq!(teams["sections"][0]["activityTitle"], msg.message);
    assert_eq!(teams["sections"][0]["activitySubtitle"], "podinfo.test");
    assert_eq!(
        teams["sections"][0]["facts"][0],
        json!({"name": "Cluster", "value": "prod-eu"})
    );

    // Discord through its Slack-compatible endpoint.
    let (path, discord) = &bodies["release-discord"];
    assert_eq!(path, "/api/webhooks/000/placeholder/slack");
    assert_eq!(discord["username"], "fledge");
    assert_eq!(discord["attachments"][0]["author_name"], "podinfo.test");

    // Rocket.Chat: Slack shape, Rocket colors, default username.
    let (_, rocket) = &bodies["rocket"];
    assert_eq!(rocket["channel"], "releases");
    assert_eq!(rocket["username"], "flagger");
    assert_eq!(rocket["attachments"][0]["color"], "#0076D7");

    // Google Chat card: message first, then one section per field.
    let (_, gchat) = &bodies["gchat"];
    let card = &gchat["cards"][0];
    assert_eq!(card["header"]["subtitle"], "podinfo.test");
    let sections = card["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 1 + msg.fields.len());
    assert!(
        sections[1]["widgets"][0]["textParagraph"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Cluster<br>")
    );

    // The generic webhook: plain JSON.
    let (_, generic) = &bodies["incidents"];
    assert_eq!(generic["name"], "podinfo");
    assert_eq!(generic["namespace"], "test");
    assert_eq!(generic["severity"], "info");
    assert_eq!(
        generic["fields"][1],
        json!({"name": "Target", "value": "Deployment/podinfo.test"})
    );
}

#[tokio::test]
async fn errors_turn_slack_and_teams_red() {
    let receiver = Receiver::start(Mode::Reply(200, "ok".into())).await;
    let sender = sender();
    let msg = message(Severity::Error);
    sender
        .send(&target(&receiver, "team-slack"), &msg)
        .await
        .unwrap();
    sender
        .send(&target(&receiver, "on-call-teams"), &msg)
        .await
        .unwrap();
    let got = receiver.received();
    assert_eq!(got[0].json()["attachments"][0]["color"], "danger");
    assert_eq!(got[1].json()["themeColor"], "FF0000");
}

#[tokio::test]
async fn severity_picks_the_canarys_providers() {
    let receiver = Receiver::start(Mode::Reply(200, "ok".into())).await;
    let canary: Canary = serde_saphyr::from_str(&testdata("webhooks/canary.yaml")).unwrap();
    let alerts = canary.spec.analysis.unwrap().alerts;
    let sender = sender();
    let mut reached = BTreeMap::new();
    for severity in [Severity::Info, Severity::Warn, Severity::Error] {
        receiver.clear();
        let AlertRoute::Providers(chosen) = route(&alerts, severity) else {
            panic!("the example lists alerts");
        };
        for alert in chosen {
            let t = target(&receiver, &alert.provider_ref.name);
            sender.send(&t, &message(severity)).await.unwrap();
        }
        let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
        reached.insert(format!("{severity:?}"), paths);
    }
    let slack = "/services/T000/B000/placeholder";
    let teams = "/webhookb2/placeholder";
    let discord = "/api/webhooks/000/placeholder/slack";
    // team-channel has no severity (info: everything), release-feed warn, on-call error.
    assert_eq!(reached["Info"], [slack]);
    assert_eq!(reached["Warn"], [slack, discord]);
    assert_eq!(reached["Error"], [slack, teams, discord]);
    assert_eq!(route(&[], Severity::Warn), AlertRoute::Global);
}

#[tokio::test]
async fn a_global_slack_url_works_without_an_alert_provider() {
    let receiver = Receiver::start(Mode::Reply(200, "ok".into())).await;
    // What the controller builds from --slack-url and --cluster-name.
    let t = AlertTarget::new(
        AlertProviderType::Slack,
        Secret::new(format!("{}/services/global", receiver.base)),
    );
    let msg = AlertMessage {
        fields: alert_fields(Some("staging"), None),
        ..message(Severity::Warn)
    };
    sender().send(&t, &msg).await.unwrap();
    let body = receiver.received()[0].json();
    assert_eq!(body["channel"], "general");
    assert_eq!(
        body["attachments"][0]["fields"],
        json!([{"title": "Cluster", "value": "staging", "short": false}])
    );
}

#[tokio::test]
async fn alerts_go_through_the_configured_proxy() {
    let proxy = Receiver::start(Mode::Reply(200, "ok".into())).await;
    let (provider, _) = &example_providers()["incidents"];
    let mut t = AlertTarget::from_spec(&provider.spec, None).unwrap();
    // The address is not reachable from here; only the proxy is.
    t.proxy = Some(Secret::new(proxy.base.clone()));
    t.address = Secret::new("http://incidents.example.invalid/fledge");
    sender().send(&t, &message(Severity::Info)).await.unwrap();
    let got = proxy.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].uri, "http://incidents.example.invalid/fledge");
    assert_eq!(got[0].json()["name"], "podinfo");
}

#[tokio::test]
async fn secret_addresses_never_appear_in_errors() {
    const TOKEN: &str = "XOXB-SUPER-SECRET-TOKEN";
    let receiver = Receiver::start(Mode::EchoUri).await;
    let sender = sender();
    let msg = message(Severity::Error);
    let mut errors: Vec<AlertError> = Vec::new();

    // The receiver echoes the URL (with the token) in its 500 body.
    let echoing = AlertTarget::new(
        AlertProviderType::Slack,
        Secret::new(format!("{}/services/{TOKEN}", receiver.base)),
    );
    errors.push(sender.send(&echoing, &msg).await.unwrap_err());
    assert_eq!(receiver.received().len(), 1, "the alert was sent");

    // Nothing listening.
    let refused = AlertTarget::new(
        AlertProviderType::Msteams,
        Secret::new(format!("http://127.0.0.1:{}/{TOKEN}", closed_port())),
    );
    errors.push(sender.send(&refused, &msg).await.unwrap_err());

    // Not a URL at all.
    let garbage = AlertTarget::new(
        AlertProviderType::Discord,
        Secret::new(format!("{TOKEN}::")),
    );
    errors.push(sender.send(&garbage, &msg).await.unwrap_err());

    // A proxy with a password that reqwest rejects.
    let mut bad_proxy = echoing.clone();
    bad_proxy.proxy = Some(Secret::new(format!("http://user:{TOKEN}@[::1")));
    errors.push(sender.send(&bad_proxy, &msg).await.unwrap_err());

    assert!(matches!(errors[0], AlertError::Status { status: 500, .. }));
    assert!(matches!(errors[1], AlertError::Send { .. }));
    assert!(matches!(errors[2], AlertError::InvalidAddress { .. }));
    assert!(matches!(errors[3], AlertError::InvalidProxy { .. }));
    for err in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(TOKEN), "secret leaked: {text}");
        }
    }
    assert!(
        errors[0].to_string().contains("<redacted>"),
        "{}",
        errors[0]
    );
    // Nor do the targets themselves print it.
    for t in [&echoing, &refused, &garbage, &bad_proxy] {
        assert!(!format!("{t:?}").contains(TOKEN));
    }
    let field = Field::new("Cluster", "prod");
    assert_eq!(
        format!("{field:?}"),
        r#"Field { name: "Cluster", value: "prod" }"#
    );
}
