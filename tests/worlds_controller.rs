//! The controller's releases that need no traffic, with the same test code in both worlds:
//! `fledge sim`, and a real control plane (kube-apiserver and kube-controller-manager, the sim
//! as kubelet) where the controller runs with `controller.kubeconfig`, the fledge
//! ServiceAccount's token with exactly the permissions `deploy/rbac` grants, so a permission it
//! lacks fails here. `FLEDGE_TEST_WORLD=sim` or `cluster` runs one world; unset, both.
//!
//! Covered: bootstrap (primary, its ConfigMap copy, the three Services, the target scaled to
//! zero), a new image promoted, a config-only change promoted, a bad image rolled back at the
//! progress deadline, opt-in by annotation, a restart in the middle of an analysis, and leader
//! election with two replicas.

mod support;

use std::time::Duration;

use support::{Cluster, DEFAULT_SCENARIO, IMG1, IMG2, blue_green_canary, podinfo, worlds};

const NS: &str = "test";
const T: Duration = Duration::from_secs(90);

/// No line of any controller's log says the API server refused it.
fn no_refusals(c: &Cluster, controllers: usize) {
    for i in 0..controllers {
        let log = c.controller_log(i);
        let refused: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("forbidden") || l.contains("Forbidden"))
            .collect();
        assert!(
            refused.is_empty(),
            "{}: controller {i} was refused (deploy/rbac lacks a permission):\n{}",
            c.world(),
            refused.join("\n")
        );
    }
}

fn wait_promoted(c: &Cluster, what: &str, done: impl Fn(&Cluster) -> bool) {
    c.wait_for(what, T, |c| {
        (c.phase(NS, "podinfo") == "Succeeded" && done(c)).then_some(())
    });
}

#[test]
fn releases_are_bootstrapped_promoted_and_rolled_back() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let world = c.world();
        c.apply(&podinfo(NS, IMG1, 2));
        c.apply(&blue_green_canary(NS, 2, ""));
        c.start_controller(&[]);
        c.wait_phase(NS, "podinfo", "Initialized", T);
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

        // An image that never gets ready: rolled back at the progress deadline.
        c.set_image(NS, "podinfo", "ghcr.io/stefanprodan/podinfo:bad");
        c.wait_phase(NS, "podinfo", "Failed", T);
        assert_eq!(c.image(NS, "podinfo-primary"), IMG2, "{world}");
        assert_eq!(c.replicas(NS, "podinfo"), 0, "{world}");
        no_refusals(&c, 1);
    }
}

#[test]
fn an_annotated_deployment_opts_in() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let world = c.world();
        c.apply(&podinfo(NS, IMG1, 2));
        c.start_controller(&[]);
        c.kubectl(&[
            "-n",
            NS,
            "annotate",
            "deployment/podinfo",
            "fledge.dev/canary=enabled",
            "fledge.dev/interval=1s",
            "fledge.dev/iterations=2",
            "fledge.dev/metrics=none",
        ]);
        c.wait_phase(NS, "podinfo", "Initialized", T);
        let canary = c.canary(NS, "podinfo");
        assert_eq!(
            canary["metadata"]["ownerReferences"][0]["kind"], "Deployment",
            "{world}"
        );
        c.set_image(NS, "podinfo", IMG2);
        wait_promoted(&c, "IMG2 promoted", |c| {
            c.image(NS, "podinfo-primary") == IMG2
        });
        no_refusals(&c, 1);
    }
}

#[test]
fn a_restarted_controller_finishes_the_analysis_it_was_in() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        c.apply(&podinfo(NS, IMG1, 2));
        c.apply(&blue_green_canary(NS, 6, ""));
        let first = c.start_controller(&[]);
        c.wait_phase(NS, "podinfo", "Initialized", T);
        c.set_image(NS, "podinfo", IMG2);
        c.wait_for("two checks done", T, |c| {
            (support::iterations(&c.canary(NS, "podinfo")) >= 2).then_some(())
        });
        c.kill_controller(first);
        c.start_controller(&[]);
        wait_promoted(&c, "IMG2 promoted", |c| {
            c.image(NS, "podinfo-primary") == IMG2
        });
        no_refusals(&c, 2);
    }
}

#[test]
fn two_replicas_elect_one_leader_and_the_other_takes_over() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let world = c.world();
        c.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: fledge-system}\n");
        c.apply(&podinfo(NS, IMG1, 2));
        c.apply(&blue_green_canary(NS, 2, ""));
        let elect = |id: &'static str| {
            [
                "--leader-elect",
                "--leader-election-namespace",
                "fledge-system",
                "--identity",
                id,
            ]
        };
        let a = c.start_controller(&elect("replica-a"));
        let b = c.start_controller(&elect("replica-b"));
        c.wait_phase(NS, "podinfo", "Initialized", T);
        let leader = c.wait_for("a Lease holder", T, |c| {
            let leases = c.get_json(&["lease", "-n", "fledge-system"])?;
            leases["items"]
                .as_array()?
                .iter()
                .find_map(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
        });
        let (gone, other) = if leader == "replica-a" {
            (a, "replica-b")
        } else {
            (b, "replica-a")
        };
        c.kill_controller(gone);
        c.set_image(NS, "podinfo", IMG2);
        wait_promoted(&c, "IMG2 promoted by the other replica", |c| {
            c.image(NS, "podinfo-primary") == IMG2
        });
        let leases = c.get_json(&["lease", "-n", "fledge-system"]).unwrap();
        let holders: Vec<&str> = leases["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["spec"]["holderIdentity"].as_str())
            .collect();
        assert_eq!(holders, [other], "{world}");
        no_refusals(&c, 2);
    }
}
