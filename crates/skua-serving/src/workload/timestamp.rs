//! Calendar timestamps as the Azure LLM traces write them: `2023-11-16 18:15:46.6805900`
//! (up to 9 fractional digits; a `T` separator and a `Z` / `±HH:MM` offset, as in the 2024
//! release, are accepted too).

/// An instant as whole seconds since 1970-01-01T00:00:00Z plus nanoseconds.
///
/// Kept as integers so differences between instants an hour apart stay exact to the
/// nanosecond (an `f64` of Unix seconds only resolves ~0.2 µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant {
    secs: i64,
    nanos: u32,
}

impl Instant {
    /// Seconds from `earlier` to `self`.
    pub fn seconds_since(self, earlier: Instant) -> f64 {
        (self.secs - earlier.secs) as f64
            + (f64::from(self.nanos) - f64::from(earlier.nanos)) * 1e-9
    }
}

/// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fffffffff][Z|±HH:MM|±HHMM]`; the reason on failure says
/// what part is wrong.
pub(crate) fn parse_timestamp(text: &str) -> Result<Instant, String> {
    let s = text.trim();
    let b = s.as_bytes();
    if b.len() < 19 {
        return Err("expected `YYYY-MM-DD HH:MM:SS[.fraction]`".into());
    }
    let year = digits(b, 0, 4).ok_or("the year is not 4 digits")?;
    let month = sep_digits(b, 4, b'-', 2).ok_or("expected `-MM` after the year")?;
    let day = sep_digits(b, 7, b'-', 2).ok_or("expected `-DD` after the month")?;
    if b[10] != b' ' && b[10] != b'T' {
        return Err("expected a space or `T` between date and time".into());
    }
    let hour = digits(b, 11, 2).ok_or("the hour is not 2 digits")?;
    let minute = sep_digits(b, 13, b':', 2).ok_or("expected `:MM` after the hour")?;
    let second = sep_digits(b, 16, b':', 2).ok_or("expected `:SS` after the minutes")?;
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is not 1-12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("day {day} does not exist in {year}-{month:02}"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "time {hour:02}:{minute:02}:{second:02} does not exist"
        ));
    }
    let mut pos = 19;
    let mut nanos: u32 = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        let mut scale = 100_000_000;
        while pos < b.len() && b[pos].is_ascii_digit() {
            // Digits beyond nanoseconds are dropped.
            nanos += u32::from(b[pos] - b'0') * scale;
            scale /= 10;
            pos += 1;
        }
        if pos == start {
            return Err("expected digits after the decimal point".into());
        }
    }
    let offset_s = parse_offset(&b[pos..])?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_s;
    Ok(Instant { secs, nanos })
}

/// `""`, `Z`, `±HH:MM` or `±HHMM` → seconds east of UTC.
fn parse_offset(b: &[u8]) -> Result<i64, String> {
    match b {
        [] | [b'Z'] | [b'z'] => Ok(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [_, _, b':', _, _] => (digits(rest, 0, 2), digits(rest, 3, 2)),
                [_, _, _, _] => (digits(rest, 0, 2), digits(rest, 2, 2)),
                _ => (None, None),
            };
            match (h, m) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 => {
                    let s = h * 3_600 + m * 60;
                    Ok(if *sign == b'-' { -s } else { s })
                }
                _ => Err("the time zone offset is not `±HH:MM`".into()),
            }
        }
        _ => Err(format!(
            "unexpected `{}` after the time",
            String::from_utf8_lossy(b)
        )),
    }
}

/// `n` ASCII digits at `at` as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = b.get(at..at + n)?;
    part.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// A separator byte at `at` followed by `n` digits.
fn sep_digits(b: &[u8], at: usize, sep: u8, n: usize) -> Option<i64> {
    (b.get(at) == Some(&sep))
        .then(|| digits(b, at + 1, n))
        .flatten()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date: whole years, then the days of
/// the earlier months of `year`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Leap days strictly before 1 January of `year`, counted from year 0.
    let leaps_before = |y: i64| {
        let p = y - 1;
        p.div_euclid(4) - p.div_euclid(100) + p.div_euclid(400)
    };
    let year_days = (year - 1970) * 365 + leaps_before(year) - leaps_before(1970);
    let month_days: i64 = (1..month).map(|m| days_in_month(year, m)).sum();
    year_days + month_days + day - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> i64 {
        parse_timestamp(text).expect(text).secs
    }

    #[test]
    fn known_unix_times() {
        // Independent anchors: the Unix epoch, 2000-03-01 (after a 400-year leap day) and the
        // first row of the Azure 2023 trace, checked with `date -u -d ... +%s`.
        assert_eq!(secs("1970-01-01 00:00:00"), 0);
        assert_eq!(secs("2000-03-01 00:00:00"), 951_868_800);
        assert_eq!(secs("2023-11-16 18:15:46.6805900"), 1_700_158_546);
        assert_eq!(secs("1969-12-31T23:59:59Z"), -1);
    }

    #[test]
    fn fractions_and_offsets() {
        let t = parse_timestamp("2023-11-16 18:15:46.6805900").expect("valid");
        assert_eq!(t.nanos, 680_590_000);
        let a = parse_timestamp("2024-05-10 00:00:00.009930+00:00").expect("valid");
        let b = parse_timestamp("2024-05-10 02:00:00.009930+02:00").expect("valid");
        assert_eq!(a, b);
        let later = parse_timestamp("2024-05-10 00:00:01.5").expect("valid");
        assert!((later.seconds_since(a) - 1.490_07).abs() < 1e-12);
    }

    #[test]
    fn rejects_impossible_or_malformed_times() {
        for bad in [
            "2023-02-29 00:00:00",
            "2023-13-01 00:00:00",
            "2023-11-16 24:00:00",
            "2023-11-16 18:15",
            "2023/11/16 18:15:46",
            "2023-11-16 18:15:46.",
            "2023-11-16 18:15:46 UTC",
            "16-11-2023 18:15:46",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
        assert!(parse_timestamp("2024-02-29 00:00:00").is_ok());
    }
}
