use serde_json::{Value, json};

use super::*;

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[test]
fn string_selectors_match_like_the_api_server() {
    let cases: &[(&str, Value, bool)] = &[
        ("", json!({}), true),
        ("app=web", json!({"app": "web"}), true),
        ("app=web", json!({"app": "api"}), false),
        ("app=web", json!({}), false),
        ("app==web", json!({"app": "web"}), true),
        ("app!=web", json!({"app": "api"}), true),
        ("app!=web", json!({}), true),
        ("app!=web", json!({"app": "web"}), false),
        ("tier in (web, api)", json!({"tier": "api"}), true),
        ("tier in (web,api)", json!({"tier": "db"}), false),
        ("tier in (web)", json!({}), false),
        ("tier notin (web)", json!({}), true),
        ("tier notin (web)", json!({"tier": "web"}), false),
        ("tier notin (web)", json!({"tier": "db"}), true),
        ("canary", json!({"canary": ""}), true),
        ("canary", json!({}), false),
        ("!canary", json!({}), true),
        ("!canary", json!({"canary": "x"}), false),
        (
            "app=web,tier in (a,b),!gone",
            json!({"app": "web", "tier": "b"}),
            true,
        ),
        (
            "app=web,tier in (a,b),!gone",
            json!({"app": "web", "tier": "b", "gone": "1"}),
            false,
        ),
        ("app=", json!({"app": ""}), true),
        ("app=", json!({"app": "x"}), false),
        (
            "fledge.dev/canary=true",
            json!({"fledge.dev/canary": "true"}),
            true,
        ),
        ("  app = web  ", json!({"app": "web"}), true),
        ("app=web", json!({"app": 1}), false),
    ];
    for (sel, l, want) in cases {
        let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
        assert_eq!(s.matches(&labels(l.clone())), *want, "{sel} against {l}");
    }
}

#[test]
fn parse_errors_name_the_selector_and_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("a in x", "expected '('"),
        ("a in (x", "expected ')'"),
        ("a in ()", "expected a value"),
        ("a notin (x,)", "expected a value"),
        ("=b", "expected a label key"),
        ("a=b=c", "found '='"),
        ("a b", "found 'b'"),
        ("a,", "expected a label key at end"),
        ("-bad=x", "invalid label key \"-bad\""),
        ("a=bad value!", "found 'value'"),
        ("a=-x", "invalid label value \"-x\""),
        ("Bad_Prefix/a=b", "invalid label key"),
        ("!", "expected a label key"),
        ("a (", "found '('"),
    ];
    for (sel, want) in cases {
        match LabelSelector::parse(sel) {
            Err(Error::BadRequest(msg)) => {
                assert!(msg.contains(want), "{sel}: {msg:?} should contain {want:?}");
                assert!(
                    msg.contains(&format!("{sel:?}")),
                    "{sel}: {msg:?} should quote the input"
                );
            }
            other => panic!("{sel}: expected BadRequest, got {other:?}"),
        }
    }
}

#[test]
fn display_is_canonical_and_round_trips() {
    let cases = [
        ("app=web", "app=web"),
        ("b=2,a=1", "a=1,b=2"),
        ("app==web", "app=web"),
        ("t in (z,a)", "t in (a,z)"),
        ("t notin (x)", "t notin (x)"),
        ("x, !y", "x,!y"),
        ("a!=b", "a!=b"),
        ("", ""),
    ];
    for (input, want) in cases {
        let s = LabelSelector::parse(input).unwrap();
        assert_eq!(s.to_string(), want, "{input}");
        assert_eq!(LabelSelector::parse(want).unwrap(), s, "{want} round trip");
    }
}

#[test]
fn label_selector_objects_convert_and_match() {
    let sel = json!({
        "matchLabels": {"app": "podinfo"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "canary", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist", "values": []}
        ]
    });
    let s = LabelSelector::from_label_selector(&sel).unwrap();
    assert_eq!(
        s.to_string(),
        "app=podinfo,canary,env notin (prod),!legacy,tier in (api,web)"
    );
    let cases = [
        (json!({"app": "podinfo", "tier": "web", "canary": ""}), true),
        (
            json!({"app": "podinfo", "tier": "web", "canary": "", "env": "prod"}),
            false,
        ),
        (json!({"app": "podinfo", "tier": "web"}), false),
        (
            json!({"app": "podinfo", "tier": "web", "canary": "", "legacy": "y"}),
            false,
        ),
        (json!({"app": "other", "tier": "web", "canary": ""}), false),
    ];
    for (l, want) in cases {
        assert_eq!(s.matches(&labels(l.clone())), want, "{l}");
    }
    // The Scale subresource prints a Deployment's selector this way.
    let simple =
        LabelSelector::from_label_selector(&json!({"matchLabels": {"app": "podinfo"}})).unwrap();
    assert_eq!(simple.to_string(), "app=podinfo");
    assert!(
        LabelSelector::from_label_selector(&json!({}))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn invalid_label_selector_objects_are_rejected() {
    let cases = [
        (json!("app=web"), "must be an object"),
        (
            json!({"matchLabels": {"app": 1}}),
            "matchLabels.app: must be a string",
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
            "matchExpressions[0]: values: must be non-empty",
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            "must be empty",
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
            "\"Gt\" is not a valid",
        ),
        (
            json!({"matchExpressions": [{"operator": "Exists"}]}),
            "key: required",
        ),
        (json!({"matchExpressions": {}}), "must be a list"),
    ];
    for (sel, want) in cases {
        match LabelSelector::from_label_selector(&sel) {
            Err(Error::BadRequest(msg)) => assert!(msg.contains(want), "{sel}: {msg}"),
            other => panic!("{sel}: expected BadRequest, got {other:?}"),
        }
    }
}

#[test]
fn matches_object_reads_metadata_labels() {
    let s = LabelSelector::parse("app=podinfo").unwrap();
    assert!(s.matches_object(&json!({"metadata": {"labels": {"app": "podinfo"}}})));
    assert!(!s.matches_object(&json!({"metadata": {"name": "x"}})));
    assert!(
        LabelSelector::parse("!app")
            .unwrap()
            .matches_object(&json!({"metadata": {}}))
    );
}
