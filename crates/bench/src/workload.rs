//! The objects a benchmark run creates: namespaces of 100 apps, one Deployment and one
//! blue/green Canary (kubernetes provider, no metrics) per app, and the image patch that
//! starts a release. Pure builders; no I/O.

use serde_json::{Value, json};

/// Apps per namespace: spreads the canaries the way a real cluster would, without making a
/// namespace per app.
pub const PER_NAMESPACE: usize = 100;
pub const IMAGE_V1: &str = "ghcr.io/stefanprodan/podinfo:6.0.0";
pub const IMAGE_V2: &str = "ghcr.io/stefanprodan/podinfo:6.0.1";

/// How each Canary analyses a release.
#[derive(Clone, Copy, Debug)]
pub struct Analysis {
    pub interval_secs: u64,
    pub iterations: u32,
}

/// Where app `i` lives: (namespace, name).
pub fn app(i: usize) -> (String, String) {
    (
        format!("bench-{:03}", i / PER_NAMESPACE),
        format!("app-{i:05}"),
    )
}

/// The namespaces `n` apps need.
pub fn namespaces(n: usize) -> Vec<Value> {
    (0..n.div_ceil(PER_NAMESPACE))
        .map(|k| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("bench-{k:03}")}}))
        .collect()
}

pub fn deployment(i: usize) -> Value {
    let (ns, name) = app(i);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": IMAGE_V1, "ports": [{"containerPort": 9898, "name": "http"}]}]}
            }
        }
    })
}

pub fn canary(i: usize, analysis: Analysis) -> Value {
    let (ns, name) = app(i);
    json!({
        "apiVersion": "fledge.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "progressDeadlineSeconds": 120,
            "service": {"port": 9898},
            "analysis": {
                "interval": format!("{}s", analysis.interval_secs),
                "threshold": 2,
                "iterations": analysis.iterations
            }
        }
    })
}

/// A merge patch that changes the pod template: a new revision for the controller.
pub fn new_revision_patch() -> Value {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGE_V2}]}}}})
}

/// `count` indices spread evenly over `0..n` (all of them when `count >= n`), so the measured
/// canaries sit in every namespace rather than the first one.
pub fn sample(n: usize, count: usize) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    (0..count).map(|k| k * n / count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_api::Canary;
    use fledge_api::validate::{ValidateOptions, validate_canary};
    use std::time::Duration;

    #[test]
    fn apps_fill_namespaces_of_one_hundred() {
        assert_eq!(app(0), ("bench-000".to_string(), "app-00000".to_string()));
        assert_eq!(app(99).0, "bench-000");
        assert_eq!(app(100).0, "bench-001");
        assert_eq!(namespaces(5).len(), 1);
        assert_eq!(namespaces(100).len(), 1);
        assert_eq!(namespaces(101).len(), 2);
        assert_eq!(namespaces(5000).len(), 50);
    }

    #[test]
    fn the_canary_is_valid_for_a_one_second_minimum_interval() {
        let canary: Canary = serde_json::from_value(canary(
            7,
            Analysis {
                interval_secs: 5,
                iterations: 8,
            },
        ))
        .expect("Canary");
        let opts = ValidateOptions {
            min_interval: Duration::from_secs(1),
        };
        let errors: Vec<_> = validate_canary(&canary, &opts)
            .into_iter()
            .filter(|p| p.is_error())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(canary.spec.target_ref.name, "app-00007");
    }

    #[test]
    fn the_patch_changes_the_image_of_the_deployments_container() {
        let d = deployment(3);
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        let patched = &new_revision_patch()["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(patched["name"], container["name"]);
        assert_ne!(patched["image"], container["image"]);
    }

    #[test]
    fn samples_are_spread_and_distinct() {
        assert_eq!(sample(5, 50), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample(1000, 4), vec![0, 250, 500, 750]);
        let s = sample(5000, 50);
        assert_eq!(s.len(), 50);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(s.iter().all(|i| *i < 5000));
    }
}
