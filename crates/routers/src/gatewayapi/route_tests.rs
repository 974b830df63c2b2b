use serde_json::json;

use super::*;
use crate::testutil;

fn spec_json(canary: &Canary, routes: Routes) -> serde_json::Value {
    serde_json::to_value(build_route_spec(canary, routes).unwrap()).unwrap()
}

fn error(canary: &Canary) -> String {
    build_route_spec(canary, Routes::ALL_PRIMARY)
        .unwrap_err()
        .to_string()
}

#[test]
fn weighted_route_has_parents_hosts_filters_timeouts_and_both_backends() {
    let canary = testutil::canary("canary-gatewayapi.yaml");
    let got = spec_json(&canary, Routes::canary(10, false));
    let want = json!({
        "parentRefs": [{
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "namespace": "gateways",
            "name": "public",
            "sectionName": "https"
        }],
        "hostnames": ["app.example.com"],
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "filters": [
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                    "set": [{"name": "x-served-by", "value": "fledge"}],
                    "remove": ["x-debug"]
                }},
                {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                    "add": [{"name": "x-canary-release", "value": "true"}]
                }}
            ],
            "backendRefs": [
                {"group": "", "kind": "Service", "name": "podinfo-primary", "port": 9898, "weight": 90},
                {"group": "", "kind": "Service", "name": "podinfo-canary", "port": 9898, "weight": 10}
            ],
            "timeouts": {"request": "30s"}
        }]
    });
    assert_eq!(got, want);
}

#[test]
fn weights_and_mirroring_round_trip_through_the_spec() {
    let canary = testutil::canary("canary-gatewayapi.yaml");
    let ab = testutil::canary("canary-gatewayapi-ab.yaml");
    let cases = [
        Routes::ALL_PRIMARY,
        Routes::canary(10, false),
        Routes::canary(55, false),
        Routes::canary(100, false),
        Routes {
            primary: 100,
            canary: 0,
            mirrored: true,
        },
    ];
    for c in [&canary, &ab] {
        for routes in cases {
            let spec = build_route_spec(c, routes).unwrap();
            let read = routes_from_spec(&spec, "podinfo-primary", "podinfo-canary");
            assert_eq!(read, Some(routes));
            // What the API server returns parses back to the same typed spec.
            let back: HttpRouteSpec =
                serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
            assert_eq!(back, spec);
        }
    }
}

#[test]
fn mirroring_adds_a_request_mirror_to_the_canary_with_mirror_weight() {
    let mut canary = testutil::canary("canary-gatewayapi.yaml");
    canary.spec.analysis.as_mut().unwrap().mirror_weight = Some(25);
    let spec = spec_json(
        &canary,
        Routes {
            primary: 100,
            canary: 0,
            mirrored: true,
        },
    );
    let filters = spec["rules"][0]["filters"].as_array().unwrap();
    assert_eq!(
        filters.last().unwrap(),
        &json!({"type": "RequestMirror", "requestMirror": {
            "backendRef": {"group": "", "kind": "Service", "name": "podinfo-canary", "port": 9898},
            "percent": 25
        }})
    );
    let unmirrored = spec_json(&canary, Routes::ALL_PRIMARY);
    assert!(
        unmirrored["rules"][0]["filters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["type"] != "RequestMirror")
    );
}

#[test]
fn ab_testing_sends_matching_requests_to_the_weighted_rule_and_the_rest_to_primary() {
    let canary = testutil::canary("canary-gatewayapi-ab.yaml");
    let spec = spec_json(&canary, Routes::canary(100, false));
    let rules = spec["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0]["matches"],
        json!([
            {"path": {"type": "PathPrefix", "value": "/api"},
             "headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]},
            {"path": {"type": "PathPrefix", "value": "/api"},
             "headers": [{"type": "RegularExpression", "name": "cookie",
                          "value": "^(.*?;)?(canary=always)(;.*)?$"}]}
        ])
    );
    assert_eq!(rules[0]["backendRefs"][0]["weight"], 0);
    assert_eq!(rules[0]["backendRefs"][1]["weight"], 100);
    assert_eq!(
        rules[1],
        json!({
            "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": "podinfo-primary",
                             "port": 9898, "weight": 100}]
        })
    );
}

#[test]
fn istio_string_matches_map_to_gateway_api_matches() {
    let cases = [
        (
            "{headers: {x-user: {exact: bob}}}",
            json!({"headers": [{"type": "Exact", "name": "x-user", "value": "bob"}]}),
        ),
        (
            "{headers: {x-user: {prefix: a.b}}}",
            json!({"headers": [{"type": "RegularExpression", "name": "x-user", "value": "^a\\.b.*"}]}),
        ),
        (
            "{headers: {x-user: {suffix: (1)}}}",
            json!({"headers": [{"type": "RegularExpression", "name": "x-user", "value": ".*\\(1\\)$"}]}),
        ),
        (
            "{headers: {x-user: {}}}",
            json!({"headers": [{"type": "RegularExpression", "name": "x-user", "value": ".*"}]}),
        ),
        (
            "{queryParams: {v: {exact: '2'}}}",
            json!({"queryParams": [{"type": "Exact", "name": "v", "value": "2"}]}),
        ),
        (
            "{uri: {exact: /login}}",
            json!({"path": {"type": "Exact", "value": "/login"}}),
        ),
        (
            "{uri: {regex: '/v[0-9]+/.*'}}",
            json!({"path": {"type": "RegularExpression", "value": "/v[0-9]+/.*"}}),
        ),
        (
            "{uri: {suffix: .json}}",
            json!({"path": {"type": "RegularExpression", "value": ".*\\.json$"}}),
        ),
        ("{method: {exact: POST}}", json!({"method": "POST"})),
    ];
    for (yaml, want) in cases {
        let mut canary = testutil::canary("canary-gatewayapi.yaml");
        canary.spec.service.r#match = vec![serde_saphyr::from_str(yaml).unwrap()];
        let spec = spec_json(&canary, Routes::ALL_PRIMARY);
        let mut want = want;
        if want.get("path").is_none() {
            want["path"] = json!({"type": "PathPrefix", "value": "/"});
        }
        assert_eq!(spec["rules"][0]["matches"], json!([want]), "{yaml}");
    }
}

#[test]
fn what_gateway_api_cannot_express_is_an_error_naming_the_field() {
    let cases = [
        (
            "service",
            "{authority: {exact: a.example.com}}",
            "spec.service.match[0].authority",
        ),
        (
            "service",
            "{scheme: {exact: https}}",
            "spec.service.match[0].scheme",
        ),
        (
            "service",
            "{sourceLabels: {app: x}}",
            "spec.service.match[0].sourceLabels",
        ),
        (
            "service",
            "{ignoreUriCase: true}",
            "spec.service.match[0].ignoreUriCase",
        ),
        (
            "service",
            "{method: {prefix: P}}",
            "spec.service.match[0].method",
        ),
        (
            "analysis",
            "{headers: {x: {exact: a, regex: b}}}",
            "spec.analysis.match[0].headers.x",
        ),
        (
            "analysis",
            "{withoutHeaders: {x: {exact: a}}}",
            "spec.analysis.match[0].withoutHeaders",
        ),
    ];
    for (place, yaml, field) in cases {
        let mut canary = testutil::canary("canary-gatewayapi-ab.yaml");
        let m = serde_saphyr::from_str(yaml).unwrap();
        match place {
            "service" => canary.spec.service.r#match = vec![m],
            _ => canary.spec.analysis.as_mut().unwrap().r#match = vec![m],
        }
        let err = error(&canary);
        assert!(
            err.starts_with(&format!("canary test/podinfo: {field}: ")),
            "{yaml}: {err}"
        );
    }
}

#[test]
fn spec_errors_name_the_field_and_the_fix() {
    let mut canary = testutil::canary("canary-gatewayapi.yaml");
    canary.spec.service.gateway_refs.clear();
    assert_eq!(
        error(&canary),
        "canary test/podinfo: spec.service.gatewayRefs: required by the gatewayapi provider: \
         list the Gateway(s) the HTTPRoute attaches to"
    );

    let mut canary = testutil::canary("canary-gatewayapi.yaml");
    canary.spec.service.timeout = Some("1.5s".into());
    let err = error(&canary);
    assert!(
        err.starts_with("canary test/podinfo: spec.service.timeout: Gateway API durations"),
        "{err}"
    );
    assert!(err.contains("(got \"1.5s\")"), "{err}");
}

#[test]
fn backend_timeout_rewrite_and_service_mirror() {
    let mut canary = testutil::canary("canary-gatewayapi.yaml");
    canary.spec.service.headers = None;
    canary.spec.service.backend_timeout = Some("10s".into());
    canary.spec.service.rewrite = Some(
        serde_saphyr::from_str("{uri: /v2, authority: api.internal, type: ReplacePrefixMatch}")
            .unwrap(),
    );
    canary.spec.service.mirror = vec![
        serde_saphyr::from_str("{backendRef: {name: shadow, port: 80}, fraction: {numerator: 5}}")
            .unwrap(),
    ];
    let spec = spec_json(&canary, Routes::ALL_PRIMARY);
    let rule = &spec["rules"][0];
    assert_eq!(
        rule["timeouts"],
        json!({"request": "30s", "backendRequest": "10s"})
    );
    assert_eq!(
        rule["filters"],
        json!([
            {"type": "URLRewrite", "urlRewrite": {"hostname": "api.internal",
                "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}},
            {"type": "RequestMirror", "requestMirror": {
                "backendRef": {"group": "", "kind": "Service", "name": "shadow", "port": 80},
                "fraction": {"numerator": 5, "denominator": 100}}}
        ])
    );
    // A user's mirror is not fledge's mirroring.
    let parsed: HttpRouteSpec = serde_json::from_value(spec).unwrap();
    assert_eq!(
        routes_from_spec(&parsed, "podinfo-primary", "podinfo-canary"),
        Some(Routes::ALL_PRIMARY)
    );
}

#[test]
fn routes_from_a_route_without_both_backends_is_none() {
    let spec: HttpRouteSpec = serde_json::from_value(json!({
        "rules": [{"backendRefs": [{"name": "podinfo-primary", "weight": 100}]}]
    }))
    .unwrap();
    assert_eq!(
        routes_from_spec(&spec, "podinfo-primary", "podinfo-canary"),
        None
    );
    let defaulted: HttpRouteSpec = serde_json::from_value(json!({
        "rules": [{"backendRefs": [{"name": "podinfo-primary"}, {"name": "podinfo-canary"}]}]
    }))
    .unwrap();
    assert_eq!(
        routes_from_spec(&defaulted, "podinfo-primary", "podinfo-canary"),
        Some(Routes {
            primary: 1,
            canary: 1,
            mirrored: false
        }),
        "Gateway API's default weight is 1"
    );
}

#[test]
fn gateway_api_duration_syntax() {
    let cases = [
        ("30s", true),
        ("1h", true),
        ("500ms", true),
        ("1m30s", true),
        ("1h2m3s4ms", true),
        ("99999s", true),
        ("100000s", false),
        ("1h2m3s4ms5ms", false),
        ("1.5s", false),
        ("30", false),
        ("s", false),
        ("", false),
        ("10us", false),
    ];
    for (s, ok) in cases {
        assert_eq!(is_gateway_duration(s), ok, "{s:?}");
    }
}

#[test]
fn session_affinity_keeps_canary_users_on_the_canary_during_a_release() {
    let canary = testutil::canary("canary-gatewayapi-affinity.yaml");
    let spec = build_route_spec(&canary, Routes::canary(10, false)).unwrap();
    let value = serde_json::to_value(&spec).unwrap();
    let rules = value["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    let attrs = "Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Strict";
    let response_headers = json!({"type": "ResponseHeaderModifier", "responseHeaderModifier": {
        "set": [{"name": "x-release", "value": "canary-test"}]}});
    let sticky = |cookie: &str, backend: &str| {
        json!({
            "matches": [{"path": {"type": "PathPrefix", "value": "/"},
                         "headers": [{"type": "RegularExpression", "name": "Cookie",
                                      "value": format!(".*{cookie}=5d8f7c9b6.*")}]}],
            "filters": [response_headers],
            "backendRefs": [{"group": "", "kind": "Service", "name": backend, "port": 9898, "weight": 100}]
        })
    };
    assert_eq!(rules[0], sticky("fledge-canary", "podinfo-canary"));
    assert_eq!(rules[1], sticky("fledge-primary", "podinfo-primary"));
    let set_cookie = |cookie: &str| {
        json!([{"type": "ResponseHeaderModifier", "responseHeaderModifier": {
            "add": [{"name": "Set-Cookie", "value": format!("{cookie}=5d8f7c9b6; {attrs}")}]}}])
    };
    assert_eq!(
        rules[2]["backendRefs"][0]["filters"],
        set_cookie("fledge-primary")
    );
    assert_eq!(
        rules[2]["backendRefs"][1]["filters"],
        set_cookie("fledge-canary")
    );
    assert_eq!(
        routes_from_spec(&spec, "podinfo-primary", "podinfo-canary"),
        Some(Routes::canary(10, false)),
        "the weights come from the weighted rule, not the single-backend cookie rules"
    );
}

#[test]
fn session_affinity_expires_the_cookies_once_the_release_is_over() {
    let canary = testutil::canary("canary-gatewayapi-affinity.yaml");
    let spec = build_route_spec(&canary, Routes::ALL_PRIMARY).unwrap();
    let value = serde_json::to_value(&spec).unwrap();
    let rules = value["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    for (rule, cookie) in rules.iter().zip(["fledge-canary", "fledge-primary"]) {
        assert_eq!(rule["backendRefs"][0]["name"], "podinfo-primary");
        assert_eq!(rule["backendRefs"].as_array().unwrap().len(), 1);
        // One ResponseHeaderModifier per filter list: the service's is extended.
        assert_eq!(
            rule["filters"],
            json!([{"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                "set": [{"name": "x-release", "value": "canary-test"}],
                "add": [{"name": "Set-Cookie", "value": format!(
                    "{cookie}=5d8f7c9b6; Max-Age=-1; Path=/; HttpOnly; Secure; SameSite=Strict")}]
            }}])
        );
    }
    assert!(rules[2]["backendRefs"][1].get("filters").is_none());
    assert_eq!(
        routes_from_spec(&spec, "podinfo-primary", "podinfo-canary"),
        Some(Routes::ALL_PRIMARY)
    );

    // Before the first release there is no revision, so no cookie and no extra rule.
    let mut fresh = canary.clone();
    fresh.status = None;
    assert_eq!(
        build_route_spec(&fresh, Routes::ALL_PRIMARY)
            .unwrap()
            .rules
            .len(),
        1
    );
}

/// GAMMA: an HTTPRoute whose parent is the apex Service (meshes such as Linkerd 2.12+ or Istio
/// ambient route east-west traffic this way). A Service parent is in the core group.
#[test]
fn a_service_parent_for_gamma_is_in_the_core_group() {
    let mut canary = testutil::canary("canary-gatewayapi.yaml");
    canary.spec.service.gateway_refs = vec![fledge_api::service::ParentReference {
        kind: Some("Service".into()),
        name: "podinfo".into(),
        port: Some(9898),
        ..Default::default()
    }];
    let got = spec_json(&canary, Routes::canary(10, false));
    assert_eq!(
        got["parentRefs"],
        json!([{"group": "", "kind": "Service", "name": "podinfo", "port": 9898}])
    );
}
