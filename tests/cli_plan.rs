//! `fledge plan` through the real binary: the schedule per strategy (JSON keys and values),
//! the text rendering, and the exit codes for unreadable and invalid input.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const CANARY: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: gatewayapi:v1
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  service:
    port: 9898
    gatewayRefs:
      - name: public
        namespace: gateways
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 20
    metrics:
      - name: request-success-rate
        thresholdRange:
          min: 99
    webhooks:
      - name: gate
        type: confirm-rollout
        url: http://loadtester.test/gate/approve
      - name: smoke
        type: pre-rollout
        url: http://loadtester.test/
      - name: load
        url: http://loadtester.test/
      - name: notify
        type: post-rollout
        url: http://loadtester.test/
"#;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn fledge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(args)
        .env_remove("FLEDGE_MESH_PROVIDER")
        .env_remove("FLEDGE_MIN_INTERVAL")
        .output()
        .unwrap()
}

fn plan_json(yaml: &str) -> Value {
    let dir = Dir::new();
    let path = dir.file("canary.yaml", yaml);
    let out = fledge(&["plan", "-f", path.to_str().unwrap(), "-o", "json"]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn column(plan: &Value, key: &str) -> Vec<Value> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[key].clone())
        .collect()
}

fn ints(values: Vec<Value>) -> Vec<i64> {
    values.into_iter().map(|v| v.as_i64().unwrap()).collect()
}

fn strs(values: Vec<Value>) -> Vec<String> {
    values
        .into_iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn canary_strategy_steps_stop_at_max_weight() {
    let plan = plan_json(CANARY);
    assert_eq!(plan["strategy"], "canary");
    assert_eq!(plan["maxWeight"], 50);
    assert_eq!(
        ints(column(&plan, "canaryWeight")),
        vec![0, 20, 40, 50, 50, 0, 0]
    );
    assert_eq!(
        ints(column(&plan, "primaryWeight")),
        vec![100, 80, 60, 50, 50, 100, 100]
    );
    assert_eq!(
        ints(column(&plan, "offsetSeconds")),
        vec![0, 60, 120, 180, 240, 300, 360]
    );
    assert_eq!(
        strs(column(&plan, "phase")),
        vec![
            "Progressing",
            "Progressing",
            "Progressing",
            "Progressing",
            "Promoting",
            "Finalising",
            "Succeeded"
        ]
    );
    assert!(
        plan["steps"][0].get("iteration").is_none(),
        "no iterations for the canary strategy"
    );
    assert_eq!(plan["minDurationSeconds"], 360);
    assert_eq!(plan["rollbackAfterSeconds"], 300);
    // Gates and hooks at each step.
    let checks = |i: usize| -> Vec<String> {
        plan["steps"][i]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["type"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(checks(0), vec!["confirm-rollout gate"]);
    assert_eq!(checks(1), vec!["pre-rollout smoke"]);
    assert_eq!(
        checks(2),
        vec!["rollout load", "metric request-success-rate"]
    );
    assert_eq!(
        checks(4),
        vec!["rollout load", "metric request-success-rate"]
    );
    assert_eq!(plan["steps"][6]["hooks"][0]["type"], "post-rollout");
}

#[test]
fn flagger_api_version_gives_the_same_plan() {
    let fledge_plan = plan_json(CANARY);
    let flagger_plan = plan_json(&CANARY.replace("fledge.dev/v1beta1", "flagger.app/v1beta1"));
    assert_eq!(fledge_plan, flagger_plan);
}

#[test]
fn step_weights_and_step_weight_promotion() {
    let yaml = CANARY.replace(
        "    maxWeight: 50\n    stepWeight: 20\n",
        "    stepWeights: [5, 10, 30]\n    stepWeightPromotion: 20\n",
    );
    let plan = plan_json(&yaml);
    assert_eq!(plan["maxWeight"], 30);
    assert_eq!(plan["stepWeightPromotion"], 20);
    assert_eq!(
        ints(column(&plan, "canaryWeight")),
        vec![0, 5, 10, 30, 30, 10, 0, 0]
    );
    assert_eq!(
        strs(column(&plan, "phase")),
        vec![
            "Progressing",
            "Progressing",
            "Progressing",
            "Progressing",
            "Promoting",
            "Promoting",
            "Finalising",
            "Succeeded"
        ]
    );
    assert_eq!(plan["minDurationSeconds"], 420);
}

#[test]
fn blue_green_with_the_default_kubernetes_provider() {
    let yaml = CANARY
        .replace("  provider: gatewayapi:v1\n", "")
        .replace(
            "    gatewayRefs:\n      - name: public\n        namespace: gateways\n",
            "",
        )
        .replace(
            "    maxWeight: 50\n    stepWeight: 20\n",
            "    iterations: 3\n",
        );
    let plan = plan_json(&yaml);
    assert_eq!(plan["strategy"], "blue-green");
    assert_eq!(plan["trafficShifting"], false);
    assert_eq!(plan["iterations"], 3);
    assert!(
        ints(column(&plan, "canaryWeight")).iter().all(|w| *w == 0),
        "no weights with the kubernetes provider"
    );
    assert_eq!(
        ints(column(&plan, "iteration")),
        vec![0, 1, 2, 3, 4, 4, 4, 0]
    );
    assert_eq!(strs(column(&plan, "phase")).last().unwrap(), "Succeeded");
}

#[test]
fn blue_green_with_mirroring_on_gatewayapi() {
    let yaml = CANARY.replace(
        "    maxWeight: 50\n    stepWeight: 20\n",
        "    iterations: 2\n    mirror: true\n",
    );
    let plan = plan_json(&yaml);
    assert_eq!(plan["strategy"], "blue-green");
    assert_eq!(plan["mirroring"], true);
    let mirrored: Vec<bool> = column(&plan, "mirrored")
        .into_iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    assert_eq!(
        mirrored,
        vec![false, true, true, false, false, false, false]
    );
    assert_eq!(
        ints(column(&plan, "canaryWeight")),
        vec![0, 0, 0, 100, 100, 0, 0]
    );
}

#[test]
fn ab_testing_sends_matching_requests_to_the_canary() {
    let yaml = CANARY.replace(
        "    maxWeight: 50\n    stepWeight: 20\n",
        "    iterations: 2\n    match:\n      - headers:\n          x-canary:\n            exact: insider\n",
    );
    let plan = plan_json(&yaml);
    assert_eq!(plan["strategy"], "ab-testing");
    assert_eq!(ints(column(&plan, "iteration")), vec![0, 1, 2, 2, 2, 0]);
    assert_eq!(
        ints(column(&plan, "canaryWeight")),
        vec![0, 100, 100, 100, 0, 0]
    );
}

#[test]
fn canary_with_mirroring_takes_a_mirrored_step_first() {
    let yaml = CANARY.replace(
        "    stepWeight: 20\n",
        "    stepWeight: 20\n    mirror: true\n",
    );
    let plan = plan_json(&yaml);
    let mirrored: Vec<bool> = column(&plan, "mirrored")
        .into_iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    assert_eq!(&mirrored[..3], &[false, true, false]);
    assert_eq!(&ints(column(&plan, "canaryWeight"))[..3], &[0, 0, 20]);
}

#[test]
fn text_output_explains_each_step_and_the_timings() {
    let dir = Dir::new();
    let path = dir.file("canary.yaml", CANARY);
    let out = fledge(&["plan", "-f", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Canary test/podinfo: canary, weights up to 50%; a step every 1m"),
        "{text}"
    );
    for expected in [
        "+0s     Progressing  100/0",
        "confirm-rollout gate",
        "Advance podinfo.test canary weight 50",
        "+4m     Promoting    50/50",
        "Promotion completed! Scaling down podinfo.test",
        "Shortest time to promotion: 6m (360s)",
        "rolled back 5m (300s) after its last passing step: threshold 5 × interval 1m",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn reads_stdin_and_skips_other_documents() {
    let input =
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n---\n{CANARY}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["plan", "-f", "-", "-o", "json"])
        .env_remove("FLEDGE_MESH_PROVIDER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["canary"], "test/podinfo");
}

#[test]
fn unreadable_input_exits_2_naming_the_file() {
    let dir = Dir::new();
    let missing = dir.0.path().join("missing.yaml");
    let out = fledge(&["plan", "-f", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.yaml: cannot read"), "{stderr}");

    let garbage = dir.file("garbage.yaml", "kind: [unclosed\n");
    let out = fledge(&["plan", "-f", garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("garbage.yaml: not valid YAML"));
}

#[test]
fn invalid_canary_exits_1_naming_the_file_and_field() {
    let dir = Dir::new();
    let path = dir.file(
        "bad.yaml",
        &CANARY.replace("stepWeight: 20", "stepWeight: 0"),
    );
    let out = fledge(&["plan", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml"), "{stderr}");
    assert!(stderr.contains("spec.analysis.stepWeight"), "{stderr}");

    let none = dir.file(
        "none.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    let out = fledge(&["plan", "-f", none.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.yaml: no Canary found"));
}

#[test]
fn skip_analysis_and_suspend_are_explained() {
    let skip = CANARY.replace(
        "spec:\n  provider: gatewayapi:v1\n",
        "spec:\n  provider: gatewayapi:v1\n  skipAnalysis: true\n",
    );
    let plan = plan_json(&skip);
    assert_eq!(plan["skipAnalysis"], true);
    assert_eq!(
        strs(column(&plan, "phase")),
        vec!["Progressing", "Promoting", "Finalising", "Succeeded"]
    );
    // confirm-rollout still gates a skipped analysis (as in Flagger); nothing else is checked.
    let checked: Vec<usize> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["checks"].as_array().unwrap().len())
        .collect();
    assert_eq!(checked, vec![1, 0, 0, 0]);

    let dir = Dir::new();
    let path = dir.file(
        "suspended.yaml",
        &CANARY.replace(
            "spec:\n  provider: gatewayapi:v1\n",
            "spec:\n  provider: gatewayapi:v1\n  suspend: true\n",
        ),
    );
    let out = fledge(&["plan", "-f", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("spec.suspend is true: nothing happens until it is unset."),
        "{text}"
    );
    assert!(!text.contains("Shortest time"), "{text}");
}

#[test]
fn text_output_says_what_each_metric_is_judged_against() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/canaries/fledge-compare-primary.yaml"),
    )
    .unwrap();
    let dir = Dir::new();
    let path = dir.file("canary.yaml", &text);
    let out = fledge(&["plan", "-f", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "\nMetrics:\n",
        "  request-success-rate  canary - primary >= -1 (significance 0.05); judged from 200 samples on each side\n",
        "  request-duration      canary / primary <= 1.2\n",
        "  p95-vs-primary        <= 800; canary - primary <= 50\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
