//! What the controller does when the world changes under it: a routing object edited by hand
//! (or re-applied by a GitOps tool) mid-analysis gets fledge's weights back, and a leader that
//! loses its Lease exits non-zero instead of living on unable to lead. In both worlds.

mod support;

use std::time::Duration;

use support::{DEFAULT_SCENARIO, IMG1, IMG2, has_event, podinfo, repo, worlds};

const T: Duration = Duration::from_secs(40);

#[test]
fn a_hand_edited_httproute_gets_fledges_weights_back_mid_analysis() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "drift";
        c.apply_file(&repo().join("testdata/crds/gateway-api-httproutes.yaml"));
        c.apply(&podinfo(ns, IMG1, 1));
        // A closed confirm-promotion gate holds the release at 20% (WaitingPromotion) for as long
        // as the test needs: whatever moves the route back is the repair, not a next step.
        c.apply(&format!(
            r#"apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  provider: gatewayapi:v1
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service:
    port: 9898
    gatewayRefs: [{{name: public, namespace: gateways}}]
  analysis:
    interval: 2s
    threshold: 2
    stepWeight: 20
    maxWeight: 20
    webhooks:
      - name: gate
        type: confirm-promotion
        url: http://127.0.0.1:9/closed
"#
        ));
        c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "WaitingPromotion", T);
        c.wait_for("the analysis weight", T, |c| {
            (c.httproute_weights(ns, "podinfo") == Some((80, 20))).then_some(())
        });

        // Someone puts all traffic back on the primary by hand.
        c.kubectl(&[
            "-n",
            ns,
            "patch",
            "httproute",
            "podinfo",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/rules/0/backendRefs/0/weight","value":100},
            {"op":"replace","path":"/spec/rules/0/backendRefs/1/weight","value":0}]"#,
        ]);
        let said = "traffic split changed outside fledge (primary 100%, canary 0%); restoring primary 80%, canary 20%";
        c.wait_for("the repair", T, |c| {
            has_event(&c.events(ns, "podinfo"), said).then_some(())
        });
        c.wait_for("fledge's weights back", T, |c| {
            (c.httproute_weights(ns, "podinfo") == Some((80, 20))).then_some(())
        });
        let canary = c.canary(ns, "podinfo");
        assert_eq!(canary["status"]["phase"], "WaitingPromotion");
        assert_eq!(
            canary["status"]["canaryWeight"], 20,
            "the release did not move"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn a_leader_that_loses_its_lease_exits_non_zero() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "lease";
        c.apply(&podinfo(ns, IMG1, 1));
        // deploy/rbac's leader-election Role is in the controller's own namespace.
        c.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: fledge-system}\n");
        let leader = c.start_controller(&[
            "--leader-elect",
            "--identity",
            "a",
            "--leader-election-namespace",
            "fledge-system",
        ]);
        c.wait_for("leadership", T, |c| {
            let lease = c.get("lease", "fledge-system", "fledge-controller-leader")?;
            (lease["spec"]["holderIdentity"] == "a").then_some(())
        });
        // Another holder takes the Lease for an hour (as a replica would after a partition).
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ");
        c.kubectl(&[
        "-n",
        "fledge-system",
        "patch",
        "lease",
        "fledge-controller-leader",
        "--type=merge",
        "-p",
        &format!(
            r#"{{"spec":{{"holderIdentity":"intruder","leaseDurationSeconds":3600,"acquireTime":"{now}","renewTime":"{now}"}}}}"#
        ),
    ]);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = c.controller_exit(leader) {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the old leader still runs:\n{}",
                c.controller_log(leader)
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(!status.success(), "exit status {status}");
        let log = c.controller_log(leader);
        assert!(
            log.contains("lost the lease fledge-system/fledge-controller-leader"),
            "{log}"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn a_canary_with_an_invalid_spec_can_still_be_deleted_and_gives_the_target_back() {
    for mut c in worlds(DEFAULT_SCENARIO) {
        let ns = "invalid-delete";
        c.apply(&podinfo(ns, IMG1, 2));
        c.apply(&support::blue_green_canary(
            ns,
            2,
            "  revertOnDeletion: true\n",
        ));
        c.start_controller(&[]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        // An interval below the controller's --min-interval (1s) makes the spec invalid.
        c.kubectl(&[
            "-n",
            ns,
            "patch",
            "canary",
            "podinfo",
            "--type=merge",
            "-p",
            r#"{"spec":{"analysis":{"interval":"500ms"}}}"#,
        ]);
        c.wait_for("Stalled (InvalidSpec)", T, |c| {
            has_event(&c.events(ns, "podinfo"), "spec.analysis.interval").then_some(())
        });
        c.kubectl(&["-n", ns, "delete", "canary", "podinfo", "--wait=false"]);
        c.wait_for("the Canary gone and the target back", T, |c| {
            (c.get("canary", ns, "podinfo").is_none() && c.replicas(ns, "podinfo") == 2)
                .then_some(())
        });
        let apex = c.must_get("service", ns, "podinfo");
        assert_eq!(apex["spec"]["selector"]["app"], "podinfo", "{apex}");
        c.assert_no_refusals();
    }
}
