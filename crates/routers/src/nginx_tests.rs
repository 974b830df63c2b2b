use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::*;
use crate::testutil;

const PREFIX: &str = DEFAULT_ANNOTATIONS_PREFIX;

fn main_ingress() -> Ingress {
    serde_saphyr::from_str(&testutil::read("ingress-podinfo.yaml")).unwrap()
}

fn annotation(ing: &Ingress, key: &str) -> Option<String> {
    ing.annotations().get(&format!("{PREFIX}/{key}")).cloned()
}

#[test]
fn the_clone_points_every_rule_at_the_canary_and_carries_the_weight() {
    let canary = testutil::canary("canary-nginx.yaml");
    for weight in [0, 10, 50, 100] {
        let ing = build_canary_ingress(
            &canary,
            &main_ingress(),
            Routes::canary(weight, false),
            PREFIX,
        )
        .unwrap();
        assert_eq!(ing.name_any(), "podinfo-canary");
        let spec = ing.spec.clone().unwrap();
        assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
        let backend = &spec.rules.as_ref().unwrap()[0].http.as_ref().unwrap().paths[0].backend;
        assert_eq!(backend.service.as_ref().unwrap().name, "podinfo-canary");
        assert_eq!(annotation(&ing, "canary").as_deref(), Some("true"));
        assert_eq!(annotation(&ing, "canary-weight"), Some(weight.to_string()));
        assert_eq!(
            annotation(&ing, "proxy-read-timeout").as_deref(),
            Some("30"),
            "the Ingress' nginx settings apply to the canary too"
        );
        assert!(!ing.annotations().contains_key("kubernetes.io/description"));
        assert_eq!(
            routes_from_annotations(ing.annotations(), PREFIX),
            Some(Routes::canary(weight, false)),
            "set → get round trip"
        );
        assert_eq!(ing.owner_references()[0].kind, "Canary");
    }
}

#[test]
fn ab_testing_routes_by_header_and_cookie_only_while_the_canary_side_is_on() {
    let canary = testutil::canary("canary-nginx-ab.yaml");
    let on = build_canary_ingress(&canary, &main_ingress(), Routes::ALL_CANARY, PREFIX).unwrap();
    assert_eq!(
        annotation(&on, "canary-by-header").as_deref(),
        Some("x-canary")
    );
    assert_eq!(
        annotation(&on, "canary-by-header-value").as_deref(),
        Some("insider")
    );
    assert_eq!(
        annotation(&on, "canary-by-cookie").as_deref(),
        Some("canary")
    );
    assert_eq!(annotation(&on, "canary-weight").as_deref(), Some("0"));
    assert_eq!(
        routes_from_annotations(on.annotations(), PREFIX),
        Some(Routes::ALL_CANARY)
    );

    let off = build_canary_ingress(&canary, &main_ingress(), Routes::ALL_PRIMARY, PREFIX).unwrap();
    assert_eq!(annotation(&off, "canary-by-header"), None);
    assert_eq!(
        routes_from_annotations(off.annotations(), PREFIX),
        Some(Routes::ALL_PRIMARY)
    );
}

#[test]
fn an_ingress_that_routes_elsewhere_is_refused_naming_the_rule() {
    let canary = testutil::canary("canary-nginx.yaml");
    let mut main = main_ingress();
    main.spec.as_mut().unwrap().rules.as_mut().unwrap()[0]
        .http
        .as_mut()
        .unwrap()
        .paths[0]
        .backend
        .service
        .as_mut()
        .unwrap()
        .name = "frontend".into();
    let err = build_canary_ingress(&canary, &main, Routes::ALL_PRIMARY, PREFIX)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "Ingress test/podinfo: rules[0].http.paths[0] (host app.example.com, path /): points at Service frontend, not podinfo"
        ),
        "{err}"
    );
}

#[test]
fn a_custom_prefix_is_used_throughout() {
    let canary = testutil::canary("canary-nginx.yaml");
    let ing = build_canary_ingress(
        &canary,
        &main_ingress(),
        Routes::canary(20, false),
        "example.com/nginx",
    )
    .unwrap();
    assert_eq!(
        ing.annotations()
            .get("example.com/nginx/canary-weight")
            .map(String::as_str),
        Some("20")
    );
    assert_eq!(annotation(&ing, "canary-weight"), None);
    assert_eq!(
        routes_from_annotations(ing.annotations(), "example.com/nginx"),
        Some(Routes::canary(20, false))
    );
}

#[test]
fn an_existing_canary_ingress_is_taken_over_and_given_back_as_it_was() {
    let canary = testutil::canary("canary-nginx.yaml");
    let desired = dynamic(
        &build_canary_ingress(&canary, &main_ingress(), Routes::ALL_PRIMARY, PREFIX).unwrap(),
    )
    .unwrap();
    let mut theirs = desired.clone();
    theirs.metadata.owner_references = None;
    theirs.metadata.labels = Some(BTreeMap::from([("team".into(), "web".into())]));
    theirs.metadata.annotations = Some(BTreeMap::from([
        (format!("{PREFIX}/canary"), "true".into()),
        (format!("{PREFIX}/canary-weight"), "30".into()),
    ]));
    theirs.data["spec"]["ingressClassName"] = serde_json::json!("old");

    let taken = takeover::merge(KIND, &theirs, &desired, &canary)
        .unwrap()
        .unwrap();
    assert_eq!(taken.metadata.owner_references, None, "still theirs");
    assert_eq!(taken.labels()["team"], "web");
    assert_eq!(
        routes_from_annotations(taken.annotations(), PREFIX),
        Some(Routes::ALL_PRIMARY),
        "no canary traffic from the first write"
    );
    assert_eq!(
        takeover::merge(KIND, &taken, &desired, &canary).unwrap(),
        None,
        "then stable"
    );
    let back = takeover::given_back(&taken).unwrap();
    assert_eq!(back.data["spec"], theirs.data["spec"]);
    assert_eq!(back.metadata.annotations, theirs.metadata.annotations);
    assert_eq!(back.metadata.labels, theirs.metadata.labels);
    assert_eq!(
        takeover::given_back(&desired),
        None,
        "ours is deleted, not given back"
    );

    theirs.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "example.com/v1".into(),
        kind: "Thing".into(),
        name: "t".into(),
        uid: "x".into(),
        controller: Some(true),
        ..Default::default()
    }]);
    let err = takeover::merge(KIND, &theirs, &desired, &canary)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Ingress test/podinfo-canary: is controlled by Thing t"),
        "{err}"
    );
}
