//! Time as Unix seconds (UTC). Parsing and formatting of user-facing text lives in the
//! ingestion and report code (with `jiff`); the core only needs integer arithmetic.

/// A timestamp: seconds since the Unix epoch, UTC.
pub type Ts = i64;

/// Seconds in one hour.
pub const SECONDS_PER_HOUR: i64 = 3_600;
/// Seconds in one day.
pub const SECONDS_PER_DAY: i64 = 86_400;
/// Seconds in one week.
pub const SECONDS_PER_WEEK: i64 = 7 * SECONDS_PER_DAY;

/// Start of the UTC day containing `ts`.
pub fn day_start(ts: Ts) -> Ts {
    ts.div_euclid(SECONDS_PER_DAY) * SECONDS_PER_DAY
}

/// Hour of the UTC day (0..24) of `ts`.
pub fn hour_of_day(ts: Ts) -> u32 {
    (ts.rem_euclid(SECONDS_PER_DAY) / SECONDS_PER_HOUR) as u32
}

/// Seconds since the start of the UTC day of `ts`.
pub fn second_of_day(ts: Ts) -> i64 {
    ts.rem_euclid(SECONDS_PER_DAY)
}

/// Number of grid steps of `step` seconds in one day, if `step` divides a day evenly.
pub fn steps_per_day(step: i64) -> Option<usize> {
    (step > 0 && SECONDS_PER_DAY % step == 0).then(|| (SECONDS_PER_DAY / step) as usize)
}

/// Formats a timestamp as RFC 3339 UTC (`2013-07-01T00:00:00Z`); out-of-range values print as seconds.
pub fn format_ts(ts: Ts) -> String {
    match jiff::Timestamp::from_second(ts) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => format!("@{ts}"),
    }
}

/// Formats a duration in seconds compactly: `5m`, `1h`, `1d2h`, `90s`.
pub fn format_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let mut s = secs.unsigned_abs();
    let mut out = String::from(sign);
    for (unit, len) in [("d", 86_400u64), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

/// Parses a duration such as `1h`, `90m`, `2h30m`, `1d`, `300s` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            let n: i64 = num.parse().ok()?;
            num.clear();
            let mult = match c {
                'd' => SECONDS_PER_DAY,
                'h' => SECONDS_PER_HOUR,
                'm' => 60,
                's' => 1,
                'w' => SECONDS_PER_WEEK,
                _ => return None,
            };
            total = total.checked_add(n.checked_mul(mult)?)?;
        }
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_helpers() {
        // 2013-07-01T05:30:00Z
        let ts = 1_372_656_600;
        assert_eq!(day_start(ts), 1_372_636_800);
        assert_eq!(hour_of_day(ts), 5);
        assert_eq!(steps_per_day(3600), Some(24));
        assert_eq!(steps_per_day(300), Some(288));
        assert_eq!(steps_per_day(7), None);
        assert_eq!(format_ts(ts), "2013-07-01T05:30:00Z");
        assert_eq!(day_start(-1), -SECONDS_PER_DAY);
    }

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("1h"), Some(3600));
        assert_eq!(parse_duration("2h30m"), Some(9000));
        assert_eq!(parse_duration("1d"), Some(86400));
        assert_eq!(parse_duration("300"), Some(300));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("5m3"), None);
        assert_eq!(format_duration(93_600), "1d2h");
        assert_eq!(format_duration(300), "5m");
    }
}
