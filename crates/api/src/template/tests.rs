use super::*;

fn vars() -> TemplateVars {
    TemplateVars {
        namespace: "test".into(),
        name: "podinfo".into(),
        target: "podinfo".into(),
        service: "podinfo-svc".into(),
        ingress: "podinfo-ing".into(),
        route: "podinfo-route".into(),
        interval: "1m".into(),
        variables: BTreeMap::from([
            ("code".to_string(), "5..".to_string()),
            ("direction".to_string(), "inbound".to_string()),
        ]),
    }
}

#[test]
fn renders_flaggers_functions() {
    let cases = [
        ("{{ namespace }}", "test"),
        ("{{name}}", "podinfo"),
        ("{{  target  }}-primary", "podinfo-primary"),
        ("{{ service }}", "podinfo-svc"),
        ("{{ ingress }}", "podinfo-ing"),
        ("{{ route }}", "podinfo-route"),
        ("rate(x[{{ interval }}])", "rate(x[1m])"),
        ("code=~\"{{ variables.code }}\"", "code=~\"5..\""),
        ("no placeholders", "no placeholders"),
        ("", ""),
        ("a } b }} c", "a } b }} c"),
    ];
    for (template, want) in cases {
        assert_eq!(render(template, &vars()).as_deref(), Ok(want), "{template}");
    }
}

/// What real Flagger templates use besides Flagger's functions: Go's builtins, pipelines,
/// conditionals and whitespace trimming.
#[test]
fn renders_go_template_logic() {
    let cases = [
        (r#"{{ printf "%s-primary" target }}"#, "podinfo-primary"),
        (r#"{{ target | printf "%s-canary" }}"#, "podinfo-canary"),
        (r#"{{ index variables "direction" }}"#, "inbound"),
        (
            r#"{{ if eq (index variables "direction") "inbound" }}in{{ else }}out{{ end }}"#,
            "in",
        ),
        (
            r#"{{ if and (eq namespace "test") (ne target "x") }}y{{ end }}"#,
            "y",
        ),
        (r#"{{ or "" namespace }}"#, "test"),
        (r#"{{ len target }}"#, "7"),
        ("sum(x{ns=\"{{- namespace -}}\"})", "sum(x{ns=\"test\"})"),
        (r#"{{ $t := target }}{{ $t }}-{{ $t }}"#, "podinfo-podinfo"),
        (
            r#"{{ range $k, $v := variables }}{{ $k }}={{ $v }};{{ end }}"#,
            "code=5..;direction=inbound;",
        ),
        (r#"{{ "{{" }} literal"#, "{{ literal"),
    ];
    for (template, want) in cases {
        assert_eq!(render(template, &vars()).as_deref(), Ok(want), "{template}");
    }
}

#[test]
fn errors_name_the_problem_and_the_position() {
    let cases = [
        (
            "sum({{ nmespace }})",
            TemplateError::UnknownFunction {
                name: "nmespace".into(),
                position: Some((1, 8)),
            },
        ),
        (
            "sum(\n  x{ns=\"{{ namespace }}\", t=\"{{ tagret }}\"})",
            TemplateError::UnknownFunction {
                name: "tagret".into(),
                position: Some((2, 33)),
            },
        ),
        (
            "{{ variables.missing }}",
            TemplateError::MissingVariable {
                key: "missing".into(),
            },
        ),
    ];
    for (template, want) in cases {
        assert_eq!(render(template, &vars()), Err(want), "{template}");
    }
    let msg = render("sum({{ nmespace }})", &vars())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("line 1, column 8: unknown function `nmespace`"),
        "{msg}"
    );

    let syntax = render("sum({{ namespace }", &vars()).unwrap_err();
    assert!(
        matches!(syntax, TemplateError::Syntax { line: 1, .. }),
        "{syntax:?}"
    );
    let unclosed = render("{{ if true }}x", &vars()).unwrap_err().to_string();
    assert!(unclosed.starts_with("line 1, column "), "{unclosed}");

    // No data: a field is an error, never "<no value>".
    let field = render("{{ .Namespace }}", &vars()).unwrap_err().to_string();
    assert!(field.contains("no value for `Namespace`"), "{field}");
    // Flagger's functions take no arguments.
    let args = render("{{ namespace \"x\" }}", &vars())
        .unwrap_err()
        .to_string();
    assert!(args.contains("namespace expects 0, got 1"), "{args}");
}

#[test]
fn check_needs_no_canary() {
    assert_eq!(check("{{ target }} {{ variables.x }}"), Ok(()));
    assert!(matches!(
        check("{{ bogus }}"),
        Err(TemplateError::UnknownFunction { .. })
    ));
    assert!(matches!(
        check("{{ if }}"),
        Err(TemplateError::Syntax { .. })
    ));
    // A variable the template can't know yet doesn't hide a typo after it, or a data field.
    assert!(
        matches!(
            check("{{ variables.code }} {{ nmespace }}"),
            Err(TemplateError::UnknownFunction { ref name, .. }) if name == "nmespace"
        ),
        "{:?}",
        check("{{ variables.code }} {{ nmespace }}")
    );
    assert!(matches!(
        check("{{ .Namespace }} {{ variables.code }}"),
        Err(TemplateError::Execution { .. })
    ));
}

#[test]
fn runaway_templates_stop() {
    let range = render("{{ range 100000 }}x{{ end }}", &vars()).unwrap_err();
    assert!(range.to_string().contains("range"), "{range}");
    let recursion = render(r#"{{ template "query" }}"#, &vars()).unwrap_err();
    assert!(recursion.to_string().contains("recursion"), "{recursion}");
}

/// gotmpl renders an unclosed block; Go (and so Flagger) refuses it, and so does fledge.
#[test]
fn blocks_must_close() {
    let cases = [
        ("{{ if true }}x", (1, 1), "{{ if }} has no {{ end }}"),
        (
            "a\n  {{- range $i := 3 }}x",
            (2, 3),
            "{{ range }} has no {{ end }}",
        ),
        ("x{{ end }}", (1, 2), "unexpected {{ end }}"),
        ("{{ else }}", (1, 1), "unexpected {{ else }}"),
        (
            "{{ with 1 }}{{ if true }}{{ end }}",
            (1, 1),
            "{{ with }} has no {{ end }}",
        ),
    ];
    for (template, (line, col), message) in cases {
        match render(template, &vars()) {
            Err(TemplateError::Syntax {
                line: l,
                col: c,
                message: m,
            }) => {
                assert_eq!((l, c), (line, col), "{template}: {m}");
                assert!(m.starts_with(message), "{template}: {m}");
            }
            other => panic!("{template}: {other:?}"),
        }
    }
    let fine = [
        (r#"{{ printf "%s}}" target }}"#, "podinfo}}"),
        ("{{/* {{ if }} */}}ok", "ok"),
        ("{{- if true -}} x {{- end -}}", "x"),
        (
            r#"{{ if eq target "}}{{ end }}" }}no{{ else }}yes{{ end }}"#,
            "yes",
        ),
    ];
    for (template, want) in fine {
        assert_eq!(render(template, &vars()).as_deref(), Ok(want), "{template}");
    }
}
