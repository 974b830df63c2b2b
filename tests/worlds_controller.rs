//! The controller's releases that need no traffic, with the same test code in both worlds:
//! `fledge sim`, and a real control plane (kube-apiserver and kube-controller-manager, the sim
//! as kubelet) where the controller runs with `controller.kubeconfig`, the fledge
//! ServiceAccount's token with exactly the permissions `deploy/rbac` grants, so a permission it
//! lacks fails here. `FLEDGE_TEST_WORLD=sim` or `cluster` runs one world; unset, both.
//!
//! Covered here: bootstrap (primary, its ConfigMap copy, the three Services, the target scaled
//! to zero), a new image promoted, a ConfigMap-only and a Secret-only change promoted, and a bad
//! image rolled back at the progress deadline. Opt-in by annotation, manual requests, a restart in the middle of an
//! analysis and leader election run in both worlds in e2e_operations.rs; gates and the load
//! tester in e2e_webhooks.rs; metric failures in e2e_analysis.rs.

mod support;

use std::time::Duration;

use support::{Cluster, DEFAULT_SCENARIO, IMG1, IMG2, blue_green_canary, podinfo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(90);

fn wait_promoted(c: &Cluster, what: &str, done: impl Fn(&Cluster) -> bool) {
    c.wait_for(what, T, |c| {
        (c.phase(NS, "podinfo") == "Succeeded" && done(c)).then_some(())
    });
}

#[test]
fn releases_are_bootstrapped_promoted_and_rolled_back() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let world = c.world();
        // podinfo reads a Secret too, so its -primary copy is made and kept up to date.
        let app = podinfo(NS, IMG1, 2).replace(
            "envFrom: [{configMapRef: {name: podinfo-config}}]",
            "envFrom: [{configMapRef: {name: podinfo-config}}, {secretRef: {name: podinfo-token}}]",
        );
        c.apply(&format!(
            "{app}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: podinfo-token, namespace: {NS}}}\nstringData: {{token: one}}\n"
        ));
        c.apply(&blue_green_canary(NS, 2, ""));
        c.start_controller(&[]);
        c.wait_phase(NS, "podinfo", "Initialized", T);
        let secret = c.must_get("secret", NS, "podinfo-token-primary");
        assert_eq!(secret["data"]["token"], "b25l", "{world}: base64 of one");
        let primary = c.must_get("deployment", NS, "podinfo-primary");
        assert_eq!(primary["status"]["readyReplicas"], 2, "{world}");
        assert_eq!(
            c.replicas(NS, "podinfo"),
            0,
            "{world}: the target is scaled to zero"
        );
        for svc in ["podinfo", "podinfo-primary", "podinfo-canary"] {
            assert!(
                c.get("service", NS, svc).is_some(),
                "{world}: Service {svc}"
            );
        }
        let config = c.must_get("configmap", NS, "podinfo-config-primary");
        assert_eq!(config["data"]["color"], "blue", "{world}");

        // A new image.
        c.set_image(NS, "podinfo", IMG2);
        wait_promoted(&c, "IMG2 promoted", |c| {
            c.image(NS, "podinfo-primary") == IMG2
        });

        // A change of the ConfigMap alone.
        c.kubectl(&[
            "-n",
            NS,
            "patch",
            "configmap",
            "podinfo-config",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"color":"green"}}"#,
        ]);
        wait_promoted(&c, "the green config promoted", |c| {
            c.get("configmap", NS, "podinfo-config-primary")
                .is_some_and(|cm| cm["data"]["color"] == "green")
        });

        // A change of the Secret alone.
        c.kubectl(&[
            "-n",
            NS,
            "patch",
            "secret",
            "podinfo-token",
            "--type",
            "merge",
            "-p",
            r#"{"stringData":{"token":"two"}}"#,
        ]);
        wait_promoted(&c, "the new token promoted", |c| {
            c.get("secret", NS, "podinfo-token-primary")
                .is_some_and(|s| s["data"]["token"] == "dHdv")
        });

        // An image that never gets ready: rolled back at the progress deadline.
        c.set_image(NS, "podinfo", "ghcr.io/stefanprodan/podinfo:bad");
        c.wait_phase(NS, "podinfo", "Failed", T);
        assert_eq!(c.image(NS, "podinfo-primary"), IMG2, "{world}");
        assert_eq!(c.replicas(NS, "podinfo"), 0, "{world}");
        c.assert_no_refusals();
    }
}
