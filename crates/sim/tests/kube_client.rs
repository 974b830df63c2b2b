//! Fidelity of the simulated API server, judged by the kube crate (a client nobody here wrote):
//! typed CRUD, optimistic concurrency, status subresource, custom resources, server-side apply
//! with two managers, and `watcher` + `reflector` converging through dropped watches and 410s.
//! The tests that start with `worlds()` run against the sim and a real kube-apiserver
//! (`FLEDGE_TEST_WORLD`); the others need the sim's fault injection or its counters.

use std::collections::BTreeMap;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use fledge_sim::faults::{FaultRule, Faults, WatchFaults};
use fledge_sim::{Sim, SimOptions, StoreConfig};
use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kubectl_support::worlds;
use serde_json::json;

mod kubectl_support;

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}})).unwrap()
}

fn api_status(e: &kube::Error) -> Option<(u16, String)> {
    match e {
        kube::Error::Api(s) => Some((s.code, s.reason.clone())),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_conflicts_and_status() {
    for world in worlds().await {
        let client = world.client().await;
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let created = cms
            .create(&PostParams::default(), &cm("a", "1"))
            .await
            .unwrap();
        let uid = created.metadata.uid.clone().unwrap();
        assert!(created.metadata.creation_timestamp.is_some());
        let err = cms
            .create(&PostParams::default(), &cm("a", "1"))
            .await
            .unwrap_err();
        assert_eq!(api_status(&err), Some((409, "AlreadyExists".into())));

        // A replace with a stale resourceVersion is a 409 Conflict.
        let mut stale = created.clone();
        let mut fresh = cms.get("a").await.unwrap();
        fresh.data = Some(BTreeMap::from([("v".to_string(), "2".to_string())]));
        let updated = cms
            .replace("a", &PostParams::default(), &fresh)
            .await
            .unwrap();
        assert_ne!(
            updated.metadata.resource_version,
            created.metadata.resource_version
        );
        stale.data = Some(BTreeMap::from([("v".to_string(), "3".to_string())]));
        let err = cms
            .replace("a", &PostParams::default(), &stale)
            .await
            .unwrap_err();
        assert_eq!(api_status(&err), Some((409, "Conflict".into())));
        assert_eq!(cms.get("a").await.unwrap().metadata.uid.unwrap(), uid);

        // generateName and list.
        let mut generated = cm("", "x");
        generated.metadata.name = None;
        generated.metadata.generate_name = Some("gen-".into());
        let g = cms
            .create(&PostParams::default(), &generated)
            .await
            .unwrap();
        assert!(g.metadata.name.unwrap().starts_with("gen-"));
        // A real cluster also has kube-root-ca.crt in every namespace (docs/sim.md).
        let listed: Vec<String> = cms
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .filter(|n| n != "kube-root-ca.crt")
            .collect();
        assert_eq!(listed.len(), 2, "{}: {listed:?}", world.name());

        // Deployment: defaults, generation on spec changes only, separate status subresource.
        let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "d", "labels": {"app": "d"}}, "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "img:1"}]}}}}))
    .unwrap();
        let d = deploys.create(&PostParams::default(), &d).await.unwrap();
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.progress_deadline_seconds, Some(600));
        assert_eq!(d.metadata.generation, Some(1));
        let pp = PatchParams::default();
        let d = deploys
            .patch(
                "d",
                &pp,
                &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
            )
            .await
            .unwrap();
        assert_eq!(
            d.metadata.generation,
            Some(1),
            "metadata changes keep the generation"
        );
        let d = deploys
            .patch("d", &pp, &Patch::Merge(json!({"spec": {"replicas": 3}})))
            .await
            .unwrap();
        assert_eq!(d.metadata.generation, Some(2));
        let d = deploys
            .patch("d", &pp, &Patch::Merge(json!({"status": {"replicas": 9}})))
            .await
            .unwrap();
        assert!(
            d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0) != 9,
            "main resource ignores status"
        );
        let d = deploys.patch_status("d", &pp, &Patch::Merge(json!({"status": {"observedGeneration": 2, "replicas": 3}, "spec": {"replicas": 7}}))).await.unwrap();
        assert_eq!(d.status.as_ref().unwrap().observed_generation, Some(2));
        assert_eq!(
            d.spec.as_ref().unwrap().replicas,
            Some(3),
            "status subresource ignores spec"
        );
        assert_eq!(d.metadata.generation, Some(2));
        let invalid: Deployment = serde_json::from_value(json!({"metadata": {"name": "bad"}, "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
        let err = deploys
            .create(&PostParams::default(), &invalid)
            .await
            .unwrap_err();
        let kube::Error::Api(status) = &err else {
            panic!("{err}")
        };
        assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
        assert!(
            status.message.contains("spec.template.metadata.labels"),
            "{}",
            status.message
        );

        cms.delete("a", &DeleteParams::default()).await.unwrap();
        let err = cms.get("a").await.unwrap_err();
        assert_eq!(api_status(&err), Some((404, "NotFound".into())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_update_is_retried_to_success() {
    // Half of all ConfigMap updates are answered 409, as if another writer got there first.
    let faults = Faults {
        rules: vec![FaultRule {
            verbs: vec!["update".into()],
            resources: vec!["configmaps".into()],
            conflict_rate: 0.5,
            ..Default::default()
        }],
        ..Default::default()
    };
    let sim = Sim::start(SimOptions {
        faults,
        ..Default::default()
    })
    .await
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(sim.client(), "default");
    cms.create(&PostParams::default(), &cm("counter", "0"))
        .await
        .unwrap();
    for _ in 0..4 {
        let bump = || async {
            let mut current = cms.get("counter").await?;
            let n: u32 = current
                .data
                .as_ref()
                .and_then(|d| d.get("v"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            current.data = Some(BTreeMap::from([("v".to_string(), (n + 1).to_string())]));
            cms.replace("counter", &PostParams::default(), &current)
                .await
        };
        bump.retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(5))
                .with_max_times(10),
        )
        .when(|e: &kube::Error| api_status(e).is_some_and(|(code, _)| code == 409))
        .await
        .unwrap();
    }
    let v = cms.get("counter").await.unwrap().data.unwrap()["v"].clone();
    assert_eq!(v, "4");
    let stats = sim.stats();
    // Every second update is refused: 4 successes and the 3 conflicts in between.
    assert_eq!(stats.count("update", "configmaps"), 7, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_reports_conflicts_between_managers() {
    for world in worlds().await {
        let cms: Api<ConfigMap> = Api::namespaced(world.client().await, "default");
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"owner": "a", "a-only": "1"}});
        let created = cms
            .patch(
                "shared",
                &PatchParams::apply("manager-a"),
                &Patch::Apply(&a),
            )
            .await
            .unwrap();
        let managers: Vec<String> = created
            .metadata
            .managed_fields
            .unwrap()
            .iter()
            .filter_map(|m| m.manager.clone())
            .collect();
        assert_eq!(managers, ["manager-a"]);

        let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"owner": "b"}});
        let err = cms
            .patch(
                "shared",
                &PatchParams::apply("manager-b"),
                &Patch::Apply(&b),
            )
            .await
            .unwrap_err();
        let kube::Error::Api(status) = &err else {
            panic!("{err}")
        };
        assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
        assert!(
            status.message.contains("conflict with \"manager-a\"")
                && status.message.contains(".data.owner"),
            "{}",
            status.message
        );

        let forced = cms
            .patch(
                "shared",
                &PatchParams::apply("manager-b").force(),
                &Patch::Apply(&b),
            )
            .await
            .unwrap();
        let data = forced.data.unwrap();
        assert_eq!(data["owner"], "b");
        assert_eq!(data["a-only"], "1", "fields only manager-a applied stay");
        // Re-applying the same configuration is a no-op that keeps the resourceVersion.
        let again = cms
            .patch(
                "shared",
                &PatchParams::apply("manager-b").force(),
                &Patch::Apply(&b),
            )
            .await
            .unwrap();
        assert_eq!(
            again.metadata.resource_version,
            forced.metadata.resource_version
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_from_a_crd() {
    for world in worlds().await {
        let client = world.client().await;
        let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
        let crd = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "canaries.flagger.app"},
        "spec": {"group": "flagger.app", "scope": "Namespaced",
            "names": {"plural": "canaries", "singular": "canary", "kind": "Canary", "listKind": "CanaryList", "shortNames": ["canary"]},
            "versions": [{"name": "v1beta1", "served": true, "storage": true, "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Status", "type": "string", "jsonPath": ".status.phase"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}}))
    .unwrap();
        crds.create(&PostParams::default(), &crd).await.unwrap();
        // The real server establishes a CRD a moment after it is created; the sim at once.
        assert!(
            kubectl_support::eventually(10, || async {
                crds.get("canaries.flagger.app")
                    .await
                    .ok()
                    .and_then(|c| c.status?.conditions)
                    .is_some_and(|conds| {
                        conds
                            .iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    })
            })
            .await,
            "{}: the CRD was never Established",
            world.name()
        );

        let gvk = GroupVersionKind::gvk("flagger.app", "v1beta1", "Canary");
        let ar = ApiResource::from_gvk_with_plural(&gvk, "canaries");
        let canaries: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
        let c: DynamicObject = serde_json::from_value(json!({"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
        "metadata": {"name": "podinfo"}, "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898}, "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10}}}))
    .unwrap();
        let c = canaries.create(&PostParams::default(), &c).await.unwrap();
        assert_eq!(c.metadata.generation, Some(1));
        let s = canaries
            .patch_status(
                "podinfo",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": "Progressing", "canaryWeight": 10}})),
            )
            .await
            .unwrap();
        assert_eq!(s.data["status"]["phase"], "Progressing");
        assert_eq!(s.metadata.generation, Some(1));
        let err = canaries
            .patch(
                "podinfo",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {}})),
            )
            .await
            .unwrap_err();
        assert_eq!(api_status(&err).map(|s| s.0), Some(415));

        // Deleting the CRD stops serving its resources (on the real server once its finalizer has
        // deleted them).
        crds.delete("canaries.flagger.app", &DeleteParams::default())
            .await
            .unwrap();
        assert!(
            kubectl_support::eventually(20, || async {
                canaries
                    .get("podinfo")
                    .await
                    .err()
                    .is_some_and(|e| api_status(&e).map(|s| s.0) == Some(404))
            })
            .await,
            "{}: the Canary is still served after its CRD was deleted",
            world.name()
        );
    }
}

/// Many writes while watches are dropped every few events and sometimes answered 410 Gone,
/// with a short history: the reflector's cache must end equal to the server.
async fn reflector_converges(streaming: bool) {
    let faults = Faults {
        watch: WatchFaults {
            drop_after_events: 7,
            ..Default::default()
        },
        ..Default::default()
    };
    let options = SimOptions {
        faults,
        store: StoreConfig {
            history_limit: 40,
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = Sim::start(options).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(sim.client(), "default");
    let (reader, writer) = reflector::store::<ConfigMap>();
    let config = if streaming {
        watcher::Config::default().streaming_lists()
    } else {
        watcher::Config::default()
    };
    let stream =
        reflector::reflector(writer, watcher(cms.clone(), config.timeout(3))).default_backoff();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while stream.next().await.is_some() {}
    });
    reader.wait_until_ready().await.unwrap();
    for i in 0..300u32 {
        let name = format!("cm-{}", i % 23);
        match i % 5 {
            0 | 1 => {
                let _ = cms
                    .create(&PostParams::default(), &cm(&name, &i.to_string()))
                    .await;
            }
            2 | 3 => {
                let _ = cms
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"data": {"v": i.to_string()}})),
                    )
                    .await;
            }
            _ => {
                let _ = cms.delete(&name, &DeleteParams::default()).await;
            }
        }
        if i % 60 == 30 {
            sim.faults().gone_on_next_watch();
        }
        // Spread the writes so watches are dropped and resumed many times along the way.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server = || async {
        let list = cms.list(&ListParams::default()).await.unwrap();
        let mut v: Vec<(String, String)> = list
            .items
            .iter()
            .map(|c| {
                (
                    c.metadata.name.clone().unwrap(),
                    c.metadata.resource_version.clone().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let cache = || {
        let mut v: Vec<(String, String)> = reader
            .state()
            .iter()
            .map(|c| {
                (
                    c.metadata.name.clone().unwrap(),
                    c.metadata.resource_version.clone().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let want = server().await;
        if cache() == want {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cache never converged:\ncache:  {:?}\nserver: {want:?}",
            cache()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = sim.stats();
    // 300 writes and at most 7 events per stream: the cache got there through restarts.
    assert!(
        stats.watches_started >= 5,
        "the watch should have been dropped and restarted: {stats:?}"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_converges_through_drops_and_gone() {
    reflector_converges(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_with_streaming_lists_converges() {
    reflector_converges(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_events_are_visible_as_core_events() {
    use kube::Resource as _;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = sim.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let target = cms
        .create(&PostParams::default(), &cm("target", "1"))
        .await
        .unwrap();
    let reporter = Reporter {
        controller: "fledge".into(),
        instance: Some("fledge-0".into()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let event = Event {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("Advance podinfo.test canary weight 10".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = target.object_ref(&());
    recorder.publish(&event, &reference).await.unwrap();
    // The same event again becomes a series on the same object (a merge patch).
    recorder.publish(&event, &reference).await.unwrap();

    // What `kubectl describe` reads: core v1 events selected by the involved object.
    let uid = target.metadata.uid.clone().unwrap();
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let selector = format!(
        "involvedObject.name=target,involvedObject.namespace=default,involvedObject.kind=ConfigMap,involvedObject.uid={uid}"
    );
    let list = core
        .list(&ListParams::default().fields(&selector))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1, "{:?}", list.items);
    let e = &list.items[0];
    assert_eq!(
        e.message.as_deref(),
        Some("Advance podinfo.test canary weight 10")
    );
    assert_eq!(e.reason.as_deref(), Some("Synced"));
    assert_eq!(e.count, Some(2));
    assert!(e.last_timestamp.is_some());
    assert_eq!(
        e.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("fledge")
    );
}

/// The Lease protocol of kube-lease-manager (the controller's leader election): apply to take
/// an orphaned lease, strategic patches to renew and release, and a 409 for a second candidate
/// while the lease is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_takeover_conflicts_until_released() {
    use k8s_openapi::api::coordination::v1::Lease;
    for world in worlds().await {
        let leases: Api<Lease> = Api::namespaced(world.client().await, "default");
        let empty: Lease = serde_json::from_value(json!({"metadata": {"name": "lock"}})).unwrap();
        leases.create(&PostParams::default(), &empty).await.unwrap();
        let take = |who: &str| {
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {
            "holderIdentity": who, "leaseDurationSeconds": 15,
            "acquireTime": "2026-01-01T00:00:00.000000Z", "renewTime": "2026-01-01T00:00:00.000000Z"}})
        };
        let params = |who: &str| PatchParams {
            field_manager: Some(format!("lease-{who}")),
            ..Default::default()
        };
        leases
            .patch("lock", &params("a"), &Patch::Apply(take("a")))
            .await
            .unwrap();
        let renew = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"renewTime": "2026-01-01T00:00:05.000000Z"}});
        leases
            .patch("lock", &params("a"), &Patch::Strategic(renew))
            .await
            .unwrap();

        let err = leases
            .patch("lock", &params("b"), &Patch::Apply(take("b")))
            .await
            .unwrap_err();
        assert_eq!(api_status(&err), Some((409, "Conflict".into())));

        let release = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {
        "acquireTime": null, "renewTime": null, "holderIdentity": null, "leaseDurationSeconds": null}});
        leases
            .patch("lock", &params("a"), &Patch::Strategic(release))
            .await
            .unwrap();
        let held = leases
            .patch("lock", &params("b"), &Patch::Apply(take("b")))
            .await
            .unwrap();
        assert_eq!(held.spec.unwrap().holder_identity.as_deref(), Some("b"));
    }
}
