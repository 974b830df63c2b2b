//! Flagger's defaults, as the accessors apply them, and strategy selection.

use std::time::Duration;

use fledge_api::{
    CanaryAnalysis, CanaryMetric, CanarySpec, CanaryWebhook, OnNoData, Provider, Strategy,
    ThresholdRange, service::HttpMatchRequest,
};

fn spec(analysis: CanaryAnalysis) -> CanarySpec {
    CanarySpec {
        analysis: Some(analysis),
        ..Default::default()
    }
}

#[test]
fn analysis_defaults() {
    let a = CanaryAnalysis::default();
    assert_eq!(a.interval(), Duration::from_secs(60));
    assert_eq!(a.threshold(), 1);
    assert_eq!(a.max_weight(), 100);
    assert_eq!(a.step_weight(), 0);
    assert_eq!(a.step_weight_promotion(), 0);
    assert_eq!(a.primary_ready_threshold(), 100);
    assert_eq!(a.canary_ready_threshold(), 100);
    assert!(!a.mirror());

    let cases: [(Option<i32>, i32); 4] = [(None, 1), (Some(0), 1), (Some(-3), 1), (Some(4), 4)];
    for (threshold, want) in cases {
        assert_eq!(
            CanaryAnalysis {
                threshold,
                ..Default::default()
            }
            .threshold(),
            want,
            "{threshold:?}"
        );
    }

    let unparsable = CanaryAnalysis {
        interval: Some("soon".into()),
        ..Default::default()
    };
    assert_eq!(
        unparsable.interval(),
        Duration::from_secs(60),
        "Flagger falls back to 60s"
    );
    let fast = CanaryAnalysis {
        interval: Some("2s".into()),
        ..Default::default()
    };
    assert_eq!(fast.interval(), Duration::from_secs(2));
    assert_eq!(
        fast.effective_interval(Duration::from_secs(10)),
        Duration::from_secs(10)
    );
    assert_eq!(
        fast.effective_interval(Duration::from_secs(1)),
        Duration::from_secs(2)
    );
}

#[test]
fn max_weight_follows_step_weights() {
    let cases: [(Option<i32>, Vec<i32>, i32); 5] = [
        (None, vec![], 100),
        (Some(50), vec![], 50),
        (Some(0), vec![], 100),
        (Some(50), vec![5, 10, 80], 80),
        (None, vec![1, 2, 150], 100),
    ];
    for (max_weight, step_weights, want) in cases {
        let a = CanaryAnalysis {
            max_weight,
            step_weights: step_weights.clone(),
            ..Default::default()
        };
        assert_eq!(a.max_weight(), want, "{max_weight:?} {step_weights:?}");
    }
}

#[test]
fn spec_defaults_and_names() {
    let mut s = spec(CanaryAnalysis::default());
    s.target_ref.name = "podinfo".into();
    assert_eq!(s.progress_deadline(), Duration::from_secs(600));
    assert_eq!(s.service_name(), "podinfo");
    assert_eq!(s.primary_target_name(), "podinfo-primary");
    assert_eq!(s.primary_service_name(), "podinfo-primary");
    assert_eq!(s.canary_service_name(), "podinfo-canary");
    assert_eq!(s.service.port_name(), "http");
    s.service.port = 9898;
    assert_eq!(
        s.service.target_port(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(9898)
    );
    s.service.name = Some("frontend".into());
    assert_eq!(s.canary_service_name(), "frontend-canary");
    assert_eq!(
        s.primary_target_name(),
        "podinfo-primary",
        "the Deployment keeps the target's name"
    );
    s.progress_deadline_seconds = Some(30);
    assert_eq!(s.progress_deadline(), Duration::from_secs(30));
    assert!(!s.skip_analysis());
    assert!(
        CanarySpec::default().skip_analysis(),
        "no analysis means skip, as in Flagger"
    );
    assert_eq!(s.provider_or(Provider::Linkerd), Provider::Linkerd);
}

#[test]
fn canary_analysis_alias() {
    let old = CanaryAnalysis {
        threshold: Some(7),
        ..Default::default()
    };
    let new = CanaryAnalysis {
        threshold: Some(3),
        ..Default::default()
    };
    let only_old = CanarySpec {
        canary_analysis: Some(old.clone()),
        ..Default::default()
    };
    assert_eq!(only_old.analysis().map(CanaryAnalysis::threshold), Some(7));
    assert_eq!(only_old.analysis_field(), "canaryAnalysis");
    let both = CanarySpec {
        canary_analysis: Some(old),
        analysis: Some(new),
        ..Default::default()
    };
    assert_eq!(both.analysis().map(CanaryAnalysis::threshold), Some(3));
    assert_eq!(both.analysis_field(), "analysis");
}

#[test]
fn strategy_selection() {
    let header = vec![HttpMatchRequest::default()];
    // (iterations, match, stepWeight, mirror, provider) -> (strategy, iterations, mirroring, forced)
    let cases = [
        (
            None,
            false,
            Some(10),
            false,
            Provider::Istio,
            Strategy::Canary,
            0,
            false,
            false,
        ),
        (
            None,
            false,
            Some(10),
            true,
            Provider::Istio,
            Strategy::Canary,
            0,
            true,
            false,
        ),
        (
            Some(5),
            false,
            None,
            false,
            Provider::Istio,
            Strategy::BlueGreen,
            5,
            false,
            false,
        ),
        (
            Some(5),
            false,
            None,
            true,
            Provider::Istio,
            Strategy::BlueGreen,
            5,
            true,
            false,
        ),
        (
            Some(5),
            true,
            None,
            false,
            Provider::Istio,
            Strategy::ABTesting,
            5,
            false,
            false,
        ),
        (
            Some(5),
            true,
            None,
            true,
            Provider::Istio,
            Strategy::ABTesting,
            5,
            false,
            false,
        ),
        (
            None,
            true,
            Some(10),
            false,
            Provider::Istio,
            Strategy::Canary,
            0,
            false,
            false,
        ),
        (
            Some(5),
            false,
            Some(10),
            false,
            Provider::Nginx,
            Strategy::BlueGreen,
            5,
            false,
            false,
        ),
        (
            None,
            false,
            Some(10),
            false,
            Provider::Kubernetes,
            Strategy::BlueGreen,
            10,
            false,
            true,
        ),
        (
            Some(3),
            true,
            None,
            true,
            Provider::Kubernetes,
            Strategy::BlueGreen,
            3,
            false,
            true,
        ),
    ];
    for (iterations, with_match, step_weight, mirror, provider, strategy, its, mirroring, forced) in
        cases
    {
        let a = CanaryAnalysis {
            iterations,
            step_weight,
            mirror: Some(mirror),
            r#match: if with_match { header.clone() } else { vec![] },
            ..Default::default()
        };
        let plan = spec(a).strategy(provider);
        let row =
            format!("{iterations:?} match={with_match} {step_weight:?} mirror={mirror} {provider}");
        assert_eq!(plan.strategy, strategy, "{row}");
        assert_eq!(plan.iterations, its, "{row}");
        assert_eq!(plan.mirroring, mirroring, "{row}");
        assert_eq!(plan.forced_by_provider, forced, "{row}");
    }
}

#[test]
fn metric_and_webhook_defaults() {
    let m = CanaryMetric {
        name: "request-success-rate".into(),
        threshold: Some(99.0),
        ..Default::default()
    };
    assert!(m.is_builtin());
    assert_eq!(m.interval(), Duration::from_secs(60));
    assert_eq!(m.interval_str(), "1m");
    assert_eq!(m.on_no_data(), OnNoData::Fail);
    assert_eq!(
        m.bounds(),
        ThresholdRange {
            min: Some(99.0),
            max: None
        },
        "success rate: threshold is a minimum"
    );
    let d = CanaryMetric {
        name: "request-duration".into(),
        threshold: Some(500.0),
        ..Default::default()
    };
    assert_eq!(
        d.bounds(),
        ThresholdRange {
            min: None,
            max: Some(500.0)
        },
        "others: threshold is a maximum"
    );
    let ranged = CanaryMetric {
        threshold: Some(1.0),
        threshold_range: Some(ThresholdRange {
            min: Some(2.0),
            max: Some(3.0),
        }),
        ..d
    };
    assert_eq!(
        ranged.bounds(),
        ThresholdRange {
            min: Some(2.0),
            max: Some(3.0)
        }
    );
    assert!(
        ranged.bounds().contains(2.0)
            && ranged.bounds().contains(3.0)
            && !ranged.bounds().contains(3.5)
    );

    let h = CanaryWebhook::default();
    assert_eq!(h.timeout(), Duration::from_secs(10));
    assert_eq!(h.retries(), 0);
    assert_eq!(h.type_, fledge_api::HookType::Rollout);
    let parsed: CanaryWebhook =
        serde_json::from_value(serde_json::json!({"name": "a", "type": "", "url": "http://x"}))
            .unwrap();
    assert_eq!(
        parsed.type_,
        fledge_api::HookType::Rollout,
        "\"\" means rollout"
    );
}

#[test]
fn provider_round_trips_through_its_name() {
    for p in Provider::ALL {
        assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            serde_json::Value::String(p.as_str().into())
        );
    }
    let err = "envoy".parse::<Provider>().unwrap_err().to_string();
    assert!(
        err.starts_with("unknown provider \"envoy\"; use one of: apisix, appmesh,"),
        "{err}"
    );
}
