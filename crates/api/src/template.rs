//! The one renderer for MetricTemplate queries. Deliberately tiny and strict: only the names
//! Flagger's templates use (`{{ namespace }}`, `{{ name }}`, `{{ target }}`, `{{ service }}`,
//! `{{ ingress }}`, `{{ route }}`, `{{ interval }}`, `{{ variables.X }}`); anything else is an
//! error naming the placeholder, so a typo never reaches Prometheus as literal text. It does
//! not evaluate Go template logic (pipelines, conditionals) and never will.

use std::collections::BTreeMap;

use crate::analysis::CanaryMetric;
use crate::canary::Canary;
use crate::comparison::{SIDE_VARIABLE, Side, WORKLOAD_VARIABLE};

/// Why a template doesn't render.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{{{` at byte {offset}: close it with `}}}}`")]
    Unclosed { offset: usize },
    #[error("empty `{{{{ }}}}` at byte {offset}: put a variable name inside")]
    Empty { offset: usize },
    #[error(
        "unknown variable `{name}`: use namespace, name, target, service, ingress, route, interval or variables.<key>"
    )]
    UnknownVariable { name: String },
    #[error("variable `variables.{key}` is not set: add it to the metric's templateVariables")]
    MissingVariable { key: String },
}

/// One `{{ ... }}` placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placeholder {
    Namespace,
    Name,
    Target,
    Service,
    Ingress,
    Route,
    Interval,
    /// `variables.<key>`
    Variable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment<'a> {
    Text(&'a str),
    Placeholder(Placeholder),
}

fn parse(template: &str) -> Result<Vec<Segment<'_>>, TemplateError> {
    let mut segments = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            segments.push(Segment::Text(&rest[..open]));
        }
        let inner_start = open + 2;
        let Some(close) = rest[inner_start..].find("}}") else {
            return Err(TemplateError::Unclosed {
                offset: offset + open,
            });
        };
        let inner = rest[inner_start..inner_start + close].trim();
        if inner.is_empty() {
            return Err(TemplateError::Empty {
                offset: offset + open,
            });
        }
        segments.push(Segment::Placeholder(placeholder(inner)?));
        let consumed = inner_start + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest));
    }
    Ok(segments)
}

fn placeholder(inner: &str) -> Result<Placeholder, TemplateError> {
    Ok(match inner {
        "namespace" => Placeholder::Namespace,
        "name" => Placeholder::Name,
        "target" => Placeholder::Target,
        "service" => Placeholder::Service,
        "ingress" => Placeholder::Ingress,
        "route" => Placeholder::Route,
        "interval" => Placeholder::Interval,
        other => match other.strip_prefix("variables.") {
            Some(key) if is_key(key) => Placeholder::Variable(key.to_string()),
            _ => {
                return Err(TemplateError::UnknownVariable {
                    name: other.to_string(),
                });
            }
        },
    })
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Every placeholder in a template, in order; checks syntax and names without values.
pub fn placeholders(template: &str) -> Result<Vec<Placeholder>, TemplateError> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|s| match s {
            Segment::Placeholder(p) => Some(p),
            Segment::Text(_) => None,
        })
        .collect())
}

/// The values a query is rendered with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateVars {
    /// The Canary's namespace.
    pub namespace: String,
    /// The Canary's name.
    pub name: String,
    /// `targetRef.name`.
    pub target: String,
    /// `service.name`, else the target's name.
    pub service: String,
    /// `ingressRef.name`, else the target's name.
    pub ingress: String,
    /// `routeRef.name`, else the target's name.
    pub route: String,
    /// The metric's interval as written (default `1m`).
    pub interval: String,
    /// The metric's `templateVariables`, plus `side` and `workload` (see
    /// [`TemplateVars::for_side`]).
    pub variables: BTreeMap<String, String>,
}

impl TemplateVars {
    /// The values for a query about the canary: what Flagger would use, plus `side` and
    /// `workload` (see [`TemplateVars::for_side`]).
    pub fn for_metric(canary: &Canary, metric: &CanaryMetric) -> Self {
        Self::for_side(canary, metric, Side::Canary)
    }

    /// The values for a query about one side of the release. Besides Flagger's names,
    /// `{{ variables.side }}` is `canary` or `primary` and `{{ variables.workload }}` is that
    /// side's Deployment (`<target>` or `<target>-primary`), so one template serves both sides
    /// of `comparePrimary`. A metric's own `templateVariables` of those names win for the
    /// canary side (the validator refuses them with `comparePrimary`).
    pub fn for_side(canary: &Canary, metric: &CanaryMetric, side: Side) -> Self {
        let mut vars = Self::flagger(canary, metric);
        let workload = match side {
            Side::Canary => vars.target.clone(),
            Side::Primary => canary.spec.primary_target_name(),
        };
        let ours = [
            (SIDE_VARIABLE, side.as_str().to_string()),
            (WORKLOAD_VARIABLE, workload),
        ];
        for (key, value) in ours {
            if side == Side::Primary {
                vars.variables.insert(key.to_string(), value);
            } else {
                vars.variables.entry(key.to_string()).or_insert(value);
            }
        }
        vars
    }

    fn flagger(canary: &Canary, metric: &CanaryMetric) -> Self {
        let spec = &canary.spec;
        let target = spec.target_ref.name.clone();
        let or_target = |name: Option<&str>| {
            name.filter(|n| !n.is_empty())
                .unwrap_or(&target)
                .to_string()
        };
        Self {
            namespace: canary.metadata.namespace.clone().unwrap_or_default(),
            name: canary.metadata.name.clone().unwrap_or_default(),
            service: spec.service_name().to_string(),
            ingress: or_target(spec.ingress_ref.as_ref().map(|r| r.name.as_str())),
            route: or_target(spec.route_ref.as_ref().map(|r| r.name.as_str())),
            interval: metric.interval_str().to_string(),
            variables: metric.template_variables.clone(),
            target,
        }
    }
}

/// Renders `template` with `vars`. Unknown names and unset `variables.X` are errors.
pub fn render(template: &str, vars: &TemplateVars) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for segment in parse(template)? {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Placeholder(p) => out.push_str(match &p {
                Placeholder::Namespace => &vars.namespace,
                Placeholder::Name => &vars.name,
                Placeholder::Target => &vars.target,
                Placeholder::Service => &vars.service,
                Placeholder::Ingress => &vars.ingress,
                Placeholder::Route => &vars.route,
                Placeholder::Interval => &vars.interval,
                Placeholder::Variable(key) => vars
                    .variables
                    .get(key)
                    .ok_or_else(|| TemplateError::MissingVariable { key: key.clone() })?,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
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
            variables: BTreeMap::from([("code".to_string(), "5..".to_string())]),
        }
    }

    #[test]
    fn renders_every_name() {
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

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            (
                "{{ nmespace }}",
                TemplateError::UnknownVariable {
                    name: "nmespace".into(),
                },
            ),
            (
                "{{ .Namespace }}",
                TemplateError::UnknownVariable {
                    name: ".Namespace".into(),
                },
            ),
            (
                "{{ variables. }}",
                TemplateError::UnknownVariable {
                    name: "variables.".into(),
                },
            ),
            (
                "{{ variables.missing }}",
                TemplateError::MissingVariable {
                    key: "missing".into(),
                },
            ),
            ("sum({{ namespace }", TemplateError::Unclosed { offset: 4 }),
            ("x {{ }}", TemplateError::Empty { offset: 2 }),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, &vars()), Err(want), "{template}");
        }
        let msg = render("{{ nmespace }}", &vars()).unwrap_err().to_string();
        assert!(msg.contains("`nmespace`"), "{msg}");
    }

    #[test]
    fn placeholders_checks_names_without_values() {
        assert_eq!(
            placeholders("{{ target }} {{ variables.x }}"),
            Ok(vec![Placeholder::Target, Placeholder::Variable("x".into())])
        );
        assert!(placeholders("{{ bogus }}").is_err());
    }
}
