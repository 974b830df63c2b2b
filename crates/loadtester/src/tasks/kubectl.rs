//! `type: kubectl`: `kubectl <metadata.cmd split on whitespace>`, synchronously, like Flagger's
//! load tester (no shell, so no pipes or quoting). A leading `kubectl` word in `cmd` is accepted
//! and dropped, since people write it either way.

use axum::http::StatusCode;
use fledge_hooks::WebhookPayload;

use super::{Reply, TaskKind, command, flag, run_blocking};
use crate::server::AppState;

/// The arguments passed to kubectl for a `cmd` value.
fn kubectl_args(cmd: &str) -> Vec<&str> {
    let mut args: Vec<&str> = cmd.split_whitespace().collect();
    if args.first() == Some(&"kubectl") {
        args.remove(0);
    }
    args
}

pub async fn run(state: &AppState, payload: &WebhookPayload) -> Reply {
    let kind = TaskKind::Kubectl;
    let (cmd, return_output) = match (
        command(&payload.metadata, kind),
        flag(&payload.metadata, "returnCmdOutput"),
    ) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(msg), _) | (_, Err(msg)) => return Reply::new(StatusCode::BAD_REQUEST, msg),
    };
    let args = kubectl_args(cmd);
    let canary = payload.canary_key();
    run_blocking(state, kind, &canary, "kubectl", &args, return_output).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_whitespace_and_drops_leading_kubectl() {
        assert_eq!(
            kubectl_args("get  deploy podinfo -n test"),
            ["get", "deploy", "podinfo", "-n", "test"]
        );
        assert_eq!(
            kubectl_args("kubectl version --client"),
            ["version", "--client"]
        );
    }
}
