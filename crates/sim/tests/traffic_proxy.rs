//! Real HTTP requests through the sim's service proxy (the Kubernetes proxy path and the
//! Host-header form, driven by reqwest and by the real `hey`) are routed by the same weights
//! as synthetic traffic and recorded in `/metrics`.

mod traffic_support;

use std::process::Command;

use fledge_sim::SimHandle;
use traffic_support::{kubectl, start_canary_70};

/// The sum of `fledge_sim_requests_total` samples whose labels contain every `needle`.
async fn sim_requests(sim: &SimHandle, needles: &[&str]) -> f64 {
    let text = reqwest::get(format!("{}/metrics", sim.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("fledge_sim_requests_total{"))
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_requests_are_split_by_the_canary_weight_and_recorded() {
    let sim = start_canary_70(|s| s.services.clear()).await;
    let client = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/namespaces/test/services/podinfo:http/proxy/api/info",
        sim.url()
    );
    let (mut canary, mut failed) = (0, 0);
    for _ in 0..300 {
        let resp = client.get(&url).send().await.unwrap();
        let backend = resp.headers()["x-fledge-sim-backend"]
            .to_str()
            .unwrap()
            .to_string();
        let pod = resp.headers()["x-fledge-sim-pod"]
            .to_str()
            .unwrap()
            .to_string();
        match backend.as_str() {
            "podinfo-canary" => {
                canary += 1;
                assert!(
                    pod.starts_with("podinfo-") && !pod.starts_with("podinfo-primary-"),
                    "{pod}"
                );
                if resp.status() == 500 {
                    failed += 1;
                } else {
                    assert_eq!(resp.status(), 200);
                }
            }
            "podinfo" => {
                assert!(pod.starts_with("podinfo-primary-"), "{pod}");
                assert_eq!(resp.status(), 200, "the primary image always succeeds");
            }
            other => panic!("unexpected backend {other}"),
        }
    }
    // 20% of 300 = 60 canary requests, 30% of those fail; generous bounds for the draws.
    assert!((30..=95).contains(&canary), "canary took {canary}/300");
    assert!(
        failed > 0 && failed < canary / 2 + 5,
        "{failed} of {canary} canary requests failed"
    );
    assert_eq!(sim_requests(&sim, &["source=\"proxy\""]).await, 300.0);
    let failed_metric = sim_requests(&sim, &["backend=\"podinfo-canary\"", "code=\"500\""]).await;
    assert_eq!(failed_metric, f64::from(failed));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_header_requests_reach_the_service_and_api_requests_still_work() {
    let sim = start_canary_70(|s| s.services.clear()).await;
    let client = reqwest::Client::new();
    for host in [
        "podinfo.test",
        "podinfo.test.svc.cluster.local:80",
        "podinfo-canary.test.svc",
    ] {
        let resp = client
            .get(format!("{}/", sim.url()))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert!(resp.headers().contains_key("x-fledge-sim-pod"), "{host}");
        assert!(
            [200, 500].contains(&resp.status().as_u16()),
            "{host}: {}",
            resp.status()
        );
    }
    // A Host naming no Service falls through to the API server.
    let resp = client
        .get(format!("{}/version", sim.url()))
        .header("host", "nothing.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!resp.headers().contains_key("x-fledge-sim-pod"));
    // The proxy path for a missing Service is a NotFound Status.
    let resp = client
        .get(format!(
            "{}/api/v1/namespaces/test/services/nope/proxy/",
            sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let status: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status["message"], "services \"nope\" not found");
    // kubectl reaches the proxy path too (the primary always answers 200).
    let (ok, out) = kubectl(
        &sim,
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/test/services/podinfo-primary/proxy/healthz",
        ],
    );
    assert!(
        ok && out.contains("backend=podinfo-primary pod=podinfo-primary-"),
        "{out}"
    );
    assert_eq!(sim_requests(&sim, &["source=\"proxy\""]).await, 4.0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_from_hey_is_recorded() {
    let hey = std::path::Path::new("/usr/bin/hey");
    assert!(
        hey.exists(),
        "hey not found: apt-get install -y prometheus hey"
    );
    let sim = start_canary_70(|s| s.services.clear()).await;
    let url = format!("{}/", sim.url());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(hey)
            .args(["-n", "200", "-c", "4", "-host", "podinfo.test", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("[200]"), "{report}");
    assert_eq!(sim_requests(&sim, &["source=\"proxy\""]).await, 200.0);
    let canary = sim_requests(&sim, &["source=\"proxy\"", "backend=\"podinfo-canary\""]).await;
    assert!(
        (15.0..=70.0).contains(&canary),
        "canary took {canary}/200\n{report}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_of_a_running_sim_can_be_replaced_over_http() {
    let sim = start_canary_70(|s| s.services.clear()).await;
    let client = reqwest::Client::new();
    let put = |body: &'static str| {
        client
            .put(format!("{}/sim/scenario", sim.url()))
            .body(body)
            .send()
    };
    let resp = put("images:\n- match: x\n  successRate: 2\n")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("scenario PUT /sim/scenario: images[0].successRate: must be between 0 and 1"),
        "{text}"
    );

    let resp = put("images:\n- match: 'ghcr.io/stefanprodan/podinfo:6.0.*'\n  successRate: 0\n")
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let url = format!(
        "{}/api/v1/namespaces/test/services/podinfo-primary/proxy/",
        sim.url()
    );
    for _ in 0..20 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 500);
    }
    assert_eq!(sim.scenario().snapshot().images.len(), 1);
    sim.shutdown().await;
}
