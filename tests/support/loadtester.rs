//! The real `fledge-loadtester` binary on a free loopback port. It lives next to the `fledge`
//! binary in the target dir; `make test` (`cargo test --workspace --all-targets`) builds it,
//! and a test run of this package alone builds it here when it is missing. Stopped on drop
//! with SIGTERM (so it kills the `hey` processes it started), then SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::FLEDGE;

pub struct Loadtester {
    child: Child,
    /// Base URL without a trailing slash.
    pub base: String,
    logs: Arc<Mutex<Vec<String>>>,
}

/// `target/<profile>/fledge-loadtester`, built with cargo when missing.
pub fn binary() -> PathBuf {
    let path = PathBuf::from(FLEDGE)
        .with_file_name(format!("fledge-loadtester{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "fledge-loadtester",
                "--bin",
                "fledge-loadtester",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p fledge-loadtester");
        assert!(status.success(), "cargo build -p fledge-loadtester failed");
    }
    assert!(
        path.exists(),
        "{} missing after building it",
        path.display()
    );
    path
}

impl Loadtester {
    pub fn start() -> Loadtester {
        let mut child = Command::new(binary())
            .args([
                "--address",
                "127.0.0.1",
                "--port",
                "0",
                "--log-format",
                "text",
                "--timeout",
                "2m",
            ])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fledge-loadtester");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = Arc::clone(&logs);
            let tx = tx.clone();
            // Drain for the process's whole life so its logging never blocks.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let addr: String =
                            rest.chars().take_while(|c| !c.is_whitespace()).collect();
                        let _ = tx.send(addr);
                    }
                    sink.lock().expect("logs").push(line);
                }
            });
        }
        let mut lt = Loadtester {
            child,
            base: String::new(),
            logs,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => lt.base = format!("http://{addr}"),
            Err(_) => panic!("fledge-loadtester did not log its address: {:?}", lt.logs()),
        }
        lt
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("logs").clone()
    }
}

impl Drop for Loadtester {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
