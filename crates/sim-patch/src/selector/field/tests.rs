use serde_json::json;

use super::*;

#[test]
fn field_selectors_match_by_dotted_path() {
    let event = json!({
        "metadata": {"name": "podinfo.1", "namespace": "test"},
        "involvedObject": {"kind": "Deployment", "name": "podinfo", "namespace": "test", "uid": "u-1"},
        "count": 3,
        "spec": {"unschedulable": false}
    });
    let cases = [
        ("", true),
        ("metadata.name=podinfo.1", true),
        ("metadata.name==podinfo.1", true),
        ("metadata.name=other", false),
        ("metadata.namespace!=kube-system", true),
        ("metadata.namespace!=test", false),
        // The exact query `kubectl describe deployment` sends.
        (
            "involvedObject.name=podinfo,involvedObject.namespace=test,involvedObject.kind=Deployment,involvedObject.uid=u-1",
            true,
        ),
        (
            "involvedObject.name=podinfo,involvedObject.kind=Canary",
            false,
        ),
        ("count=3", true),
        ("spec.unschedulable=false", true),
        ("spec.nodeName=", true),
        ("spec.nodeName!=", false),
        ("spec.nodeName=node-1", false),
    ];
    for (sel, want) in cases {
        let s = FieldSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
        assert_eq!(s.matches(&event), want, "{sel}");
    }
}

#[test]
fn escapes_and_terms_are_parsed() {
    let s = FieldSelector::parse(r"metadata.name=a\,b,spec.x!=c\=d").unwrap();
    assert_eq!(
        s.requirements(),
        &[
            FieldRequirement {
                field: "metadata.name".into(),
                negated: false,
                value: "a,b".into()
            },
            FieldRequirement {
                field: "spec.x".into(),
                negated: true,
                value: "c=d".into()
            },
        ]
    );
    assert!(s.matches(&json!({"metadata": {"name": "a,b"}, "spec": {"x": "y"}})));
    assert_eq!(s.to_string(), r"metadata.name=a\,b,spec.x!=c\=d");
    assert_eq!(FieldSelector::parse(&s.to_string()).unwrap(), s);
}

#[test]
fn malformed_field_selectors_are_bad_requests() {
    for sel in ["metadata.name", "=x", "metadata..name=x", "a,b=c"] {
        match FieldSelector::parse(sel) {
            Err(Error::BadRequest(msg)) => assert!(msg.contains(&format!("{sel:?}")), "{msg}"),
            other => panic!("{sel}: expected BadRequest, got {other:?}"),
        }
    }
}
