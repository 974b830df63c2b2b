//! Go-style durations (`500ms`, `30s`, `1m`, `1h30m`, `1.5h`) as Flagger manifests write them.
//! Parsing only; what a duration means (interval, timeout) is decided by the caller.

use std::time::Duration;

/// Why a duration string did not parse. The message says what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; use a number with a unit, e.g. 30s, 1m or 1h30m")]
    Empty,
    #[error(
        "invalid duration {0:?}: expected numbers with units (ns, us, ms, s, m, h), e.g. 30s, 1m or 1h30m"
    )]
    Invalid(String),
    #[error(
        "invalid duration {0:?}: missing unit after the number; use ns, us, ms, s, m or h, e.g. 30s"
    )]
    MissingUnit(String),
    #[error("invalid duration {input:?}: unknown unit {unit:?}; use ns, us, ms, s, m or h")]
    UnknownUnit { input: String, unit: String },
    #[error("invalid duration {0:?}: negative durations are not allowed")]
    Negative(String),
    #[error("invalid duration {0:?}: too large")]
    Overflow(String),
}

/// Parses a Go `time.ParseDuration` string. A bare `0` is accepted, as in Go.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let s = match s.strip_prefix('+') {
        Some(rest) => rest,
        None if s.starts_with('-') => return Err(DurationError::Negative(input.to_string())),
        None => s,
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid(input.to_string());
    let overflow = || DurationError::Overflow(input.to_string());
    let mut total_nanos: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(num_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "" => return Err(DurationError::MissingUnit(input.to_string())),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(DurationError::UnknownUnit {
                    input: input.to_string(),
                    unit: other.to_string(),
                });
            }
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| overflow())?
        };
        let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(overflow)?;
        // Fractions are scaled digit by digit so `1.5h` is exact and long fractions can't overflow.
        let mut scale = unit_nanos;
        for digit in frac.bytes() {
            scale /= 10;
            nanos += u128::from(digit - b'0') * scale;
        }
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(overflow)?;
        rest = next;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| overflow())?;
    let sub = u32::try_from(total_nanos % 1_000_000_000).map_err(|_| overflow())?;
    Ok(Duration::new(secs, sub))
}

/// Renders a duration the way Go prints it (`1h30m0s` becomes `1h30m`, kept short for messages).
/// Exact: what it prints parses back to the same duration (a fraction of a second is printed
/// in the largest unit that keeps it whole: `1500ms`, `2µs`, `7ns`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if !nanos.is_multiple_of(1_000_000_000) {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}µs", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let total_ms = d.as_millis();
    let mut secs = total_ms / 1000;
    let hours = secs / 3600;
    secs %= 3600;
    let minutes = secs / 60;
    secs %= 60;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if secs > 0 {
        out.push_str(&format!("{secs}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("1m", Duration::from_secs(60)),
            ("1h30m", Duration::from_secs(5400)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5h", Duration::from_secs(5400)),
            ("0", Duration::ZERO),
            ("10us", Duration::from_micros(10)),
            ("2µs", Duration::from_micros(2)),
            ("7ns", Duration::from_nanos(7)),
            ("0.5s", Duration::from_millis(500)),
            (" 15s ", Duration::from_secs(15)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_bad_durations_with_reason() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("10"),
            Err(DurationError::MissingUnit(_))
        ));
        assert!(matches!(
            parse_duration("1m30"),
            Err(DurationError::MissingUnit(_))
        ));
        assert!(matches!(
            parse_duration("5d"),
            Err(DurationError::UnknownUnit { unit, .. }) if unit == "d"
        ));
        assert!(matches!(
            parse_duration("-5s"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("abc"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("1..5s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999999999h"),
            Err(DurationError::Overflow(_))
        ));
        let msg = parse_duration("5d").unwrap_err().to_string();
        assert!(
            msg.contains("\"5d\"") && msg.contains("unknown unit"),
            "{msg}"
        );
    }

    #[test]
    fn formats_short() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        // Below a millisecond, exactly (fuzzing found `2us` printed as `0s`).
        assert_eq!(format_duration(Duration::from_micros(2)), "2µs");
        assert_eq!(
            format_duration(Duration::from_nanos(1_000_000_007)),
            "1000000007ns"
        );
    }
}
