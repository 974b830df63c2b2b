//! GitOps, checked with the tools' own libraries: Canary objects captured at every phase of
//! real releases are judged by Flux's kstatus (`testenv/kstatus`) and by Argo CD's health script
//! in Argo CD's Lua VM (`testenv/argocd-lua`); Argo CD's actions, applied to a live Canary, are
//! carried out by the controller. And no tug-of-war: a sync that scales the target up is undone
//! and said once; re-applying an unchanged Canary changes nothing. In both worlds: on the real
//! control plane the captures are what a real API server serves.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{Cluster, IMG1, IMG2, has_event, podinfo, repo, worlds};

const T: Duration = Duration::from_secs(60);
/// Argo CD's health check for Canaries, as `deploy/argocd` installs it.
const HEALTH_SCRIPT: &str = "deploy/argocd/customizations/health.lua";
/// One Lua file per Argo CD action.
const ACTIONS_DIR: &str = "deploy/argocd/customizations/actions";

/// Builds (once) and returns a Go test tool from `testenv/<name>`.
fn gotool(name: &str) -> PathBuf {
    let out = Command::new(repo().join("scripts/gotool"))
        .arg(name)
        .output()
        .expect("run scripts/gotool");
    assert!(
        out.status.success(),
        "scripts/gotool {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A JSON merge patch of Canary `ns/podinfo`, as a sync, a user or Argo CD would send it.
fn patch_canary(c: &Cluster, ns: &str, patch: &str) {
    c.kubectl(&[
        "-n",
        ns,
        "patch",
        "canary",
        "podinfo",
        "--type=merge",
        "-p",
        patch,
    ]);
}

/// Writes the live Canary to `dir/<label>.json` and returns the path.
fn capture(c: &Cluster, ns: &str, label: &str, dir: &Path) -> PathBuf {
    let path = dir.join(format!("{label}.json"));
    let canary = c.canary(ns, "podinfo");
    std::fs::write(&path, serde_json::to_vec_pretty(&canary).expect("json")).expect("capture");
    path
}

fn run(tool: &Path, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().expect("run tool");
    assert!(
        out.status.success(),
        "{} {}: {}",
        tool.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kstatus(tool: &Path, file: &Path) -> String {
    let line = run(tool, &[file.to_str().expect("path")]);
    line.split('\t').nth(1).unwrap_or_default().to_string()
}

fn argo_health(tool: &Path, file: &Path) -> (String, String) {
    let script = repo().join(HEALTH_SCRIPT);
    let out = run(
        tool,
        &[
            "health",
            script.to_str().expect("path"),
            file.to_str().expect("path"),
        ],
    );
    let v: Value = serde_json::from_str(out.trim()).expect("health JSON");
    (
        v["status"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Runs an Argo CD action script on the live Canary and sends the change to the API server as
/// Argo CD does when a user clicks the action (a JSON merge patch from the live object to the
/// script's result). Checks first that the discovery script offers the action.
fn argo_action(c: &Cluster, tool: &Path, ns: &str, action: &str, dir: &Path) {
    let live = capture(c, ns, &format!("before-{action}"), dir);
    let live_path = live.to_str().expect("path");
    let discovery = repo().join(format!("{ACTIONS_DIR}/discovery.lua"));
    let offered: Value = serde_json::from_str(
        run(
            tool,
            &["discovery", discovery.to_str().expect("path"), live_path],
        )
        .trim(),
    )
    .expect("discovery JSON");
    assert_eq!(
        offered[action]["disabled"], false,
        "{action} not offered: {offered}"
    );
    let script = repo().join(format!("{ACTIONS_DIR}/{action}.lua"));
    let patch = run(
        tool,
        &[
            "action",
            "--merge-patch",
            script.to_str().expect("path"),
            live_path,
        ],
    );
    patch_canary(c, ns, patch.trim());
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

/// Primary pods take 2 s to become ready, so the Initializing phase lasts long enough to be
/// captured; `*:bad` images never become ready.
const SLOW_SCENARIO: &str =
    "seed: 7\ntick: 200ms\nreadyDelay: 2s\nimages:\n  - match: \"*:bad\"\n    ready: false\n";

#[test]
fn flux_kstatus_and_argocd_read_every_phase_of_real_releases_and_argocd_actions_steer_them() {
    let kstatus_tool = gotool("kstatus");
    let lua = gotool("argocd-lua");
    let captures = tempfile::tempdir().expect("temp dir");
    let dir = captures.path();
    for mut c in worlds(SLOW_SCENARIO) {
        let ns = "gitops";
        c.apply(&podinfo(ns, IMG1, 1));
        let manifest = canary(ns);
        c.apply(&manifest);
        let controller = c.start_controller(&[]);
        c.wait_for("Initializing", T, |c| {
            (c.phase(ns, "podinfo") == "Initializing").then_some(())
        });
        capture(&c, ns, "initializing", dir);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        capture(&c, ns, "initialized", dir);

        // A sync re-applying the unchanged Canary changes nothing: no Event, no status write.
        let before = c.canary(ns, "podinfo");
        let events_before = c.events(ns, "podinfo").len();
        let path = dir.join("canary.yaml");
        std::fs::write(&path, &manifest).expect("manifest");
        let out = c.kubectl(&["apply", "-f", path.to_str().expect("path")]);
        assert!(out.contains("unchanged"), "{out}");
        c.wait_reconciled(controller, ns, "podinfo");
        assert_eq!(c.canary(ns, "podinfo")["status"], before["status"]);
        assert_eq!(c.events(ns, "podinfo").len(), events_before);

        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        capture(&c, ns, "progressing", dir);
        // A spec change synced mid-analysis is observed without restarting the analysis.
        let applied = c.canary(ns, "podinfo")["status"]["lastAppliedSpec"].clone();
        patch_canary(&c, ns, r#"{"spec":{"analysis":{"threshold":3}}}"#);
        c.wait_for("the spec change observed", T, |c| {
            let canary = c.canary(ns, "podinfo");
            (canary["status"]["observedGeneration"] == canary["metadata"]["generation"])
                .then_some(canary)
        });
        let canary = c.canary(ns, "podinfo");
        assert!(
            ["Progressing", "WaitingPromotion"]
                .contains(&canary["status"]["phase"].as_str().unwrap_or("")),
            "{canary}"
        );
        assert_eq!(
            canary["status"]["lastAppliedSpec"], applied,
            "the analysis went on"
        );
        c.wait_phase(ns, "podinfo", "WaitingPromotion", T);
        capture(&c, ns, "waiting-promotion", dir);

        // Argo CD's promote action, applied to the live Canary, is carried out.
        argo_action(&c, &lua, ns, "promote", dir);
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        capture(&c, ns, "succeeded", dir);

        // No tug-of-war: a sync scaling the target up between releases is undone, and said once.
        c.kubectl(&["-n", ns, "scale", "deployment/podinfo", "--replicas=2"]);
        let said = "podinfo.gitops was scaled up outside a release; scaling it back to zero";
        c.wait_for("the target back at zero", T, |c| {
            (c.replicas(ns, "podinfo") == 0 && has_event(&c.events(ns, "podinfo"), said))
                .then_some(())
        });
        c.wait_reconciled(controller, ns, "podinfo");
        assert_eq!(c.replicas(ns, "podinfo"), 0, "no flapping");
        let told = c
            .events(ns, "podinfo")
            .iter()
            .filter(|e| e.contains(said))
            .count();
        assert_eq!(told, 1, "said once");

        // Pause and resume through Argo CD: a request kept in status, so a sync re-applying the
        // Canary from git neither resumes nor unpauses it.
        argo_action(&c, &lua, ns, "pause", dir);
        c.wait_for("paused", T, |c| {
            let canary = c.canary(ns, "podinfo");
            (canary["status"]["paused"] == true
                && canary["status"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("paused by request")))
            .then_some(())
        });
        capture(&c, ns, "paused", dir);
        // The sync puts git's spec back (the threshold patched above), and the pause stays.
        c.kubectl(&["apply", "-f", path.to_str().expect("path")]);
        c.wait_reconciled(controller, ns, "podinfo");
        let canary = c.canary(ns, "podinfo");
        assert_eq!(
            canary["spec"]["analysis"]["threshold"], 2,
            "the sync applied git's spec"
        );
        assert_eq!(
            canary["status"]["observedGeneration"],
            canary["metadata"]["generation"]
        );
        assert_eq!(canary["status"]["paused"], true, "a sync doesn't resume it");
        argo_action(&c, &lua, ns, "resume", dir);
        c.wait_for("resumed", T, |c| {
            let canary = c.canary(ns, "podinfo");
            (canary["status"]["paused"] != true).then_some(())
        });

        // Abort a release through Argo CD, then retry it, then promote it.
        let img3 = "ghcr.io/stefanprodan/podinfo:6.0.3";
        c.set_image(ns, "podinfo", img3);
        c.wait_for("the next release analysing", T, |c| {
            let phase = c.phase(ns, "podinfo");
            (phase == "Progressing" || phase == "WaitingPromotion").then_some(())
        });
        argo_action(&c, &lua, ns, "abort", dir);
        c.wait_phase(ns, "podinfo", "Failed", T);
        assert_eq!(
            c.image(ns, "podinfo-primary"),
            IMG2,
            "aborted: the primary kept IMG2"
        );
        argo_action(&c, &lua, ns, "retry", dir);
        c.wait_phase(ns, "podinfo", "WaitingPromotion", T);
        argo_action(&c, &lua, ns, "promote", dir);
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(c.image(ns, "podinfo-primary"), img3);

        // A bad image is rolled back at the progress deadline.
        c.set_image(ns, "podinfo", "ghcr.io/stefanprodan/podinfo:bad");
        c.wait_phase(ns, "podinfo", "Failed", T);
        capture(&c, ns, "failed", dir);

        // An invalid spec (below the controller's --min-interval of 1s) is Stalled.
        patch_canary(&c, ns, r#"{"spec":{"analysis":{"interval":"500ms"}}}"#);
        c.wait_for("InvalidSpec", T, |c| {
            let canary = c.canary(ns, "podinfo");
            let stalled = canary["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["type"] == "Stalled" && k["reason"] == "InvalidSpec");
            (stalled && canary["status"]["observedGeneration"] == canary["metadata"]["generation"])
                .then_some(())
        });
        capture(&c, ns, "invalid", dir);

        // A spec change the controller has not observed yet (it is down).
        c.kill_controller(controller);
        patch_canary(&c, ns, r#"{"spec":{"analysis":{"interval":"3s"}}}"#);
        let unobserved = capture(&c, ns, "unobserved", dir);
        let doc: Value =
            serde_json::from_slice(&std::fs::read(&unobserved).expect("read")).expect("json");
        assert!(
            doc["metadata"]["generation"].as_i64() > doc["status"]["observedGeneration"].as_i64(),
            "{doc}"
        );

        // (capture, what Flux's kstatus says, what Argo CD's health script says)
        let expected: Vec<(&str, &str, &str)> = vec![
            ("initializing", "InProgress", "Progressing"),
            ("initialized", "Current", "Healthy"),
            ("progressing", "InProgress", "Progressing"),
            ("waiting-promotion", "InProgress", "Suspended"),
            ("succeeded", "Current", "Healthy"),
            ("paused", "Current", "Suspended"),
            ("failed", "Failed", "Degraded"),
            ("invalid", "Failed", "Degraded"),
            ("unobserved", "InProgress", "Progressing"),
        ];
        let mut got = BTreeMap::new();
        let mut failures = Vec::new();
        for (label, flux, argo) in &expected {
            let file = dir.join(format!("{label}.json"));
            let k = kstatus(&kstatus_tool, &file);
            let (a, message) = argo_health(&lua, &file);
            if k != *flux || a != *argo {
                failures.push(format!(
                    "{label}: kstatus {k} (want {flux}), Argo CD {a} (want {argo}): {message}"
                ));
            }
            got.insert(*label, (k, a, message));
        }
        assert!(failures.is_empty(), "{}\n{got:#?}", failures.join("\n"));
        // What docs/gitops.md shows (cargo test --test e2e_gitops -- --nocapture).
        println!("| capture | kstatus (Flux) | Argo CD health | Argo CD message |");
        println!("|---|---|---|---|");
        for (label, _, _) in &expected {
            let (k, a, message) = &got[label];
            println!("| {label} | {k} | {a} | {message} |");
        }
        // Argo CD's message says the phase and weight, and for a failure what failed.
        let (_, _, failed) = &got["failed"];
        assert!(failed.contains("Failed"), "{failed}");
        c.assert_no_refusals();
    }
}
