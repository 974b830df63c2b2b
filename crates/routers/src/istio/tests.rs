use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use serde_json::json;

use super::*;
use crate::testutil;

const PRIMARY: &str = "podinfo-primary";
const CANARY: &str = "podinfo-canary";

#[test]
fn the_virtual_service_weighs_primary_and_canary_with_the_route_options() {
    let canary = testutil::canary("canary-istio.yaml");
    for w in [0, 10, 50, 100] {
        let vs = build_virtual_service(&canary, Routes::canary(w, false)).unwrap();
        let spec = &vs.data["spec"];
        assert_eq!(spec["hosts"], json!(["app.example.com", "podinfo"]));
        assert_eq!(
            spec["gateways"],
            json!(["public-gateway.istio-system.svc.cluster.local"])
        );
        let route = &spec["http"][0];
        assert_eq!(route["route"][0]["destination"]["host"], PRIMARY);
        assert_eq!(route["route"][0]["weight"], 100 - w);
        assert_eq!(route["route"][1]["weight"], w);
        assert_eq!(route["route"][1]["destination"]["port"]["number"], 9898);
        assert_eq!(route["timeout"], "30s");
        assert_eq!(route["retries"]["attempts"], 3);
        assert_eq!(route["rewrite"], json!({"uri": "/"}));
        assert_eq!(route["corsPolicy"]["allowMethods"], json!(["GET", "POST"]));
        assert_eq!(route["match"], json!([{"uri": {"prefix": "/"}}]));
        assert!(route["mirror"].is_null());
        assert_eq!(
            routes_from_spec(spec, PRIMARY, CANARY),
            Some(Routes::canary(w, false)),
            "set → get round trip"
        );
    }
}

#[test]
fn mirroring_copies_the_mirror_weight_of_the_requests_to_the_canary() {
    let canary = testutil::canary("canary-istio.yaml");
    let routes = Routes {
        primary: 100,
        canary: 0,
        mirrored: true,
    };
    let vs = build_virtual_service(&canary, routes).unwrap();
    let route = &vs.data["spec"]["http"][0];
    assert_eq!(route["mirror"]["host"], CANARY);
    assert_eq!(route["mirrorPercentage"], json!({"value": 20}));
    assert_eq!(
        routes_from_spec(&vs.data["spec"], PRIMARY, CANARY),
        Some(routes)
    );
}

#[test]
fn ab_testing_puts_the_matched_route_first_and_the_primary_default_after() {
    let canary = testutil::canary("canary-istio-ab.yaml");
    let vs = build_virtual_service(&canary, Routes::ALL_CANARY).unwrap();
    let http = vs.data["spec"]["http"].as_array().unwrap();
    assert_eq!(http.len(), 2);
    assert_eq!(
        http[0]["match"],
        json!([
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"headers": {"user-agent": {"regex": ".*Firefox"}}},
        ]),
        "Istio has no suffix: an anchored regex"
    );
    assert_eq!(http[0]["route"][1]["weight"], 100);
    assert!(http[1]["match"].is_null());
    assert_eq!(http[1]["route"][0]["weight"], 100);
    assert_eq!(
        vs.data["spec"]["gateways"],
        json!(["mesh"]),
        "default gateway"
    );
    assert_eq!(
        routes_from_spec(&vs.data["spec"], PRIMARY, CANARY),
        Some(Routes::ALL_CANARY)
    );
}

#[test]
fn destination_rules_carry_the_traffic_policy() {
    let canary = testutil::canary("canary-istio.yaml");
    let [primary, canary_rule] = build_destination_rules(&canary).unwrap();
    assert_eq!(primary.name_any(), PRIMARY);
    assert_eq!(primary.data["spec"]["host"], PRIMARY);
    assert_eq!(canary_rule.data["spec"]["host"], CANARY);
    assert_eq!(
        canary_rule.data["spec"]["trafficPolicy"],
        json!({"tls": {"mode": "ISTIO_MUTUAL"}})
    );
}

#[test]
fn a_delegate_with_hosts_is_refused_by_field() {
    let mut canary = testutil::canary("canary-istio.yaml");
    canary.spec.service.delegation = Some(true);
    let err = build_virtual_service(&canary, Routes::ALL_PRIMARY)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.service.delegation: a delegate VirtualService must have no hosts"),
        "{err}"
    );
    canary.spec.service.hosts.clear();
    canary.spec.service.gateways.clear();
    let vs = build_virtual_service(&canary, Routes::ALL_PRIMARY).unwrap();
    assert!(vs.data["spec"]["hosts"].is_null() && vs.data["spec"]["gateways"].is_null());
}

#[test]
fn a_users_virtual_service_is_taken_over_and_given_back_as_it_was() {
    let canary = testutil::canary("canary-istio.yaml");
    let desired = build_virtual_service(&canary, Routes::ALL_PRIMARY).unwrap();
    let mut theirs = desired.clone();
    theirs.metadata.owner_references = None;
    theirs.metadata.labels = Some(BTreeMap::from([("team".into(), "web".into())]));
    theirs.metadata.annotations = Some(BTreeMap::from([("note".into(), "mine".into())]));
    theirs.data["spec"] = json!({"hosts": ["podinfo"], "http": [{"route": [
        {"destination": {"host": "podinfo"}}]}]});

    let taken = takeover::merge("VirtualService", &theirs, &desired, &canary)
        .unwrap()
        .unwrap();
    assert_eq!(taken.metadata.owner_references, None, "still theirs");
    assert_eq!(taken.labels()["team"], "web");
    assert_eq!(taken.data["spec"], desired.data["spec"]);
    assert_eq!(
        routes_from_spec(&taken.data["spec"], PRIMARY, CANARY),
        Some(Routes::ALL_PRIMARY),
        "the primary gets everything from the first write"
    );
    assert_eq!(
        takeover::merge("VirtualService", &taken, &desired, &canary).unwrap(),
        None,
        "then stable"
    );
    let back = takeover::given_back(&taken).unwrap();
    assert_eq!(back.data["spec"], theirs.data["spec"]);
    assert_eq!(back.metadata.labels, theirs.metadata.labels);
    assert_eq!(back.metadata.annotations, theirs.metadata.annotations);
    assert_eq!(takeover::given_back(&desired), None);

    theirs.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "example.com/v1".into(),
        kind: "Thing".into(),
        name: "t".into(),
        uid: "x".into(),
        controller: Some(true),
        ..Default::default()
    }]);
    let err = takeover::merge("VirtualService", &theirs, &desired, &canary)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("VirtualService test/podinfo: is controlled by Thing t"),
        "{err}"
    );
}

#[test]
fn session_affinity_pins_canary_users_by_cookie_and_expires_it_after_the_release() {
    let mut canary = testutil::canary("canary-istio.yaml");
    canary.spec.service.r#match.clear();
    if let Some(a) = canary.spec.analysis.as_mut() {
        a.session_affinity = serde_json::from_value(json!({
            "cookieName": "flagger-cookie", "maxAge": 60
        }))
        .unwrap();
    }
    // No revision yet: no sticky routes.
    let vs = build_virtual_service(&canary, Routes::canary(10, false)).unwrap();
    assert_eq!(vs.data["spec"]["http"].as_array().unwrap().len(), 1);

    canary.status = Some(fledge_api::CanaryStatus {
        last_applied_spec: Some("abc123".into()),
        ..Default::default()
    });
    let vs = build_virtual_service(&canary, Routes::canary(10, false)).unwrap();
    let http = vs.data["spec"]["http"].as_array().unwrap();
    assert_eq!(http.len(), 2);
    assert_eq!(
        http[0]["match"],
        json!([{"headers": {"cookie": {"regex": ".*flagger-cookie=abc123.*"}}}])
    );
    assert_eq!(http[0]["route"][0]["destination"]["host"], CANARY);
    assert_eq!(http[0]["route"][0]["weight"], 100);
    assert_eq!(
        http[1]["route"][1]["headers"]["response"]["add"]["Set-Cookie"],
        "flagger-cookie=abc123; Max-Age=60"
    );
    assert_eq!(
        routes_from_spec(&vs.data["spec"], PRIMARY, CANARY),
        Some(Routes::canary(10, false)),
        "read from the weighted route"
    );

    let done = build_virtual_service(&canary, Routes::ALL_PRIMARY).unwrap();
    let http = done.data["spec"]["http"].as_array().unwrap();
    assert_eq!(http[0]["route"][0]["destination"]["host"], PRIMARY);
    assert_eq!(
        http[0]["headers"]["response"]["add"]["Set-Cookie"],
        "flagger-cookie=abc123; Max-Age=-1"
    );
}
