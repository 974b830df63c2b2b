//! A real control plane for tests (`scripts/cluster`: etcd, kube-apiserver and
//! kube-controller-manager built from testenv/k8s, with `fledge sim --join` as the kubelet),
//! under a temp dir, stopped on drop. kubectl runs as cluster-admin and never touches
//! ~/.kube.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{FLEDGE, repo};

/// A control plane under a temp dir, stopped on drop.
pub struct ControlPlane {
    pub dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Starts one; `scenario` (YAML text, as for `fledge sim`) goes to the simulated kubelet.
    pub fn up(scenario: &str) -> ControlPlane {
        let dir = tempfile::tempdir().expect("temp dir");
        let scenario_path = dir.path().join("scenario.yaml");
        std::fs::write(&scenario_path, scenario).expect("write scenario");
        let out = Command::new(repo().join("scripts/cluster"))
            .arg("up")
            .arg(dir.path())
            .arg("--scenario")
            .arg(&scenario_path)
            .env("FLEDGE_BIN", FLEDGE)
            .output()
            .expect("run scripts/cluster");
        assert!(
            out.status.success(),
            "scripts/cluster up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ControlPlane { dir }
    }

    /// Where the simulated network serves traffic and metrics (`FLEDGE_SIM_URL` in DIR/env).
    pub fn sim_url(&self) -> String {
        let env = std::fs::read_to_string(self.dir.path().join("env")).expect("DIR/env");
        env.lines()
            .find_map(|l| l.strip_prefix("FLEDGE_SIM_URL="))
            .map(|u| u.trim_matches('\'').to_string())
            .expect("FLEDGE_SIM_URL in DIR/env")
    }

    /// kubectl as cluster-admin, never touching ~/.kube.
    pub fn kubectl_output(&self, args: &[&str]) -> Output {
        let dir = self.dir.path();
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(dir.join("admin.kubeconfig"))
            .arg("--cache-dir")
            .arg(dir.join("kube-cache"))
            .args(args)
            .output()
            .expect("run kubectl")
    }

    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Applies the CRD manifests in `paths` (server-side) and waits until every CRD is
    /// Established and the fledge kinds are served (discovery can lag the condition).
    pub fn install_crds(&self, paths: &[&Path]) {
        for path in paths {
            self.kubectl(&[
                "apply",
                "--server-side",
                "-f",
                path.to_str().expect("utf-8 path"),
            ]);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let crds = self.kubectl(&["get", "crd", "-o", "json"]);
            let crds: Value = serde_json::from_str(&crds).expect("crd list");
            let established = crds["items"].as_array().is_some_and(|items| {
                items.iter().all(|crd| {
                    crd["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    })
                })
            });
            let served = established
                && self
                    .kubectl_output(&[
                        "get",
                        "canaries.fledge.dev,metrictemplates.fledge.dev,alertproviders.fledge.dev",
                        "-A",
                    ])
                    .status
                    .success();
            if served {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the CRDs were not Established and served within 60s: {crds:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `kubectl apply --dry-run=server` of `file`: `Ok` or the server's message.
    pub fn dry_run(&self, file: &Path) -> Result<(), String> {
        for ns in namespaces(file) {
            if !self
                .kubectl_output(&["get", "namespace", &ns])
                .status
                .success()
            {
                self.kubectl(&["create", "namespace", &ns]);
            }
        }
        let out = self.kubectl_output(&[
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-f",
            file.to_str().expect("utf-8 path"),
        ]);
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// Where each control plane leaves the requests the fledge ServiceAccount made
/// (tests/rbac_usage.rs reads them all after the suite).
pub fn rbac_usage_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("rbac-usage")
}

/// `verb group resource[/subresource]` of every request the fledge controller made with the
/// fledge ServiceAccount's token, from the API server's audit log (empty when there is none).
/// scripts/cluster's own checks of that token (kubectl) are left out.
pub fn fledge_requests(audit_log: &Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(audit_log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["user"]["username"] == "system:serviceaccount:fledge-system:fledge")
        .filter(|e| {
            !e["userAgent"]
                .as_str()
                .is_some_and(|a| a.starts_with("kubectl"))
        })
        .filter_map(|e| {
            let o = &e["objectRef"];
            let resource = o["resource"].as_str()?;
            let group = o["apiGroup"].as_str().unwrap_or("");
            let sub = o["subresource"]
                .as_str()
                .map(|s| format!("/{s}"))
                .unwrap_or_default();
            Some(format!("{} {group} {resource}{sub}", e["verb"].as_str()?))
        })
        .collect()
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Kept for tests/rbac_usage.rs: one file per control plane, named by the test.
        let used = fledge_requests(&self.dir.path().join("audit.log"));
        if !used.is_empty() {
            let dir = rbac_usage_dir();
            let test = std::thread::current()
                .name()
                .unwrap_or("main")
                .replace("::", "-");
            let exe = std::env::args()
                .next()
                .and_then(|a| {
                    Path::new(&a)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                })
                .unwrap_or_default();
            let file = dir.join(format!(
                "{exe}-{test}-{}.txt",
                self.dir
                    .path()
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            let lines: Vec<String> = used.into_iter().collect();
            let _ = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(file, lines.join("\n") + "\n"));
        }
        let _ = Command::new(repo().join("scripts/cluster"))
            .arg("down")
            .arg(self.dir.path())
            .output();
    }
}

/// The namespaces `metadata.namespace` names in a manifest (block or flow style).
pub fn namespaces(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("read manifest");
    let mut out: Vec<String> = text
        .split(['\n', '{', ','])
        .filter_map(|part| part.trim().strip_prefix("namespace:"))
        .map(|ns| ns.trim().trim_end_matches('}').trim().to_string())
        .filter(|ns| !ns.is_empty() && ns.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    out.sort();
    out.dedup();
    out
}
