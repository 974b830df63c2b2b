//! End to end: the controller binary driven by kubectl, in both worlds (`fledge sim`, and the
//! real control plane with deploy/rbac's permissions). Initialization, blue/green promotion,
//! rollback at the progress deadline, config-only revisions, and the revisions that must start
//! nothing.

mod support;

use std::time::Duration;

use support::{
    DEFAULT_SCENARIO, IMG1, IMG2, blue_green_canary, condition, count_events, has_event,
    initialized_in, kstatus, podinfo, worlds,
};

const T: Duration = Duration::from_secs(60);
const BAD: &str = "ghcr.io/stefanprodan/podinfo:bad";

#[test]
fn initialization_creates_every_object_with_flaggers_names() {
    for c in worlds(DEFAULT_SCENARIO) {
        let c = initialized_in(c, "init", &blue_green_canary("init", 2, ""), &[]);
        let ns = "init";
        let primary = c.must_get("deployment", ns, "podinfo-primary");
        assert_eq!(
            primary["spec"]["selector"]["matchLabels"]["app"],
            "podinfo-primary"
        );
        assert_eq!(
            primary["spec"]["template"]["metadata"]["labels"]["app"],
            "podinfo-primary"
        );
        assert_eq!(primary["spec"]["replicas"], 2);
        assert_eq!(primary["metadata"]["ownerReferences"][0]["kind"], "Canary");
        assert_eq!(
            primary["metadata"]["ownerReferences"][0]["controller"],
            true
        );
        assert_eq!(
            primary["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/reconcile"],
            "disabled"
        );
        assert_eq!(
            primary["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
            "podinfo-config-primary"
        );
        assert_eq!(
            primary["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"],
            "true"
        );

        let copy = c.must_get("configmap", ns, "podinfo-config-primary");
        assert_eq!(copy["data"]["color"], "blue");
        assert_eq!(copy["metadata"]["ownerReferences"][0]["kind"], "Canary");

        // The target is scaled to zero and marked as managed.
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        let target = c.must_get("deployment", ns, "podinfo");
        assert_eq!(
            target["metadata"]["annotations"]["fledge.dev/canary"],
            "podinfo"
        );

        // Services: apex and -primary select the primary pods, -canary the target's.
        for (svc, selects) in [
            ("podinfo", "podinfo-primary"),
            ("podinfo-primary", "podinfo-primary"),
            ("podinfo-canary", "podinfo"),
        ] {
            let s = c.must_get("service", ns, svc);
            assert_eq!(s["spec"]["selector"]["app"], selects, "service {svc}");
            assert_eq!(s["spec"]["ports"][0]["port"], 9898, "service {svc}");
            assert_eq!(
                s["metadata"]["annotations"]["helm.toolkit.fluxcd.io/driftDetection"], "disabled",
                "service {svc}"
            );
            // portDiscovery adds the metrics port.
            let ports = s["spec"]["ports"].as_array().expect("ports");
            assert!(
                ports.iter().any(|p| p["port"] == 9797),
                "service {svc} ports {ports:?}"
            );
        }

        let canary = c.canary(ns, "podinfo");
        let status = &canary["status"];
        assert_eq!(status["phase"], "Initialized");
        assert!(status["lastPromotedSpec"].is_string());
        assert_eq!(status["lastPromotedSpec"], status["lastAppliedSpec"]);
        assert!(status["trackedConfigs"]["configmap/podinfo-config"].is_string());
        assert_eq!(
            status["observedGeneration"],
            canary["metadata"]["generation"]
        );
        let cond = |t: &str| {
            condition(&canary, t).map(|x| x["status"].as_str().unwrap_or_default().to_string())
        };
        assert_eq!(cond("Promoted").as_deref(), Some("True"));
        assert_eq!(cond("Ready").as_deref(), Some("True"));
        assert_eq!(cond("Reconciling").as_deref(), Some("False"));
        let events = c.events(ns, "podinfo");
        assert!(
            events
                .iter()
                .any(|e| e.contains("Initialization done! podinfo.init")),
            "{events:?}"
        );
        // kubectl wait understands the conditions.
        c.kubectl(&[
            "wait",
            "-n",
            ns,
            "canary/podinfo",
            "--for=condition=Ready",
            "--timeout=5s",
        ]);
        c.assert_no_refusals();
    }
}

#[test]
fn blue_green_promotes_a_new_image() {
    for c in worlds(DEFAULT_SCENARIO) {
        let c = initialized_in(c, "bluegreen", &blue_green_canary("bluegreen", 2, ""), &[]);
        let ns = "bluegreen";
        assert_eq!(kstatus(&c.canary(ns, "podinfo")), "Current");
        c.set_image(ns, "podinfo", IMG2);
        let progressing = c.wait_phase(ns, "podinfo", "Progressing", T);
        // What a Flux Kustomization health check sees: in progress during analysis, done after.
        assert_eq!(kstatus(&progressing), "InProgress");
        let done = c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(kstatus(&done), "Current");
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        let events = c.events(ns, "podinfo");
        for want in [
            "New revision detected! Scaling up podinfo.bluegreen",
            "Advance podinfo.bluegreen canary iteration 2/2",
            "Copying podinfo.bluegreen template spec to podinfo-primary.bluegreen",
            "Promotion completed! Scaling down podinfo.bluegreen",
        ] {
            assert!(
                events.iter().any(|e| e.contains(want)),
                "missing event {want:?} in {events:?}"
            );
        }
        let status = c.canary(ns, "podinfo")["status"].clone();
        assert_eq!(status["lastPromotedSpec"], status["lastAppliedSpec"]);
        assert_eq!(status["canaryWeight"], 0);
        c.assert_no_refusals();
    }
}

#[test]
fn a_bad_image_is_rolled_back_at_the_deadline_and_not_retried() {
    for c in worlds(DEFAULT_SCENARIO) {
        let c = initialized_in(c, "deadline", &blue_green_canary("deadline", 3, ""), &[]);
        let ns = "deadline";
        c.set_image(ns, "podinfo", BAD);
        let failed = c.wait_phase(ns, "podinfo", "Failed", T);
        assert_eq!(
            kstatus(&failed),
            "Failed",
            "a rolled-back release must fail a Flux health check"
        );
        // The primary keeps serving the old image; the target keeps its spec (Git stays the truth).
        assert_eq!(c.image(ns, "podinfo-primary"), IMG1);
        assert_eq!(c.image(ns, "podinfo"), BAD);
        c.wait_for("target scaled to zero", T, |c| {
            (c.replicas(ns, "podinfo") == 0).then_some(())
        });
        let cond = condition(&failed, "Stalled").expect("Stalled condition");
        assert_eq!(cond["status"], "True");
        let events = c.events(ns, "podinfo");
        assert!(
            events
                .iter()
                .any(|e| e.contains("Canary failed! Scaling down podinfo.deadline")),
            "{events:?}"
        );

        // Re-applying the same failed revision (as a GitOps tool would, every sync) starts no
        // new analysis. The apply changes the Deployment (its last-applied annotation); once the
        // controller has reconciled after it, nothing may have started.
        let revisions_before = count_events(&c.events(ns, "podinfo"), "New revision detected");
        let applied_before = c.canary(ns, "podinfo")["status"]["lastAppliedSpec"].clone();
        c.apply(&podinfo(ns, BAD, 2));
        c.wait_reconciled(0, ns, "podinfo");
        let after = c.canary(ns, "podinfo");
        assert_eq!(after["status"]["phase"], "Failed");
        assert_eq!(after["status"]["lastAppliedSpec"], applied_before);
        assert_eq!(
            count_events(&c.events(ns, "podinfo"), "New revision detected"),
            revisions_before
        );
        assert_eq!(c.image(ns, "podinfo-primary"), IMG1);
        c.assert_no_refusals();
    }
}

#[test]
fn a_config_change_runs_a_canary_and_updates_the_primary_copy_on_promotion() {
    for c in worlds(DEFAULT_SCENARIO) {
        let c = initialized_in(c, "config", &blue_green_canary("config", 2, ""), &[]);
        let ns = "config";
        c.kubectl(&[
            "-n",
            ns,
            "patch",
            "configmap",
            "podinfo-config",
            "--type=merge",
            "-p",
            r#"{"data":{"color":"green"}}"#,
        ]);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        // During analysis the primary still reads the old copy.
        assert_eq!(
            c.must_get("configmap", ns, "podinfo-config-primary")["data"]["color"],
            "blue"
        );
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(
            c.must_get("configmap", ns, "podinfo-config-primary")["data"]["color"],
            "green"
        );
        assert_eq!(c.image(ns, "podinfo-primary"), IMG1);
        c.assert_no_refusals();
    }
}

#[test]
fn reverting_to_the_promoted_image_starts_nothing() {
    for c in worlds(DEFAULT_SCENARIO) {
        let c = initialized_in(c, "revert", &blue_green_canary("revert", 2, ""), &[]);
        let ns = "revert";
        c.set_image(ns, "podinfo", BAD);
        c.wait_phase(ns, "podinfo", "Failed", T);
        c.set_image(ns, "podinfo", IMG1);
        // The controller has seen the revert when it adopts the promoted revision as the
        // applied one (and says so in an Event).
        let reverted = c.wait_for("lastAppliedSpec back at lastPromotedSpec", T, |c| {
            let v = c.canary(ns, "podinfo");
            (v["status"]["lastAppliedSpec"] == v["status"]["lastPromotedSpec"]).then_some(v)
        });
        assert_eq!(
            reverted["status"]["phase"], "Failed",
            "reverting to the primary's image is a manual rollback, not a release"
        );
        let events = c.events(ns, "podinfo");
        assert!(
            has_event(&events, "is back at the promoted revision"),
            "{events:?}"
        );
        // And a reconcile after that one still starts nothing.
        c.wait_reconciled(0, ns, "podinfo");
        assert_eq!(c.phase(ns, "podinfo"), "Failed");
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        c.assert_no_refusals();
    }
}

#[test]
fn a_new_revision_mid_analysis_restarts_it() {
    for c in worlds(DEFAULT_SCENARIO) {
        let c = initialized_in(c, "restart", &blue_green_canary("restart", 8, ""), &[]);
        let ns = "restart";
        c.set_image(ns, "podinfo", IMG2);
        c.wait_iterations(ns, "podinfo", 2, T);
        // Conditions and lastTransitionTime move only on transitions, not on every step
        // (Flagger #1696): two steps later they are unchanged.
        let times = |v: &serde_json::Value| {
            let conds: Vec<(String, String)> = v["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    (
                        c["type"].as_str().unwrap_or("").to_string(),
                        c["lastTransitionTime"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            (v["status"]["lastTransitionTime"].clone(), conds)
        };
        let early = times(&c.canary(ns, "podinfo"));
        c.wait_iterations(ns, "podinfo", 4, T);
        assert_eq!(times(&c.canary(ns, "podinfo")), early);
        let third = "ghcr.io/stefanprodan/podinfo:6.0.2";
        c.set_image(ns, "podinfo", third);
        c.wait_for("restart event", T, |c| {
            c.events(ns, "podinfo")
                .iter()
                .any(|e| e.contains("New revision detected! Restarting analysis"))
                .then_some(())
        });
        c.wait_phase(ns, "podinfo", "Succeeded", Duration::from_secs(60));
        assert_eq!(c.image(ns, "podinfo-primary"), third);
        c.assert_no_refusals();
    }
}

#[test]
fn skip_analysis_promotes_without_checks() {
    for c in worlds(DEFAULT_SCENARIO) {
        let c = initialized_in(
            c,
            "skip",
            &blue_green_canary("skip", 5, "  skipAnalysis: true\n"),
            &[],
        );
        let ns = "skip";
        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        let events = c.events(ns, "podinfo");
        assert!(
            !events.iter().any(|e| e.contains("canary iteration")),
            "no analysis steps: {events:?}"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn a_user_apex_service_is_taken_over_keeping_its_node_port() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "takeover";
        c.apply(&podinfo(ns, IMG1, 1));
        c.apply(&format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: podinfo}}
  ports: [{{name: http, port: 9898, targetPort: 9898, nodePort: 30080}}]
"#
        ));
        c.apply(&blue_green_canary(ns, 2, ""));
        c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        let svc = c.must_get("service", ns, "podinfo");
        assert_eq!(svc["spec"]["selector"]["app"], "podinfo-primary");
        assert_eq!(svc["spec"]["type"], "NodePort");
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30080);
        c.assert_no_refusals();
    }
}

/// docs/getting-started.md, command for command (the example runs as documented).
#[test]
fn the_getting_started_example_runs_as_documented() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        c.apply_file(&support::repo().join("testdata/getting-started/podinfo.yaml"));
        c.start_controller(&[]);
        c.wait_phase("test", "podinfo", "Initialized", T);
        for (kind, name) in [
            ("deployment", "podinfo-primary"),
            ("configmap", "podinfo-config-primary"),
            ("service", "podinfo"),
            ("service", "podinfo-primary"),
            ("service", "podinfo-canary"),
        ] {
            assert!(c.get(kind, "test", name).is_some(), "{kind} {name}");
        }
        c.set_image("test", "podinfo", IMG2);
        c.wait_phase("test", "podinfo", "Succeeded", Duration::from_secs(90));
        assert_eq!(c.image("test", "podinfo-primary"), IMG2);
        c.assert_no_refusals();
    }
}
