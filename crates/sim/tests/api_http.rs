//! The simulated API server on the wire: discovery documents and content types, `Status`
//! errors, list paging and selectors, watch semantics (resume, 410, bookmarks, initial events,
//! timeouts), tables, faults and `/sim/stats`, checked with plain HTTP requests.

use std::time::Duration;

use fledge_sim::faults::{FaultRule, Faults, WatchFaults};
use fledge_sim::{Sim, SimHandle, SimOptions, StoreConfig};
use serde_json::{Value, json};

async fn sim_with(options: SimOptions) -> (SimHandle, reqwest::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(options).await.unwrap();
    (sim, reqwest::Client::new())
}

async fn sim() -> (SimHandle, reqwest::Client) {
    sim_with(SimOptions::default()).await
}

async fn get(http: &reqwest::Client, url: String) -> (u16, Value) {
    let r = http.get(url).send().await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = http.post(url).json(&body).send().await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap())
}

fn cm(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

/// Read watch lines until `n` arrived or the stream ended.
async fn read_lines(resp: reqwest::Response, n: usize, secs: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut resp = resp;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while out.len() < n {
        let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => break,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find('\n') {
            let line: String = buf.drain(..=i).collect();
            out.push(serde_json::from_str(line.trim()).unwrap());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_legacy_and_aggregated() {
    let (sim, http) = sim().await;
    let u = sim.url();
    let (code, v) = get(&http, format!("{u}/version")).await;
    assert_eq!((code, v["minor"].as_str()), (200, Some("32")));
    let (_, apis) = get(&http, format!("{u}/apis")).await;
    let names: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "apps",
        "autoscaling",
        "networking.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
    ] {
        assert!(names.contains(&g), "{g} missing from {names:?}");
    }
    let (_, apps) = get(&http, format!("{u}/apis/apps/v1")).await;
    let res: Vec<&str> = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        res.contains(&"deployments")
            && res.contains(&"deployments/scale")
            && res.contains(&"deployments/status")
    );

    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let r = http
        .get(format!("{u}/apis"))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    let agg: Value = r.json().await.unwrap();
    assert_eq!(agg["kind"], "APIGroupDiscoveryList");
    let r = http
        .get(format!("{u}/api"))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    let core: Value = r.json().await.unwrap();
    assert_eq!(core["items"][0]["metadata"]["name"], "");

    // OpenAPI: index, GV documents, and no v2.
    let (_, index) = get(&http, format!("{u}/openapi/v3")).await;
    assert!(index["paths"]["apis/apps/v1"]["serverRelativeURL"].is_string());
    let (code, _) = get(&http, format!("{u}/openapi/v2")).await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_status_objects() {
    let (sim, http) = sim().await;
    let u = sim.url();
    let (code, s) = get(
        &http,
        format!("{u}/apis/apps/v1/namespaces/default/deployments/nope"),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(s["kind"], "Status");
    assert_eq!(s["reason"], "NotFound");
    assert_eq!(s["message"], "deployments.apps \"nope\" not found");
    let base = format!("{u}/api/v1/namespaces/default/configmaps");
    assert_eq!(post(&http, base.clone(), cm("a", json!({}))).await.0, 201);
    let (code, s) = post(&http, base.clone(), cm("a", json!({}))).await;
    assert_eq!((code, s["reason"].as_str()), (409, Some("AlreadyExists")));
    let (code, s) = post(&http, base.clone(), cm("Bad_Name", json!({}))).await;
    assert_eq!((code, s["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
    let (code, s) = post(
        &http,
        format!("{u}/api/v1/namespaces/nope/configmaps"),
        cm("a", json!({})),
    )
    .await;
    assert_eq!(
        (code, s["message"].as_str()),
        (404, Some("namespaces \"nope\" not found"))
    );
    let r = http
        .post(base.clone())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http
        .post(format!("{base}/a"))
        .json(&cm("a", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["reason"], "MethodNotAllowed");
    let r = http
        .patch(format!("{base}/a"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // Stale resourceVersion on update.
    let (_, current) = get(&http, format!("{base}/a")).await;
    let mut stale = current.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let r = http
        .put(format!("{base}/a"))
        .json(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["reason"], "Conflict");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_and_filter() {
    let (sim, http) = sim().await;
    let u = sim.url();
    let base = format!("{u}/api/v1/namespaces/default/configmaps");
    for i in 0..7 {
        let tier = if i % 2 == 0 { "web" } else { "db" };
        post(
            &http,
            base.clone(),
            cm(&format!("c{i}"), json!({"tier": tier, "n": i.to_string()})),
        )
        .await;
    }
    let mut names = Vec::new();
    let mut url = format!("{base}?limit=3");
    loop {
        let (_, page) = get(&http, url.clone()).await;
        assert!(page["items"].as_array().unwrap().len() <= 3);
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(c) => url = format!("{base}?limit=3&continue={}", urlencode(c)),
            None => break,
        }
    }
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]);
    let count = |q: &str| {
        let http = http.clone();
        let url = format!("{base}?{q}");
        async move {
            get(&http, url).await.1["items"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(usize::MAX)
        }
    };
    assert_eq!(count("labelSelector=tier%3Dweb").await, 4);
    assert_eq!(count("labelSelector=tier%21%3Dweb").await, 3);
    assert_eq!(count("labelSelector=n%20in%20(1,2,3)").await, 3);
    assert_eq!(count("labelSelector=n%20notin%20(1,2,3)").await, 4);
    assert_eq!(count("labelSelector=tier").await, 7);
    assert_eq!(count("labelSelector=%21tier").await, 0);
    assert_eq!(count("fieldSelector=metadata.name%3Dc3").await, 1);
    assert_eq!(count("fieldSelector=metadata.namespace%3Dother").await, 0);
    let (code, s) = get(&http, format!("{base}?fieldSelector=data.k%3Dv")).await;
    assert_eq!(
        (code, s["message"].as_str()),
        (400, Some("field label not supported: data.k"))
    );
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_for_builtins_and_custom_resources() {
    let (sim, http) = sim().await;
    let u = sim.url();
    post(
        &http,
        format!("{u}/api/v1/namespaces/default/configmaps"),
        cm("t", json!({"a": "b"})),
    )
    .await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let t: Value = http
        .get(format!("{u}/api/v1/namespaces/default/configmaps"))
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Data", "Age"]);
    assert_eq!(t["rows"][0]["cells"][0], "t");
    assert_eq!(t["rows"][0]["cells"][1], 1);
    assert_eq!(t["rows"][0]["object"]["metadata"]["labels"]["a"], "b");
    assert!(t["metadata"]["resourceVersion"].is_string());

    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}});
    assert_eq!(
        post(
            &http,
            format!("{u}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"),
            crd
        )
        .await
        .0,
        201
    );
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}});
    assert_eq!(
        post(
            &http,
            format!("{u}/apis/example.com/v1/namespaces/default/widgets"),
            w
        )
        .await
        .0,
        201
    );
    let status =
        json!({"status": {"phase": "Ok", "conditions": [{"type": "Ready", "status": "True"}]}});
    let r = http
        .patch(format!(
            "{u}/apis/example.com/v1/namespaces/default/widgets/w/status"
        ))
        .header("content-type", "application/merge-patch+json")
        .body(status.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let t: Value = http
        .get(format!(
            "{u}/apis/example.com/v1/namespaces/default/widgets"
        ))
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Phase", "Size", "Ready"]);
    assert_eq!(t["rows"][0]["cells"], json!(["w", "Ok", 3, "True"]));
    // The CRD's group is in discovery and OpenAPI at once.
    let (code, _) = get(&http, format!("{u}/apis/example.com/v1")).await;
    assert_eq!(code, 200);
    let (_, doc) = get(&http, format!("{u}/openapi/v3/apis/example.com/v1")).await;
    assert_eq!(
        doc["components"]["schemas"]["com.example.v1.Widget"]["x-kubernetes-group-version-kind"][0]
            ["kind"],
        "Widget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_expires_bookmarks_and_times_out() {
    let (sim, http) = sim_with(SimOptions {
        store: StoreConfig {
            history_limit: 10,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let u = sim.url();
    let base = format!("{u}/api/v1/namespaces/default/configmaps");
    let (_, first) = post(&http, base.clone(), cm("w0", json!({}))).await;
    let rv0: u64 = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    post(&http, base.clone(), cm("w1", json!({"sel": "yes"}))).await;

    // Resume from rv0: only the later event arrives, then live ones.
    let resp = http
        .get(format!("{base}?watch=true&resourceVersion={rv0}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let patch = http
        .patch(format!("{base}/w0"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"data":{"k":"2"}}"#);
    patch.send().await.unwrap();
    http.delete(format!("{base}/w1")).send().await.unwrap();
    let events = read_lines(resp, 3, 10).await;
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ADDED".into(), "w1".into()),
            ("MODIFIED".into(), "w0".into()),
            ("DELETED".into(), "w1".into())
        ]
    );

    // A label-selected watch sees an object leave the selector as DELETED.
    let resp = http
        .get(format!("{base}?watch=true&labelSelector=sel%3Dyes"))
        .send()
        .await
        .unwrap();
    post(&http, base.clone(), cm("w2", json!({"sel": "yes"}))).await;
    let leave = http
        .patch(format!("{base}/w2"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"metadata":{"labels":{"sel":"no"}}}"#);
    leave.send().await.unwrap();
    let events = read_lines(resp, 2, 10).await;
    assert_eq!(
        events
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["ADDED", "DELETED"]
    );

    // Push rv0 out of the 10-event history: 410 Expired as an ERROR event.
    for i in 0..12 {
        post(&http, base.clone(), cm(&format!("x{i}"), json!({}))).await;
    }
    let resp = http
        .get(format!("{base}?watch=true&resourceVersion={rv0}"))
        .send()
        .await
        .unwrap();
    let events = read_lines(resp, 1, 10).await;
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");

    // sendInitialEvents: the current state, then the initial-events-end bookmark, then bookmarks.
    let resp = http
        .get(format!("{base}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dw0"))
        .send()
        .await
        .unwrap();
    let events = read_lines(resp, 3, 10).await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[1]["type"], "BOOKMARK");
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(events[2]["type"], "BOOKMARK", "a periodic bookmark follows");

    // timeoutSeconds ends the stream.
    let started = tokio::time::Instant::now();
    let resp = http
        .get(format!(
            "{base}?watch=true&timeoutSeconds=1&resourceVersion={}",
            sim.store().resource_version()
        ))
        .send()
        .await
        .unwrap();
    let events = read_lines(resp, 1, 10).await;
    assert!(events.is_empty());
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_and_stats() {
    let faults = Faults {
        rules: vec![
            FaultRule {
                verbs: vec!["list".into()],
                resources: vec!["configmaps".into()],
                throttle_rate: 1.0,
                retry_after_seconds: 2,
                ..Default::default()
            },
            FaultRule {
                verbs: vec!["get".into()],
                resources: vec!["secrets".into()],
                error_rate: 0.5,
                ..Default::default()
            },
        ],
        watch: WatchFaults {
            drop_after_events: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    let (sim, http) = sim_with(SimOptions {
        faults,
        ..Default::default()
    })
    .await;
    let u = sim.url();
    let r = http
        .get(format!("{u}/api/v1/namespaces/default/configmaps"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}});
    post(
        &http,
        format!("{u}/api/v1/namespaces/default/secrets"),
        secret,
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(
            http.get(format!("{u}/api/v1/namespaces/default/secrets/s"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(codes, [200, 500, 200, 500]);

    // A watch is dropped after 2 events past its initial state (the 3 existing objects).
    let cms = format!("{u}/api/v1/namespaces/default/configmaps");
    for i in 0..3 {
        post(&http, cms.clone(), cm(&format!("c{i}"), json!({}))).await;
    }
    let resp = http.get(format!("{cms}?watch=true")).send().await.unwrap();
    for i in 3..7 {
        post(&http, cms.clone(), cm(&format!("c{i}"), json!({}))).await;
    }
    let events = read_lines(resp, 10, 5).await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4"]);

    // 410 on the next watch, once.
    sim.faults().gone_on_next_watch();
    let rv = sim.store().resource_version();
    let resp = http
        .get(format!(
            "{u}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(read_lines(resp, 1, 5).await[0]["object"]["code"], 410);

    let (_, stats) = get(&http, format!("{u}/sim/stats")).await;
    assert_eq!(stats["requests"]["list"]["configmaps"], 1);
    assert_eq!(stats["requests"]["get"]["secrets"], 4);
    assert_eq!(stats["requests"]["create"]["configmaps"], 7);
    assert_eq!(stats["requests"]["watch"]["configmaps"], 2);
    assert!(stats["objectsStored"].as_u64().unwrap() >= 8);
    // Latency applies to every request.
    sim.faults().set(Faults {
        latency_ms: 300,
        ..Default::default()
    });
    let started = tokio::time::Instant::now();
    get(&http, format!("{u}/api/v1/namespaces")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_hold_deletion_until_removed() {
    let (sim, http) = sim().await;
    let u = sim.url();
    let base = format!("{u}/api/v1/namespaces/default/configmaps");
    let mut obj = cm("f", json!({}));
    obj["metadata"]["finalizers"] = json!(["example.com/hold"]);
    post(&http, base.clone(), obj).await;
    let r = http.delete(format!("{base}/f")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let (code, held) = get(&http, format!("{base}/f")).await;
    assert_eq!(code, 200);
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let r = http
        .patch(format!("{base}/f"))
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"remove","path":"/metadata/finalizers"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&http, format!("{base}/f")).await.0, 404);
    // Dry run creates nothing.
    let r = http
        .post(format!("{base}?dryRun=All"))
        .json(&cm("dry", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(get(&http, format!("{base}/dry")).await.0, 404);

    // deletecollection honours the label selector.
    for (name, app) in [("k1", "keep"), ("d1", "drop"), ("d2", "drop")] {
        post(&http, base.clone(), cm(name, json!({"app": app}))).await;
    }
    let r = http
        .delete(format!("{base}?labelSelector=app%3Ddrop"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let deleted: Value = r.json().await.unwrap();
    assert_eq!(deleted["items"].as_array().map(Vec::len), Some(2));
    let (_, left) = get(&http, base.clone()).await;
    let names: Vec<&str> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["k1"]);
}
