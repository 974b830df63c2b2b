//! A real control plane for tests (`scripts/cluster`: etcd, kube-apiserver and
//! kube-controller-manager built from testenv/k8s, with `fledge sim --join` as the kubelet),
//! under a temp dir, stopped on drop. kubectl runs as cluster-admin and never touches
//! ~/.kube.

use std::path::Path;
use std::process::{Command, Output};

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

impl Drop for ControlPlane {
    fn drop(&mut self) {
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
