//! Ages as kubectl prints them (`45s`, `3m12s`, `2d3h`): the server renders them into Table
//! cells, because kubectl prints cells verbatim. Pure apart from reading the clock.

use serde_json::Value;

/// kubectl's `HumanDuration` (`45s`, `3m12s`, `2d3h`, ...).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    let days = hours / 24;
    let (y, d) = (days / 365, days % 365);
    if hours < 24 * 365 * 8 && d != 0 {
        format!("{y}y{d}d")
    } else {
        format!("{y}y")
    }
}

/// The age of an RFC 3339 timestamp, or `<unknown>`.
pub fn age(ts: &Value) -> String {
    match ts.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
        Some(t) => human_duration(jiff::Timestamp::now().as_second() - t.as_second()),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_kubectl() {
        for (secs, want) in [
            (5, "5s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }
}
