//! The part of a HorizontalPodAutoscaler the sim honours: its `minReplicas`/`maxReplicas`
//! bounds on the target Deployment (there are no resource metrics to scale on). Pure.

use serde_json::{Value, json};

/// The Deployment an HPA (autoscaling v1 or v2) targets, if it targets one.
pub fn target(hpa: &Value) -> Option<&str> {
    let r = &hpa["spec"]["scaleTargetRef"];
    (r["kind"].as_str() == Some("Deployment"))
        .then(|| r["name"].as_str())
        .flatten()
}

/// The replica count the HPA wants for a target that currently has `current`, or `None` when
/// it leaves it alone. A target scaled to 0 is left alone, as the real HPA does (scaling to
/// zero disables autoscaling); once something scales it from zero, the bounds apply again.
pub fn enforced_replicas(hpa: &Value, current: i32) -> Option<i32> {
    if current == 0 {
        return None;
    }
    let min = hpa["spec"]["minReplicas"]
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(1)
        .max(1);
    let max = hpa["spec"]["maxReplicas"]
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(min)
        .max(min);
    let want = current.clamp(min, max);
    (want != current).then_some(want)
}

/// The HPA status the sim reports for a target with `current` replicas wanting `desired`.
pub fn status(current: i32, desired: i32) -> Value {
    json!({"currentReplicas": current, "desiredReplicas": desired})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_apply_except_at_zero() {
        let hpa = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "podinfo"},
                                   "minReplicas": 2, "maxReplicas": 4}});
        assert_eq!(target(&hpa), Some("podinfo"));
        let cases = [(0, None), (1, Some(2)), (2, None), (4, None), (9, Some(4))];
        for (current, want) in cases {
            assert_eq!(enforced_replicas(&hpa, current), want, "current {current}");
        }
        let no_min = json!({"spec": {"maxReplicas": 3}});
        assert_eq!(enforced_replicas(&no_min, 5), Some(3));
        assert_eq!(enforced_replicas(&no_min, 1), None);
        let not_deploy = json!({"spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "x"}}});
        assert_eq!(target(&not_deploy), None);
    }
}
