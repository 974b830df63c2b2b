//! The fuzz targets, as plain functions of the input bytes, so that one definition serves both
//! the coverage-guided fuzzer (`fuzz/`, run by `make fuzz`) and `make test`, which replays every
//! input kept under `regressions/<target>/`.
//!
//! Each target feeds untrusted input (what a user writes or a peer sends) to the code that
//! reads it, and panics only when a property fails: besides "never panics", the same input
//! gives the same answer, and what is written can be read back.

mod documents;
mod hooks;
mod patch;
mod text;

pub use documents::documents;
pub use hooks::{alert_payload, loadtester_request, webhook_payload};
pub use patch::{json_patch, merge_patch, selectors, server_side_apply, strategic_merge};
pub use text::{duration, template};

/// A fuzz target: panics when the input breaks a property.
pub type Target = fn(&[u8]);

/// Every target, by the name `cargo fuzz run` and `regressions/` use.
pub const TARGETS: &[(&str, Target)] = &[
    ("documents", documents),
    ("template", template),
    ("duration", duration),
    ("loadtester_request", loadtester_request),
    ("webhook_payload", webhook_payload),
    ("alert_payload", alert_payload),
    ("merge_patch", merge_patch),
    ("json_patch", json_patch),
    ("strategic_merge", strategic_merge),
    ("server_side_apply", server_side_apply),
    ("selectors", selectors),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Splits input into `n` text fields at NUL bytes (missing ones empty, the rest joined into the
/// last), so that one byte string drives several string arguments.
fn fields(data: &[u8], n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<String> = text.splitn(n, '\0').map(str::to_owned).collect();
    out.resize(n, String::new());
    out
}

/// `key=value` lines as a map (lines without `=` are skipped).
fn pairs(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
