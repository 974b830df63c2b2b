//! A tiny simulated world for driving the machine tick by tick: it applies the routes the
//! machine sets, keeps the status, and advances a fake clock by `requeue_after`.
#![allow(dead_code)]

pub mod table;

use std::collections::BTreeMap;
use std::time::Duration;

use fledge_api::{
    Canary, CanaryAnalysis, CanaryMetric, CanaryPhase, CanarySpec, CanaryStatus, CanaryWebhook,
    HookType, Provider, TargetRef, ThresholdRange, Verdict,
};
use fledge_core::{
    Action, CheckRequest, CheckResults, CheckStage, Config, Decision, HookOutcome, HookResult,
    Input, MetricResult, Observed, Readiness, Revision, Routes, Settings, checks_due, decide,
};
use jiff::Timestamp;

pub const MINUTE: Duration = Duration::from_secs(60);

/// Flagger's default test canary: interval 1m, threshold 5, stepWeight 10, maxWeight 50,
/// two builtin metrics, istio provider.
pub fn canary(edit: impl FnOnce(&mut CanaryAnalysis)) -> Canary {
    let mut analysis = CanaryAnalysis {
        interval: Some("1m".into()),
        threshold: Some(5),
        max_weight: Some(50),
        step_weight: Some(10),
        metrics: vec![
            CanaryMetric {
                name: "request-success-rate".into(),
                threshold_range: Some(ThresholdRange {
                    min: Some(99.0),
                    max: None,
                }),
                ..Default::default()
            },
            CanaryMetric {
                name: "request-duration".into(),
                threshold_range: Some(ThresholdRange {
                    min: None,
                    max: Some(500.0),
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    edit(&mut analysis);
    let mut c = Canary::new(
        "podinfo",
        CanarySpec {
            provider: Some(Provider::Istio),
            target_ref: TargetRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "podinfo".into(),
            },
            analysis: Some(analysis),
            ..Default::default()
        },
    );
    c.metadata.namespace = Some("test".into());
    c.metadata.generation = Some(1);
    c
}

pub fn hook(name: &str, hook_type: HookType) -> CanaryWebhook {
    CanaryWebhook {
        name: name.into(),
        type_: hook_type,
        url: format!("http://tester/{name}"),
        ..Default::default()
    }
}

pub fn rev(spec: &str) -> Revision {
    Revision {
        spec: spec.into(),
        configs: BTreeMap::new(),
        images: vec![format!("ghcr.io/stefanprodan/podinfo:{spec}")],
    }
}

pub fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

/// Decides what each check returns.
pub type Checker = Box<dyn FnMut(&CheckRequest, &Settings) -> CheckResults>;

pub fn all_pass() -> Checker {
    Box::new(CheckResults::all_passing)
}

/// Every metric gets `verdict`; webhooks pass.
pub fn metrics_say(verdict: Verdict) -> Checker {
    Box::new(move |req, s| {
        let mut r = CheckResults::all_passing(req, s);
        for m in &mut r.metrics {
            m.verdict = verdict;
            m.message = Some(format!("{verdict:?}"));
        }
        r
    })
}

/// Webhooks of `hook_type` answer `outcome`; everything else passes.
pub fn hooks_say(hook_type: HookType, outcome: HookOutcome) -> Checker {
    Box::new(move |req, s| {
        let mut r = CheckResults::all_passing(req, s);
        for h in &mut r.hooks {
            if h.hook_type == hook_type {
                h.outcome = outcome.clone();
            }
        }
        r
    })
}

pub struct World {
    pub canary: Canary,
    pub config: Config,
    pub observed: Observed,
    pub now: Timestamp,
    pub checker: Checker,
    /// Every request handed out by checks_due, in order.
    pub requests: Vec<CheckRequest>,
    pub last: Option<Decision>,
}

impl World {
    /// A canary that is initialized with revision "v1" and whose target now runs "v1".
    pub fn initialized(canary: Canary) -> World {
        let mut w = World::fresh(canary);
        w.observed.primary = Readiness::Ready;
        w.tick();
        assert_eq!(w.phase(), Some(CanaryPhase::Initialized));
        w
    }

    /// Never reconciled yet.
    pub fn fresh(canary: Canary) -> World {
        World {
            canary,
            config: Config {
                default_provider: Provider::Istio,
                ..Config::default()
            },
            observed: Observed {
                target: Some(rev("v1")),
                primary: Readiness::Waiting("0 of 1 updated replicas are available".into()),
                canary: Readiness::Ready,
                routes: None,
                ..Default::default()
            },
            now: t(0),
            checker: all_pass(),
            requests: Vec::new(),
            last: None,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings::from_canary(&self.canary, &self.config)
    }

    pub fn status(&self) -> CanaryStatus {
        self.canary.status.clone().unwrap_or_default()
    }

    pub fn phase(&self) -> Option<CanaryPhase> {
        self.status().phase
    }

    pub fn weight(&self) -> i32 {
        self.status().canary_weight
    }

    /// One reconcile at the current time: checks_due, run checks, decide, apply.
    pub fn tick(&mut self) -> Decision {
        let empty = CheckResults::default();
        let settings = self.settings();
        let input = Input {
            canary: &self.canary,
            config: &self.config,
            observed: &self.observed,
            checks: &empty,
        };
        let request = checks_due(&input, self.now);
        let results = (self.checker)(&request, &settings);
        let input = Input {
            checks: &results,
            ..input
        };
        let decision = decide(&input, self.now);
        // Same input, same time → same decision (restart safety).
        assert_eq!(
            decide(&input, self.now),
            decision,
            "decide is not deterministic"
        );
        self.requests.push(request);
        for action in &decision.actions {
            if let Action::SetRoutes(r) = action {
                self.observed.routes = Some(*r);
            }
            if let Action::ReconcileRouting = action {
                self.observed.routes.get_or_insert(Routes::ALL_PRIMARY);
            }
            if let Action::AddFinalizer = action {
                self.observed.has_finalizer = true;
            }
            if let Action::MarkTarget = action {
                self.observed.target_marked = true;
            }
        }
        if decision.after_status.contains(&Action::ClearRequest) {
            self.observed.request = None;
        }
        self.canary.status = Some(decision.status.clone());
        self.last = Some(decision.clone());
        decision
    }

    /// Advance the clock by the decision's requeue (or `fallback`), then tick.
    pub fn next(&mut self) -> Decision {
        let wait = self
            .last
            .as_ref()
            .and_then(|d| d.requeue_after)
            .unwrap_or(MINUTE);
        self.now = self.now.checked_add(wait).unwrap();
        self.tick()
    }

    pub fn advance(&mut self, by: Duration) {
        self.now = self.now.checked_add(by).unwrap();
    }

    pub fn routes(&self) -> Option<Routes> {
        self.observed.routes
    }
}

pub fn has(d: &Decision, pred: impl Fn(&Action) -> bool) -> bool {
    d.actions.iter().any(pred)
}

pub fn events(d: &Decision) -> Vec<String> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(e.message.clone()),
            _ => None,
        })
        .collect()
}

pub fn stage_types(req: &CheckRequest) -> Vec<String> {
    req.stages
        .iter()
        .map(|s| match s {
            CheckStage::Hooks(t) => t.as_str().to_string(),
            CheckStage::Metrics => "metrics".to_string(),
        })
        .collect()
}

pub fn condition(st: &CanaryStatus, type_: &str) -> (String, Option<String>) {
    let c = st
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect(type_);
    (c.status.clone(), c.reason.clone())
}

pub fn metric(name: &str, verdict: Verdict) -> MetricResult {
    MetricResult {
        name: name.into(),
        value: None,
        primary_value: None,
        threshold: None,
        verdict,
        message: None,
    }
}

pub fn hook_result(name: &str, hook_type: HookType, outcome: HookOutcome) -> HookResult {
    HookResult {
        name: name.into(),
        hook_type,
        outcome,
    }
}

/// (phase, canary weight) after each of `ticks` ticks.
pub fn drive(w: &mut World, ticks: usize) -> Vec<(fledge_api::CanaryPhase, i32)> {
    (0..ticks)
        .map(|_| {
            w.next();
            (w.phase().unwrap(), w.weight())
        })
        .collect()
}
