//! The scenario: what the simulated world is like. Which images become ready and how fast,
//! how often each image's requests succeed and how slow they are, how many requests per second
//! each Service receives, and the random seed and tick that make a run reproducible.
//!
//! Parsed from YAML (`docs/sim-workloads-and-traffic.md` documents the format); a
//! [`ScenarioHandle`] shares it with the workload and traffic tasks and lets tests change it
//! while the sim runs. This module only describes the world: it never reads the API store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

/// Errors from loading or validating a scenario; the message names the source and field path.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario {source_name}: cannot read the file: {error}")]
    Read {
        source_name: String,
        error: std::io::Error,
    },
    #[error("scenario {source_name}: {}", .error.to_string().trim_start_matches("error: "))]
    Parse {
        source_name: String,
        // Boxed: the parser's error is large and would bloat every Result.
        error: Box<serde_saphyr::Error>,
    },
    #[error("scenario {source_name}: {field}: {message}")]
    Invalid {
        source_name: String,
        field: String,
        message: String,
    },
}

/// The whole simulated world description. Field names match the YAML keys (camelCase).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Seed for every random choice (pod names, latencies, proxied-request outcomes).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How often synthetic traffic is generated and the workload controller re-checks timers.
    #[serde(default = "default_tick", with = "duration_text")]
    pub tick: Duration,
    /// Time from a ReplicaSet's creation until its pods become ready (unless the image says
    /// otherwise).
    #[serde(default = "default_ready_delay", with = "duration_text")]
    pub ready_delay: Duration,
    /// Upper bound on the latency a proxied request actually waits, so tests stay fast. The
    /// latency recorded in the metrics is the uncapped draw.
    #[serde(default = "default_proxy_latency_cap", with = "duration_text")]
    pub proxy_latency_cap: Duration,
    /// Image rules; the first whose `match` fits an image wins. Unknown images are healthy.
    #[serde(default)]
    pub images: Vec<ImageRule>,
    /// Synthetic request rates per Service.
    #[serde(default)]
    pub services: Vec<ServiceLoad>,
}

/// How the pods of a matching image behave.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageRule {
    /// An exact image reference or a glob (`*`, `?`, `[abc]`).
    #[serde(rename = "match")]
    pub pattern: ImagePattern,
    /// `false`: pods never become ready (the rollout hits its progress deadline).
    #[serde(default = "default_true")]
    pub ready: bool,
    /// Fraction of requests answered without a 5xx, between 0 and 1.
    #[serde(default = "default_success_rate")]
    pub success_rate: f64,
    #[serde(default)]
    pub latency: Latency,
    /// Overrides the scenario's `readyDelay` for this image.
    #[serde(default, with = "optional_duration_text")]
    pub ready_delay: Option<Duration>,
}

/// Latency distribution: log-normal through the given median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    #[serde(with = "duration_text")]
    pub p50: Duration,
    #[serde(with = "duration_text")]
    pub p99: Duration,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            p50: Duration::from_millis(10),
            p99: Duration::from_millis(50),
        }
    }
}

/// Synthetic load on one Service (the apex Service a client would call).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceLoad {
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Requests per second; 0 switches the load off.
    pub rps: f64,
}

/// The resolved behaviour of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageProfile {
    pub ready: bool,
    pub success_rate: f64,
    pub latency: Latency,
    pub ready_delay: Duration,
}

/// An image matcher: exact text, or a glob when the text contains glob characters.
#[derive(Debug, Clone)]
pub struct ImagePattern {
    text: String,
    glob: glob::Pattern,
}

impl ImagePattern {
    pub fn new(text: &str) -> Result<Self, glob::PatternError> {
        Ok(ImagePattern {
            text: text.to_string(),
            glob: glob::Pattern::new(text)?,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, image: &str) -> bool {
        self.text == image || self.glob.matches(image)
    }
}

impl<'de> Deserialize<'de> for ImagePattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ImagePattern::new(&text)
            .map_err(|e| serde::de::Error::custom(format!("match: invalid glob {text:?}: {e}")))
    }
}

impl ImageRule {
    /// A healthy rule for `pattern` with default success rate and latency; adjust the public
    /// fields to taste. Fails only on an invalid glob.
    pub fn new(pattern: &str) -> Result<Self, glob::PatternError> {
        Ok(ImageRule {
            pattern: ImagePattern::new(pattern)?,
            ready: true,
            success_rate: 1.0,
            latency: Latency::default(),
            ready_delay: None,
        })
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: default_seed(),
            tick: default_tick(),
            ready_delay: default_ready_delay(),
            proxy_latency_cap: default_proxy_latency_cap(),
            images: Vec::new(),
            services: Vec::new(),
        }
    }
}

impl Scenario {
    /// Parses and validates YAML; `source_name` (usually the file path) prefixes every error.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario =
            serde_saphyr::from_str(text).map_err(|error| ScenarioError::Parse {
                source_name: source_name.to_string(),
                error: Box::new(error),
            })?;
        scenario
            .validate()
            .map_err(|(field, message)| ScenarioError::Invalid {
                source_name: source_name.to_string(),
                field,
                message,
            })?;
        Ok(scenario)
    }

    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            source_name: source_name.clone(),
            error,
        })?;
        Self::from_yaml(&source_name, &text)
    }

    /// Checks the value ranges serde cannot express; returns (field path, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.tick.is_zero() {
            return Err(("tick".into(), "must be greater than 0 (e.g. 1s)".into()));
        }
        for (i, rule) in self.images.iter().enumerate() {
            if !(0.0..=1.0).contains(&rule.success_rate) {
                return Err((
                    format!("images[{i}].successRate"),
                    format!("must be between 0 and 1 (got {})", rule.success_rate),
                ));
            }
            if rule.latency.p99 < rule.latency.p50 {
                return Err((
                    format!("images[{i}].latency.p99"),
                    format!(
                        "must not be below p50 ({:?} < {:?})",
                        rule.latency.p99, rule.latency.p50
                    ),
                ));
            }
        }
        for (i, svc) in self.services.iter().enumerate() {
            if !svc.rps.is_finite() || svc.rps < 0.0 {
                return Err((
                    format!("services[{i}].rps"),
                    format!("must be a number >= 0 (got {})", svc.rps),
                ));
            }
            if svc.name.is_empty() {
                return Err((format!("services[{i}].name"), "must not be empty".into()));
            }
        }
        Ok(())
    }

    /// The behaviour of `image`: the first matching rule, else healthy defaults.
    pub fn image_profile(&self, image: &str) -> ImageProfile {
        match self.images.iter().find(|r| r.pattern.matches(image)) {
            Some(rule) => ImageProfile {
                ready: rule.ready,
                success_rate: rule.success_rate,
                latency: rule.latency,
                ready_delay: rule.ready_delay.unwrap_or(self.ready_delay),
            },
            None => ImageProfile {
                ready: true,
                success_rate: 1.0,
                latency: Latency::default(),
                ready_delay: self.ready_delay,
            },
        }
    }
}

/// The live scenario shared by the sim's tasks. Cloning shares the same scenario; every change
/// wakes the tasks that watch it (a newly bad image turns ready pods unready at once).
#[derive(Debug, Clone)]
pub struct ScenarioHandle {
    tx: Arc<watch::Sender<Scenario>>,
}

impl ScenarioHandle {
    pub fn new(scenario: Scenario) -> Self {
        ScenarioHandle {
            tx: Arc::new(watch::Sender::new(scenario)),
        }
    }

    /// A copy of the current scenario.
    pub fn snapshot(&self) -> Scenario {
        self.tx.borrow().clone()
    }

    /// Reads the current scenario without copying it.
    pub fn with<R>(&self, f: impl FnOnce(&Scenario) -> R) -> R {
        f(&self.tx.borrow())
    }

    /// Changes the scenario in place and notifies watchers.
    pub fn update(&self, f: impl FnOnce(&mut Scenario)) {
        self.tx.send_modify(f);
    }

    /// Replaces the whole scenario.
    pub fn replace(&self, scenario: Scenario) {
        self.tx.send_replace(scenario);
    }

    /// Puts `rule` first in the image table (so it wins), dropping any rule with the same
    /// `match` text.
    pub fn set_image(&self, rule: ImageRule) {
        self.update(|s| {
            s.images
                .retain(|r| r.pattern.as_str() != rule.pattern.as_str());
            s.images.insert(0, rule);
        });
    }

    /// Sets the synthetic request rate of a Service, adding it if it had none.
    pub fn set_service_rps(&self, namespace: &str, name: &str, rps: f64) {
        let rps = if rps.is_finite() { rps.max(0.0) } else { 0.0 };
        self.update(|s| {
            match s
                .services
                .iter_mut()
                .find(|l| l.namespace == namespace && l.name == name)
            {
                Some(load) => load.rps = rps,
                None => s.services.push(ServiceLoad {
                    name: name.to_string(),
                    namespace: namespace.to_string(),
                    rps,
                }),
            }
        });
    }

    /// A receiver that wakes on every change.
    pub fn subscribe(&self) -> watch::Receiver<Scenario> {
        self.tx.subscribe()
    }
}

impl Default for ScenarioHandle {
    fn default() -> Self {
        ScenarioHandle::new(Scenario::default())
    }
}

fn default_seed() -> u64 {
    1
}
fn default_tick() -> Duration {
    Duration::from_secs(1)
}
fn default_ready_delay() -> Duration {
    Duration::from_secs(1)
}
fn default_proxy_latency_cap() -> Duration {
    Duration::from_millis(100)
}
fn default_true() -> bool {
    true
}
fn default_success_rate() -> f64 {
    1.0
}
fn default_namespace() -> String {
    "default".to_string()
}

/// Parses "1s", "100ms", "1m30s" (jiff's friendly duration format); negative durations are
/// refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|e| format!("invalid duration {text:?} (expected e.g. 1s, 250ms, 2m): {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("duration {text:?} must not be negative"))
}

mod duration_text {
    use std::time::Duration;

    use serde::Deserialize;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

mod optional_duration_text {
    use std::time::Duration;

    use serde::Deserialize;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => super::parse_duration(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let s = Scenario::from_yaml(
            "t.yaml",
            r#"
seed: 7
tick: 100ms
readyDelay: 2s
images:
  - match: "ghcr.io/stefanprodan/podinfo:6.0.*"
    successRate: 0.99
    latency: {p50: 20ms, p99: 80ms}
  - match: "*:bad"
    ready: false
services:
  - name: podinfo
    namespace: test
    rps: 50
"#,
        )
        .unwrap();
        assert_eq!(s.seed, 7);
        assert_eq!(s.tick, Duration::from_millis(100));
        let good = s.image_profile("ghcr.io/stefanprodan/podinfo:6.0.3");
        assert!(good.ready);
        assert_eq!(good.success_rate, 0.99);
        assert_eq!(good.latency.p99, Duration::from_millis(80));
        assert_eq!(good.ready_delay, Duration::from_secs(2));
        assert!(!s.image_profile("example.com/app:bad").ready);
        let unknown = s.image_profile("nginx:1.27");
        assert!(unknown.ready);
        assert_eq!(unknown.success_rate, 1.0);
        assert_eq!(s.services[0].rps, 50.0);
    }

    #[test]
    fn first_matching_rule_wins_and_exact_text_matches() {
        let s = Scenario::from_yaml(
            "t",
            "images:\n- match: 'app:[v1]'\n  successRate: 0.5\n- match: 'app:*'\n  successRate: 0.9\n",
        )
        .unwrap();
        // `app:[v1]` is a glob class, but the literal text must match too.
        assert_eq!(s.image_profile("app:[v1]").success_rate, 0.5);
        assert_eq!(s.image_profile("app:v").success_rate, 0.5);
        assert_eq!(s.image_profile("app:2").success_rate, 0.9);
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = Scenario::from_yaml("s.yaml", "images:\n- match: x\n  sucessRate: 0.5\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("scenario s.yaml: line 3 column 3: unknown field `sucessRate`"),
            "{err}"
        );
    }

    #[test]
    fn invalid_values_name_the_field() {
        let cases = [
            (
                "images:\n- match: x\n  successRate: 1.5\n",
                "images[0].successRate",
            ),
            (
                "images:\n- match: x\n  latency: {p50: 90ms, p99: 10ms}\n",
                "images[0].latency.p99",
            ),
            ("services:\n- name: a\n  rps: -1\n", "services[0].rps"),
            ("tick: 0s\n", "tick"),
        ];
        for (yaml, field) in cases {
            let err = Scenario::from_yaml("s", yaml).unwrap_err().to_string();
            assert!(
                err.contains(&format!("scenario s: {field}: ")),
                "{yaml}: {err}"
            );
        }
        let err = Scenario::from_yaml("s", "tick: soon\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid duration \"soon\""), "{err}");
    }

    #[test]
    fn handle_updates_are_visible_and_notify() {
        let h = ScenarioHandle::default();
        let rx = h.subscribe();
        let mut bad = ImageRule::new("app:2").unwrap();
        bad.ready = false;
        h.set_image(bad);
        assert!(rx.has_changed().unwrap());
        assert!(!h.with(|s| s.image_profile("app:2").ready));
        h.set_service_rps("test", "podinfo", 20.0);
        h.set_service_rps("test", "podinfo", 30.0);
        assert_eq!(h.snapshot().services.len(), 1);
        assert_eq!(h.snapshot().services[0].rps, 30.0);
    }
}
