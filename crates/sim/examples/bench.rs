//! Scale benchmark of the simulated API server: 10,000 objects and 200 concurrent watches.
//! Prints a Markdown section (memory, create throughput, list latency, watch delivery latency)
//! for `docs/benchmarks.md`.
//!
//! Run: `cargo run --release -p fledge-sim --example bench [-- --objects N --watches N]`

use std::time::{Duration, Instant};

use fledge_sim::{Sim, SimOptions};
use futures::StreamExt as _;
use serde_json::{Value, json};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let objects = arg("--objects", 10_000);
    let watches = arg("--watches", 200);
    let updates = arg("--updates", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(objects, watches, updates));
}

async fn run(objects: usize, watches: usize, updates: usize) {
    let rss_start = rss_kib();
    let sim = Sim::start(SimOptions::default()).await.expect("sim starts");
    let http = reqwest::Client::new();
    let url = sim.url().to_string();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}});
    http.post(format!("{url}/api/v1/namespaces"))
        .json(&ns)
        .send()
        .await
        .expect("namespace");
    let base = format!("{url}/api/v1/namespaces/bench/configmaps");

    // Create.
    let started = Instant::now();
    let results: Vec<u16> = futures::stream::iter(0..objects)
        .map(|i| {
            let http = http.clone();
            let base = base.clone();
            async move {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("cm-{i:05}"), "labels": {"app": format!("app-{}", i % 50), "tier": "bench"}},
                    "data": {"config.yaml": "x".repeat(256), "index": i.to_string()}});
                http.post(&base).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let create_time = started.elapsed();
    let created = results.iter().filter(|c| **c == 201).count();
    let rss_loaded = rss_kib();

    // Watches: each one records when it sees each update's marker.
    let rv = sim.store().resource_version();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let mut tasks = Vec::new();
    for _ in 0..watches {
        let http = http.clone();
        let url = format!("{base}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true");
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut resp) = http.get(url).send().await else {
                return;
            };
            let mut buf = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                buf.extend_from_slice(&chunk);
                while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    if let Ok(ev) = serde_json::from_slice::<Value>(&line)
                        && let Some(n) = ev["object"]["data"]["update"]
                            .as_str()
                            .and_then(|n| n.parse().ok())
                    {
                        let _ = tx.send((n, Instant::now()));
                    }
                }
            }
        }));
    }
    drop(tx);
    let opened = Instant::now();
    while sim.stats().watches_open < watches as i64 && opened.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_watching = rss_kib();

    let mut sent_at = Vec::new();
    for n in 0..updates {
        let name = format!("cm-{:05}", n % objects.max(1));
        let patch = json!({"data": {"update": n.to_string()}});
        let t = Instant::now();
        http.patch(format!("{base}/{name}"))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .expect("patch");
        sent_at.push(t);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut delivery = Vec::new();
    let expected = updates * watches;
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivery.len() < expected && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some((n, at))) => delivery.push(at.duration_since(sent_at[n])),
            _ => break,
        }
    }
    delivery.sort();
    // List latency.
    let mut full = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let list: Value = http
            .get(&base)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        full.push(t.elapsed());
        assert_eq!(list["items"].as_array().map(Vec::len), Some(created));
    }
    full.sort();
    let mut paged = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        http.get(format!("{base}?limit=500"))
            .send()
            .await
            .expect("list")
            .bytes()
            .await
            .expect("body");
        paged.push(t.elapsed());
    }
    paged.sort();
    let mut selected = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        http.get(format!("{base}?labelSelector=app%3Dapp-7"))
            .send()
            .await
            .expect("list")
            .bytes()
            .await
            .expect("body");
        selected.push(t.elapsed());
    }
    selected.sort();

    let stats = sim.stats();
    for t in tasks {
        t.abort();
    }

    println!("## Simulated API server (`fledge-sim`)\n");
    println!(
        "`cargo run --release -p fledge-sim --example bench`: server and load generator in one process, 2 worker threads.\n"
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| objects stored | {} ({created} ConfigMaps of ~300 bytes of data) |",
        stats.objects_stored
    );
    println!(
        "| create throughput (16 concurrent clients) | {:.0} objects/s |",
        created as f64 / create_time.as_secs_f64()
    );
    println!(
        "| resident memory: empty / {created} objects / + {watches} watches | {} MiB / {} MiB / {} MiB |",
        rss_start / 1024,
        rss_loaded / 1024,
        rss_watching / 1024
    );
    println!(
        "| full list of {created} objects, p50 / p99 | {} / {} |",
        ms(percentile(&full, 0.5)),
        ms(percentile(&full, 0.99))
    );
    println!(
        "| first page (`limit=500`), p50 / p99 | {} / {} |",
        ms(percentile(&paged, 0.5)),
        ms(percentile(&paged, 0.99))
    );
    println!(
        "| label-selected list (200 of {created}), p50 / p99 | {} / {} |",
        ms(percentile(&selected, 0.5)),
        ms(percentile(&selected, 0.99))
    );
    println!("| watch streams open | {} |", stats.watches_open);
    println!(
        "| watch delivery ({updates} updates x {watches} watchers = {} events received of {expected}), p50 / p99 / max | {} / {} / {} |",
        delivery.len(),
        ms(percentile(&delivery, 0.5)),
        ms(percentile(&delivery, 0.99)),
        ms(delivery.last().copied().unwrap_or_default())
    );
}
