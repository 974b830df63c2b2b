//! Fault injection for the simulated API server: latency, a share of 500 / 429 / 409 answers
//! per verb and resource, watch streams dropped after N events or seconds, and `410 Gone` on
//! the next watch. Loaded from a YAML file (`fledge sim --faults`) or set through the library
//! handle. Shares are applied deterministically (every 1/share-th matching request fails) so
//! tests are reproducible. It decides; it never touches the store.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::ApiError;

/// The faults file format (see `docs/sim.md` and `testdata/sim/faults*.yaml`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    /// Added to every API request before it is served.
    #[serde(default)]
    pub latency_ms: u64,
    /// Error rules; the first rule that fires decides.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// Watch stream faults.
    #[serde(default)]
    pub watch: WatchFaults,
}

/// Failing a share of the requests of some verbs on some resources.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Verbs (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`); empty = all.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Group-qualified resources (`deployments.apps`, `configmaps`, `canaries.fledge.dev`,
    /// `deployments.apps/status`); empty = all.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Share (0..=1) answered `500 InternalError`.
    #[serde(default)]
    pub error_rate: f64,
    /// Share answered `429 TooManyRequests` with `Retry-After`.
    #[serde(default)]
    pub throttle_rate: f64,
    /// `Retry-After` seconds for 429s (default 1).
    #[serde(default = "one")]
    pub retry_after_seconds: u64,
    /// Share answered `409 Conflict` (only meaningful for writes).
    #[serde(default)]
    pub conflict_rate: f64,
}

fn one() -> u64 {
    1
}

/// Faults on watch streams.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WatchFaults {
    /// End every watch stream after this many events past its initial state (0 = never).
    /// The initial ADDED events of a watch without resourceVersion (or a streaming list) do
    /// not count, or a stream could never get through them.
    #[serde(default)]
    pub drop_after_events: u64,
    /// End every watch stream after this many seconds (0 = never).
    #[serde(default)]
    pub drop_after_seconds: u64,
    /// Answer the next watch request with `410 Gone` (one-shot).
    #[serde(default)]
    pub gone_on_next_watch: bool,
}

/// Errors loading a faults file.
#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    #[error("faults file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("faults file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("faults file {path}: rules[{index}].{field}: must be between 0 and 1 (got {value})")]
    Share {
        path: String,
        index: usize,
        field: &'static str,
        value: f64,
    },
}

impl Faults {
    /// Read and check a faults file.
    pub fn from_file(path: &Path) -> Result<Faults, FaultsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FaultsError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_yaml(&text, &shown)
    }

    /// Parse and check faults YAML; `origin` names the source in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Faults, FaultsError> {
        let faults: Faults = serde_saphyr::from_str(text).map_err(|e| FaultsError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        for (index, rule) in faults.rules.iter().enumerate() {
            for (field, value) in [
                ("errorRate", rule.error_rate),
                ("throttleRate", rule.throttle_rate),
                ("conflictRate", rule.conflict_rate),
            ] {
                if !(0.0..=1.0).contains(&value) {
                    return Err(FaultsError::Share {
                        path: origin.to_string(),
                        index,
                        field,
                        value,
                    });
                }
            }
        }
        Ok(faults)
    }
}

/// The kind of failure a rule chose for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Error,
    Throttle,
    Conflict,
}

struct State {
    faults: Faults,
    /// Per rule and kind: accumulated share; a request fails when it reaches 1.
    credit: Vec<[f64; 3]>,
}

/// The live fault configuration, shared by the server and the library handle.
#[derive(Clone)]
pub struct FaultInjector {
    state: Arc<Mutex<State>>,
    gone_next: Arc<AtomicBool>,
}

impl Default for FaultInjector {
    fn default() -> Self {
        FaultInjector::new(Faults::default())
    }
}

impl FaultInjector {
    pub fn new(faults: Faults) -> Self {
        let gone = faults.watch.gone_on_next_watch;
        let credit = vec![[0.0; 3]; faults.rules.len()];
        FaultInjector {
            state: Arc::new(Mutex::new(State { faults, credit })),
            gone_next: Arc::new(AtomicBool::new(gone)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replace the configuration (resets the share counters).
    pub fn set(&self, faults: Faults) {
        self.gone_next
            .store(faults.watch.gone_on_next_watch, Ordering::SeqCst);
        let mut s = self.lock();
        s.credit = vec![[0.0; 3]; faults.rules.len()];
        s.faults = faults;
    }

    pub fn get(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Make the next watch request fail with 410 Gone.
    pub fn gone_on_next_watch(&self) {
        self.gone_next.store(true, Ordering::SeqCst);
    }

    /// Whether this watch must be answered 410 (consumes the one-shot flag).
    pub fn take_gone(&self) -> bool {
        self.gone_next.swap(false, Ordering::SeqCst)
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.lock().faults.latency_ms)
    }

    pub fn watch(&self) -> WatchFaults {
        self.lock().faults.watch.clone()
    }

    /// The injected failure for a request, if any. `name` is only used in messages.
    pub fn check(&self, verb: &str, resource: &str, name: &str) -> Option<ApiError> {
        let mut s = self.lock();
        let State { faults, credit } = &mut *s;
        for (i, rule) in faults.rules.iter().enumerate() {
            let verb_ok = rule.verbs.is_empty() || rule.verbs.iter().any(|v| v == verb);
            let res_ok = rule.resources.is_empty() || rule.resources.iter().any(|r| r == resource);
            if !(verb_ok && res_ok) {
                continue;
            }
            for (k, (kind, share)) in [
                (Kind::Error, rule.error_rate),
                (Kind::Throttle, rule.throttle_rate),
                (Kind::Conflict, rule.conflict_rate),
            ]
            .into_iter()
            .enumerate()
            {
                if share <= 0.0 {
                    continue;
                }
                credit[i][k] += share;
                if credit[i][k] >= 1.0 - 1e-9 {
                    credit[i][k] -= 1.0;
                    return Some(match kind {
                        Kind::Error => {
                            ApiError::internal(format!("injected fault: {verb} {resource}"))
                        }
                        Kind::Throttle => ApiError::too_many_requests(rule.retry_after_seconds),
                        Kind::Conflict => {
                            let (group, res) = match resource.split_once('.') {
                                Some((r, g)) => (g, r),
                                None => ("", resource),
                            };
                            ApiError::stale(&crate::store::GroupResource::new(group, res), name)
                        }
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact_and_scoped() {
        let f = Faults::from_yaml(
            "rules:\n- verbs: [update]\n  resources: [deployments.apps]\n  conflictRate: 0.25\n",
            "t",
        )
        .unwrap();
        let inj = FaultInjector::new(f);
        let fails = (0..100)
            .filter(|_| inj.check("update", "deployments.apps", "d").is_some())
            .count();
        assert_eq!(fails, 25);
        assert!(inj.check("get", "deployments.apps", "d").is_none());
        assert!(inj.check("update", "configmaps", "d").is_none());
        let e = (0..4)
            .find_map(|_| inj.check("update", "deployments.apps", "d"))
            .unwrap();
        assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    }

    #[test]
    fn throttle_carries_retry_after() {
        let inj = FaultInjector::new(Faults {
            rules: vec![FaultRule {
                throttle_rate: 1.0,
                retry_after_seconds: 3,
                ..Default::default()
            }],
            ..Default::default()
        });
        let e = inj.check("list", "pods", "").unwrap();
        assert_eq!((e.code, e.retry_after), (429, Some(3)));
    }

    #[test]
    fn bad_files_name_the_field() {
        let err = Faults::from_yaml("rules:\n- errorRate: 2\n", "f.yaml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "faults file f.yaml: rules[0].errorRate: must be between 0 and 1 (got 2)"
        );
        assert!(Faults::from_yaml("bogus: 1\n", "f.yaml").is_err());
    }

    #[test]
    fn gone_is_one_shot() {
        let inj = FaultInjector::default();
        assert!(!inj.take_gone());
        inj.gone_on_next_watch();
        assert!(inj.take_gone());
        assert!(!inj.take_gone());
    }
}
