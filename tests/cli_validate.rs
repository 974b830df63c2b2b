//! `fledge validate` through the binary: exit codes, one line per problem with file and
//! document, the summary on stderr, warnings, stdin, directories, and every example in
//! testdata/canaries and testdata/flagger/metric-templates.yaml (valid), testdata/unrouted-providers (refused for spec.provider alone) and
//! testdata/invalid (each with its `# expect:` line).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fledge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fledge"))
}

fn validate(args: &[&str]) -> Output {
    fledge().arg("validate").args(args).output().unwrap()
}

fn validate_stdin(input: &str, extra: &[&str]) -> Output {
    let mut child = fledge()
        .args(["validate", "-f", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(dir)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_in_testdata_canaries_is_valid_without_warnings() {
    let dir = testdata("canaries");
    let out = validate(&["-f", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "examples should not even warn");
    let files = yaml_files(&dir).len();
    assert!(files >= 5, "only {files} examples");
    let summary = stderr(&out);
    let checked: usize = summary
        .strip_prefix("checked ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in {summary:?}"));
    assert!(checked >= files, "{summary}");
    assert_eq!(
        summary.trim_end(),
        format!("checked {checked} objects: {checked} valid, 0 invalid")
    );
}

/// MetricTemplates as Flagger's docs write them (Go templates with printf, index, pipelines,
/// conditionals): each is valid as it is, apiVersion flagger.app included.
#[test]
fn flagger_style_metric_templates_are_valid() {
    let file = testdata("flagger").join("metric-templates.yaml");
    let out = validate(&["-f", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "not even a warning");
    assert_eq!(stderr(&out), "checked 6 objects: 6 valid, 0 invalid\n");
}

/// Flagger examples for providers this version doesn't route through: `fledge validate` refuses
/// each for exactly that reason (the controller refuses the same list), and for nothing else.
#[test]
fn examples_for_unrouted_providers_fail_only_on_spec_provider() {
    let files = yaml_files(&testdata("unrouted-providers"));
    assert!(files.len() >= 6, "only {} examples", files.len());
    for file in files {
        let out = validate(&["-f", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let lines = stdout(&out);
        let problems: Vec<&str> = lines.lines().collect();
        assert_eq!(problems.len(), 1, "{}:\n{lines}", file.display());
        assert!(
            problems[0].contains(": spec.provider: ")
                && problems[0].contains(
                    "is not supported by this fledge version (supported: kubernetes, gatewayapi:v1, gatewayapi:v1beta1, istio, contour, nginx, linkerd, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, traefik)"
                ),
            "{}",
            problems[0]
        );
    }
}

#[test]
fn every_invalid_example_fails_with_its_expected_error() {
    let files = yaml_files(&testdata("invalid"));
    assert!(files.len() >= 30, "only {} invalid examples", files.len());
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} must start with `# expect: `", file.display()));
        let name = file.to_str().unwrap();
        let out = validate(&["-f", name]);
        let lines = stdout(&out);
        let want_prefix = format!("{name}:1: ");
        let hit = lines.lines().any(|l| {
            l.starts_with(&want_prefix) && !l.contains(": warning: ") && l.contains(expect)
        });
        if out.status.code() != Some(1) || !hit {
            failures.push(format!(
                "{name}: exit {:?}, want a line containing {expect:?}, got:\n{lines}",
                out.status.code()
            ));
        }
        if stderr(&out).trim_end() != "checked 1 objects: 0 valid, 1 invalid" {
            failures.push(format!("{name}: summary {:?}", stderr(&out)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn line_format_names_file_document_object_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: skipped}\n---\n\
         apiVersion: fledge.dev/v1beta1\nkind: Canary\nmetadata: {name: podinfo, namespace: default}\n\
         spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}\n  service: {port: 80}\n  \
         analysis: {interval: 1m, threshold: 1, stepWeight: 0}\n",
    )
    .unwrap();
    let out = validate(&["-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!(
            "{}:2: Canary default/podinfo: spec.analysis.stepWeight: must be between 1 and 100 (got 0)\n",
            file.display()
        )
    );
    assert_eq!(
        stderr(&out),
        "checked 1 objects: 0 valid, 1 invalid\n",
        "the ConfigMap is not counted"
    );
}

const WARN_ONLY: &str = "\
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 2
    iterations: 10
    stepWeight: 20
    metrics:
    - name: request-success-rate
      thresholdRange: {min: 99}
";

#[test]
fn warnings_say_which_strategy_wins_and_keep_exit_zero() {
    let out = validate_stdin(WARN_ONLY, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "<stdin>:1: warning: Canary test/podinfo: spec.analysis.stepWeight: ignored: iterations is set, \
         so blue-green wins (10 checks) and traffic weights are not used\n"
    );
    assert_eq!(stderr(&out), "checked 1 objects: 1 valid, 0 invalid\n");
}

#[test]
fn flagger_manifests_are_checked_the_same_way() {
    let flagger = WARN_ONLY
        .replace("fledge.dev/v1beta1", "flagger.app/v1beta1")
        .replace("interval: 1m", "interval: 5s");
    let out = validate_stdin(&flagger, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(
            "<stdin>:1: Canary test/podinfo: spec.analysis.interval: must be at least 10s (got 5s)"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn min_interval_flag_lowers_the_minimum() {
    let fast = WARN_ONLY
        .replace("interval: 1m", "interval: 2s")
        .replace("    stepWeight: 20\n", "");
    let strict = validate_stdin(&fast, &[]);
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
    let relaxed = validate_stdin(&fast, &["--min-interval", "1s"]);
    assert_eq!(relaxed.status.code(), Some(0), "{}", stdout(&relaxed));
    let bad = fledge()
        .args(["validate", "-f", "-", "--min-interval", "fast"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "clap rejects a bad flag value");
    assert!(
        stderr(&bad).contains("invalid duration \"fast\""),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn unreadable_input_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let out = validate(&["-f", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{}: cannot read:", missing.display())),
        "{}",
        stderr(&out)
    );

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "kind: Canary\nspec: [unclosed\n").unwrap();
    let out = validate(&["-f", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid YAML"), "{}", stderr(&out));

    // Unreadable wins over invalid: the result is incomplete.
    let invalid = testdata("invalid").join("threshold-zero.yaml");
    let out = validate(&[
        "-f",
        invalid.to_str().unwrap(),
        "-f",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("spec.analysis.threshold"),
        "the readable file is still checked"
    );
}

#[test]
fn directories_are_searched_recursively_for_yaml_and_yml() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    let valid =
        std::fs::read_to_string(testdata("canaries").join("flagger-gatewayapi.yaml")).unwrap();
    let invalid =
        std::fs::read_to_string(testdata("invalid").join("step-weight-zero.yaml")).unwrap();
    std::fs::write(dir.path().join("ok.yml"), &valid).unwrap();
    std::fs::write(nested.join("bad.yaml"), &invalid).unwrap();
    std::fs::write(nested.join("notes.txt"), "kind: Canary\n").unwrap();
    let out = validate(&["-f", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "checked 2 objects: 1 valid, 1 invalid\n");
    let lines = stdout(&out);
    assert!(
        lines.starts_with(&format!("{}:1: ", nested.join("bad.yaml").display())),
        "{lines}"
    );
}

#[test]
fn no_objects_is_valid() {
    let out = validate_stdin("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "checked 0 objects: 0 valid, 0 invalid\n");
}

#[test]
fn canaries_are_checked_against_templates_in_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let template = "apiVersion: fledge.dev/v1beta1\nkind: MetricTemplate\nmetadata: {name: errors, namespace: test}\n\
                    spec:\n  provider: {type: prometheus, address: 'http://prometheus:9090'}\n  \
                    query: 'sum(x{code=~\"{{ variables.codes }}\"})'\n";
    let canary = WARN_ONLY.replace("    iterations: 10\n", "").replace(
        "    - name: request-success-rate\n      thresholdRange: {min: 99}\n",
        "    - name: errors\n      templateRef: {name: errors}\n      thresholdRange: {max: 1}\n",
    );
    std::fs::write(dir.path().join("template.yaml"), template).unwrap();
    std::fs::write(dir.path().join("canary.yaml"), &canary).unwrap();
    let out = validate(&["-f", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "{}:1: Canary test/podinfo: spec.analysis.metrics[0].templateVariables: MetricTemplate test/errors uses {{{{ variables.codes }}}}; set codes here\n",
            dir.path().join("canary.yaml").display()
        )
    );
    // Alone, the Canary can't be checked against a template it doesn't see: valid.
    let alone = validate(&["-f", dir.path().join("canary.yaml").to_str().unwrap()]);
    assert_eq!(alone.status.code(), Some(0), "{}", stdout(&alone));
}
