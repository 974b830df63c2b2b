//! Runs one external command with a deadline, without blocking the async runtime.
//!
//! Each command gets its own process group so that a timeout (or a cancelled request) kills the
//! whole tree: `sh -c "hey ..."` would otherwise leave `hey` running after `sh` is killed.

use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};

/// What a finished command produced. stdout comes first, then stderr (not interleaved).
#[derive(Debug)]
pub struct Finished {
    pub success: bool,
    /// `exit status: 1`, `signal: 9 (SIGKILL)`, ... as the OS reports it.
    pub status: String,
    pub output: Vec<u8>,
}

impl Finished {
    pub fn output_lossy(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("reading the output of {program} failed: {source}")]
    Wait {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} timed out after {}s and was killed", timeout.as_secs_f64())]
    TimedOut { program: String, timeout: Duration },
}

/// Kills the command's process group unless disarmed, so that dropping the future (timeout,
/// client disconnect, shutdown) never leaves processes behind.
struct GroupKiller(Option<Pid>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // ESRCH (already gone) is the expected case after a clean exit race; nothing to do.
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

pub async fn run(program: &str, args: &[&str], timeout: Duration) -> Result<Finished, ExecError> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ExecError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    let mut killer = GroupKiller(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw),
    );
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            killer.0 = None;
            let mut output = out.stdout;
            output.extend_from_slice(&out.stderr);
            Ok(Finished {
                success: out.status.success(),
                status: out.status.to_string(),
                output,
            })
        }
        Ok(Err(source)) => Err(ExecError::Wait {
            program: program.to_owned(),
            source,
        }),
        Err(_) => Err(ExecError::TimedOut {
            program: program.to_owned(),
            timeout,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn captures_stdout_then_stderr_and_status() {
        let f = run("sh", &["-c", "echo out; echo err >&2; exit 3"], LONG)
            .await
            .unwrap();
        assert!(!f.success);
        assert_eq!(f.status, "exit status: 3");
        assert_eq!(f.output_lossy(), "out\nerr\n");
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let err = run("/nonexistent/fledge-nope", &[], LONG)
            .await
            .unwrap_err();
        assert!(matches!(err, ExecError::Spawn { .. }), "{err}");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        // The grandchild would create the marker if it outlived the timeout.
        let script = format!("(sleep 2; touch {}) & wait", marker.display());
        let err = run("sh", &["-c", &script], Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, ExecError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("timed out after 0.2s"), "{err}");
        // Poll past the grandchild's deadline: the marker must never appear.
        let until = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < until {
            assert!(!marker.exists(), "grandchild survived the timeout");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
