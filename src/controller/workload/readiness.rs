//! Is a Deployment's rollout done? Flagger's rules (deployment_ready.go), pure: a retriable
//! "not yet" with the reason, a final failure past the progress deadline, or ready.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;

pub use fledge_core::Readiness;

/// `ready_threshold` is the percentage of updated replicas that must be available
/// (`primaryReadyThreshold` / `canaryReadyThreshold`, default 100). `deadline_seconds` is the
/// Canary's `progressDeadlineSeconds`.
pub fn deployment_readiness(
    deployment: &Deployment,
    ready_threshold: i32,
    deadline_seconds: i64,
    now: Timestamp,
) -> Readiness {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or(0);
    let Some(status) = deployment.status.as_ref() else {
        return Readiness::Waiting(format!("deployment {name} has no status yet"));
    };
    if generation > status.observed_generation.unwrap_or(0) {
        return Readiness::Waiting(format!(
            "deployment {name}: observed generation less than desired generation"
        ));
    }
    for condition in status.conditions.iter().flatten() {
        let reason = condition.reason.as_deref().unwrap_or_default();
        if condition.type_ == "Progressing" && reason == "ProgressDeadlineExceeded" {
            return Readiness::Failed(format!("deployment {name} exceeded its progress deadline"));
        }
        if condition.type_ == "Available"
            && condition.status == "False"
            && reason == "MinimumReplicasUnavailable"
            && let Some(updated) = condition.last_update_time.as_ref()
            && now.as_second() - updated.0.as_second() > deadline_seconds
        {
            return Readiness::Failed(format!(
                "deployment {name} has had minimum replicas unavailable for more than {deadline_seconds}s (progressDeadlineSeconds)"
            ));
        }
    }
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < desired {
        return Readiness::Waiting(format!(
            "waiting for rollout to finish: {updated} out of {desired} new replicas have been updated"
        ));
    }
    if replicas > updated {
        return Readiness::Waiting(format!(
            "waiting for rollout to finish: {} old replicas are pending termination",
            replicas - updated
        ));
    }
    let threshold = ready_threshold.clamp(0, 100);
    // Ceiling, so 100% of 3 needs 3 and 50% of 3 needs 2.
    let needed = (updated * threshold + 99) / 100;
    if available < needed {
        return Readiness::Waiting(format!(
            "waiting for rollout to finish: {available} of {needed} (readyThreshold {threshold}%) updated replicas are available"
        ));
    }
    Readiness::Ready
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(generation: i64, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "podinfo", "generation": generation},
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": status
        }))
        .expect("deployment")
    }

    fn now() -> Timestamp {
        "2026-01-01T00:10:00Z".parse().expect("time")
    }

    #[test]
    fn readiness_table() {
        let cases: Vec<(&str, Deployment, i32, Readiness)> = vec![
            ("ready", dep(2, json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})), 100, Readiness::Ready),
            ("stale generation", dep(3, json!({"observedGeneration": 2})), 100,
             Readiness::Waiting("deployment podinfo: observed generation less than desired generation".into())),
            ("updating", dep(1, json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1})), 100,
             Readiness::Waiting("waiting for rollout to finish: 1 out of 3 new replicas have been updated".into())),
            ("old pods", dep(1, json!({"observedGeneration": 1, "replicas": 5, "updatedReplicas": 3})), 100,
             Readiness::Waiting("waiting for rollout to finish: 2 old replicas are pending termination".into())),
            ("not available", dep(1, json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2})), 100,
             Readiness::Waiting("waiting for rollout to finish: 2 of 3 (readyThreshold 100%) updated replicas are available".into())),
            ("threshold met", dep(1, json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2})), 50, Readiness::Ready),
            ("deadline exceeded", dep(1, json!({"observedGeneration": 1, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]})), 100,
             Readiness::Failed("deployment podinfo exceeded its progress deadline".into())),
            ("unavailable too long", dep(1, json!({"observedGeneration": 1, "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                 "lastUpdateTime": "2026-01-01T00:00:00Z"}]})), 100,
             Readiness::Failed("deployment podinfo has had minimum replicas unavailable for more than 300s (progressDeadlineSeconds)".into())),
            ("unavailable recently", dep(1, json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 0, "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                 "lastUpdateTime": "2026-01-01T00:09:00Z"}]})), 100,
             Readiness::Waiting("waiting for rollout to finish: 0 of 3 (readyThreshold 100%) updated replicas are available".into())),
        ];
        for (name, d, threshold, want) in cases {
            assert_eq!(
                deployment_readiness(&d, threshold, 300, now()),
                want,
                "case {name}"
            );
        }
    }
}
