//! Scales and ticks: linear maps, 1-2-5 "nice" ticks and UTC time ticks with labels.

use skua_core::Ts;
use skua_core::time::{SECONDS_PER_DAY, format_ts, second_of_day};

/// A linear map from a data domain onto a pixel range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Linear {
    /// Maps `domain.0 → range.0` and `domain.1 → range.1` (either may be decreasing).
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Linear {
            d0: domain.0,
            d1: domain.1,
            r0: range.0,
            r1: range.1,
        }
    }

    /// Pixel position of `v`; the middle of the range for an empty domain.
    pub fn map(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }
}

/// The 1-2-5 step closest above `raw` (`0.37 → 0.5`, `13 → 20`); 1 for non-positive input.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Widens `(lo, hi)` so it is non-empty and finite.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// Extends `(lo, hi)` outwards to multiples of a nice step giving about `target` intervals.
pub fn nice_domain(lo: f64, hi: f64, target: usize) -> (f64, f64) {
    let (lo, hi) = widen(lo, hi);
    let step = nice_step((hi - lo) / target.max(1) as f64);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// About `target` evenly spaced round values inside `[lo, hi]`, with their step.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = widen(lo, hi);
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step).collect();
    (ticks, step)
}

/// Formats a tick value with as many decimals as its step needs.
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Candidate time-tick steps, in seconds.
const TIME_STEPS: [i64; 14] = [
    60, 300, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800, 345_600, 604_800,
    1_209_600,
];

/// UTC ticks at multiples of a round step, at most about `target` of them, inside `[t0, t1]`.
pub fn time_ticks(t0: Ts, t1: Ts, target: usize) -> (Vec<Ts>, i64) {
    let span = (t1 - t0).max(1);
    let target = target.max(1) as i64;
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| span / s <= target)
        .unwrap_or_else(|| (span / target).div_euclid(SECONDS_PER_DAY).max(1) * SECONDS_PER_DAY);
    let first = t0.div_euclid(step) * step + if t0.rem_euclid(step) == 0 { 0 } else { step };
    let ticks = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= t1)
        .collect();
    (ticks, step)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC date as `Jul 1`.
pub fn date_label(ts: Ts) -> String {
    let s = format_ts(ts);
    match (s.get(5..7), s.get(8..10)) {
        (Some(m), Some(d)) => {
            let month = m
                .parse::<usize>()
                .ok()
                .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
            match (month, d.parse::<u32>()) {
                (Some(name), Ok(day)) => format!("{name} {day}"),
                _ => s,
            }
        }
        _ => s,
    }
}

/// A UTC time of day as `06:00`.
pub fn clock_label(ts: Ts) -> String {
    let s = format_ts(ts);
    s.get(11..16).map(str::to_string).unwrap_or(s)
}

/// A tick label: the date at midnight or for day-sized steps, otherwise the time of day.
pub fn time_label(ts: Ts, step: i64) -> String {
    if step >= SECONDS_PER_DAY || second_of_day(ts) == 0 {
        date_label(ts)
    } else {
        clock_label(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_follow_one_two_five() {
        assert_eq!(nice_step(0.37), 0.5);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(6.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn ticks_are_round_and_inside() {
        let (ticks, step) = nice_ticks(0.0, 87.0, 5);
        assert_eq!(step, 20.0);
        assert_eq!(ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        let (ticks, _) = nice_ticks(0.13, 0.91, 4);
        assert_eq!(ticks.len(), 4);
        assert!((ticks[0] - 0.2).abs() < 1e-12);
        // Degenerate domains still give ticks.
        let (ticks, _) = nice_ticks(5.0, 5.0, 4);
        assert!(!ticks.is_empty());
        assert_eq!(nice_domain(3.0, 87.0, 5), (0.0, 100.0));
        assert_eq!(tick_label(0.30000000000000004, 0.1), "0.3");
        assert_eq!(tick_label(-0.0, 1.0), "0");
        assert_eq!(tick_label(40.0, 20.0), "40");
    }

    #[test]
    fn scale_maps_both_directions() {
        let s = Linear::new((0.0, 100.0), (200.0, 0.0));
        assert_eq!(s.map(0.0), 200.0);
        assert_eq!(s.map(25.0), 150.0);
        let flat = Linear::new((1.0, 1.0), (0.0, 10.0));
        assert_eq!(flat.map(1.0), 5.0);
    }

    #[test]
    fn time_ticks_align_to_utc() {
        // 2013-07-01T05:30Z .. three days later: 12 h ticks at 00:00 and 12:00 UTC.
        let t0 = 1_372_656_600;
        let (ticks, step) = time_ticks(t0, t0 + 3 * SECONDS_PER_DAY, 8);
        assert_eq!(step, 43_200);
        assert!(ticks.iter().all(|t| t % 43_200 == 0 && *t >= t0));
        assert_eq!(time_label(ticks[0], step), "12:00");
        assert_eq!(time_label(ticks[1], step), "Jul 2");
        assert_eq!(clock_label(t0), "05:30");
        assert_eq!(date_label(t0), "Jul 1");
        let (ticks, step) = time_ticks(0, 30 * SECONDS_PER_DAY, 6);
        assert!(step >= SECONDS_PER_DAY && ticks.len() <= 7);
    }
}
