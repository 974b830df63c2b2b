//! Validation of Canary, MetricTemplate and AlertProvider objects with field paths. Pure
//! functions: `fledge validate` and the controller's `Stalled` condition share them. Never
//! does I/O and never changes the object.

mod alert_provider;
mod canary;
mod comparison;
mod document;
mod metric_template;
mod refs;

use std::fmt;
use std::time::Duration;

pub use alert_provider::validate_alert_provider;
pub use canary::validate_canary;
pub use document::{CheckedDocument, check_document};
pub use metric_template::validate_metric_template;
pub use refs::validate_template_refs;

use crate::analysis::MIN_INTERVAL;

/// Knobs that differ between production and tests/demos.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidateOptions {
    /// The shortest analysis interval allowed (Flagger: 10s; `--min-interval` lowers it).
    pub min_interval: Duration,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            min_interval: MIN_INTERVAL,
        }
    }
}

/// Whether a problem makes the object invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Allowed, but probably not meant (e.g. two strategies set; the message says which wins).
    Warning,
    /// The object is invalid; the controller refuses it.
    Error,
}

/// One finding, with the object it is about and the field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `Canary`, `MetricTemplate` or `AlertProvider`.
    pub kind: String,
    /// `namespace/name` (or just `name` when the namespace is unset).
    pub object: String,
    /// Dotted field path, e.g. `spec.analysis.webhooks[1].url`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
    pub severity: Level,
}

impl Problem {
    pub fn is_error(&self) -> bool {
        self.severity == Level::Error
    }
}

/// `Kind namespace/name: path: message`.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}: {}",
            self.kind, self.object, self.path, self.message
        )
    }
}

/// `namespace/name` for messages.
fn object_name(meta: &kube::api::ObjectMeta) -> String {
    let name = meta.name.as_deref().unwrap_or("<unnamed>");
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// Collects problems for one object.
struct Findings {
    kind: &'static str,
    object: String,
    problems: Vec<Problem>,
}

impl Findings {
    fn new(kind: &'static str, meta: &kube::api::ObjectMeta) -> Self {
        Self {
            kind,
            object: object_name(meta),
            problems: Vec::new(),
        }
    }

    fn push(&mut self, severity: Level, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            kind: self.kind.to_string(),
            object: self.object.clone(),
            path: path.into(),
            message: message.into(),
            severity,
        });
    }

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Level::Error, path, message);
    }

    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Level::Warning, path, message);
    }
}

/// An `http://` or `https://` URL with a host.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.starts_with(':') && !host.contains(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls() {
        for ok in [
            "http://a",
            "https://loadtester.test/",
            "http://10.0.0.1:8080/x?y",
            "http://svc.ns:9090",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "",
            "ftp://a",
            "loadtester.test",
            "http://",
            "https:///path",
            "http://:80/",
            "http://a b/",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn display_names_object_path_and_message() {
        let p = Problem {
            kind: "Canary".into(),
            object: "default/podinfo".into(),
            path: "spec.analysis.stepWeight".into(),
            message: "must be between 1 and 100 (got 0)".into(),
            severity: Level::Error,
        };
        assert_eq!(
            p.to_string(),
            "Canary default/podinfo: spec.analysis.stepWeight: must be between 1 and 100 (got 0)"
        );
        assert!(p.is_error());
    }
}
