//! The load tester's own Prometheus metrics. Labels are bounded: task kinds and results are fixed
//! sets; the only open label is the canary (`name.namespace`) on load-generator counters, whose
//! cardinality is the number of canaries that use this load tester.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::tasks::TaskKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskResult {
    /// The command exited 0 / the load run finished.
    Success,
    /// The command exited non-zero or could not be started.
    Failure,
    /// The command outlived `--timeout` and was killed.
    Timeout,
    /// An identical `cmd`/`load` task for the same canary was already running.
    Deduplicated,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunningLabels {
    task: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Any HTTP response with status 1xx-3xx.
    Ok,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// No response: connection refused, timeout, TLS error.
    Error,
}

impl TaskResult {
    fn as_str(self) -> &'static str {
        match self {
            TaskResult::Success => "success",
            TaskResult::Failure => "failure",
            TaskResult::Timeout => "timeout",
            TaskResult::Deduplicated => "deduplicated",
        }
    }
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Error => "error",
        }
    }

    pub fn from_status(status: u16) -> Self {
        match status {
            500.. => Outcome::ServerError,
            400..=499 => Outcome::ClientError,
            _ => Outcome::Ok,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoadLabels {
    canary: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateKind {
    Gate,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateAnswer {
    Open,
    Closed,
}

impl GateKind {
    fn as_str(self) -> &'static str {
        match self {
            GateKind::Gate => "gate",
            GateKind::Rollback => "rollback",
        }
    }
}

impl GateAnswer {
    fn as_str(self) -> &'static str {
        match self {
            GateAnswer::Open => "open",
            GateAnswer::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GateLabels {
    gate: &'static str,
    answer: &'static str,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    tasks: Family<TaskLabels, Counter>,
    running: Family<RunningLabels, Gauge>,
    load_requests: Family<LoadLabels, Counter>,
    load_duration: Histogram,
    gate_checks: Family<GateLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("fledge_loadtester");
        let tasks = Family::<TaskLabels, Counter>::default();
        registry.register("tasks", "Tasks finished, by kind and result", tasks.clone());
        let running = Family::<RunningLabels, Gauge>::default();
        registry.register(
            "tasks_running",
            "Tasks running now, by kind",
            running.clone(),
        );
        let load_requests = Family::<LoadLabels, Counter>::default();
        registry.register(
            "load_requests",
            "HTTP requests sent by the native load generator, by canary and outcome",
            load_requests.clone(),
        );
        // 1ms .. ~16s
        let load_duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "load_request_duration_seconds",
            "Latency of requests sent by the native load generator",
            load_duration.clone(),
        );
        let gate_checks = Family::<GateLabels, Counter>::default();
        registry.register(
            "gate_checks",
            "Gate and rollback checks answered, by gate and answer",
            gate_checks.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            tasks,
            running,
            load_requests,
            load_duration,
            gate_checks,
        }
    }
}

impl Metrics {
    pub fn finished(&self, task: TaskKind, result: TaskResult) {
        let labels = TaskLabels {
            task: task.as_str(),
            result: result.as_str(),
        };
        self.tasks.get_or_create(&labels).inc();
    }

    pub fn load_request(&self, canary: &str, outcome: Outcome, seconds: f64) {
        let labels = LoadLabels {
            canary: canary.to_owned(),
            outcome: outcome.as_str(),
        };
        self.load_requests.get_or_create(&labels).inc();
        self.load_duration.observe(seconds);
    }

    pub fn gate_check(&self, gate: GateKind, answer: GateAnswer) {
        let labels = GateLabels {
            gate: gate.as_str(),
            answer: answer.as_str(),
        };
        self.gate_checks.get_or_create(&labels).inc();
    }

    /// Counts the task as running until the returned guard is dropped, so a task that is
    /// cancelled (client gone, shutdown) is not left counted.
    pub fn running(&self, task: TaskKind) -> RunningGuard {
        let labels = RunningLabels {
            task: task.as_str(),
        };
        let gauge = self.running.get_or_create(&labels).clone();
        gauge.inc();
        RunningGuard(gauge)
    }

    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

pub struct RunningGuard(Gauge);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(Outcome::from_status(200), Outcome::Ok);
        assert_eq!(Outcome::from_status(302), Outcome::Ok);
        assert_eq!(Outcome::from_status(404), Outcome::ClientError);
        assert_eq!(Outcome::from_status(503), Outcome::ServerError);
    }

    #[test]
    fn running_gauge_follows_guard() {
        let m = Metrics::default();
        let g = m.running(TaskKind::Bash);
        assert!(
            m.encode()
                .unwrap()
                .contains(r#"fledge_loadtester_tasks_running{task="bash"} 1"#)
        );
        drop(g);
        assert!(
            m.encode()
                .unwrap()
                .contains(r#"fledge_loadtester_tasks_running{task="bash"} 0"#)
        );
    }
}
