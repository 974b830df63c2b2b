//! `fledge sim` as a process: it prints `sim ready: <url>` once it serves, writes a kubeconfig
//! with the `fledge-sim` context, serves `/sim/stats`, applies a faults file, refuses a bad
//! one naming the field, and stops cleanly on SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Guard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .arg("sim")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fledge sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read stdout");
    let url = line
        .trim()
        .strip_prefix("sim ready: ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (guard, url)
}

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn serves_writes_kubeconfig_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("sub/kubeconfig");
    let faults = repo().join("testdata/sim/faults-flaky.yaml");
    let (mut guard, url) = start(&[
        "--listen",
        "127.0.0.1:0",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--faults",
        faults.to_str().unwrap(),
    ]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains(&format!("server: {url}")), "{text}");
    assert!(text.contains("current-context: fledge-sim"), "{text}");
    let out = Command::new("/usr/bin/kubectl")
        .args([
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.contexts[0].name} {.clusters[0].name} {.users[0].name}",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fledge-sim fledge-sim fledge-sim"
    );
    let out = Command::new("/usr/bin/kubectl")
        .args(["get", "ns", "-o", "name"])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir.path())
        .env("KUBECACHEDIR", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("namespace/default"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats: serde_json::Value = rt.block_on(async {
        let started = Instant::now();
        // The faults file adds 20ms to every API resource request (not to /version).
        reqwest::get(format!("{url}/api/v1/namespaces/default"))
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(20));
        reqwest::get(format!("{url}/sim/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(stats["requests"]["list"]["namespaces"], 1, "{stats}");
    assert!(stats["objectsStored"].as_u64().unwrap() >= 4);

    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = guard.0.try_wait().unwrap() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "fledge sim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code:?}");
}

#[test]
fn a_bad_faults_file_is_refused_with_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.yaml");
    std::fs::write(&path, "rules:\n  - errorRate: 1.5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["sim", "--faults", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rules[0].errorRate: must be between 0 and 1 (got 1.5)"),
        "{err}"
    );
}

/// `--join` names the kubeconfig it can't read, and refuses the flags of a sim with its own API
/// (`--listen` stays: it is where a joined sim serves traffic and metrics).
#[test]
fn join_names_a_kubeconfig_it_cannot_read_and_refuses_api_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["sim", "--join", "/nonexistent/admin.kubeconfig"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--join /nonexistent/admin.kubeconfig: reading the kubeconfig"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["sim", "--join", "k", "--faults", "f.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'--join <KUBECONFIG>' cannot be used with '--faults"),
        "{err}"
    );
}

#[test]
fn the_example_faults_files_load() {
    for name in ["faults-flaky.yaml", "faults-watch-drops.yaml"] {
        let path = repo().join("testdata/sim").join(name);
        let (guard, url) = start(&["--faults", path.to_str().unwrap()]);
        assert!(url.starts_with("http://127.0.0.1:"));
        drop(guard);
    }
}
