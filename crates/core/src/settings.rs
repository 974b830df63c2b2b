//! The numbers and switches the machine needs from a Canary's spec, with Flagger's defaults
//! applied once, in one flat struct. This is the only module that reads `CanarySpec`, so no
//! transition re-derives a default on its own. It must not look at the status.

use std::time::Duration;

use fledge_api::{Canary, HookType, Provider, Strategy};

use crate::input::Config;

/// A webhook as the machine sees it: which gate or hook it is, and whether its failures alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookRef {
    pub name: String,
    pub hook_type: HookType,
    pub mute_alert: bool,
}

/// Effective settings of one Canary.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `<name>.<namespace>`, as Flagger writes it in events.
    pub id: String,
    /// The target's name (the canary Deployment).
    pub target: String,
    /// The target's kind, for Flagger's condition messages (`New Deployment detected, ...`).
    pub target_kind: String,
    pub strategy: Strategy,
    /// Canary strategy: one mirrored step before weighted traffic. Blue/green: mirror the
    /// whole run.
    pub mirror: bool,
    /// Checks for blue/green and A/B (0 for canary).
    pub iterations: i32,
    /// False for the kubernetes provider: no router, so no weights to move.
    pub shifts_traffic: bool,
    pub interval: Duration,
    pub threshold: i32,
    pub max_weight: i32,
    pub step_weight: i32,
    pub step_weights: Vec<i32>,
    pub step_weight_promotion: i32,
    pub skip_analysis: bool,
    pub suspend: bool,
    pub revert_on_deletion: bool,
    pub hooks: Vec<HookRef>,
    /// Metric names in spec order.
    pub metrics: Vec<String>,
}

impl Settings {
    pub fn from_canary(canary: &Canary, config: &Config) -> Self {
        let spec = &canary.spec;
        let provider = spec.provider_or(config.default_provider);
        let plan = spec.strategy(provider);
        let analysis = spec.analysis();
        let name = canary.metadata.name.clone().unwrap_or_default();
        let namespace = canary
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        Settings {
            id: format!("{name}.{namespace}"),
            target: spec.target_ref.name.clone(),
            target_kind: if spec.target_ref.kind.is_empty() {
                "Deployment".into()
            } else {
                spec.target_ref.kind.clone()
            },
            strategy: plan.strategy,
            mirror: plan.mirroring,
            iterations: plan.iterations,
            shifts_traffic: provider != Provider::Kubernetes,
            interval: analysis
                .map(|a| a.effective_interval(config.min_interval))
                .unwrap_or(fledge_api::analysis::DEFAULT_INTERVAL.max(config.min_interval)),
            threshold: analysis.map(|a| a.threshold()).unwrap_or(1),
            max_weight: analysis
                .map(|a| a.max_weight())
                .unwrap_or(100)
                .clamp(1, 100),
            step_weight: analysis.map(|a| a.step_weight()).unwrap_or(0).max(0),
            step_weights: analysis.map(|a| a.step_weights.clone()).unwrap_or_default(),
            step_weight_promotion: analysis
                .map(|a| a.step_weight_promotion())
                .unwrap_or(0)
                .clamp(0, 100),
            skip_analysis: spec.skip_analysis(),
            suspend: spec.suspended(),
            revert_on_deletion: spec.revert_on_deletion(),
            hooks: analysis
                .map(|a| {
                    a.webhooks
                        .iter()
                        .map(|w| HookRef {
                            name: w.name.clone(),
                            hook_type: w.type_,
                            mute_alert: w.mute_alert(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            metrics: analysis
                .map(|a| a.metrics.iter().map(|m| m.name.clone()).collect())
                .unwrap_or_default(),
        }
    }

    /// The webhooks of one type, in spec order.
    pub fn hooks_of(&self, hook_type: HookType) -> impl Iterator<Item = &HookRef> {
        self.hooks.iter().filter(move |h| h.hook_type == hook_type)
    }

    pub fn has_hooks(&self, hook_type: HookType) -> bool {
        self.hooks_of(hook_type).next().is_some()
    }

    /// `<target>-primary.<namespace>`, for messages.
    pub fn primary_id(&self) -> String {
        match self.id.split_once('.') {
            Some((_, ns)) => format!("{}-primary.{ns}", self.target),
            None => format!("{}-primary", self.target),
        }
    }

    /// `<target>.<namespace>`, for messages about the canary workload.
    pub fn target_id(&self) -> String {
        match self.id.split_once('.') {
            Some((_, ns)) => format!("{}.{ns}", self.target),
            None => self.target.clone(),
        }
    }
}
