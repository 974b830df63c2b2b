//! Strings from manifests: MetricTemplate queries and Go durations.

use fledge_api::template::{TemplateError, TemplateVars, check, render};
use fledge_api::{duration::format_duration, parse_duration};

/// Fields: the query, then the canary's namespace, name, target, interval, and `key=value`
/// lines for `templateVariables`.
pub fn template(data: &[u8]) {
    let f = super::fields(data, 6);
    let variables = super::pairs(&f[5]);
    let vars = TemplateVars {
        namespace: f[1].clone(),
        name: f[2].clone(),
        target: f[3].clone(),
        service: f[3].clone(),
        ingress: f[3].clone(),
        route: f[3].clone(),
        interval: f[4].clone(),
        variables,
    };
    let rendered = render(&f[0], &vars);
    assert_eq!(
        rendered,
        render(&f[0], &vars),
        "rendering is not deterministic"
    );
    // A template that doesn't parse never renders, whatever the values.
    if let Err(err @ TemplateError::Syntax { .. }) = check(&f[0]) {
        assert!(
            rendered.is_err(),
            "{:?} rendered but does not parse: {err}",
            f[0]
        );
    }
    if !f[0].contains("{{") && !f[0].contains("}}") {
        assert_eq!(rendered.as_deref(), Ok(f[0].as_str()), "plain text changed");
    }
}

/// A duration that parses formats back to itself.
pub fn duration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(text) {
        let formatted = format_duration(d);
        assert_eq!(
            parse_duration(&formatted),
            Ok(d),
            "{text:?} parsed to {d:?}, formatted as {formatted:?}"
        );
    }
}
