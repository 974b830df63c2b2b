//! End to end: alerts sent by the controller through AlertProviders to loopback receivers, with
//! Flagger's severity filtering, global `--slack-url`, and secret addresses that never show up
//! in logs, Events or status. In both worlds (on the real control plane the controller reads
//! the Secret with deploy/rbac's permissions).

mod support;

use std::time::Duration;

use support::receiver::Receiver;
use support::{DEFAULT_SCENARIO, blue_green_canary, podinfo, worlds};

const T: Duration = Duration::from_secs(40);
const IMG1: &str = "ghcr.io/stefanprodan/podinfo:6.0.0";
const IMG2: &str = "ghcr.io/stefanprodan/podinfo:6.0.1";
const BAD: &str = "ghcr.io/stefanprodan/podinfo:bad";

#[test]
fn alert_providers_get_their_format_filtered_by_severity_and_secrets_stay_secret() {
    for world in worlds(DEFAULT_SCENARIO) {
        let rx = Receiver::start();
        // The Secret's address carries a token in its path, as Slack's webhook URLs do. The
        // receiver fails it, so the controller has an error to report (and must not leak it).
        let secret_path = "/services/T000/B000/s3cr3t-t0k3n";
        rx.answer(secret_path, 500);
        let mut c = world;
        let ns = "alerts";
        c.apply(&podinfo(ns, IMG1, 1));
        c.apply(&format!(
            r#"apiVersion: v1
kind: Secret
metadata: {{name: slack-address, namespace: {ns}}}
stringData: {{address: "{secret}"}}
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {{name: on-call, namespace: {ns}}}
spec: {{type: slack, channel: on-call, username: fledge, address: "{info}"}}
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {{name: pager, namespace: {ns}}}
spec: {{type: msteams, address: "{error}"}}
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {{name: secret-slack, namespace: {ns}}}
spec: {{type: slack, secretRef: {{name: slack-address}}}}
"#,
            secret = rx.url(secret_path),
            info = rx.url("/info"),
            error = rx.url("/error"),
        ));
        c.apply(&blue_green_canary(ns, 2, "").replace(
        "    iterations: 2\n",
        "    iterations: 2\n    alerts:\n    - {name: all, severity: info, providerRef: {name: on-call}}\n    - {name: errors, severity: error, providerRef: {name: pager}}\n    - {name: secret, providerRef: {name: secret-slack}}\n",
    ));
        c.start_controller(&["--cluster-name", "sim-cluster"]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Succeeded", T);
        c.set_image(ns, "podinfo", BAD);
        c.wait_phase(ns, "podinfo", "Failed", T);
        rx_wait(&rx, "/error", 1);

        // info gets everything, in Slack's format with Flagger's fields.
        let info = rx.calls("/info");
        let texts: Vec<String> = info.iter().map(|call| call.raw.clone()).collect();
        assert!(
            texts.iter().any(|t| t.contains("New revision detected")),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("Canary failed")
                || t.contains("Rolling back")
                || t.contains("progress deadline")),
            "{texts:?}"
        );
        let first = &info[0].body;
        assert_eq!(first["channel"], "on-call");
        assert_eq!(first["username"], "fledge");
        assert!(
            info.iter().any(|call| call.raw.contains("sim-cluster")),
            "cluster name field: {texts:?}"
        );
        // error gets only errors, in Teams' format.
        let errors = rx.calls("/error");
        assert!(!errors.is_empty());
        assert!(
            errors
                .iter()
                .all(|call| !call.raw.contains("New revision detected")),
            "only errors: {errors:?}"
        );
        // An empty severity means info (unlike Flagger, where it meant nothing at all).
        rx_wait(&rx, secret_path, 2);

        // The secret address reached the receiver but nothing a user can read.
        let token = "s3cr3t-t0k3n";
        let log = c.controller_log(0);
        assert!(
            !log.contains(token),
            "the controller log leaks the secret address"
        );
        let status = c.kubectl(&["get", "canary", "-n", ns, "podinfo", "-o", "yaml"]);
        assert!(!status.contains(token), "status leaks the secret address");
        let events = c.kubectl(&["get", "events", "-n", ns, "-o", "yaml"]);
        assert!(!events.contains(token), "events leak the secret address");
        assert!(
            log.contains("alert not delivered"),
            "the failed delivery is logged (without the address)"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn a_global_slack_url_is_used_when_a_canary_lists_no_alerts() {
    for world in worlds(DEFAULT_SCENARIO) {
        let rx = Receiver::start();
        let mut c = world;
        let ns = "global-alerts";
        c.apply(&podinfo(ns, IMG1, 1));
        c.apply(&blue_green_canary(ns, 2, ""));
        c.start_controller(&["--slack-url", &rx.url("/global")]);
        c.wait_phase(ns, "podinfo", "Initialized", T);
        rx_wait(&rx, "/global", 1);
        let calls = rx.calls("/global");
        assert!(
            calls.iter().any(|call| call.raw.contains("podinfo")),
            "{calls:?}"
        );
        c.assert_no_refusals();
    }
}

fn rx_wait(rx: &Receiver, path: &str, n: usize) {
    let start = std::time::Instant::now();
    while rx.count(path) < n {
        assert!(
            start.elapsed() < T,
            "{path}: expected {n} calls, got {}",
            rx.count(path)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
