//! End to end: weighted Gateway API canaries, autoscaler clones, revertOnDeletion, restarts
//! mid-analysis, API faults, invalid specs, manual requests, opt-in by annotation and leader
//! election, all through the real binaries. The tests that start with `worlds(...)` run in
//! both worlds (`FLEDGE_TEST_WORLD`); on the real control plane the controllers run with
//! deploy/rbac's permissions, and a refusal in their logs fails the test. API faults are the
//! sim's own (`--faults`), and the Gateway API weights test reads the sim only.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{
    Cluster, DEFAULT_SCENARIO, IMG1, IMG2, blue_green_canary, condition, count_events, iterations,
    podinfo, repo, route_weights, worlds,
};

const T: Duration = Duration::from_secs(40);

fn gateway_canary(ns: &str, step: i32, max: i32, interval: &str) -> String {
    format!(
        r#"apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  provider: gatewayapi:v1
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  progressDeadlineSeconds: 30
  service:
    port: 9898
    hosts: [podinfo.example.com]
    gatewayRefs: [{{name: public, namespace: gateways}}]
  analysis:
    interval: {interval}
    threshold: 2
    stepWeight: {step}
    maxWeight: {max}
    stepWeightPromotion: 50
"#
    )
}

#[test]
fn gateway_api_weights_step_as_planned_and_stop_at_max_weight() {
    let mut c = Cluster::start();
    let ns = "gateway";
    c.apply_file(&repo().join("testdata/crds/gateway-api-httproutes.yaml"));
    c.apply(&podinfo(ns, IMG1, 1));
    // stepWeight 20 with maxWeight 50: Flagger would go 20, 40, 60; we stop at 50.
    c.apply(&gateway_canary(ns, 20, 50, "2s"));
    c.start_controller(&[]);
    c.wait_phase(ns, "podinfo", "Initialized", T);
    let route = c.must_get("httproute", ns, "podinfo");
    assert_eq!(route_weights(&route), Some((100, 0)));
    assert_eq!(route["spec"]["hostnames"][0], "podinfo.example.com");
    assert_eq!(route["spec"]["parentRefs"][0]["name"], "public");

    c.set_image(ns, "podinfo", IMG2);
    let mut seen: Vec<i64> = Vec::new();
    c.wait_for("promotion", Duration::from_secs(60), |c| {
        let route = c.get("httproute", ns, "podinfo")?;
        if let Some((primary, canary)) = route_weights(&route) {
            assert_eq!(primary + canary, 100, "weights must add up: {route}");
            if seen.last() != Some(&canary) {
                seen.push(canary);
            }
        }
        (c.phase(ns, "podinfo") == "Succeeded").then_some(())
    });
    let max = seen.iter().copied().max().unwrap_or(0);
    assert_eq!(max, 50, "never above maxWeight: {seen:?}");
    // The analysis steps appear in order, then promotion moves traffic back to the primary
    // (stepWeightPromotion 50: the canary share drops in steps).
    let analysis: Vec<i64> = seen
        .iter()
        .copied()
        .take_while(|w| *w != 50)
        .chain([50])
        .collect();
    assert_eq!(analysis, vec![0, 20, 40, 50], "weights seen: {seen:?}");
    assert_eq!(seen.last(), Some(&0));
    assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
    let events = c.events(ns, "podinfo");
    for w in [20, 40, 50] {
        let want = format!("Advance podinfo.{ns} canary weight {w}");
        assert!(
            events.iter().any(|e| e.contains(&want)),
            "missing {want:?}: {events:?}"
        );
    }
}

#[test]
fn the_autoscaler_is_cloned_for_the_primary() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "hpa";
        c.apply(&podinfo(ns, IMG1, 2));
        c.apply(&format!(
            r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 80}}}}
"#
        ));
        c.apply(&blue_green_canary(
        ns,
        2,
        "  autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: podinfo}\n",
    ));
        c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        let hpa = c.must_get("hpa", ns, "podinfo-primary");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "podinfo-primary");
        assert_eq!(hpa["spec"]["minReplicas"], 2);
        assert_eq!(hpa["spec"]["maxReplicas"], 4);
        assert_eq!(hpa["metadata"]["ownerReferences"][0]["kind"], "Canary");
        // A new revision scales the target from zero to the HPA's minimum.
        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        c.wait_for("target scaled up", T, |c| {
            (c.replicas(ns, "podinfo") >= 2).then_some(())
        });
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        // A changed autoscaler reaches its -primary twin with the next promotion.
        c.kubectl(&[
            "-n",
            ns,
            "patch",
            "hpa",
            "podinfo",
            "--type=merge",
            "-p",
            r#"{"spec":{"maxReplicas":5}}"#,
        ]);
        c.set_image(ns, "podinfo", IMG1);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(
            c.must_get("hpa", ns, "podinfo-primary")["spec"]["maxReplicas"],
            5
        );
        c.assert_no_refusals();
    }
}

#[test]
fn deleting_a_canary_with_revert_on_deletion_restores_the_target() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "revert-on-delete";
        c.apply(&podinfo(ns, IMG1, 3));
        c.apply(&blue_green_canary(ns, 2, "  revertOnDeletion: true\n"));
        c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        c.wait_for("finalizer", T, |c| {
            let v = c.canary(ns, "podinfo");
            v["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
                .then_some(())
        });
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        c.kubectl(&["-n", ns, "delete", "canary", "podinfo", "--wait=false"]);
        c.wait_for("canary gone", T, |c| {
            c.get("canary", ns, "podinfo").is_none().then_some(())
        });
        // The target got the primary's replicas back and the apex Service selects it again.
        assert_eq!(c.replicas(ns, "podinfo"), 3);
        c.wait_for("apex service reverted", T, |c| {
            let svc = c.get("service", ns, "podinfo")?;
            (svc["spec"]["selector"]["app"] == "podinfo").then_some(())
        });
        c.assert_no_refusals();
    }
}

#[test]
fn a_controller_killed_mid_analysis_resumes_at_the_same_step() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "restart-controller";
        c.apply(&podinfo(ns, IMG1, 1));
        c.apply(&blue_green_canary(ns, 6, "").replace("interval: 1s", "interval: 2s"));
        let first = c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        c.set_image(ns, "podinfo", IMG2);
        let before = c.wait_iterations(ns, "podinfo", 2, T);
        c.kill_controller(first);
        let killed = c.canary(ns, "podinfo");
        let frozen = iterations(&killed);
        assert!(frozen >= before);
        // Nothing moves while no controller runs: once the next step is overdue by a whole
        // interval, the Canary still shows the last step the killed controller took.
        let overdue = c.wait_step_overdue(ns, "podinfo", Duration::from_secs(2));
        assert_eq!(
            iterations(&overdue),
            frozen,
            "nothing moves while no controller runs"
        );
        assert_eq!(
            overdue["status"]["lastStepTime"],
            killed["status"]["lastStepTime"]
        );
        let second = c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        // Every iteration was announced exactly once across both controllers: no step skipped,
        // none repeated, one promotion.
        let events = c.events(ns, "podinfo");
        for i in 1..=6 {
            let want = format!("Advance podinfo.{ns} canary iteration {i}/6");
            let n = count_events(&events, &want);
            assert_eq!(
                n,
                1,
                "{want:?} seen {n} times: {events:?}\n{}",
                c.controller_log(second)
            );
        }
        let promotions = count_events(&events, "Copying podinfo.restart-controller template spec");
        assert_eq!(promotions, 1, "{events:?}");
        c.assert_no_refusals();
    }
}

#[test]
fn releases_end_right_despite_api_faults() {
    // 5% of the controller's writes and lists fail with 500, 5% of its updates with 409, and
    // every watch stream is cut after 20 events. `get` is spared so the test's own kubectl
    // reads stay simple; its writes retry.
    let faults = "\
rules:
  - verbs: [list, watch, create, update, patch, delete]
    resources: [deployments.apps, canaries.fledge.dev, canaries.fledge.dev/status, services, configmaps]
    errorRate: 0.05
  - verbs: [update, patch]
    resources: [deployments.apps, canaries.fledge.dev, canaries.fledge.dev/status]
    conflictRate: 0.05
watch:
  dropAfterEvents: 20
";
    let mut c = Cluster::with(support::DEFAULT_SCENARIO, Some(faults));
    let ns = "faults";
    apply_retrying(&c, &podinfo(ns, IMG1, 1));
    apply_retrying(&c, &blue_green_canary(ns, 2, ""));
    c.start_controller(&[]);
    c.wait_phase(ns, "podinfo", "Initialized", Duration::from_secs(60));
    set_image_retrying(&c, ns, IMG2);
    c.wait_phase(ns, "podinfo", "Succeeded", Duration::from_secs(60));
    assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
    set_image_retrying(&c, ns, "ghcr.io/stefanprodan/podinfo:bad");
    c.wait_phase(ns, "podinfo", "Failed", Duration::from_secs(60));
    assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
}

/// kubectl itself doesn't retry 500s; the test's own writes must get through the faults.
/// A manual request, as `kubectl fledge` will write it.
fn request(c: &Cluster, ns: &str, value: &str) {
    c.kubectl(&[
        "-n",
        ns,
        "annotate",
        "canary/podinfo",
        &format!("fledge.dev/request={value}"),
        "--overwrite",
    ]);
}

fn apply_retrying(c: &Cluster, yaml: &str) {
    let file = c.path("retrying.yaml");
    std::fs::write(&file, yaml).expect("write");
    let mut last = String::new();
    for _ in 0..30 {
        let out = c.kubectl_output(&["apply", "-f", &file.display().to_string()]);
        if out.status.success() {
            return;
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("kubectl apply kept failing: {last}");
}

fn set_image_retrying(c: &Cluster, ns: &str, image: &str) {
    for _ in 0..30 {
        let out = c.kubectl_output(&[
            "-n",
            ns,
            "set",
            "image",
            "deployment/podinfo",
            &format!("podinfo={image}"),
        ]);
        if out.status.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("kubectl set image kept failing");
}

#[test]
fn an_invalid_spec_is_stalled_with_the_field_and_nothing_is_touched() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "invalid";
        c.apply(&podinfo(ns, IMG1, 2));
        // stepWeight above 100 passes the CRD schema? No: the schema rejects it. Use a rule only
        // the controller knows: an interval under --min-interval.
        c.apply(&blue_green_canary(ns, 2, "").replace("interval: 1s", "interval: 500ms"));
        c.start_controller(&[]);
        let stalled = c.wait_for("Stalled condition", T, |c| {
            condition(&c.canary(ns, "podinfo"), "Stalled").filter(|x| x["status"] == "True")
        });
        assert_eq!(stalled["reason"], "InvalidSpec");
        let message = stalled["message"].as_str().unwrap_or_default();
        assert!(message.contains("spec.analysis.interval"), "{message}");
        // Nothing was created or scaled.
        assert!(c.get("deployment", ns, "podinfo-primary").is_none());
        assert_eq!(c.replicas(ns, "podinfo"), 2);
        let events = c.events(ns, "podinfo");
        assert!(
            events
                .iter()
                .any(|e| e.starts_with("Warning") && e.contains("spec.analysis.interval")),
            "{events:?}"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn manual_requests_promote_abort_and_retry() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "manual";
        c.apply(&podinfo(ns, IMG1, 1));
        c.apply(&blue_green_canary(ns, 50, "").replace("threshold: 2", "threshold: 50"));
        c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Initialized", T);

        // promote: skips the remaining 50 iterations.
        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        request(&c, ns, "promote@1");
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        c.wait_for("request annotation removed", T, |c| {
            let v = c.canary(ns, "podinfo");
            v["metadata"]["annotations"]
                .get("fledge.dev/request")
                .is_none()
                .then_some(())
        });
        assert_eq!(
            c.canary(ns, "podinfo")["status"]["lastHandledRequest"],
            "promote@1"
        );

        // abort: rolls back now.
        let img3 = "ghcr.io/stefanprodan/podinfo:6.0.3";
        c.set_image(ns, "podinfo", img3);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        request(&c, ns, "abort@2");
        c.wait_phase(ns, "podinfo", "Failed", T);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);

        // retry: runs the failed revision again (and promote finishes it).
        request(&c, ns, "retry@3");
        c.wait_phase(ns, "podinfo", "Progressing", T);
        request(&c, ns, "promote@4");
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        assert_eq!(c.image(ns, "podinfo-primary"), img3);

        // suspend: nothing moves while suspended. The controller has seen the suspension when it
        // has observed the new generation and says it is suspended.
        c.kubectl(&[
            "-n",
            ns,
            "patch",
            "canary/podinfo",
            "--type=merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ]);
        c.wait_for("the controller to report the suspension", T, |c| {
            let v = c.canary(ns, "podinfo");
            (v["status"]["observedGeneration"] == v["metadata"]["generation"]
                && v["status"]["message"] == "suspended: spec.suspend is true")
                .then_some(())
        });
        let applied_before = c.canary(ns, "podinfo")["status"]["lastAppliedSpec"].clone();
        c.set_image(ns, "podinfo", IMG1);
        // A new revision while suspended changes nothing in status: wait for reconciles after it.
        c.wait_reconciled(0, ns, "podinfo");
        let suspended = c.canary(ns, "podinfo");
        assert_eq!(suspended["status"]["phase"], "Succeeded");
        assert_eq!(suspended["status"]["lastAppliedSpec"], applied_before);
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        c.kubectl(&[
            "-n",
            ns,
            "patch",
            "canary/podinfo",
            "--type=merge",
            "-p",
            r#"{"spec":{"suspend":false}}"#,
        ]);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        c.assert_no_refusals();
    }
}

#[test]
fn annotation_opt_in_generates_and_removes_a_canary() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "optin";
        c.apply(&podinfo(ns, IMG1, 2));
        c.start_controller(&[]);
        c.kubectl(&[
            "-n",
            ns,
            "annotate",
            "deployment/podinfo",
            "fledge.dev/canary=enabled",
            "fledge.dev/interval=1s",
            "fledge.dev/iterations=2",
            "fledge.dev/metrics=none",
        ]);
        let canary = c.wait_for("generated canary", T, |c| c.get("canary", ns, "podinfo"));
        assert_eq!(canary["spec"]["targetRef"]["name"], "podinfo");
        assert_eq!(canary["spec"]["analysis"]["iterations"], 2);
        assert_eq!(canary["spec"]["service"]["port"], 9898);
        assert_eq!(
            canary["metadata"]["ownerReferences"][0]["kind"],
            "Deployment"
        );
        let listed = c.kubectl(&["get", "canary", "-n", ns]);
        assert!(listed.contains("podinfo"), "{listed}");
        c.wait_phase(ns, "podinfo", "Initialized", T);
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        // A changed override rewrites the generated Canary.
        c.kubectl(&[
            "-n",
            ns,
            "annotate",
            "deployment/podinfo",
            "fledge.dev/iterations=3",
            "--overwrite",
        ]);
        c.wait_for("the Canary rewritten", T, |c| {
            (c.canary(ns, "podinfo")["spec"]["analysis"]["iterations"] == 3).then_some(())
        });
        // The annotation stays `enabled`: it is the user's switch.
        assert_eq!(
            c.must_get("deployment", ns, "podinfo")["metadata"]["annotations"]["fledge.dev/canary"],
            "enabled"
        );

        c.kubectl(&[
            "-n",
            ns,
            "annotate",
            "deployment/podinfo",
            "fledge.dev/canary-",
        ]);
        c.wait_for("generated canary removed", T, |c| {
            c.get("canary", ns, "podinfo").is_none().then_some(())
        });
        c.wait_for("replicas restored", T, |c| {
            (c.replicas(ns, "podinfo") == 2).then_some(())
        });
        let apex = c.must_get("service", ns, "podinfo");
        assert_eq!(apex["spec"]["selector"]["app"], "podinfo");

        // A bad override is reported on the Deployment and no Canary is made.
        c.kubectl(&[
            "-n",
            ns,
            "annotate",
            "deployment/podinfo",
            "fledge.dev/canary=enabled",
            "fledge.dev/threshold=lots",
            "--overwrite",
        ]);
        c.wait_for("warning event", T, |c| {
            c.events(ns, "podinfo")
                .iter()
                .any(|e| e.contains("InvalidAnnotation") && e.contains("fledge.dev/threshold"))
                .then_some(())
        });
        assert!(c.get("canary", ns, "podinfo").is_none());
        c.assert_no_refusals();
    }
}

#[test]
fn two_controllers_with_leader_election_never_both_advance() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "leader";
        c.apply(&podinfo(ns, IMG1, 1));
        c.apply(&blue_green_canary(ns, 4, ""));
        // deploy/rbac's leader-election Role is in the controller's own namespace.
        c.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: fledge-system}\n");
        let a = c.start_controller(&[
            "--leader-elect",
            "--identity",
            "a",
            "--leader-election-namespace",
            "fledge-system",
        ]);
        let _b = c.start_controller(&[
            "--leader-elect",
            "--identity",
            "b",
            "--leader-election-namespace",
            "fledge-system",
        ]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        let events = c.events(ns, "podinfo");
        for i in 1..=4 {
            let want = format!("Advance podinfo.{ns} canary iteration {i}/4");
            assert_eq!(count_events(&events, &want), 1, "{want:?}: {events:?}");
        }
        // Kill the leader: the other takes over and the next release still completes once.
        let lease = c.must_get("lease", "fledge-system", "fledge-controller-leader");
        let holder = lease["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let leader_index = if holder == "a" { a } else { a + 1 };
        c.kill_controller(leader_index);
        let img3 = "ghcr.io/stefanprodan/podinfo:6.0.3";
        c.set_image(ns, "podinfo", img3);
        c.wait_phase(ns, "podinfo", "Succeeded", Duration::from_secs(60));
        c.wait_for("new primary image", T, |c| {
            (c.image(ns, "podinfo-primary") == img3).then_some(())
        });
        c.assert_no_refusals();
    }
}

#[test]
fn json_logs_carry_the_reconcile_span() {
    let mut c = Cluster::start();
    let ns = "jsonlogs";
    c.apply(&podinfo(ns, IMG1, 1));
    c.apply(&blue_green_canary(ns, 2, ""));
    let i = c.start_controller(&["--log-format", "json"]);
    c.wait_phase(ns, "podinfo", "Initialized", T);
    let log = c.controller_log(i);
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let in_span = lines
        .iter()
        .find(|v| {
            v["span"]["name"] == "reconcile"
                && v["span"]["namespace"] == ns
                && v["span"]["name"].is_string()
        })
        .unwrap_or_else(|| panic!("no line inside a reconcile span: {log}"));
    assert_eq!(in_span["span"]["name"], "reconcile");
    assert!(in_span["span"].get("phase").is_some(), "{in_span}");
    assert!(lines.iter().any(|v| v["level"] == "INFO"));
}
