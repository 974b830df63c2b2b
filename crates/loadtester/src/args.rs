//! Command-line flags (each also readable from an environment variable, for Deployments).

use std::net::IpAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use regex::Regex;

#[derive(Debug, Parser)]
#[command(
    name = "fledge-loadtester",
    version,
    about = "Flagger-compatible load tester and webhook gate service for fledge"
)]
pub struct Args {
    /// Port to listen on (0 picks a free port; the chosen address is logged).
    #[arg(long, env = "FLEDGE_LOADTESTER_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Address to bind.
    #[arg(long, env = "FLEDGE_LOADTESTER_ADDRESS", default_value = "0.0.0.0")]
    pub address: IpAddr,

    /// Longest a single command or load run may take before it is killed (e.g. 30s, 5m, 1h).
    #[arg(long, env = "FLEDGE_LOADTESTER_TIMEOUT", default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Only canaries whose namespace matches this regular expression may call the service
    /// (unanchored, like Flagger: use `^prod$` for an exact match).
    #[arg(long, env = "FLEDGE_LOADTESTER_NAMESPACE_REGEXP", value_parser = parse_regex)]
    pub namespace_regexp: Option<Regex>,

    /// Log level or tracing filter (e.g. info, debug, fledge_loadtester=debug).
    #[arg(long, env = "FLEDGE_LOADTESTER_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log encoding.
    #[arg(long, env = "FLEDGE_LOADTESTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Parses Go durations (`90s`, `1m30s`, `500ms`, `1h`) as Flagger manifests write them, with
/// the controller's parser; zero is refused, since a task or timeout of zero does nothing.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d =
        fledge_api::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 30s, 5m, 1h)"))?;
    if d.is_zero() {
        return Err(format!("duration {s:?} must be greater than zero"));
    }
    Ok(d)
}

fn parse_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| format!("invalid --namespace-regexp {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        for (input, want) in [
            ("30s", Duration::from_secs(30)),
            ("1m", Duration::from_secs(60)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1h", Duration::from_secs(3600)),
        ] {
            assert_eq!(parse_duration(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for input in ["", "abc", "0s", "-5s", "10"] {
            assert!(parse_duration(input).is_err(), "{input}");
        }
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let args = Args::try_parse_from(["fledge-loadtester"]).unwrap();
        assert_eq!(args.port, 8080);
        assert_eq!(args.timeout, Duration::from_secs(3600));
        assert!(args.namespace_regexp.is_none());
    }

    #[test]
    fn bad_regexp_is_a_usage_error() {
        let err =
            Args::try_parse_from(["fledge-loadtester", "--namespace-regexp", "("]).unwrap_err();
        assert!(err.to_string().contains("--namespace-regexp"), "{err}");
    }
}
