//! End to end, webhooks: the controller binary calling real loopback HTTP receivers that answer
//! as each test decides, and the real `fledge-loadtester`. Gates (confirm-rollout,
//! confirm-promotion, and the load tester's gate and rollback switches), the rollback hook,
//! pre-rollout failures, the payloads, the global `--event-webhook`, and releases whose only
//! traffic comes from the load tester (native load and `hey`), judged on a real Prometheus.
//! The tests that start with `worlds(...)` run on `fledge sim` and on the real control plane.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::loadtester::Loadtester;
use support::prometheus::Prometheus;
use support::receiver::Receiver;
use support::{
    Cluster, DEFAULT_SCENARIO, IMG1, IMG2, blue_green_canary, has_event, initialized_in, net,
    podinfo, worlds,
};

const T: Duration = Duration::from_secs(60);
const RELEASE: Duration = Duration::from_secs(150);
const IMG3: &str = "ghcr.io/stefanprodan/podinfo:6.0.2";
/// 70% success in testdata/e2e/scenario-quiet.yaml.
const FAULTY: &str = "ghcr.io/stefanprodan/podinfo:6.0.3";

/// One entry of `spec.analysis.webhooks` (`extra`: more fields, indented 8 spaces).
fn hook(name: &str, kind: &str, url: &str, extra: &str) -> String {
    format!(
        "      - name: {name}\n        type: {kind}\n        url: {url}\n        timeout: 5s\n{extra}"
    )
}

/// A blue/green canary (1s interval, threshold 2) with these webhooks.
fn canary_with_hooks(ns: &str, iterations: i32, hooks: &[String]) -> String {
    blue_green_canary(
        ns,
        iterations,
        &format!("    webhooks:\n{}", hooks.concat()),
    )
}

fn failed_checks(canary: &Value) -> i64 {
    canary["status"]["failedChecks"].as_i64().unwrap_or(0)
}

fn keys(body: &Value) -> BTreeSet<String> {
    body.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

#[test]
fn a_confirm_rollout_gate_holds_the_release_in_waiting_until_it_opens() {
    let ns = "confirm-rollout";
    for c in worlds(DEFAULT_SCENARIO) {
        let r = Receiver::start();
        r.answer("/approve", 403);
        let canary = canary_with_hooks(
            ns,
            2,
            &[hook("approve", "confirm-rollout", &r.url("/approve"), "")],
        );
        let c = initialized_in(c, ns, &canary, &[]);

        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Waiting", T);
        let asked = r.count("/approve");
        c.wait_for("the gate asked three more times", T, |c| {
            let v = c.canary(ns, "podinfo");
            assert_eq!(
                v["status"]["phase"], "Waiting",
                "a closed gate must hold: {:#}",
                v["status"]
            );
            assert_eq!(failed_checks(&v), 0, "a closed gate is not a failed check");
            (r.count("/approve") >= asked + 3).then_some(())
        });
        // Nothing started: the target is still at zero and the primary serves the old image.
        assert_eq!(c.replicas(ns, "podinfo"), 0);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG1);
        let events = c.events(ns, "podinfo");
        assert!(
            events.iter().any(|e| e.starts_with("Warning")
                && e.contains(&format!(
                    "Halt podinfo.{ns} advancement waiting for approval approve"
                ))),
            "{events:#?}"
        );
        assert!(
            !has_event(&events, "New revision detected! Scaling up"),
            "{events:#?}"
        );

        r.answer("/approve", 200);
        let done = c.wait_phase_not(ns, "podinfo", "Succeeded", "Failed", RELEASE);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        assert_eq!(failed_checks(&done), 0);
        let waiting_calls = r.calls("/approve");
        assert!(
            waiting_calls
                .iter()
                .any(|call| call.body["phase"] == "Waiting"),
            "{waiting_calls:?}"
        );
    }
}

#[test]
fn a_confirm_promotion_gate_holds_in_waiting_promotion_until_it_opens() {
    let ns = "confirm-promotion";
    for c in worlds(DEFAULT_SCENARIO) {
        let r = Receiver::start();
        r.answer("/promote", 403);
        let canary = canary_with_hooks(
            ns,
            2,
            &[hook("promote", "confirm-promotion", &r.url("/promote"), "")],
        );
        let c = initialized_in(c, ns, &canary, &[]);

        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "WaitingPromotion", RELEASE);
        let asked = r.count("/promote");
        c.wait_for("the gate asked three more times", T, |c| {
            let v = c.canary(ns, "podinfo");
            assert_eq!(
                v["status"]["phase"], "WaitingPromotion",
                "{:#}",
                v["status"]
            );
            assert_eq!(failed_checks(&v), 0);
            (r.count("/promote") >= asked + 3).then_some(())
        });
        assert_eq!(
            c.image(ns, "podinfo-primary"),
            IMG1,
            "promoted through a closed gate"
        );
        let events = c.events(ns, "podinfo");
        assert!(
            has_event(
                &events,
                &format!("Halt podinfo.{ns} advancement waiting for promotion promote")
            ),
            "{events:#?}"
        );

        r.answer("/promote", 200);
        c.wait_phase_not(ns, "podinfo", "Succeeded", "Failed", RELEASE);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        c.wait_for("target scaled to zero", T, |c| {
            (c.replicas(ns, "podinfo") == 0).then_some(())
        });
    }
}

/// The load tester's gates, as Flagger's users drive them: a confirm-rollout hook on
/// `/gate/check` holds the release until `/gate/open`, and a rollback hook on `/rollback/check`
/// rolls the next one back once `/rollback/open` is called.
#[test]
fn the_load_testers_gate_and_rollback_switch_steer_releases() {
    let ns = "lt-gates";
    for c in worlds(DEFAULT_SCENARIO) {
        let lt = Loadtester::start();
        let canary = canary_with_hooks(
            ns,
            10,
            &[
                hook(
                    "gate",
                    "confirm-rollout",
                    &format!("{}/gate/check", lt.base),
                    "",
                ),
                hook(
                    "stop",
                    "rollback",
                    &format!("{}/rollback/check", lt.base),
                    "",
                ),
            ],
        );
        let c = initialized_in(c, ns, &canary, &[]);
        let this = json!({"name": "podinfo", "namespace": ns});

        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase(ns, "podinfo", "Waiting", T);
        assert_eq!(
            c.replicas(ns, "podinfo"),
            0,
            "{}: held at the gate",
            c.world()
        );
        let (status, body) =
            net::post_json(&format!("{}/gate/open", lt.base), &this).expect("gate/open");
        assert_eq!((status, body.as_str()), (202, "gate opened"));
        let done = c.wait_phase_not(ns, "podinfo", "Succeeded", "Failed", RELEASE);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2);
        assert_eq!(failed_checks(&done), 0);

        c.set_image(ns, "podinfo", IMG3);
        c.wait_for("two iterations of the next release", T, |c| {
            (support::iterations(&c.canary(ns, "podinfo")) >= 2).then_some(())
        });
        let (status, _) =
            net::post_json(&format!("{}/rollback/open", lt.base), &this).expect("rollback/open");
        assert_eq!(status, 202);
        c.wait_phase_not(ns, "podinfo", "Failed", "Succeeded", RELEASE);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG2, "{}", c.world());
        c.assert_no_refusals();
    }
}

#[test]
fn a_rollback_hook_rolls_back_mid_analysis_and_leaves_the_primary_alone() {
    for world in worlds(DEFAULT_SCENARIO) {
        let ns = "rollback-hook";
        let r = Receiver::start();
        // Any answer but 2xx means "don't roll back".
        r.answer("/rollback", 404);
        let canary = canary_with_hooks(
            ns,
            30,
            &[hook("manual-rollback", "rollback", &r.url("/rollback"), "")],
        );
        let c = initialized_in(world, ns, &canary, &[]);
        let primary_before = c.must_get("deployment", ns, "podinfo-primary");

        c.set_image(ns, "podinfo", IMG2);
        c.wait_iterations(ns, "podinfo", 2, RELEASE);
        assert!(
            r.count("/rollback") >= 2,
            "the rollback hook is asked at every step"
        );
        r.answer("/rollback", 200);
        let failed = c.wait_phase_not(ns, "podinfo", "Failed", "Succeeded", T);
        assert_eq!(
            failed_checks(&failed),
            0,
            "a manual rollback is not a failed check: {:#}",
            failed["status"]
        );

        let primary_after = c.must_get("deployment", ns, "podinfo-primary");
        assert_eq!(
            primary_after["spec"]["template"], primary_before["spec"]["template"],
            "the primary was touched"
        );
        assert_eq!(c.image(ns, "podinfo-primary"), IMG1);
        let events = c.events(ns, "podinfo");
        assert!(
            has_event(
                &events,
                &format!("Rolling back podinfo.{ns} manual webhook invoked (manual-rollback)")
            ),
            "{events:#?}"
        );
        let stalled = support::condition(&failed, "Stalled").expect("Stalled condition");
        assert_eq!(stalled["status"], "True");
        c.wait_for("target scaled to zero", T, |c| {
            (c.replicas(ns, "podinfo") == 0).then_some(())
        });
        c.assert_no_refusals();
    }
}

#[test]
fn a_failing_pre_rollout_hook_counts_toward_the_threshold() {
    for world in worlds(DEFAULT_SCENARIO) {
        let ns = "pre-rollout";
        let r = Receiver::start();
        r.answer("/smoke", 500);
        let canary = canary_with_hooks(
            ns,
            3,
            &[hook("smoke-test", "pre-rollout", &r.url("/smoke"), "")],
        );
        let c = initialized_in(world, ns, &canary, &[]);

        c.set_image(ns, "podinfo", IMG2);
        let failed = c.wait_phase_not(ns, "podinfo", "Failed", "Succeeded", RELEASE);
        assert_eq!(c.image(ns, "podinfo-primary"), IMG1);
        // threshold: 2, no retries: asked once per step, two steps.
        assert_eq!(r.count("/smoke"), 2, "{:?}", r.calls("/smoke"));
        assert_eq!(
            failed["status"]["iterations"].as_i64().unwrap_or(0),
            0,
            "advanced past a failed pre-rollout"
        );
        let history = failed["status"]["analysisHistory"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let fails: Vec<&Value> = history
            .iter()
            .filter(|h| {
                h["kind"] == "webhook" && h["name"] == "smoke-test" && h["verdict"] == "Fail"
            })
            .collect();
        assert_eq!(fails.len(), 2, "{history:#?}");
        for f in fails {
            assert!(
                f["message"].as_str().is_some_and(|m| m.contains("500")),
                "the record should say what the hook answered: {f}"
            );
        }
        let events = c.events(ns, "podinfo");
        assert!(
            has_event(
                &events,
                &format!("Halt podinfo.{ns} advancement pre-rollout check smoke-test failed")
            ),
            "{events:#?}"
        );
        assert!(
            has_event(
                &events,
                &format!("Rolling back podinfo.{ns} failed checks threshold reached 2")
            ),
            "{events:#?}"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn webhook_payloads_carry_name_namespace_phase_checksum_and_metadata() {
    for world in worlds(DEFAULT_SCENARIO) {
        let ns = "payloads";
        let r = Receiver::start();
        let started_ms = now_ms();
        let canary = canary_with_hooks(
            ns,
            2,
            &[
                hook(
                    "smoke-test",
                    "pre-rollout",
                    &r.url("/pre"),
                    "        metadata: {type: bash, cmd: \"curl -sf http://podinfo-canary.payloads:9898/\"}\n",
                ),
                hook(
                    "load-test",
                    "rollout",
                    &r.url("/rollout"),
                    "        metadata: {cmd: \"hey -z 1m -q 10 -c 2 http://podinfo-canary.payloads:9898/\", team: payments}\n",
                ),
                hook("notify", "post-rollout", &r.url("/post"), ""),
                hook(
                    "audit",
                    "event",
                    &r.url("/event"),
                    "        metadata: {channel: ops, eventType: overridden}\n",
                ),
            ],
        );
        let c = initialized_in(world, ns, &canary, &[]);
        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase_not(ns, "podinfo", "Succeeded", "Failed", RELEASE);
        // post-rollout and event hooks are fire-and-forget: wait for them to arrive.
        c.wait_for("post-rollout call and the promotion event", T, |_| {
            let promoted = r.calls("/event").iter().any(|call| {
                call.body["metadata"]["eventMessage"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Promotion completed!"))
            });
            (r.count("/post") >= 1 && promoted).then_some(())
        });

        let five: BTreeSet<String> = ["name", "namespace", "phase", "checksum", "metadata"]
            .map(String::from)
            .into();
        let mut checksums = BTreeSet::new();
        for (path, phase, metadata) in [
            (
                "/pre",
                "Progressing",
                json!({"type": "bash", "cmd": "curl -sf http://podinfo-canary.payloads:9898/"}),
            ),
            (
                "/rollout",
                "Progressing",
                json!({"cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.payloads:9898/", "team": "payments"}),
            ),
        ] {
            let calls = r.calls(path);
            assert!(!calls.is_empty(), "{path} never called");
            for call in calls {
                let b = &call.body;
                assert_eq!(keys(b), five, "{path}: {}", call.raw);
                assert_eq!(b["name"], "podinfo", "{path}");
                assert_eq!(b["namespace"], ns, "{path}");
                assert_eq!(b["phase"], phase, "{path}: {}", call.raw);
                assert_eq!(b["metadata"], metadata, "{path}");
                let checksum = b["checksum"].as_str().unwrap_or_default();
                assert!(!checksum.is_empty(), "{path}: empty checksum: {}", call.raw);
                checksums.insert(checksum.to_string());
            }
        }
        assert_eq!(
            checksums.len(),
            1,
            "one revision, one checksum: {checksums:?}"
        );

        // post-rollout: the outcome as the phase; a hook without metadata sends none.
        let post = r.calls("/post");
        assert_eq!(post.len(), 1, "{post:?}");
        assert_eq!(post[0].body["phase"], "Succeeded", "{}", post[0].raw);
        assert_eq!(post[0].body["name"], "podinfo");
        assert!(
            post[0].body.get("metadata").is_none_or(Value::is_null),
            "{}",
            post[0].raw
        );

        // Event hooks: the event in metadata, next to the hook's own keys, which can't override it.
        let events = c.events(ns, "podinfo");
        let finished_ms = now_ms();
        let mut messages = Vec::new();
        for call in r.calls("/event") {
            let b = &call.body;
            assert_eq!(keys(b), five, "{}", call.raw);
            assert_eq!(
                (b["name"].as_str(), b["namespace"].as_str()),
                (Some("podinfo"), Some(ns))
            );
            let m = &b["metadata"];
            assert_eq!(m["channel"], "ops", "{}", call.raw);
            let message = m["eventMessage"].as_str().unwrap_or_default();
            let kind = m["eventType"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{}", call.raw);
            assert!(
                kind == "Normal" || kind == "Warning",
                "eventType {kind:?}: {}",
                call.raw
            );
            let ts: u128 = m["timestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("timestamp: {}", call.raw));
            assert!(
                (started_ms..=finished_ms).contains(&ts),
                "timestamp {ts} not within the test: {}",
                call.raw
            );
            // Each one is an Event the canary has, with the same type.
            assert!(
                events
                    .iter()
                    .any(|e| e.starts_with(kind) && e.ends_with(message)),
                "{message:?} not among {events:#?}"
            );
            messages.push(message.to_string());
        }
        for want in [
            format!("New revision detected! Scaling up podinfo.{ns}"),
            format!("Promotion completed! Scaling down podinfo.{ns}"),
        ] {
            assert!(
                messages.contains(&want),
                "{want:?} not sent to the event hook: {messages:#?}"
            );
        }
        c.assert_no_refusals();
    }
}

#[test]
fn the_payload_checksum_changes_with_the_revision() {
    for world in worlds(DEFAULT_SCENARIO) {
        let ns = "checksum";
        let r = Receiver::start();
        let canary = canary_with_hooks(
            ns,
            2,
            &[hook("load-test", "rollout", &r.url("/rollout"), "")],
        );
        let c = initialized_in(world, ns, &canary, &[]);
        let checksums = |calls: &[support::receiver::Call]| -> BTreeSet<String> {
            calls
                .iter()
                .filter_map(|c| c.body["checksum"].as_str().map(str::to_string))
                .collect()
        };

        c.set_image(ns, "podinfo", IMG2);
        c.wait_phase_not(ns, "podinfo", "Succeeded", "Failed", RELEASE);
        let first = checksums(&r.calls("/rollout"));
        let seen = r.count("/rollout");
        c.set_image(ns, "podinfo", IMG3);
        c.wait_phase(ns, "podinfo", "Progressing", T);
        c.wait_phase_not(ns, "podinfo", "Succeeded", "Failed", RELEASE);
        let second = checksums(&r.calls("/rollout")[seen..]);
        assert_eq!(first.len(), 1, "{first:?}");
        assert_eq!(second.len(), 1, "{second:?}");
        // Flagger's checksum hashes the last applied spec with the tracked configs, so a hook
        // (a load tester's dedup, an approval service) can tell revisions apart.
        assert_ne!(
            first, second,
            "two revisions (different images) got the same payload checksum"
        );
        c.assert_no_refusals();
    }
}

#[test]
fn the_global_event_webhook_gets_the_events_of_canaries_without_event_hooks() {
    for world in worlds(DEFAULT_SCENARIO) {
        let global = Receiver::start();
        let own = Receiver::start();
        let mut c = world;
        let (quiet, loud) = ("global-events", "own-events");
        c.apply(&podinfo(quiet, IMG1, 1));
        c.apply(&podinfo(loud, IMG1, 1));
        c.apply(&blue_green_canary(quiet, 2, ""));
        c.apply(&canary_with_hooks(
            loud,
            2,
            &[hook("audit", "event", &own.url("/own"), "")],
        ));
        let url = global.url("/events");
        c.start_controller(&["--event-webhook", &url]);
        c.wait_phase(quiet, "podinfo", "Initialized", T);
        c.wait_phase(loud, "podinfo", "Initialized", T);
        c.set_image(quiet, "podinfo", IMG2);
        c.set_image(loud, "podinfo", IMG2);
        c.wait_phase_not(quiet, "podinfo", "Succeeded", "Failed", RELEASE);
        c.wait_phase_not(loud, "podinfo", "Succeeded", "Failed", RELEASE);
        let promoted = |calls: Vec<support::receiver::Call>| {
            calls.iter().any(|call| {
                call.body["metadata"]["eventMessage"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Promotion completed!"))
            })
        };
        c.wait_for("promotion events at both receivers", T, |_| {
            (promoted(global.calls("/events")) && promoted(own.calls("/own"))).then_some(())
        });

        let to_global = global.calls("/events");
        for call in &to_global {
            assert_eq!(
                call.body["namespace"], quiet,
                "a canary with its own event hook reached the global one: {}",
                call.raw
            );
            assert_eq!(call.body["name"], "podinfo");
            let m = &call.body["metadata"];
            assert!(
                m["eventMessage"].is_string()
                    && m["eventType"].is_string()
                    && m["timestamp"].is_string(),
                "{}",
                call.raw
            );
        }
        let messages: Vec<&str> = to_global
            .iter()
            .filter_map(|c| c.body["metadata"]["eventMessage"].as_str())
            .collect();
        for want in [
            format!("Initialization done! podinfo.{quiet}"),
            format!("New revision detected! Scaling up podinfo.{quiet}"),
            format!("Promotion completed! Scaling down podinfo.{quiet}"),
        ] {
            assert!(
                messages.contains(&want.as_str()),
                "{want:?} not at the global webhook: {messages:#?}"
            );
        }
        for call in own.calls("/own") {
            assert_eq!(call.body["namespace"], loud, "{}", call.raw);
        }
        c.assert_no_refusals();
    }
}

// --- releases driven by fledge-loadtester ---

const SCENARIO_QUIET: &str = include_str!("../testdata/e2e/scenario-quiet.yaml");
const LOAD_NATIVE: &str = include_str!("../testdata/e2e/canary-loadtester-native.yaml");
const LOAD_HEY: &str = include_str!("../testdata/e2e/canary-loadtester-hey.yaml");

/// `c` (either world, no synthetic traffic): the canary's requests come only from the load
/// tester, through the sim's service proxy for `test/podinfo-canary`.
fn loadtester_release(mut c: Cluster, manifest: &str) -> (Cluster, Prometheus, Loadtester) {
    let lt = Loadtester::start();
    let prom = Prometheus::scraping(&c.url);
    c.apply(&podinfo("test", IMG1, 2));
    let target = format!(
        "{}/api/v1/namespaces/test/services/podinfo-canary/proxy/",
        c.url
    );
    let canary = manifest
        .replace("http://fledge-loadtester.test/", &format!("{}/", lt.base))
        .replace("http://podinfo-canary.test:9898/", &target)
        .replace("http://prometheus.monitoring:9090", &prom.url);
    c.apply(&canary);
    c.start_controller(&[]);
    c.wait_phase("test", "podinfo", "Initialized", T);
    (c, prom, lt)
}

fn success_rates(canary: &Value, verdict: &str) -> Vec<f64> {
    canary["status"]["analysisHistory"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == "request-success-rate" && r["verdict"] == verdict)
        .map(|r| r["value"].as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// The canary's requests by source, as Prometheus saw them.
fn canary_requests(prom: &Prometheus, source: &str) -> f64 {
    prom.query_values(&format!(
        r#"sum(fledge_sim_requests_total{{namespace="test",deployment="podinfo",source="{source}"}})"#
    ))
    .unwrap_or_default()
    .into_iter()
    .sum()
}

#[test]
fn a_healthy_canary_loaded_only_by_the_native_load_tester_is_promoted() {
    for c in worlds(SCENARIO_QUIET) {
        let (c, prom, lt) = loadtester_release(c, LOAD_NATIVE);
        c.set_image("test", "podinfo", IMG2);
        let done = c.wait_phase_not("test", "podinfo", "Succeeded", "Failed", RELEASE);
        assert_eq!(c.image("test", "podinfo-primary"), IMG2);
        assert_eq!(failed_checks(&done), 0);
        let passed = success_rates(&done, "Pass");
        assert!(passed.len() >= 3, "{:#}", done["status"]);
        for v in passed {
            assert!((v - 100.0).abs() < 1e-6, "success rate {v}");
        }
        assert!(
            success_rates(&done, "Fail").is_empty(),
            "{:#}",
            done["status"]
        );
        // All of it came through the proxy, sent by the load tester.
        assert!(
            canary_requests(&prom, "proxy") >= 20.0,
            "the canary got no proxied requests"
        );
        assert_eq!(canary_requests(&prom, "synthetic"), 0.0);
        let (_, metrics) = net::get(&format!("{}/metrics", lt.base)).expect("load tester /metrics");
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("fledge_loadtester_load_requests_total")
                    && l.contains("canary=\"podinfo.test\"")
                    && l.contains("outcome=\"ok\"")
                    && l.split_whitespace()
                        .last()
                        .and_then(|v| v.parse::<f64>().ok())
                        .is_some_and(|v| v > 0.0)),
            "{metrics}"
        );
    }
}

#[test]
fn a_faulty_canary_loaded_only_by_hey_through_the_load_tester_is_rolled_back() {
    net::require("hey", "hey");
    for c in worlds(SCENARIO_QUIET) {
        let (c, prom, _lt) = loadtester_release(c, LOAD_HEY);
        c.set_image("test", "podinfo", FAULTY);
        let failed = c.wait_phase_not("test", "podinfo", "Failed", "Succeeded", RELEASE);
        assert_eq!(c.image("test", "podinfo-primary"), IMG1);
        let fails = success_rates(&failed, "Fail");
        assert_eq!(fails.len(), 2, "{:#}", failed["status"]);
        for v in fails {
            // 70% of proxied requests succeed, drawn at random: about 70 over a 10s window.
            assert!((55.0..=85.0).contains(&v), "success rate {v}");
        }
        assert!(
            success_rates(&failed, "Pass").is_empty(),
            "{:#}",
            failed["status"]
        );
        assert!(
            canary_requests(&prom, "proxy") >= 20.0,
            "hey's requests never reached the canary"
        );
        assert_eq!(canary_requests(&prom, "synthetic"), 0.0);
        let events = c.events("test", "podinfo");
        assert!(
            has_event(
                &events,
                "Rolling back podinfo.test failed checks threshold reached 2"
            ),
            "{events:#?}"
        );
    }
}
