//! `fledge demo` through the real binary: it must finish with exit 0 and a summary that says
//! the healthy release was promoted and the faulty one rolled back, with the failing values.
//! Also: every manifest in testdata/demo passes `fledge validate`, and the demo refuses to run
//! without Prometheus, naming the install command.

use std::path::PathBuf;
use std::process::{Command, Stdio};

const FLEDGE: &str = env!("CARGO_BIN_EXE_fledge");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prometheus_installed() -> bool {
    Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_demo_promotes_the_healthy_release_and_rolls_back_the_faulty_one() {
    assert!(
        prometheus_installed(),
        "the demo needs a real Prometheus: apt-get install -y prometheus"
    );
    // The child's stdout is a pipe, so there is no colour; every process the demo starts is
    // its own (in-process or its child) and ends with it.
    let out = Command::new(FLEDGE)
        .arg("demo")
        .output()
        .expect("run fledge demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fledge demo failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal:\n{stdout}"
    );

    // Live progress: the weight bar at each step, the HTTPRoute's weights, check values against
    // thresholds, Events.
    for want in [
        "phase   Initialized",
        "[##........]  20%",
        "[####......]  40%",
        "[######....]  60%",
        "phase   Succeeded",
        "phase   Failed",
        "want >= 99   Pass",
        "want >= 99   Fail",
        "want <= 500  Pass",
        "route   podinfo-primary 80  podinfo-canary 20",
        "route   podinfo-primary 40  podinfo-canary 60",
        "route   podinfo-primary 100  podinfo-canary 0",
        "event   Normal   Advance podinfo.demo canary weight 20",
        "event   Normal   Promotion completed! Scaling down podinfo.demo",
        "event   Warning  Rolling back podinfo.demo failed checks threshold reached 2",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }

    let summary = stdout
        .split_once("\nSummary\n")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    for want in [
        "release 1: ghcr.io/stefanprodan/podinfo:6.0.1 promoted after",
        "traffic: 20% → 40% → 60%; failed checks 0/2",
        "release 2: ghcr.io/stefanprodan/podinfo:6.1.0 rolled back after",
        "traffic: 20%; failed checks 2/2",
        "demo passed in",
    ] {
        assert!(
            summary.contains(want),
            "missing {want:?} in the summary:\n{summary}"
        );
    }
    // The failing values are shown, and they are the faulty image's ~70% success rate.
    let failing: Vec<f64> = summary
        .lines()
        .filter_map(|l| l.trim().strip_prefix("request-success-rate = "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(
        failing.len(),
        2,
        "two failed checks (threshold 2) in:\n{summary}"
    );
    for value in failing {
        assert!(
            (60.0..80.0).contains(&value),
            "a 70%-healthy canary read {value}:\n{summary}"
        );
    }
}

#[test]
fn every_demo_manifest_is_valid() {
    // The whole directory: the scenario file in it is not a Kubernetes object and is skipped.
    let out = Command::new(FLEDGE)
        .args(["validate", "--min-interval", "1s", "-f"])
        .arg(repo().join("testdata/demo"))
        .output()
        .expect("run fledge validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "fledge validate failed:\n{text}");
    assert!(
        text.contains("checked 2 objects: 2 valid, 0 invalid"),
        "the Canary and the MetricTemplate are checked:\n{text}"
    );
    assert!(
        !text.to_lowercase().contains("warning"),
        "no warnings:\n{text}"
    );
}

#[test]
fn without_prometheus_the_demo_says_how_to_install_it() {
    let empty = tempfile::tempdir().expect("temp dir");
    let out = Command::new(FLEDGE)
        .arg("demo")
        .env("PATH", empty.path())
        .output()
        .expect("run fledge demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("prometheus is not installed"), "{stderr}");
    assert!(stderr.contains("apt-get install -y prometheus"), "{stderr}");
}
