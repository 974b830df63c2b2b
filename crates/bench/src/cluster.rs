//! The bench's side of the API: a kube client to the sim, CRD installation, bulk creation,
//! image patches, `/sim/stats`, and a watch on every Canary that timestamps each phase change
//! as it arrives (detection latency is measured from those timestamps, not from polling).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fledge_api::Canary;
use fledge_sim::StatsSnapshot;
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, ResourceExt as _};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Concurrent requests when creating objects in bulk: enough to keep the sim busy, few enough
/// not to starve the controller on two cores.
const CREATE_CONCURRENCY: usize = 16;

pub async fn client(kubeconfig: &Path) -> anyhow::Result<Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    Ok(Client::try_from(config)?)
}

pub async fn install_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fledge_api::crd::crds() {
        api.create(&PostParams::default(), &crd)
            .await
            .with_context(|| format!("creating CRD {}", crd.name_any()))?;
    }
    Ok(())
}

/// Creates every object (namespaced by its own metadata), `CREATE_CONCURRENCY` at a time.
pub async fn create_all<K>(client: &Client, objects: Vec<Value>) -> anyhow::Result<()>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    futures::stream::iter(objects)
        .map(|v| async move {
            let obj: K = serde_json::from_value(v).context("building an object")?;
            let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
            api.create(&PostParams::default(), &obj)
                .await
                .with_context(|| format!("creating {}", obj.name_any()))?;
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

pub async fn create_namespaces(client: &Client, objects: Vec<Value>) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    for v in objects {
        let ns: Namespace = serde_json::from_value(v)?;
        api.create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {}", ns.name_any()))?;
    }
    Ok(())
}

pub async fn patch_deployment(
    client: &Client,
    ns: &str,
    name: &str,
    patch: &Value,
) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .with_context(|| format!("patching deployment {ns}/{name}"))?;
    Ok(())
}

pub async fn sim_stats(http: &reqwest::Client, url: &str) -> anyhow::Result<StatsSnapshot> {
    let resp = http
        .get(format!("{url}/sim/stats"))
        .send()
        .await
        .context("GET /sim/stats")?;
    resp.error_for_status()?
        .json()
        .await
        .context("parsing /sim/stats")
}

/// What the bench's watch has seen of one Canary.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub phase: String,
    pub iterations: i32,
    /// When the watch saw the Canary enter each phase (the latest entry).
    pub entered: HashMap<String, Instant>,
}

/// Every Canary's latest phase, kept current by a watch.
#[derive(Clone, Default)]
pub struct Tracker {
    seen: Arc<Mutex<HashMap<(String, String), Seen>>>,
}

impl Tracker {
    /// Starts the watch; it runs until the runtime stops (the bench's own single watch stream).
    pub fn spawn(client: &Client) -> Tracker {
        let tracker = Tracker::default();
        let seen = tracker.seen.clone();
        let api: Api<Canary> = Api::all(client.clone());
        tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(event) = stream.next().await {
                let Ok(canary) = event else { continue };
                let now = Instant::now();
                let status = canary.status.clone().unwrap_or_default();
                let phase = status
                    .phase
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                let key = (canary.namespace().unwrap_or_default(), canary.name_any());
                let mut map = seen.lock().unwrap_or_else(|p| p.into_inner());
                let entry = map.entry(key).or_default();
                if entry.phase != phase {
                    entry.entered.insert(phase.clone(), now);
                    entry.phase = phase;
                }
                entry.iterations = status.iterations;
            }
        });
        tracker
    }

    pub fn get(&self, ns: &str, name: &str) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// How many Canaries are in `phase` now.
    pub fn count_in(&self, phase: &str) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|s| s.phase == phase)
            .count()
    }

    /// Polls `done` every 50ms until it holds; fails after `timeout`, or at once when `alive`
    /// fails (the controller died).
    pub async fn wait(
        &self,
        what: &str,
        timeout: Duration,
        mut alive: impl FnMut() -> anyhow::Result<()>,
        mut done: impl FnMut(&Tracker) -> bool,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if done(self) {
                return Ok(start.elapsed());
            }
            alive()?;
            if start.elapsed() > timeout {
                bail!("timed out after {timeout:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
