//! Timestamp formats: detection from the first values of a column, and parsing.
//!
//! The fixed `YYYY-MM-DD HH:MM:SS` form (the common case, 1M rows in Bitbrains hourly) is
//! parsed by hand without allocating; RFC 3339 with offsets goes through `jiff`.

use serde::{Deserialize, Serialize};
use skua_core::Ts;

/// How timestamps are written in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Detect from the first values.
    #[default]
    Auto,
    /// RFC 3339 with a `Z` or numeric offset: `2013-07-01T00:00:00+02:00`.
    Rfc3339,
    /// Naive `YYYY-MM-DD HH:MM[:SS[.fff]]` (or with `T`), read as UTC.
    DateTime,
    /// Integer (or decimal) seconds since the Unix epoch.
    UnixSeconds,
    /// Integer milliseconds since the Unix epoch.
    UnixMillis,
    /// An integer step index (ASD's `step`): the timestamp is `step × step_secs` seconds from
    /// the Unix epoch, so step 0 is hour 0 of a UTC day. Needs `step_secs` in the options.
    Step,
}

impl std::fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeFormat::Auto => "auto",
            TimeFormat::Rfc3339 => "rfc 3339",
            TimeFormat::DateTime => "YYYY-MM-DD HH:MM:SS (naive, read as UTC)",
            TimeFormat::UnixSeconds => "unix seconds",
            TimeFormat::UnixMillis => "unix milliseconds",
            TimeFormat::Step => "step index × step_secs from the Unix epoch",
        })
    }
}

/// The outcome of detection: the format and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The format chosen.
    pub format: TimeFormat,
    /// Why, e.g. `unix seconds (by magnitude; the header says [ms])`.
    pub reason: String,
}

/// Numbers at or above this magnitude are milliseconds: as seconds they would be past year 5000.
const MILLIS_THRESHOLD: f64 = 1e11;

/// Detects the format of `values` (already trimmed, empty ones skipped by the caller).
/// `column` is the header name, used to explain a disagreement with a unit in the name.
/// On failure returns the index of the first value no format explains, and a message.
pub fn detect(values: &[&[u8]], column: &str) -> Result<Detected, (usize, String)> {
    if values.is_empty() {
        return Err((0, "no timestamp values to detect the format from".into()));
    }
    let n = values.len();
    if let Some(nums) = values
        .iter()
        .map(|v| parse_number(v))
        .collect::<Option<Vec<f64>>>()
    {
        let max = nums.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let lower = column.to_ascii_lowercase();
        let says_ms = lower.contains("[ms]")
            || lower.contains("(ms)")
            || lower.ends_with("_ms")
            || lower.contains("milli");
        let says_s = lower.contains("[s]") || lower.ends_with("_s") || lower.contains("sec");
        return Ok(if max >= MILLIS_THRESHOLD {
            let note = if says_s && !says_ms {
                format!("; the header `{column}` suggests seconds")
            } else {
                String::new()
            };
            Detected {
                format: TimeFormat::UnixMillis,
                reason: format!("unix milliseconds (by magnitude, max {max:.0}{note})"),
            }
        } else {
            let note = if says_ms {
                format!("; the header `{column}` says milliseconds")
            } else {
                String::new()
            };
            Detected {
                format: TimeFormat::UnixSeconds,
                reason: format!("unix seconds (by magnitude, max {max:.0}{note})"),
            }
        });
    }
    // Text: the form that reads the most sampled values wins, provided it reads at least
    // half of them; the few it cannot read become row errors with their line numbers.
    let naive = values
        .iter()
        .filter(|v| parse_fixed(v, false).is_some())
        .count();
    let rfc = values.iter().filter(|v| parse_rfc3339(v).is_some()).count();
    let (format, hits, what) = if naive >= rfc {
        (
            TimeFormat::DateTime,
            naive,
            "YYYY-MM-DD HH:MM:SS, no offset, read as UTC",
        )
    } else {
        (TimeFormat::Rfc3339, rfc, "RFC 3339 with offsets")
    };
    if hits * 2 >= n && hits > 0 {
        return Ok(Detected {
            format,
            reason: format!("{what} ({hits} of {n} sampled values match)"),
        });
    }
    let i = values
        .iter()
        .position(|v| parse(format, v).is_none())
        .unwrap_or(0);
    Err((
        i,
        format!(
            "cannot detect the timestamp format: `{}` is not unix seconds/ms, YYYY-MM-DD HH:MM:SS, \
             RFC 3339 or any other supported form; set `time_format` in the mapping",
            String::from_utf8_lossy(values[i])
        ),
    ))
}

/// Parses one timestamp in a known format (not `Auto`). Surrounding whitespace is ignored.
/// A [`TimeFormat::Step`] index is read with one second per step; see [`parse_step`].
#[inline]
pub fn parse(format: TimeFormat, raw: &[u8]) -> Option<Ts> {
    let v = raw.trim_ascii();
    let ts = match format {
        TimeFormat::Step => return parse_step(v, 1),
        TimeFormat::DateTime => parse_fixed(v, false),
        TimeFormat::Rfc3339 => parse_rfc3339(v),
        TimeFormat::UnixSeconds => parse_number(v).map(|x| x.floor() as Ts),
        TimeFormat::UnixMillis => parse_number(v).map(|x| (x / 1000.0).floor() as Ts),
        TimeFormat::Auto => parse_number(v)
            .map(|x| {
                if x.abs() >= MILLIS_THRESHOLD {
                    (x / 1000.0).floor() as Ts
                } else {
                    x.floor() as Ts
                }
            })
            .or_else(|| parse_fixed(v, false))
            .or_else(|| parse_rfc3339(v)),
    }?;
    // Years 0000..=9999 only: anything else is a misread column, and keeping timestamps in
    // this range keeps all later arithmetic far from overflow.
    in_range(ts)
}

/// Parses an integer step index as `index × step_secs` seconds from the Unix epoch.
/// Decimals, text and results outside years 0000..=9999 are `None`.
#[inline]
pub fn parse_step(raw: &[u8], step_secs: i64) -> Option<Ts> {
    let v = raw.trim_ascii();
    let (neg, digits) = match v.first()? {
        b'-' => (true, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    in_range(if neg { -n } else { n }.checked_mul(step_secs)?)
}

/// A resolved way to read one file's timestamps: the format and, for
/// [`TimeFormat::Step`], the seconds per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeReader {
    /// The format (never `Auto` once detection has run, but `Auto` still parses).
    pub format: TimeFormat,
    /// Seconds per step for [`TimeFormat::Step`]; 1 otherwise.
    pub step_secs: i64,
}

impl TimeReader {
    /// Parses one timestamp.
    #[inline]
    pub fn parse(&self, raw: &[u8]) -> Option<Ts> {
        match self.format {
            TimeFormat::Step => parse_step(raw, self.step_secs),
            f => parse(f, raw),
        }
    }
}

/// `ts` if it lies in years 0000..=9999.
pub(crate) fn in_range(ts: Ts) -> Option<Ts> {
    (MIN_TS..=MAX_TS).contains(&ts).then_some(ts)
}

/// 0000-01-01T00:00:00Z.
const MIN_TS: Ts = -62_167_219_200;
/// 9999-12-31T23:59:59Z.
const MAX_TS: Ts = 253_402_300_799;

/// Integer fast path, then decimal; `None` for anything else (and non-finite numbers).
#[inline]
fn parse_number(v: &[u8]) -> Option<f64> {
    let v = v.trim_ascii();
    if v.is_empty() {
        return None;
    }
    let (neg, digits) = match v[0] {
        b'-' => (true, &v[1..]),
        _ => (false, v),
    };
    if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let n = digits
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        return Some(if neg { -n } else { n } as f64);
    }
    // Only plain decimals: reject `inf`, `nan` and dates such as `2013-07-01`.
    if !v
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    let x: f64 = std::str::from_utf8(v).ok()?.parse().ok()?;
    x.is_finite().then_some(x)
}

/// RFC 3339: a `Z`-suffixed fixed form by hand, anything else through `jiff`.
fn parse_rfc3339(v: &[u8]) -> Option<Ts> {
    if let Some(ts) = parse_fixed(v, true) {
        return Some(ts);
    }
    let s = std::str::from_utf8(v).ok()?;
    let t: jiff::Timestamp = s.parse().ok()?;
    Some(t.as_second() - i64::from(t.subsec_nanosecond() < 0))
}

#[inline]
fn two(b: &[u8], i: usize) -> Option<u32> {
    let (a, c) = (b.get(i)?, b.get(i + 1)?);
    (a.is_ascii_digit() && c.is_ascii_digit())
        .then(|| u32::from(a - b'0') * 10 + u32::from(c - b'0'))
}

/// `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]`, plus a trailing `Z` when `zulu` (required then).
/// Fractional seconds are truncated. No allocation.
#[inline]
pub(crate) fn parse_fixed(b: &[u8], zulu: bool) -> Option<Ts> {
    let b = if zulu {
        b.strip_suffix(b"Z").or_else(|| b.strip_suffix(b"z"))?
    } else {
        b
    };
    if b.len() < 16
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
    {
        return None;
    }
    let year = two(b, 0)? * 100 + two(b, 2)?;
    let (month, day, hour, minute) = (two(b, 5)?, two(b, 8)?, two(b, 11)?, two(b, 14)?);
    let mut second = 0;
    if b.len() > 16 {
        if b[16] != b':' {
            return None;
        }
        second = two(b, 17)?;
        let rest = &b[19..];
        if !rest.is_empty()
            && (rest[0] != b'.' || rest.len() < 2 || !rest[1..].iter().all(u8::is_ascii_digit))
        {
            return None;
        }
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year as i64, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date: count whole 400-year eras from a
/// calendar that starts in March (so the leap day is last), then offset to the Unix epoch.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = i64::from((m + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(d) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jiff_secs(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn fixed_form_matches_jiff() {
        for s in [
            "1970-01-01 00:00:00",
            "2013-07-01 00:00:00",
            "2000-02-29 23:59:59",
            "1900-03-01 12:00:00",
            "2024-12-31T23:59:59",
            "1969-12-31 23:59:59",
        ] {
            let z = format!("{}Z", s.replace(' ', "T"));
            assert_eq!(parse_fixed(s.as_bytes(), false), Some(jiff_secs(&z)), "{s}");
            assert_eq!(
                parse(TimeFormat::Rfc3339, z.as_bytes()),
                Some(jiff_secs(&z))
            );
        }
        assert_eq!(
            parse_fixed(b"2014-02-14 14:27", false),
            parse_fixed(b"2014-02-14 14:27:00", false)
        );
        assert_eq!(
            parse_fixed(b"2014-02-14 14:27:00.999", false),
            parse_fixed(b"2014-02-14 14:27:00", false)
        );
        for bad in [
            "2013-02-29 00:00:00",
            "2013-13-01 00:00:00",
            "2013-07-01 24:00:00",
            "2013-07-01",
            "2013-07-01 00:00:0x",
        ] {
            assert_eq!(parse_fixed(bad.as_bytes(), false), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_offsets() {
        assert_eq!(
            parse(TimeFormat::Rfc3339, b"2013-07-01T02:00:00+02:00"),
            Some(1_372_636_800)
        );
        assert_eq!(parse(TimeFormat::Rfc3339, b"2013-07-01 00:00:00"), None);
    }

    #[test]
    fn step_indices_scale_by_step_secs() {
        assert_eq!(parse_step(b"0", 300), Some(0));
        assert_eq!(parse_step(b" 12 ", 300), Some(3600));
        assert_eq!(parse_step(b"-2", 300), Some(-600));
        for bad in ["1.5", "", "-", "x1", "1e3", "2013-07-01"] {
            assert_eq!(parse_step(bad.as_bytes(), 300), None, "{bad}");
        }
        // Past year 9999 is a misread column, not a time.
        assert_eq!(parse_step(b"999999999999", 300), None);
        assert_eq!(parse_step(b"999999999999999999", i64::MAX), None);
        let r = TimeReader {
            format: TimeFormat::Step,
            step_secs: 300,
        };
        assert_eq!(r.parse(b"288"), Some(86_400));
        assert_eq!(parse(TimeFormat::Step, b"288"), Some(288));
        let json = serde_json::to_string(&TimeFormat::Step).unwrap();
        assert_eq!(json, "\"step\"");
    }

    #[test]
    fn detection_by_magnitude_and_header() {
        let secs: Vec<&[u8]> = vec![b"1372629804", b"1372630104"];
        let d = detect(&secs, "Timestamp [ms]").unwrap();
        assert_eq!(d.format, TimeFormat::UnixSeconds);
        assert!(d.reason.contains("by magnitude") && d.reason.contains("says milliseconds"));
        let ms: Vec<&[u8]> = vec![b"1372629804000"];
        assert_eq!(detect(&ms, "t").unwrap().format, TimeFormat::UnixMillis);
        assert_eq!(
            parse(TimeFormat::UnixMillis, b"1372629804123"),
            Some(1_372_629_804)
        );
        let naive: Vec<&[u8]> = vec![b"2013-07-01 00:00:00", b"2013-07-01T01:00:00"];
        assert_eq!(detect(&naive, "ds").unwrap().format, TimeFormat::DateTime);
        let rfc: Vec<&[u8]> = vec![b"2013-07-01T00:00:00Z", b"2013-07-01T01:00:00+01:00"];
        assert_eq!(detect(&rfc, "ts").unwrap().format, TimeFormat::Rfc3339);
        let mostly: Vec<&[u8]> = vec![b"2013-07-01 00:00:00", b"yesterday"];
        assert!(detect(&mostly, "ts").unwrap().reason.contains("1 of 2"));
        let bad: Vec<&[u8]> = vec![b"2013-07-01 00:00:00", b"yesterday", b"today"];
        let (i, msg) = detect(&bad, "ts").unwrap_err();
        assert_eq!(i, 1);
        assert!(msg.contains("`yesterday`"), "{msg}");
    }
}
