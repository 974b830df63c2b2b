//! `type: bash`: `bash -c <metadata.cmd>`, synchronously; 200 on exit 0 (with the output when
//! `returnCmdOutput` is true), 500 with the status and output otherwise. Used for smoke tests
//! (`bats`, `curl`) in `pre-rollout` hooks, whose result must gate the rollout.

use axum::http::StatusCode;
use fledge_hooks::WebhookPayload;

use super::{Reply, TaskKind, command, flag, run_blocking};
use crate::server::AppState;

pub async fn run(state: &AppState, payload: &WebhookPayload) -> Reply {
    let kind = TaskKind::Bash;
    let (cmd, return_output) = match (
        command(&payload.metadata, kind),
        flag(&payload.metadata, "returnCmdOutput"),
    ) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(msg), _) | (_, Err(msg)) => return Reply::new(StatusCode::BAD_REQUEST, msg),
    };
    let canary = payload.canary_key();
    run_blocking(state, kind, &canary, "bash", &["-c", cmd], return_output).await
}
