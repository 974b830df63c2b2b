//! AlertProvider rules: somewhere to send to, as a URL.

use super::{Findings, Problem, is_http_url};
use crate::alert_provider::AlertProvider;

pub fn validate_alert_provider(provider: &AlertProvider) -> Vec<Problem> {
    let mut f = Findings::new("AlertProvider", &provider.metadata);
    let spec = &provider.spec;
    match (spec.address.as_deref(), &spec.secret_ref) {
        (None, None) => f.error(
            "spec.address",
            "required unless spec.secretRef names a Secret with an `address` key: the webhook URL to post to",
        ),
        (Some(address), _) if !is_http_url(address) => {
            f.error("spec.address", format!("must be an http:// or https:// URL (got {address:?})"));
        }
        _ => {}
    }
    if let Some(secret) = &spec.secret_ref
        && secret.name.is_empty()
    {
        f.error("spec.secretRef.name", "required");
    }
    if let Some(proxy) = spec.proxy.as_deref()
        && !is_http_url(proxy)
    {
        f.error(
            "spec.proxy",
            format!("must be an http:// or https:// URL (got {proxy:?})"),
        );
    }
    f.problems
}
