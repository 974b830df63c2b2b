//! promote, abort, retry, pause, resume: the `fledge.dev/request` annotation with a unique
//! nonce, then (unless `--no-wait`) a watch until the controller records it as handled in
//! `status.lastHandledRequest`, and what came of it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use fledge_api::Canary;
use fledge_api::names::REQUEST_ANNOTATION;
use fledge_core::{ManualRequest, RequestKind};
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::await_condition;

use crate::show::line;

/// What came of a request: the exit code `kubectl fledge` gives (0 carried out, 1 refused,
/// 2 not acknowledged in time) and the sentence that says so.
pub struct Outcome {
    pub code: u8,
    pub message: String,
}

pub async fn send(
    api: &Api<Canary>,
    ns: &str,
    name: &str,
    kind: RequestKind,
    wait: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let outcome = request(api, ns, name, kind, wait).await?;
    println!("{}", outcome.message);
    Ok(ExitCode::from(outcome.code))
}

pub async fn request(
    api: &Api<Canary>,
    ns: &str,
    name: &str,
    kind: RequestKind,
    wait: Option<Duration>,
) -> anyhow::Result<Outcome> {
    let said = |code, message| Ok(Outcome { code, message });
    // Fails early, with the usual message, when the Canary doesn't exist.
    let current = api
        .get(name)
        .await
        .map_err(|e| explain(e, "get", ns, name))?;
    // Said at once rather than after a round trip through the controller, which would ignore
    // it for the same reason (core's refusal agrees with the machine).
    if let Some(why) = kind.refusal(&current) {
        return said(1, format!("{kind} refused: canary {ns}/{name}: {why}"));
    }
    let value = ManualRequest::annotation_value(kind, &jiff::Timestamp::now().to_string());
    let patch = serde_json::json!({"metadata": {"annotations": {REQUEST_ANNOTATION: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| explain(e, "patch", ns, name))?;
    let Some(timeout) = wait else {
        return said(
            0,
            format!("{kind} requested for canary {ns}/{name} ({REQUEST_ANNOTATION}={value})"),
        );
    };
    let handled = {
        let value = value.clone();
        move |c: Option<&Canary>| {
            c.and_then(|c| c.status.as_ref())
                .and_then(|s| s.last_handled_request.as_deref())
                == Some(value.as_str())
        }
    };
    let acknowledged =
        tokio::time::timeout(timeout, await_condition(api.clone(), name, handled)).await;
    let canary = match acknowledged {
        Ok(found) => found.with_context(|| format!("watching canary {ns}/{name}"))?,
        Err(_) => {
            return said(
                2,
                format!(
                    "{kind} requested for canary {ns}/{name}, not acknowledged after {}s; is the fledge controller running? (it acts on {REQUEST_ANNOTATION}={value} when it is)",
                    timeout.as_secs()
                ),
            );
        }
    };
    let Some(canary) = canary else {
        anyhow::bail!("canary {ns}/{name} was deleted");
    };
    let line = line(&canary);
    // The controller says why it ignored a request that doesn't fit the phase.
    let ignored = canary
        .status
        .as_ref()
        .and_then(|s| s.message.as_deref())
        .is_some_and(|m| m.starts_with("Ignoring request"));
    if ignored {
        return said(1, format!("{kind} not carried out: {line}"));
    }
    said(0, format!("{kind} carried out: {line}"))
}

/// An API error as a sentence that names the Canary and says what to do.
pub fn explain(err: kube::Error, verb: &str, ns: &str, name: &str) -> anyhow::Error {
    let what = if name.is_empty() {
        "canaries".to_string()
    } else {
        format!("canary {ns}/{name}")
    };
    match &err {
        kube::Error::Api(status)
            if status.code == 404
                && !name.is_empty()
                && !status
                    .message
                    .contains("the server could not find the requested resource") =>
        {
            anyhow::anyhow!(
                "{what} not found; `kubectl fledge list` shows the Canaries in this namespace (-n to pick another)"
            )
        }
        kube::Error::Api(status) if status.code == 404 => anyhow::anyhow!(
            "the fledge CRDs are not installed in this cluster (canaries.fledge.dev is not served); install them with `fledge crds | kubectl apply -f -`"
        ),
        kube::Error::Api(status) if status.code == 403 => anyhow::anyhow!(
            "{what}: forbidden: your account may not {verb} canaries.fledge.dev{}; ask for that permission ({})",
            if ns.is_empty() {
                String::new()
            } else {
                format!(" in namespace {ns}")
            },
            status.message
        ),
        _ => anyhow::Error::new(err).context(format!("{verb} {what}")),
    }
}
