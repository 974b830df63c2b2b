//! `kubectl fledge` through the real binary against the controller and `fledge sim`: the CI
//! status gate and its exit codes, `list`, and promote/abort/retry/pause/resume through the
//! request contract, each acknowledged by the controller (or refused, with the reason).

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Cluster, IMG1, IMG2, podinfo};

const T: Duration = Duration::from_secs(60);
const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-fledge");

/// Runs `kubectl fledge ARGS -n NS` with the cluster's kube config; (exit code, stdout, stderr).
fn plugin(c: &Cluster, ns: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(PLUGIN)
        .args(args)
        .args(["-n", ns])
        .env("KUBECONFIG", &c.kubeconfig)
        .output()
        .expect("run kubectl-fledge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn canary(ns: &str) -> String {
    format!(
        r#"apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  provider: kubernetes
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  progressDeadlineSeconds: 10
  service: {{port: 9898}}
  analysis:
    interval: 2s
    threshold: 2
    iterations: 2
    webhooks:
      # Closed: the release waits in WaitingPromotion until someone promotes it.
      - name: gate
        type: confirm-promotion
        url: http://127.0.0.1:9/closed
"#
    )
}

#[test]
fn the_status_gate_and_every_request_through_the_plugin() {
    let mut c = Cluster::start();
    let ns = "plugin";
    c.apply(&podinfo(ns, IMG1, 1));
    c.apply(&canary(ns));
    c.start_controller(&[]);

    let (code, out, err) = plugin(&c, ns, &["status", "podinfo", "--wait", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("podinfo.plugin Initialized, canary weight 0%"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "one line: {out}");

    let (code, out, _) = plugin(&c, ns, &["list"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("PHASE"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("podinfo") && lines[1].contains("Initialized"),
        "{out}"
    );

    c.set_image(ns, "podinfo", IMG2);
    c.wait_phase(ns, "podinfo", "Progressing", T);
    let (code, out, _) = plugin(&c, ns, &["status", "podinfo"]);
    assert_eq!(code, 2, "in progress: {out}");

    // Pause survives until resume; a second pause is refused with the controller's reason.
    let (code, out, err) = plugin(&c, ns, &["pause", "podinfo"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("pause carried out: podinfo.plugin Progressing (paused)"),
        "{out}"
    );
    let (code, out, _) = plugin(&c, ns, &["pause", "podinfo"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        "pause not needed: canary plugin/podinfo is already paused\n"
    );
    let (code, out, _) = plugin(&c, ns, &["resume", "podinfo"]);
    assert_eq!(code, 0, "{out}");

    c.wait_phase(ns, "podinfo", "WaitingPromotion", T);
    let (code, out, _) = plugin(&c, ns, &["promote", "podinfo"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("promote carried out"), "{out}");
    let (code, out, _) = plugin(&c, ns, &["status", "podinfo", "--wait", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Succeeded"), "{out}");
    assert_eq!(c.image(ns, "podinfo-primary"), IMG2);

    // Nothing to abort once promoted: refused, with why.
    let (code, out, _) = plugin(&c, ns, &["abort", "podinfo"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing to abort in phase Succeeded"), "{out}");

    // A bad image fails at its deadline: the gate says 1.
    c.set_image(ns, "podinfo", "ghcr.io/stefanprodan/podinfo:bad");
    let (code, out, _) = plugin(&c, ns, &["status", "podinfo", "--wait", "--timeout", "60s"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Failed"), "{out}");
    // Retry is acknowledged once the revision runs again.
    let (code, out, _) = plugin(&c, ns, &["retry", "podinfo"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("retry carried out"), "{out}");

    // The history: the promoted release, the rolled-back one, and the retry now running.
    let (code, out, _) = plugin(&c, ns, &["history", "podinfo"]);
    assert_eq!(code, 0, "{out}");
    let releases: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    assert!(releases[0].starts_with("REVISION"), "{out}");
    assert!(
        releases
            .iter()
            .any(|l| l.contains(IMG2) && l.contains("Succeeded")),
        "{out}"
    );
    assert!(
        releases.iter().any(|l| l.contains("podinfo:bad")
            && l.contains("Failed")
            && l.contains("ProgressDeadlineExceeded")),
        "{out}"
    );
    assert!(
        releases
            .last()
            .is_some_and(|l| l.contains("podinfo:bad") && l.contains("running")),
        "the retry is the open release: {out}"
    );

    // Errors name the Canary and say what to do.
    let (code, _, err) = plugin(&c, ns, &["status", "nothere"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("canary plugin/nothere not found; `kubectl fledge list`"),
        "{err}"
    );
}
