//! The task types `POST /` can run, chosen by `metadata.type` (default `cmd`).
//! Reading a request into a [`Task`] is pure (and fuzzed: `crates/fuzz`); running it is the
//! only I/O. The asynchronous tasks have a file each.

mod cmd;
mod kubectl;
mod load;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use fledge_hooks::WebhookPayload;

use crate::exec::{self, ExecError};
use crate::metrics::TaskResult;
use crate::server::AppState;

pub use load::LoadSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// `sh -c`, asynchronous, deduplicated per canary and command.
    Cmd,
    /// `bash -c`, synchronous.
    Bash,
    /// `kubectl <args>`, synchronous.
    Kubectl,
    /// The native HTTP load generator, asynchronous, deduplicated per canary and target.
    Load,
}

const SUPPORTED: &str = "cmd, bash, kubectl, load";

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Cmd => "cmd",
            TaskKind::Bash => "bash",
            TaskKind::Kubectl => "kubectl",
            TaskKind::Load => "load",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "cmd" => Ok(TaskKind::Cmd),
            "bash" => Ok(TaskKind::Bash),
            "kubectl" => Ok(TaskKind::Kubectl),
            "load" => Ok(TaskKind::Load),
            "helm" | "helmv3" | "concord" | "ngrinder" => Err(format!(
                "metadata.type {s:?} is a Flagger load tester task that fledge-loadtester does \
                 not run; use type \"bash\" with the tool's command line instead \
                 (supported types: {SUPPORTED})"
            )),
            _ => Err(format!(
                "unknown task type {s:?} in metadata.type (supported types: {SUPPORTED})"
            )),
        }
    }
}

/// An HTTP answer: status and plain-text body.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
}

impl Reply {
    pub fn new(status: StatusCode, body: impl Into<String>) -> Self {
        Reply {
            status,
            body: body.into(),
        }
    }

    fn bad_request(body: impl Into<String>) -> Self {
        Reply::new(StatusCode::BAD_REQUEST, body)
    }
}

/// What a request asks for, read from its metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// `sh -c <cmd>` in the background (202 at once), deduplicated per canary and command:
    /// what a `rollout` hook starting `hey -z 1m ...` every interval needs.
    Cmd { cmd: String, log_output: bool },
    /// `bash -c <cmd>`, synchronously: 200 on exit 0 (with the output when `returnCmdOutput`
    /// is true), 500 with the status and output otherwise. For smoke tests (`bats`, `curl`) in
    /// `pre-rollout` hooks, whose result must gate the rollout.
    Bash { cmd: String, return_output: bool },
    /// `kubectl <args>`, synchronously, like `Bash` but without a shell.
    Kubectl {
        args: Vec<String>,
        return_output: bool,
    },
    /// The native load generator.
    Load(Box<LoadSpec>),
}

impl Task {
    /// Reads the task from a payload's metadata; the error is the 400 answer's text, naming
    /// the field. `max_duration` is the service's `--timeout`.
    pub fn parse(
        metadata: &BTreeMap<String, String>,
        max_duration: Duration,
    ) -> Result<Self, String> {
        if metadata.is_empty() {
            return Err("metadata not found in payload".to_owned());
        }
        let kind = match metadata.get("type") {
            None => TaskKind::Cmd,
            Some(t) => TaskKind::parse(t)?,
        };
        Ok(match kind {
            TaskKind::Cmd => Task::Cmd {
                cmd: command(metadata, kind)?.to_owned(),
                log_output: flag(metadata, "logCmdOutput")?,
            },
            TaskKind::Bash => Task::Bash {
                cmd: command(metadata, kind)?.to_owned(),
                return_output: flag(metadata, "returnCmdOutput")?,
            },
            TaskKind::Kubectl => Task::Kubectl {
                args: kubectl::args(command(metadata, kind)?),
                return_output: flag(metadata, "returnCmdOutput")?,
            },
            TaskKind::Load => {
                Task::Load(Box::new(LoadSpec::from_metadata(metadata, max_duration)?))
            }
        })
    }
}

/// Runs the task a payload asks for.
pub async fn dispatch(state: Arc<AppState>, payload: WebhookPayload) -> Reply {
    let task = match Task::parse(&payload.metadata, state.timeout) {
        Ok(task) => task,
        Err(msg) => return Reply::bad_request(msg),
    };
    let canary = payload.canary_key();
    match task {
        Task::Cmd { cmd, log_output } => cmd::start(state, canary, cmd, log_output),
        Task::Bash { cmd, return_output } => {
            let args = ["-c", cmd.as_str()];
            run_blocking(
                &state,
                TaskKind::Bash,
                &canary,
                "bash",
                &args,
                return_output,
            )
            .await
        }
        Task::Kubectl {
            args,
            return_output,
        } => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_blocking(
                &state,
                TaskKind::Kubectl,
                &canary,
                "kubectl",
                &args,
                return_output,
            )
            .await
        }
        Task::Load(spec) => load::start(state, canary, *spec),
    }
}

/// `metadata.<key>` as a boolean, accepting what Go's `strconv.ParseBool` accepts.
fn flag(metadata: &BTreeMap<String, String>, key: &str) -> Result<bool, String> {
    match metadata.get(key).map(String::as_str) {
        None => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(format!(
            "metadata.{key} must be \"true\" or \"false\" (got {other:?})"
        )),
    }
}

/// `metadata.cmd`, which every command task needs.
fn command(metadata: &BTreeMap<String, String>, kind: TaskKind) -> Result<&str, String> {
    match metadata.get("cmd").map(|c| c.trim()) {
        Some(c) if !c.is_empty() => Ok(c),
        _ => Err(format!(
            "metadata.cmd is required for task type {:?}",
            kind.as_str()
        )),
    }
}

/// Runs a command to completion and maps its result to the reply a synchronous task gives:
/// 200 (with the output if asked) or 500 with the status and the output.
async fn run_blocking(
    state: &AppState,
    kind: TaskKind,
    canary: &str,
    program: &str,
    args: &[&str],
    return_output: bool,
) -> Reply {
    let _running = state.metrics.running(kind);
    match exec::run(program, args, state.timeout).await {
        Ok(done) if done.success => {
            state.metrics.finished(kind, TaskResult::Success);
            tracing::info!(canary, task = kind.as_str(), output = %done.output_lossy(), "command finished");
            let body = if return_output {
                done.output_lossy()
            } else {
                String::new()
            };
            Reply::new(StatusCode::OK, body)
        }
        Ok(done) => {
            state.metrics.finished(kind, TaskResult::Failure);
            tracing::warn!(canary, task = kind.as_str(), status = %done.status, output = %done.output_lossy(), "command failed");
            Reply::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("command failed ({}): {}", done.status, done.output_lossy()),
            )
        }
        Err(err) => {
            let result = match err {
                ExecError::TimedOut { .. } => TaskResult::Timeout,
                _ => TaskResult::Failure,
            };
            state.metrics.finished(kind, result);
            tracing::warn!(canary, task = kind.as_str(), error = %err, "command failed");
            Reply::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
        }
    }
}

/// Keys of the asynchronous tasks running now, so a hook that fires every analysis interval
/// does not stack a second copy of a task that is still going.
#[derive(Default)]
pub struct Running {
    keys: Arc<Mutex<HashSet<String>>>,
}

/// Holds a key in [`Running`] until dropped.
pub struct Claim {
    keys: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Running {
    /// `None` if a task with this key is already running.
    fn claim(&self, key: String) -> Option<Claim> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if !keys.insert(key.clone()) {
            return None;
        }
        Some(Claim {
            keys: Arc::clone(&self.keys),
            key,
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_kinds() {
        for kind in [
            TaskKind::Cmd,
            TaskKind::Bash,
            TaskKind::Kubectl,
            TaskKind::Load,
        ] {
            assert_eq!(TaskKind::parse(kind.as_str()), Ok(kind));
        }
        let err = TaskKind::parse("nope").unwrap_err();
        assert!(err.contains("unknown task type \"nope\""), "{err}");
        let err = TaskKind::parse("helmv3").unwrap_err();
        assert!(err.contains("use type \"bash\""), "{err}");
    }

    #[test]
    fn tasks_read_from_metadata() {
        let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let max = Duration::from_secs(3600);
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<Task, &'a str>);
        let cases: [Case; 6] = [
            (&[], Err("metadata not found in payload")),
            (
                &[("cmd", " hey -z 1m ")],
                Ok(Task::Cmd {
                    cmd: "hey -z 1m".into(),
                    log_output: false,
                }),
            ),
            (
                &[
                    ("type", "bash"),
                    ("cmd", "curl x"),
                    ("returnCmdOutput", "t"),
                ],
                Ok(Task::Bash {
                    cmd: "curl x".into(),
                    return_output: true,
                }),
            ),
            (
                &[("type", "kubectl"), ("cmd", "kubectl get  pods")],
                Ok(Task::Kubectl {
                    args: vec!["get".into(), "pods".into()],
                    return_output: false,
                }),
            ),
            (
                &[("type", "bash"), ("cmd", "x"), ("returnCmdOutput", "yes")],
                Err("metadata.returnCmdOutput must be \"true\" or \"false\" (got \"yes\")"),
            ),
            (
                &[("type", "load")],
                Err("metadata.url is required for task type \"load\""),
            ),
        ];
        for (metadata, want) in cases {
            let got = Task::parse(&m(metadata), max);
            assert_eq!(got, want.map_err(str::to_owned), "{metadata:?}");
        }
    }

    #[test]
    fn flags_accept_go_booleans() {
        let m = |v: &str| BTreeMap::from([("k".to_owned(), v.to_owned())]);
        assert_eq!(flag(&BTreeMap::new(), "k"), Ok(false));
        assert_eq!(flag(&m("true"), "k"), Ok(true));
        assert_eq!(flag(&m("1"), "k"), Ok(true));
        assert_eq!(flag(&m("False"), "k"), Ok(false));
        assert!(flag(&m("yes"), "k").unwrap_err().contains("metadata.k"));
    }

    #[test]
    fn command_is_required() {
        let m = BTreeMap::from([("cmd".to_owned(), "  ".to_owned())]);
        let err = command(&m, TaskKind::Bash).unwrap_err();
        assert_eq!(err, "metadata.cmd is required for task type \"bash\"");
    }

    #[test]
    fn claims_deduplicate_until_dropped() {
        let running = Running::default();
        let first = running.claim("a".into()).unwrap();
        assert!(running.claim("a".into()).is_none());
        assert!(running.claim("b".into()).is_some());
        drop(first);
        assert!(running.claim("a".into()).is_some());
    }
}
