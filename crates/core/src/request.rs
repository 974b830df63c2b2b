//! Manual requests: `promote`, `abort`, `retry`, `pause` and `resume`, written into the `fledge.dev/request`
//! annotation as `<kind>` or `<kind>@<nonce>` (the CLI uses an RFC 3339 time as nonce, so
//! asking twice is two requests). The whole value is stored in `status.lastHandledRequest`
//! once carried out, so a lingering annotation is acted on exactly once. Parsing only.

use std::fmt;

use fledge_api::{Canary, CanaryPhase, CanaryStatus};

pub use fledge_api::names::REQUEST_ANNOTATION;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Skip the rest of the analysis and promote the current revision.
    Promote,
    /// Roll back now.
    Abort,
    /// Run the failed revision again.
    Retry,
    /// Hold the release where it is (as `spec.suspend` does), until a `resume` request. Kept
    /// in `status.paused`, so a GitOps sync of the Canary doesn't undo it.
    Pause,
    Resume,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Promote => "promote",
            RequestKind::Abort => "abort",
            RequestKind::Retry => "retry",
            RequestKind::Pause => "pause",
            RequestKind::Resume => "resume",
        }
    }
}

impl RequestKind {
    pub const ALL: [RequestKind; 5] = [
        RequestKind::Promote,
        RequestKind::Abort,
        RequestKind::Retry,
        RequestKind::Pause,
        RequestKind::Resume,
    ];

    /// Why the controller would not act on this request now (`None`: it would). What the
    /// machine does with requests must agree; a test drives it to check.
    pub fn refusal(self, canary: &Canary) -> Option<String> {
        use CanaryPhase::*;
        let default = CanaryStatus::default();
        let status = canary.status.as_ref().unwrap_or(&default);
        let steering = !matches!(self, RequestKind::Pause | RequestKind::Resume);
        // A held release takes no promote, abort or retry until it goes on (the request
        // waits in the annotation).
        if steering && status.paused {
            return Some("paused by request: resume it first".into());
        }
        if steering && canary.spec.suspend == Some(true) {
            return Some("suspended by spec.suspend: change the spec to go on".into());
        }
        let Some(phase) = status.phase else {
            return Some(format!(
                "nothing to {self}: the Canary is not initialized yet"
            ));
        };
        let analysing = matches!(phase, Waiting | Progressing | WaitingPromotion);
        let serving = phase == Failed && status.canary_weight >= 100;
        let ok = match self {
            RequestKind::Promote => analysing || serving,
            RequestKind::Abort => analysing,
            RequestKind::Retry => phase == Failed,
            RequestKind::Pause => !status.paused,
            RequestKind::Resume => status.paused,
        };
        match self {
            _ if ok => None,
            RequestKind::Pause => Some("already paused".into()),
            RequestKind::Resume if canary.spec.suspend == Some(true) => Some(
                "not paused; spec.suspend holds it, which only a change of the spec (in git) lifts"
                    .into(),
            ),
            RequestKind::Resume => Some("not paused".into()),
            _ => Some(format!("nothing to {self} in phase {phase}")),
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualRequest {
    pub kind: RequestKind,
    /// The annotation value as written.
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(
        "annotation {REQUEST_ANNOTATION}: unknown request {0:?}; use promote, abort, retry, pause or resume, optionally followed by @<anything unique>"
    )]
    Unknown(String),
}

impl ManualRequest {
    pub fn parse(raw: &str) -> Result<Self, RequestError> {
        let kind = raw.split_once('@').map_or(raw, |(k, _)| k).trim();
        let kind = match kind.to_ascii_lowercase().as_str() {
            "promote" => RequestKind::Promote,
            "abort" => RequestKind::Abort,
            "retry" => RequestKind::Retry,
            "pause" => RequestKind::Pause,
            "resume" => RequestKind::Resume,
            _ => return Err(RequestError::Unknown(raw.to_string())),
        };
        Ok(ManualRequest {
            kind,
            raw: raw.to_string(),
        })
    }

    /// The annotation value for a new request, unique per `nonce`.
    pub fn annotation_value(kind: RequestKind, nonce: &str) -> String {
        format!("{kind}@{nonce}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_with_and_without_nonce() {
        let cases = [
            ("promote", Some(RequestKind::Promote)),
            ("abort@2026-11-22T01:00:00Z", Some(RequestKind::Abort)),
            ("Retry@x", Some(RequestKind::Retry)),
            ("pause", Some(RequestKind::Pause)),
            ("Resume@2026-12-07T07:00:00Z", Some(RequestKind::Resume)),
            ("halt", None),
            ("", None),
            ("@promote", None),
        ];
        for (raw, want) in cases {
            let got = ManualRequest::parse(raw).ok().map(|r| r.kind);
            assert_eq!(got, want, "{raw:?}");
        }
    }

    #[test]
    fn annotation_value_round_trips() {
        let v = ManualRequest::annotation_value(RequestKind::Retry, "2026-11-22T01:00:00Z");
        assert_eq!(v, "retry@2026-11-22T01:00:00Z");
        assert_eq!(
            ManualRequest::parse(&v).map(|r| r.kind),
            Ok(RequestKind::Retry)
        );
    }
}
