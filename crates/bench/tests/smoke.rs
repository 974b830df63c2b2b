//! The bench program end to end at N = 5 with tiny windows, so `make bench` cannot rot between
//! the runs that produce docs/benchmarks.md. Asserts that every phase measured something, not
//! how fast it was.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the bench (and with it, through kill_on_drop, its sim and controller) if the test
/// fails half-way.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `fledge` binary next to this package's binary in the shared target dir. `cargo test
/// --workspace` builds it; a nested cargo build here would wait forever on the outer cargo's lock.
fn fledge_binary() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_fledge-bench"));
    let path = bench.with_file_name("fledge");
    assert!(
        path.is_file(),
        "{} not found: run `cargo build --bin fledge` first",
        path.display()
    );
    path
}

#[test]
fn a_tiny_run_measures_every_phase_and_keeps_the_hand_written_doc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("benchmarks.md");
    std::fs::write(&out, "# Benchmarks\n\nHand-written analysis.\n").expect("seed doc");
    let sim_section = dir.path().join("sim.md");
    std::fs::write(
        &sim_section,
        "## Simulated API server\n\n| measure | value |\n",
    )
    .expect("sim section");
    let json = dir.path().join("results.json");
    let child = Command::new(env!("CARGO_BIN_EXE_fledge-bench"))
        .arg("--fledge")
        .arg(fledge_binary())
        .args([
            "--counts",
            "5",
            "--samples",
            "5",
            "--spacing-ms",
            "50",
            "--interval",
            "1",
            "--iterations",
            "3",
        ])
        .args([
            "--idle-window",
            "1",
            "--steps-window",
            "2",
            "--settle",
            "0.5",
        ])
        .arg("--work-dir")
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .arg(&json)
        .arg("--sim-section")
        .arg(&sim_section)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("bench.log")).expect("log"))
        .spawn()
        .expect("spawn fledge-bench");
    let mut guard = Guard(child);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "fledge-bench still running after 120s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(dir.path().join("bench.log")).unwrap_or_default();
    assert!(status.success(), "fledge-bench failed: {log}");

    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("results.json")).expect("json");
    let run = &results["runs"][0];
    assert_eq!(run["n"], 5);
    assert!(run["init_secs"].as_f64().is_some_and(|s| s > 0.0), "{run}");
    assert_eq!(run["released"], 5);
    assert_eq!(
        run["detection_ms"].as_array().map(Vec::len),
        Some(5),
        "every release detected: {run}"
    );
    assert_eq!(run["succeeded"], 5, "every release promoted: {run}");
    assert!(
        run["steps"].as_u64().is_some_and(|s| s > 0),
        "steps counted: {run}"
    );
    assert!(
        run["step_requests"]["writes"]
            .as_u64()
            .is_some_and(|w| w > 0),
        "the steps wrote status: {run}"
    );
    assert!(
        run["rss_peak_mib"].as_f64().is_some_and(|m| m > 1.0),
        "{run}"
    );
    assert!(
        results["empty"]["rss_mib"]
            .as_f64()
            .is_some_and(|m| m > 1.0),
        "{results}"
    );

    let doc = std::fs::read_to_string(&out).expect("doc");
    assert!(
        doc.starts_with("# Benchmarks\n\nHand-written analysis."),
        "{doc}"
    );
    assert!(doc.contains("| measure | N = 5 |"), "{doc}");
    assert!(doc.contains("### Targets"), "{doc}");
    assert!(doc.contains("## Simulated API server"), "{doc}");
}
