//! Text formatting of numbers, shares and UTC times for tables and captions.

use skua_core::Ts;
use skua_core::time::{SECONDS_PER_DAY, day_start, format_ts};

use crate::scale::{clock_label, date_label};

/// A load value with precision that suits its size (`1234`, `56.7`, `0.89`); `–` if not finite.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A sort key for a table cell's `data-v`: six decimals are plenty to order by and keep
/// the page small and stable under JSON round trips.
pub fn sort_key(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let r = (v * 1e6).round() / 1e6;
    format!("{}", if r == 0.0 { 0.0 } else { r })
}

/// A share in `0..=1` as a percentage (`87.5 %`); `–` if not finite.
pub fn fmt_pct(share: f64) -> String {
    if !share.is_finite() {
        return "–".into();
    }
    format!("{:.1} %", share * 100.0)
}

/// A timestamp as `2013-07-01 05:30` (UTC, stated once in the table header).
pub fn fmt_ts(ts: Ts) -> String {
    let s = format_ts(ts);
    match (s.get(0..10), s.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t}"),
        _ => s,
    }
}

/// A window as `Jul 2 02:00–04:00 UTC`, or with both dates when it crosses midnight.
pub fn window_label(start: Ts, end: Ts) -> String {
    // `end` is exclusive: a window ending at midnight belongs to the day it started.
    let same_day = day_start(start) == day_start(end - 1) && end - start < SECONDS_PER_DAY;
    if same_day {
        format!(
            "{} {}–{} UTC",
            date_label(start),
            clock_label(start),
            clock_label(end)
        )
    } else {
        format!(
            "{} {} – {} {} UTC",
            date_label(start),
            clock_label(start),
            date_label(end),
            clock_label(end)
        )
    }
}

/// The footer of a capped table: "`hidden` more `what` omitted (`which`); the JSON beside this
/// report lists all `total`."
pub fn omitted_note(out: &mut String, hidden: usize, total: usize, what: &str, which: &str) {
    use std::fmt::Write;
    let _ = write!(
        out,
        r#"<p class="omitted">{hidden} more {what} omitted ({which}); the JSON beside this report lists all {total}.</p>"#
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_shares() {
        assert_eq!(fmt_num(1234.4), "1234");
        assert_eq!(fmt_num(56.78), "56.8");
        assert_eq!(fmt_num(0.891), "0.89");
        assert_eq!(fmt_num(f64::NAN), "–");
        assert_eq!(fmt_pct(0.875), "87.5 %");
        assert_eq!(sort_key(0.1234567891), "0.123457");
        assert_eq!(sort_key(-0.0000001), "0");
        assert_eq!(sort_key(f64::NAN), "");
    }

    #[test]
    fn windows_read_naturally() {
        let d = 1_372_636_800; // 2013-07-01T00:00Z
        assert_eq!(fmt_ts(d + 5400), "2013-07-01 01:30");
        assert_eq!(window_label(d + 7200, d + 14_400), "Jul 1 02:00–04:00 UTC");
        assert_eq!(
            window_label(d + 79_200, d + 86_400),
            "Jul 1 22:00–00:00 UTC"
        );
        assert_eq!(
            window_label(d + 82_800, d + 90_000),
            "Jul 1 23:00 – Jul 2 01:00 UTC"
        );
    }
}
