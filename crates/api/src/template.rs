//! The one renderer for MetricTemplate queries: Go's `text/template`, as Flagger renders them,
//! through the `gotmpl` crate (a port of it that never panics). Flagger's functions
//! (`namespace`, `name`, `target`, `service`, `ingress`, `route`, `interval`, and `variables`,
//! a map) sit next to every Go builtin (`printf`, `index`, `eq`, `and`, `or`, pipelines,
//! `if`/`range`/`with`, ...). As with Flagger's `missingkey=error`, a `{{ variables.X }}` the
//! metric doesn't set is an error, never an empty string; so is an unknown function, and so is
//! a field of the data (`{{ .Namespace }}`): there is no data, only functions.

use std::collections::BTreeMap;

use gotmpl::{MissingKey, Template, Value};

use crate::analysis::CanaryMetric;
use crate::canary::Canary;
use crate::comparison::{SIDE_VARIABLE, Side, WORKLOAD_VARIABLE};

/// Flagger's template functions, in the order the docs list them.
pub const FUNCTIONS: [&str; 8] = [
    "namespace",
    "name",
    "target",
    "service",
    "ingress",
    "route",
    "interval",
    "variables",
];

/// The most `{{ range }}` iterations one render may take: a query never needs many, and a
/// template must not be able to stall a reconcile.
const MAX_RANGE_ITERATIONS: u64 = 10_000;

/// Why a template doesn't render. Positions are 1-based lines and columns of the template.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("line {line}, column {col}: {message}")]
    Syntax {
        line: usize,
        col: usize,
        message: String,
    },
    #[error(
        "{at}unknown function `{name}`: use namespace, name, target, service, ingress, route, \
         interval, variables.<key> or a Go template builtin (printf, index, eq, ...)",
        at = at(*position)
    )]
    UnknownFunction {
        name: String,
        position: Option<(usize, usize)>,
    },
    #[error("variable `variables.{key}` is not set: add it to the metric's templateVariables")]
    MissingVariable { key: String },
    #[error("{message}")]
    Execution { message: String },
}

fn at(position: Option<(usize, usize)>) -> String {
    position
        .map(|(line, col)| format!("line {line}, column {col}: "))
        .unwrap_or_default()
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

impl TemplateVars {
    /// Values for checking a template without a Canary: every name set, no variables.
    fn placeholder() -> Self {
        let x = || "x".to_string();
        Self {
            namespace: x(),
            name: x(),
            target: x(),
            service: x(),
            ingress: x(),
            route: x(),
            interval: "1m".into(),
            variables: BTreeMap::new(),
        }
    }

    fn value_of(&self, function: &str) -> Value {
        let text = |s: &str| Value::String(s.into());
        match function {
            "namespace" => text(&self.namespace),
            "name" => text(&self.name),
            "target" => text(&self.target),
            "service" => text(&self.service),
            "ingress" => text(&self.ingress),
            "route" => text(&self.route),
            "interval" => text(&self.interval),
            _ => Value::from(
                self.variables
                    .iter()
                    .map(|(k, v)| (k.clone(), text(v)))
                    .collect::<BTreeMap<String, Value>>(),
            ),
        }
    }
}

/// Renders `template` with `vars`, as Flagger does.
pub fn render(template: &str, vars: &TemplateVars) -> Result<String, TemplateError> {
    render_with(template, vars, MissingKey::Error)
}

fn render_with(
    template: &str,
    vars: &TemplateVars,
    missing: MissingKey,
) -> Result<String, TemplateError> {
    let mut t = Template::new("query")
        .missing_key(missing)
        .max_range_iters(MAX_RANGE_ITERATIONS);
    for function in FUNCTIONS {
        let value = vars.value_of(function);
        t = t.func(function, move |args| {
            if args.is_empty() {
                Ok(value.clone())
            } else {
                Err(gotmpl::TemplateError::ArgCount {
                    name: function.to_string(),
                    expected: 0,
                    got: args.len(),
                })
            }
        });
    }
    blocks(template)?;
    let parsed = t.parse(template).map_err(|e| error(template, vars, e))?;
    // The data is an empty map: `{{ .X }}` is a missing key, an error, not `<no value>`.
    let data = Value::from(BTreeMap::<String, Value>::new());
    parsed
        .execute_to_string(&data)
        .map_err(|e| error(template, vars, e))
}

/// Checks a template without a Canary: its syntax and its functions. A `{{ variables.X }}`
/// can't be missing here; the metric that uses the template sets it. So the first pass lets
/// missing keys render empty, and goes on past them to the rest of the template; the second
/// refuses them, to catch a field of the data (`{{ .Namespace }}`) unless a variable comes
/// first (rendering for the metric then names it).
pub fn check(template: &str) -> Result<(), TemplateError> {
    let vars = TemplateVars::placeholder();
    render_with(template, &vars, MissingKey::ZeroValue)?;
    match render(template, &vars) {
        Ok(_) | Err(TemplateError::MissingVariable { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn error(template: &str, vars: &TemplateVars, e: gotmpl::TemplateError) -> TemplateError {
    use gotmpl::TemplateError as Go;
    match e {
        Go::Parse {
            line, col, message, ..
        }
        | Go::Lex {
            line, col, message, ..
        } => TemplateError::Syntax { line, col, message },
        Go::UndefinedFunction(name) => TemplateError::UnknownFunction {
            position: position_of(template, &name),
            name,
        },
        // The only map is `variables`; a key it lacks that the template asks of it is a
        // variable the metric doesn't set. Any other missing key is a field of the data.
        Go::MissingKey { key }
            if !vars.variables.contains_key(&key)
                && template.contains(&format!("variables.{key}")) =>
        {
            TemplateError::MissingVariable { key }
        }
        Go::MissingKey { key } => TemplateError::Execution {
            message: format!(
                "no value for `{key}`: a query template has no data fields; use the functions \
                 (e.g. {{{{ namespace }}}}) or {{{{ variables.{key} }}}}"
            ),
        },
        other => TemplateError::Execution {
            message: other.to_string(),
        },
    }
}

/// Go rejects an `{{ if }}`, `{{ range }}`, `{{ with }}`, `{{ define }}` or `{{ block }}` without
/// its `{{ end }}`, and an `{{ end }}` or `{{ else }}` outside one; gotmpl 0.6 renders them, so
/// a typo would reach Prometheus. This checks the nesting of the actions first.
fn blocks(template: &str) -> Result<(), TemplateError> {
    let mut open: Vec<(&str, (usize, usize))> = Vec::new();
    let mut from = 0;
    while let Some(start) = template[from..].find("{{").map(|i| i + from) {
        let body_start = start + 2;
        let (body, end) = action_body(template, body_start);
        from = end;
        let body = body
            .strip_prefix('-')
            .filter(|b| b.starts_with(char::is_whitespace))
            .unwrap_or(body);
        let word: String = body
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let here = line_col(template, start);
        let syntax = |message: String| TemplateError::Syntax {
            line: here.0,
            col: here.1,
            message,
        };
        let opener = match word.as_str() {
            "if" => Some("if"),
            "range" => Some("range"),
            "with" => Some("with"),
            "define" => Some("define"),
            "block" => Some("block"),
            _ => None,
        };
        if let Some(keyword) = opener {
            open.push((keyword, here));
        } else if word == "end" && open.pop().is_none() {
            return Err(syntax(
                "unexpected {{ end }}: no {{ if }}, {{ range }} or {{ with }} to close".into(),
            ));
        } else if matches!(word.as_str(), "else" | "break" | "continue") && open.is_empty() {
            return Err(syntax(format!(
                "unexpected {{{{ {word} }}}} outside {{{{ if }}}}, {{{{ range }}}} or {{{{ with }}}}"
            )));
        }
    }
    match open.pop() {
        Some((keyword, (line, col))) => Err(TemplateError::Syntax {
            line,
            col,
            message: format!("{{{{ {keyword} }}}} has no {{{{ end }}}}"),
        }),
        None => Ok(()),
    }
}

/// The text of the action that starts at `from` (just past `{{`) and the offset past its
/// `}}` (or the end of the template). Quoted strings, raw strings, characters and comments
/// may contain `}}`.
fn action_body(template: &str, from: usize) -> (&str, usize) {
    let bytes = template.as_bytes();
    let mut i = from;
    if template[from..]
        .trim_start_matches('-')
        .trim_start()
        .starts_with("/*")
    {
        return match template[from..].find("*/") {
            Some(close) => {
                let after = from + close + 2;
                let end = template[after..]
                    .find("}}")
                    .map_or(template.len(), |j| after + j + 2);
                ("", end)
            }
            None => ("", template.len()),
        };
    }
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
                i += 1;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                let body = template.get(from..i).unwrap_or_default();
                return (body, i + 2);
            }
            _ => i += 1,
        }
    }
    (template.get(from..).unwrap_or_default(), template.len())
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_col(template: &str, offset: usize) -> (usize, usize) {
    let before = template.get(..offset).unwrap_or(template);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Where `name` first appears as a word inside an action (`{{ ... }}`), for messages.
fn position_of(template: &str, name: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(open) = template[from..].find("{{").map(|i| i + from) {
        let close = template[open..]
            .find("}}")
            .map_or(template.len(), |i| i + open);
        let action = &template[open..close];
        let word = action.match_indices(name).find(|(i, _)| {
            let before = action[..*i].chars().next_back();
            let after = action[i + name.len()..].chars().next();
            let part = |c: Option<char>| {
                c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$')
            };
            !part(before) && !part(after)
        });
        if let Some((i, _)) = word {
            return Some(line_col(template, open + i));
        }
        from = close;
    }
    None
}

#[cfg(test)]
mod tests;
