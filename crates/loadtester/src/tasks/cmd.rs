//! `type: cmd` (the default): `sh -c <metadata.cmd>` in the background. The hook gets 202 at once,
//! which is what a `rollout` hook starting `hey -z 1m ...` every interval needs. While the same
//! command for the same canary is still running, further calls are accepted and skipped.

use std::sync::Arc;

use axum::http::StatusCode;

use super::{Reply, TaskKind};
use crate::exec;
use crate::metrics::TaskResult;
use crate::server::AppState;

/// Starts `cmd` for `canary` (`name.namespace`) unless it is already running.
pub fn start(state: Arc<AppState>, canary: String, cmd: String, log_output: bool) -> Reply {
    let kind = TaskKind::Cmd;
    let Some(claim) = state.running.claim(format!("{canary}\n{cmd}")) else {
        state.metrics.finished(kind, TaskResult::Deduplicated);
        tracing::info!(canary, cmd, "command already running, skipped");
        return Reply::new(StatusCode::ACCEPTED, "command already running");
    };
    tracing::info!(canary, cmd, "command started");
    tokio::spawn(async move {
        let _claim = claim;
        let _running = state.metrics.running(kind);
        let result = match exec::run("sh", &["-c", &cmd], state.timeout).await {
            Ok(done) if done.success => {
                if log_output {
                    tracing::info!(canary, cmd, output = %done.output_lossy(), "command finished");
                } else {
                    tracing::info!(canary, cmd, "command finished");
                }
                TaskResult::Success
            }
            Ok(done) => {
                tracing::warn!(canary, cmd, status = %done.status, output = %done.output_lossy(), "command failed");
                TaskResult::Failure
            }
            Err(err @ exec::ExecError::TimedOut { .. }) => {
                tracing::warn!(canary, cmd, error = %err, "command failed");
                TaskResult::Timeout
            }
            Err(err) => {
                tracing::warn!(canary, cmd, error = %err, "command failed");
                TaskResult::Failure
            }
        };
        state.metrics.finished(kind, result);
    });
    Reply::new(StatusCode::ACCEPTED, "command started")
}
