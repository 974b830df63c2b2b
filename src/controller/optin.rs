//! Opting in by annotation: a Deployment annotated `fledge.dev/canary: enabled` gets a Canary
//! of the same name, generated from documented defaults and `fledge.dev/*` annotations on the
//! Deployment, owned by the Deployment (so `kubectl get canary` shows it and deleting the
//! Deployment removes it). Removing the annotation deletes the generated Canary; it is made with
//! `revertOnDeletion: true`, so the Deployment gets its replicas and Service back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fledge_api::Canary;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;

use super::context::Context;
use super::workload::CANARY_ANNOTATION;

pub use fledge_api::names::GENERATED_LABEL;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("deployment {deployment}: metadata.annotations[{annotation}]: {problem}")]
pub struct OptInError {
    pub deployment: String,
    pub annotation: String,
    pub problem: String,
}

pub fn opted_in(dep: &Deployment) -> bool {
    dep.annotations()
        .get(CANARY_ANNOTATION)
        .is_some_and(|v| v == fledge_api::names::OPT_IN_VALUE)
}

/// The Canary a Deployment opts into. Pure; errors name the annotation and what it accepts.
pub fn generated_canary(dep: &Deployment) -> Result<Canary, OptInError> {
    let name = dep.name_any();
    let ns = dep.namespace().unwrap_or_default();
    let annotations = dep.annotations();
    let err = |annotation: &str, problem: String| OptInError {
        deployment: format!("{ns}/{name}"),
        annotation: annotation.to_string(),
        problem,
    };
    let int = |key: &str, default: i64, lo: i64, hi: i64| -> Result<i64, OptInError> {
        match annotations.get(key) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(n),
                _ => Err(err(
                    key,
                    format!("must be a whole number from {lo} to {hi} (got {v:?})"),
                )),
            },
        }
    };
    let interval = annotations
        .get("fledge.dev/interval")
        .cloned()
        .unwrap_or_else(|| "1m".into());
    fledge_api::parse_duration(&interval)
        .map_err(|e| err("fledge.dev/interval", format!("{e} (e.g. 30s, 1m)")))?;
    let threshold = int("fledge.dev/threshold", 5, 1, 1000)?;
    let step_weight = int("fledge.dev/step-weight", 10, 1, 100)?;
    let max_weight = int("fledge.dev/max-weight", 50, 1, 100)?;
    let iterations = int("fledge.dev/iterations", 10, 1, 1000)?;
    let first_port = dep
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| {
            p.containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .next()
        })
        .map(|p| i64::from(p.container_port))
        .unwrap_or(80);
    let port = int("fledge.dev/service-port", first_port, 1, 65535)?;
    let skip_analysis = match annotations
        .get("fledge.dev/skip-analysis")
        .map(String::as_str)
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(err(
                "fledge.dev/skip-analysis",
                format!("must be true or false (got {v:?})"),
            ));
        }
    };
    let metrics = match annotations.get("fledge.dev/metrics").map(String::as_str) {
        None | Some("builtin") => json!([
            {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
            {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}}
        ]),
        Some("none") => json!([]),
        Some(v) => {
            return Err(err(
                "fledge.dev/metrics",
                format!("must be builtin or none (got {v:?})"),
            ));
        }
    };
    let provider = annotations.get("fledge.dev/provider").cloned();
    let mut analysis = json!({
        "interval": interval,
        "threshold": threshold,
        "metrics": metrics,
    });
    // The kubernetes provider has no weights: blue/green by iterations.
    let blue_green = provider.as_deref().is_none_or(|p| p == "kubernetes")
        && !annotations.contains_key("fledge.dev/step-weight");
    if blue_green {
        analysis["iterations"] = json!(iterations);
    } else {
        analysis["stepWeight"] = json!(step_weight);
        analysis["maxWeight"] = json!(max_weight);
    }
    let mut spec = json!({
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "service": {"port": port},
        "revertOnDeletion": true,
        "skipAnalysis": skip_analysis,
        "analysis": analysis,
    });
    if let Some(p) = &provider {
        spec["provider"] = json!(p);
    }
    let owner = dep.controller_owner_ref(&()).map(|mut o| {
        // Owned, not controlled: the Deployment's own controller must not adopt it.
        o.controller = Some(false);
        o
    });
    let value = json!({
        "apiVersion": fledge_api::API_VERSION,
        "kind": "Canary",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {GENERATED_LABEL: name},
            "ownerReferences": owner.map(|o| vec![o]).unwrap_or_default(),
        },
        "spec": spec,
    });
    serde_json::from_value::<Canary>(value).map_err(|e| err("fledge.dev/provider", format!("{e}")))
}

/// Handles Deployment changes forwarded by the Canary controller's Deployment watch. Whenever
/// it may start writing (caches synced and leading), it first looks at every Deployment once,
/// so an annotation changed while it couldn't act is not missed.
/// Handles opt-in for every Deployment once this replica leads, then for each changed one.
/// When the queue overflowed (`overflow` set by the sender), every Deployment is checked again.
pub async fn run(
    ctx: Arc<Context>,
    mut deployments: Receiver<ObjectRef<Deployment>>,
    mut leading: tokio::sync::watch::Receiver<bool>,
    overflow: Arc<AtomicBool>,
) {
    loop {
        while !(ctx.may_write()
            && ctx
                .health
                .caches_synced
                .load(std::sync::atomic::Ordering::SeqCst))
        {
            tokio::select! {
                _ = leading.changed() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            }
        }
        for dep in ctx.caches.deployments.state() {
            if let Err(err) = sync(&ctx, &dep).await {
                tracing::warn!(deployment = %ObjectRef::from_obj(dep.as_ref()), error = %err, "opt-in by annotation");
            }
        }
        while ctx.may_write() {
            let Some(key) = deployments.recv().await else {
                return;
            };
            if overflow.swap(false, Ordering::SeqCst) {
                for dep in ctx.caches.deployments.state() {
                    if let Err(err) = sync(&ctx, &dep).await {
                        tracing::warn!(deployment = %ObjectRef::from_obj(dep.as_ref()), error = %err, "opt-in by annotation");
                    }
                }
            }
            let Some(dep) = ctx.caches.deployments.get(&key) else {
                continue;
            };
            if let Err(err) = sync(&ctx, &dep).await {
                tracing::warn!(deployment = %key, error = %err, "opt-in by annotation");
            }
        }
    }
}

async fn sync(ctx: &Context, dep: &Deployment) -> Result<(), String> {
    let ns = dep.namespace().unwrap_or_default();
    let name = dep.name_any();
    let existing = ctx.caches.canaries.get(&ObjectRef::new(&name).within(&ns));
    let generated_here = existing
        .as_ref()
        .is_some_and(|c| c.labels().get(GENERATED_LABEL) == Some(&name));
    let api: Api<Canary> = Api::namespaced(ctx.client.clone(), &ns);
    if !opted_in(dep) {
        if generated_here
            && existing
                .as_ref()
                .is_some_and(|c| c.metadata.deletion_timestamp.is_none())
        {
            ctx.metrics.count_write("delete", "Canary");
            api.delete(&name, &DeleteParams::default())
                .await
                .map_err(|e| e.to_string())?;
            ctx.recorder
                .publish(dep, "Normal", "CanaryRemoved", &format!("annotation {CANARY_ANNOTATION} removed: deleted the generated Canary {ns}/{name}; the Deployment is restored"))
                .await;
        }
        return Ok(());
    }
    if existing.is_some() && !generated_here {
        return Ok(()); // A hand-written Canary of that name wins.
    }
    let desired = match generated_canary(dep) {
        Ok(c) => c,
        Err(e) => {
            ctx.recorder
                .publish(dep, "Warning", "InvalidAnnotation", &e.to_string())
                .await;
            return Err(e.to_string());
        }
    };
    match existing {
        None => {
            ctx.metrics.count_write("create", "Canary");
            api.create(&PostParams::default(), &desired)
                .await
                .map_err(|e| e.to_string())?;
            ctx.recorder
                .publish(
                    dep,
                    "Normal",
                    "CanaryGenerated",
                    &format!(
                        "generated Canary {ns}/{name} from annotation {CANARY_ANNOTATION}: enabled"
                    ),
                )
                .await;
        }
        Some(current) if spec_differs(&current, &desired) => {
            let mut updated = (*current).clone();
            updated.spec = desired.spec;
            ctx.metrics.count_write("replace", "Canary");
            api.replace(&name, &PostParams::default(), &updated)
                .await
                .map_err(|e| e.to_string())?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn spec_differs(current: &Canary, desired: &Canary) -> bool {
    let as_value = |c: &Canary| serde_json::to_value(&c.spec).unwrap_or(Value::Null);
    as_value(current) != as_value(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(annotations: Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "podinfo", "namespace": "test", "uid": "d1", "annotations": annotations},
            "spec": {"selector": {"matchLabels": {"app": "podinfo"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 9898}]}]}}}
        }))
        .expect("deployment")
    }

    #[test]
    fn defaults_are_blue_green_with_builtin_metrics() {
        let c = generated_canary(&dep(json!({CANARY_ANNOTATION: "enabled"}))).expect("canary");
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(v["spec"]["targetRef"]["name"], "podinfo");
        assert_eq!(v["spec"]["service"]["port"], 9898);
        assert_eq!(v["spec"]["revertOnDeletion"], true);
        assert_eq!(v["spec"]["analysis"]["iterations"], 10);
        assert_eq!(v["spec"]["analysis"]["threshold"], 5);
        assert_eq!(
            v["spec"]["analysis"]["metrics"][0]["name"],
            "request-success-rate"
        );
        assert_eq!(v["metadata"]["labels"][GENERATED_LABEL], "podinfo");
        assert_eq!(v["metadata"]["ownerReferences"][0]["uid"], "d1");
        assert_eq!(v["metadata"]["ownerReferences"][0]["controller"], false);
    }

    #[test]
    fn annotations_override_defaults() {
        let c = generated_canary(&dep(json!({
            CANARY_ANNOTATION: "enabled",
            "fledge.dev/provider": "gatewayapi:v1",
            "fledge.dev/interval": "30s",
            "fledge.dev/step-weight": "20",
            "fledge.dev/max-weight": "60",
            "fledge.dev/service-port": "8080",
            "fledge.dev/metrics": "none"
        })))
        .expect("canary");
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(v["spec"]["provider"], "gatewayapi:v1");
        assert_eq!(v["spec"]["analysis"]["interval"], "30s");
        assert_eq!(v["spec"]["analysis"]["stepWeight"], 20);
        assert_eq!(v["spec"]["analysis"]["maxWeight"], 60);
        assert!(v["spec"]["analysis"].get("iterations").is_none());
        assert_eq!(v["spec"]["service"]["port"], 8080);
        assert!(
            v["spec"]["analysis"]
                .get("metrics")
                .is_none_or(|m| m.as_array().is_some_and(|a| a.is_empty()))
        );
    }

    #[test]
    fn bad_annotations_name_the_annotation() {
        let cases = [
            (
                "fledge.dev/threshold",
                "zero",
                "must be a whole number from 1 to 1000",
            ),
            ("fledge.dev/step-weight", "101", "from 1 to 100"),
            ("fledge.dev/interval", "soon", "fledge.dev/interval"),
            ("fledge.dev/metrics", "all", "must be builtin or none"),
            (
                "fledge.dev/provider",
                "carrier-pigeon",
                "fledge.dev/provider",
            ),
        ];
        for (key, value, want) in cases {
            let e = generated_canary(&dep(json!({CANARY_ANNOTATION: "enabled", key: value})))
                .expect_err(key);
            let text = e.to_string();
            assert!(text.contains("deployment test/podinfo"), "{text}");
            assert!(text.contains(want), "{key}: {text}");
        }
    }
}
