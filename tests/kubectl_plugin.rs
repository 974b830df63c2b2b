//! `kubectl fledge` through real kubectl plugin discovery (`kubectl fledge ...` with the
//! binary on PATH) against the controller, on `fledge sim` and on the real control plane: the CI status gate and its exit
//! codes, `list`, `get` (tree, JSON, YAML, and `-w` redrawing in a real terminal, read through
//! tmux), `plan`, `history`, and promote/abort/retry/pause/resume through the request
//! contract, each acknowledged by the controller (or refused, with the reason).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use support::{Cluster, DEFAULT_SCENARIO, IMG1, IMG2, podinfo, worlds};

const T: Duration = Duration::from_secs(60);
const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-fledge");

/// `PATH` with the directory of the built `kubectl-fledge` first, as a user who installed it.
fn path_with_plugin() -> String {
    let dir = Path::new(PLUGIN).parent().expect("plugin directory");
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs `kubectl fledge ARGS -n NS` (kubectl finds the plugin on PATH) with the cluster's kube
/// config; (exit code, stdout, stderr).
fn plugin(c: &Cluster, ns: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("kubectl")
        .arg("fledge")
        .args(args)
        .args(["-n", ns])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("PATH", path_with_plugin())
        // The test controller's --min-interval, so plans match what it does.
        .env("FLEDGE_MIN_INTERVAL", "1s")
        .output()
        .expect("run kubectl fledge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A real terminal: `tmux` running one command in a detached session, read with
/// `capture-pane` (the screen as drawn, escape codes interpreted). Killed on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(c: &Cluster, command: &str) -> Tmux {
        let socket = c.path("tmux.sock");
        let script = format!(
            "KUBECONFIG='{}' PATH='{}' {command}; echo \"exited: $?\"; sleep 600",
            c.kubeconfig.display(),
            path_with_plugin()
        );
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["new-session", "-d", "-x", "160", "-y", "60", &script])
            .status()
            .expect("tmux (Debian package tmux; make test installs it)");
        assert!(status.success(), "tmux new-session");
        Tmux { socket }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `needle` is on it; returns the screen.
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "{needle:?} never appeared on the terminal; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
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
    for mut c in worlds(DEFAULT_SCENARIO) {
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
            lines[0].starts_with("NAME")
                && ["PHASE", "WEIGHT", "STEP", "FAILED", "AGE", "LAST EVENT"]
                    .iter()
                    .all(|h| lines[0].contains(h)),
            "{out}"
        );
        assert!(
            lines[1].starts_with("podinfo")
                && lines[1].contains("✔ Initialized")
                && lines[1].contains("0/2")
                && lines[1].contains("Initialization done!"),
            "{out}"
        );

        let (code, out, _) = plugin(&c, ns, &["list", "-o", "json"]);
        assert_eq!(code, 0, "{out}");
        let list: Value = serde_json::from_str(&out).expect("list -o json");
        assert_eq!(list["items"][0]["phase"], "Initialized");
        assert_eq!(list["items"][0]["totalIterations"], 2);

        // Between releases, plan says what the next release would do.
        let (code, out, _) = plugin(&c, ns, &["plan", "podinfo"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("no release under way"), "{out}");

        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        let (code, out, _) = plugin(&c, ns, &["status", "podinfo"]);
        assert_eq!(code, 2, "in progress: {out}");

        // `get -w` in a terminal draws the release and redraws it in place as it moves.
        let terminal = Tmux::start(&c, &format!("kubectl fledge get podinfo -w -n {ns}"));
        let screen = terminal.wait_for("Progressing", T);
        assert!(screen.contains("Strategy: blue-green"), "{screen}");

        // The tree, plain when piped.
        let (code, out, err) = plugin(&c, ns, &["get", "podinfo"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(!out.contains('\x1b'), "no colour codes in a pipe: {out}");
        for needle in [
            "Status:",
            "Strategy: blue-green  iteration",
            "Failed checks: 0/2",
            IMG2,
            "Webhooks and gates",
            "gate (confirm-promotion)",
            "Deployment podinfo-primary  1/1 ready",
            "Service podinfo-canary",
            "New revision detected",
        ] {
            assert!(out.contains(needle), "{needle:?} in:\n{out}");
        }
        // The same model for scripts.
        let (code, out, _) = plugin(&c, ns, &["get", "podinfo", "-o", "json"]);
        assert_eq!(code, 0, "{out}");
        let detail: Value = serde_json::from_str(&out).expect("get -o json");
        assert_eq!(detail["summary"]["strategy"], "blue-green");
        assert_eq!(detail["summary"]["images"][0], IMG2);
        assert_eq!(detail["plan"]["fromNow"], true);
        assert_eq!(detail["actions"]["abort"]["allowed"], true);
        assert_eq!(detail["actions"]["retry"]["allowed"], false);
        let (code, out, _) = plugin(&c, ns, &["get", "podinfo", "-o", "yaml"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("strategy: blue-green"), "{out}");
        // Mid-release, plan says what is left and when.
        let (code, out, _) = plugin(&c, ns, &["plan", "podinfo"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("the rest of the release under way"), "{out}");
        assert!(
            out.contains("Promoting")
                && out.lines().last().is_some_and(|l| l.contains("Succeeded")),
            "{out}"
        );

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
            "pause refused: canary plugin/podinfo: already paused\n"
        );
        // A paused release takes no promote until it is resumed.
        let (code, out, _) = plugin(&c, ns, &["promote", "podinfo"]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("paused by request: resume it first"), "{out}");
        // A GitOps-style re-apply of the unchanged manifest doesn't unpause it.
        c.apply(&canary(ns));
        c.wait_reconciled(0, ns, "podinfo");
        let (_, out, _) = plugin(&c, ns, &["status", "podinfo"]);
        assert!(out.contains("(paused)"), "{out}");
        let (code, out, _) = plugin(&c, ns, &["resume", "podinfo"]);
        assert_eq!(code, 0, "{out}");

        c.wait_phase(ns, "podinfo", "WaitingPromotion", T);
        let screen = terminal.wait_for("WaitingPromotion", T);
        assert_eq!(
            screen.matches("Name:").count(),
            1,
            "redrawn in place, not scrolled:\n{screen}"
        );
        let (code, out, _) = plugin(&c, ns, &["promote", "podinfo"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("promote carried out"), "{out}");
        let (code, out, _) = plugin(&c, ns, &["status", "podinfo", "--wait", "--timeout", "60s"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("Succeeded"), "{out}");
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        terminal.wait_for("✔ Succeeded", T);
        drop(terminal);

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
        for command in ["status", "get"] {
            let (code, _, err) = plugin(&c, ns, &[command, "nothere"]);
            assert_eq!(code, 3, "{command}: {err}");
            assert!(
                err.contains("canary plugin/nothere not found; `kubectl fledge list`"),
                "{command}: {err}"
            );
        }
        c.assert_no_refusals();
    }
}
