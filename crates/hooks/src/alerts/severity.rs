//! Which alert providers get a message, by severity (Flagger's filtering: `info` gets
//! everything, `warn` gets warn and error, `error` gets only errors). Unlike Flagger, an alert
//! with no severity means `info` (Flagger's code silently drops it).

use fledge_api::{CanaryAlert, Severity};

/// Whether an alert subscribed at `subscribed` receives a message of `message` severity.
pub fn accepts(subscribed: Severity, message: Severity) -> bool {
    message >= subscribed
}

/// Where a message of one severity goes.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertRoute<'a> {
    /// The canary lists no alerts: use the global notifier (`--slack-url` / `--msteams-url`), if
    /// one is configured.
    Global,
    /// The canary's alerts that accept this severity (possibly none).
    Providers(Vec<&'a CanaryAlert>),
}

pub fn route(alerts: &[CanaryAlert], severity: Severity) -> AlertRoute<'_> {
    if alerts.is_empty() {
        return AlertRoute::Global;
    }
    AlertRoute::Providers(
        alerts
            .iter()
            .filter(|a| accepts(a.severity(), severity))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_api::ProviderRef;

    #[test]
    fn flaggers_filter_table() {
        use Severity::*;
        for (subscribed, message, want) in [
            (Info, Info, true),
            (Info, Warn, true),
            (Info, Error, true),
            (Warn, Info, false),
            (Warn, Warn, true),
            (Warn, Error, true),
            (Error, Info, false),
            (Error, Warn, false),
            (Error, Error, true),
        ] {
            assert_eq!(
                accepts(subscribed, message),
                want,
                "{subscribed:?} <- {message:?}"
            );
        }
    }

    fn alert(name: &str, severity: Option<Severity>) -> CanaryAlert {
        CanaryAlert {
            name: name.into(),
            severity,
            provider_ref: ProviderRef {
                name: name.into(),
                namespace: None,
            },
        }
    }

    #[test]
    fn routes_by_severity_and_empty_means_info() {
        let alerts = [
            alert("everything", None),
            alert("on-call", Some(Severity::Error)),
            alert("team", Some(Severity::Warn)),
        ];
        let names = |r: AlertRoute| match r {
            AlertRoute::Providers(v) => v.into_iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
            AlertRoute::Global => vec!["<global>".to_owned()],
        };
        assert_eq!(names(route(&alerts, Severity::Info)), ["everything"]);
        assert_eq!(
            names(route(&alerts, Severity::Warn)),
            ["everything", "team"]
        );
        assert_eq!(
            names(route(&alerts, Severity::Error)),
            ["everything", "on-call", "team"]
        );
        assert_eq!(route(&[], Severity::Error), AlertRoute::Global);
    }

    #[test]
    fn empty_severity_string_in_a_manifest_means_info() {
        let a: CanaryAlert =
            serde_json::from_str(r#"{"name":"a","severity":"","providerRef":{"name":"slack"}}"#)
                .unwrap();
        assert_eq!(a.severity(), Severity::Info);
    }
}
