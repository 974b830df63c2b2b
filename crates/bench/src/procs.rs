//! The processes under test: `fledge sim` and `fledge controller` as separate children (so the
//! controller's memory and CPU are its own), killed when their guard drops, and their resource
//! use read from `/proc/<pid>`. Never touches a process it did not start.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// A child process killed (SIGKILL) when dropped, also when the bench fails half-way.
pub struct Proc {
    child: Child,
    what: &'static str,
}

impl Proc {
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child
            .id()
            .with_context(|| format!("{} has already exited", self.what))
    }

    /// Fails when the process has exited, with its exit status: a crashed controller must not
    /// look like a slow one.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("{} exited unexpectedly ({status})", self.what),
            None => Ok(()),
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A running `fledge sim`.
pub struct SimProc {
    /// The sim lives exactly as long as this value.
    pub process: Proc,
    pub url: String,
    pub kubeconfig: PathBuf,
}

/// Starts `fledge sim` with `scenario` (YAML) in `dir` and waits for its ready line.
pub async fn start_sim(fledge: &Path, dir: &Path, scenario: &str) -> anyhow::Result<SimProc> {
    let scenario_path = dir.join("scenario.yaml");
    std::fs::write(&scenario_path, scenario).context("writing the sim scenario")?;
    let kubeconfig = dir.join("kubeconfig");
    let log = std::fs::File::create(dir.join("sim.log")).context("creating sim.log")?;
    let mut child = Command::new(fledge)
        .args(["sim", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--scenario")
        .arg(&scenario_path)
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} sim", fledge.display()))?;
    let stdout = child.stdout.take().context("sim stdout")?;
    let proc = Proc {
        child,
        what: "fledge sim",
    };
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.strip_prefix("sim ready: ") {
                return Ok::<_, std::io::Error>(Some(url.trim().to_string()));
            }
        }
        Ok(None)
    })
    .await;
    let url = match ready {
        Ok(Ok(Some(url))) => url,
        _ => bail!(
            "fledge sim did not print its ready line within 30s (see {})",
            dir.join("sim.log").display()
        ),
    };
    Ok(SimProc {
        process: proc,
        url,
        kubeconfig,
    })
}

/// Starts `fledge controller` against `kubeconfig`, logging to `log`.
pub fn start_controller(fledge: &Path, kubeconfig: &Path, log: &Path) -> anyhow::Result<Proc> {
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let child = Command::new(fledge)
        .args(["controller", "--kubeconfig"])
        .arg(kubeconfig)
        // Metrics need Prometheus; the canaries here have none, so the address is never used.
        .args([
            "--min-interval",
            "1s",
            "--listen",
            "127.0.0.1:0",
            "--metrics-server",
            "http://127.0.0.1:9",
        ])
        .args(["--log-level", "warn,fledge::controller=info"])
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} controller", fledge.display()))?;
    Ok(Proc {
        child,
        what: "fledge controller",
    })
}

/// Waits until `needle` appears in the file at `path`.
pub async fn wait_for_log(
    proc: &mut Proc,
    path: &Path,
    needle: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        proc.check_running()?;
        if std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(needle)
        {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("{needle:?} not in {} after {timeout:?}", path.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resident memory of a process, in KiB: current (`VmRSS`) and peak (`VmHWM`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_kib: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(parse_memory(&status))
}

fn parse_memory(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    }
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32, ticks_per_sec: u64) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
        .map(|ticks| Duration::from_secs_f64(ticks as f64 / ticks_per_sec.max(1) as f64))
        .with_context(|| format!("/proc/{pid}/stat has no utime/stime"))
}

/// utime + stime (fields 14 and 15). The command name (field 2) may contain spaces and
/// parentheses, so counting starts after its last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so utime (14) is index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 on every mainstream Linux.
pub fn ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fields_are_read_in_kib() {
        let status = "Name:\tfledge\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t4\n";
        assert_eq!(
            parse_memory(status),
            Memory {
                rss_kib: 40960,
                peak_kib: 51200
            }
        );
        assert_eq!(parse_memory("Name:\tx\n"), Memory::default());
    }

    #[test]
    fn cpu_ticks_survive_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (fledge (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 123 456 789";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_can_be_measured() {
        let pid = std::process::id();
        let m = memory(pid).expect("own status");
        assert!(m.rss_kib > 0 && m.peak_kib >= m.rss_kib, "{m:?}");
        assert!(cpu_time(pid, ticks_per_sec()).is_ok());
    }
}
