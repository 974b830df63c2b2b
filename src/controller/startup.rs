//! Everything checked before the first watch starts: the flags (every URL parses and is
//! http(s), the default provider has a router), the connection to the API server, and that the
//! fledge CRDs are served. Each failure names the flag or object and what to do.

use kube::Client;

use super::config::ControllerConfig;
use super::error::RunError;

/// What the flags say, checked.
pub struct Checked {
    pub default_provider: fledge_api::Provider,
}

/// Checks the flags without touching the network.
pub fn check_flags(config: &ControllerConfig) -> Result<Checked, RunError> {
    check_url("--metrics-server", &config.metrics_server)?;
    for (flag, value) in [
        ("--event-webhook", &config.event_webhook),
        ("--slack-url", &config.slack_url),
        ("--msteams-url", &config.msteams_url),
    ] {
        if let Some(url) = value {
            check_url(flag, url)?;
        }
    }
    let default_provider = match fledge_api::Provider::parse(&config.mesh_provider) {
        Some(p) if p.is_routed() => p,
        _ => {
            return Err(RunError::flag(
                "--mesh-provider",
                &config.mesh_provider,
                format!(
                    "not a provider this fledge version routes through; use one of {}",
                    fledge_api::Provider::routed_list()
                ),
            ));
        }
    };
    Ok(Checked { default_provider })
}

/// An absolute http(s) URL with a host. Secret URLs (Slack, Teams) are never echoed back.
fn check_url(flag: &'static str, value: &str) -> Result<(), RunError> {
    let shown = if matches!(flag, "--slack-url" | "--msteams-url") {
        "<redacted>".to_string()
    } else {
        value.to_string()
    };
    let problem = match reqwest::Url::parse(value) {
        Err(e) => Some(format!(
            "not a URL ({e}); e.g. http://prometheus.monitoring:9090"
        )),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            Some(format!("scheme {:?} is not http or https", url.scheme()))
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("has no host".to_string()),
        Ok(_) => None,
    };
    match problem {
        Some(message) => Err(RunError::flag(flag, shown, message)),
        None => Ok(()),
    }
}

pub async fn connect(config: &ControllerConfig) -> Result<Client, RunError> {
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                RunError::flag("--kubeconfig", path.display().to_string(), format!("cannot read: {e}"))
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| {
                    RunError::flag("--kubeconfig", path.display().to_string(), format!("invalid: {e}"))
                })?
        }
        None => kube::Config::infer().await.map_err(|e| {
            RunError::other(
                "no Kubernetes configuration found (in-cluster, $KUBECONFIG or ~/.kube/config); pass --kubeconfig",
                e,
            )
        })?,
    };
    let url = kube_config.cluster_url.clone();
    let client = Client::try_from(kube_config).map_err(|source| RunError::Kube {
        what: "building the Kubernetes client".into(),
        source,
    })?;
    client
        .apiserver_version()
        .await
        .map_err(|source| RunError::Kube {
            what: format!("cannot reach the Kubernetes API at {url}"),
            source,
        })?;
    Ok(client)
}

/// The resources a group version serves; `None` when the API server doesn't serve the group
/// version at all (404). Any other failure is an error, not "not installed".
pub async fn served_resources(
    client: &Client,
    group_version: &str,
) -> Result<Option<Vec<String>>, RunError> {
    match client.list_api_group_resources(group_version).await {
        Ok(list) => Ok(Some(list.resources.into_iter().map(|r| r.name).collect())),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(source) => Err(RunError::Kube {
            what: format!("discovering {group_version}"),
            source,
        }),
    }
}

/// Refuses to start without the CRDs: a controller that can't list Canaries would only log
/// errors forever.
pub async fn preflight(client: &Client) -> Result<(), RunError> {
    let served = served_resources(client, fledge_api::API_VERSION)
        .await?
        .unwrap_or_default();
    let missing: Vec<&str> = ["canaries", "metrictemplates", "alertproviders"]
        .into_iter()
        .filter(|r| !served.iter().any(|have| have == r))
        .collect();
    if !missing.is_empty() {
        return Err(RunError::other(
            "the fledge CRDs are not installed",
            format!(
                "{} not served in {}; install them with `fledge crds | kubectl apply -f -` or `kubectl apply -f deploy/crds/fledge-crds.yaml`",
                missing.join(", "),
                fledge_api::API_VERSION
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ControllerConfig {
        ControllerConfig::default()
    }

    #[test]
    #[rustfmt::skip]
    fn flags_are_checked_with_errors_that_name_them() {
        type Edit = fn(&mut ControllerConfig);
        let rows: Vec<(Edit, Option<&str>)> = vec![
            (|_| {}, None),
            (|c| c.metrics_server = "https://prometheus.monitoring:9090/prefix".into(), None),
            (|c| c.metrics_server = "prometheus:9090".into(), Some("--metrics-server \"prometheus:9090\": scheme \"prometheus\" is not http or https")),
            (|c| c.metrics_server = "".into(), Some("--metrics-server \"\": not a URL (relative URL without a base); e.g. http://prometheus.monitoring:9090")),
            (|c| c.metrics_server = "localhost".into(), Some("--metrics-server \"localhost\": not a URL")),
            (|c| c.event_webhook = Some("ftp://events".into()), Some("--event-webhook \"ftp://events\": scheme \"ftp\" is not http or https")),
            (|c| c.slack_url = Some("hooks.slack.com/services/SECRET".into()), Some("--slack-url \"<redacted>\": not a URL")),
            (|c| c.msteams_url = Some("file:///etc/passwd".into()), Some("--msteams-url \"<redacted>\": scheme \"file\" is not http or https")),
            (|c| c.mesh_provider = "gloo".into(), Some("--mesh-provider \"gloo\": not a provider this fledge version routes through; use one of kubernetes, gatewayapi:v1, gatewayapi:v1beta1, istio, contour, nginx, linkerd, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, traefik")),
            (|c| c.mesh_provider = "istio".into(), None),
            (|c| c.mesh_provider = "gatewayapi:v1".into(), None),
        ];
        for (edit, want) in rows {
            let mut c = config();
            edit(&mut c);
            match (check_flags(&c), want) {
                (Ok(_), None) => {}
                (Err(e), Some(want)) => assert!(e.to_string().starts_with(want), "{e} / {want}"),
                (Ok(_), Some(want)) => panic!("accepted; want {want}"),
                (Err(e), None) => panic!("refused: {e}"),
            }
        }
    }
}
