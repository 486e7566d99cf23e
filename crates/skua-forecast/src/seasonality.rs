//! Seasonality: a NaN-aware autocorrelation function, hourly aggregation, and detection of
//! the dominant seasonal period.
//!
//! Detection compares the autocorrelation (ACF) at candidate lags: one day, one week, and
//! every local ACF peak between [`MIN_PERIOD_SECS`] (2 h) and [`MAX_PERIOD_SECS`] (8 days).
//! The candidate with the highest ACF wins, except that the shortest candidate whose ACF is
//! within [`HARMONIC_TOLERANCE`] of the winner and whose lag divides the winner's lag is
//! preferred (a daily cycle also repeats every two days and every week; the shorter period
//! uses fresher data).
//! If even the winner's ACF is below [`MIN_PERIOD_ACF`], no period is reported. Series with a
//! step finer than an hour are averaged to hourly values first, which keeps detection cheap
//! and ignores sub-hour wiggles that do not matter for a 24 h horizon.

use std::borrow::Cow;

use skua_core::{RegularSeries, SECONDS_PER_DAY, SECONDS_PER_HOUR};

/// Shortest period considered by [`detect_period`], in seconds (2 h).
pub const MIN_PERIOD_SECS: i64 = 2 * SECONDS_PER_HOUR;
/// Longest period considered by [`detect_period`], in seconds (8 days).
pub const MAX_PERIOD_SECS: i64 = 8 * SECONDS_PER_DAY;
/// Detection looks only at the most recent six weeks: enough for several weekly cycles,
/// and it bounds the cost on long histories.
pub const DETECTION_WINDOW_SECS: i64 = 42 * SECONDS_PER_DAY;
/// Minimum ACF at the chosen lag for a period to be reported at all.
pub const MIN_PERIOD_ACF: f64 = 0.3;
/// A shorter candidate whose lag divides the best lag wins if its ACF is at most this much lower.
pub const HARMONIC_TOLERANCE: f64 = 0.05;
/// Pairs of present values needed for an ACF value to be defined.
pub const MIN_ACF_PAIRS: usize = 8;

/// A series prepared for many ACF evaluations: centred values with missing ones set to 0
/// (so they drop out of every product), and a 0/1 presence mask if anything is missing.
struct Centered {
    z: Vec<f64>,
    mask: Option<Vec<f64>>,
    var: f64,
}

impl Centered {
    fn new(values: &[f64]) -> Option<Self> {
        let (mut sum, mut n) = (0.0, 0usize);
        for &v in values.iter().filter(|v| !v.is_nan()) {
            sum += v;
            n += 1;
        }
        if n == 0 {
            return None;
        }
        let mean = sum / n as f64;
        let z: Vec<f64> = values
            .iter()
            .map(|v| if v.is_nan() { 0.0 } else { v - mean })
            .collect();
        let var = dot(&z, &z) / n as f64;
        let mask = (n < values.len()).then(|| {
            values
                .iter()
                .map(|v| if v.is_nan() { 0.0 } else { 1.0 })
                .collect()
        });
        Some(Centered { z, mask, var })
    }

    /// ACF at `lag`: the mean over pairs where both values are present of the centred
    /// product, divided by the variance, clamped to [-1, 1].
    fn acf(&self, lag: usize) -> f64 {
        let len = self.z.len();
        if lag >= len || self.var <= 0.0 {
            return f64::NAN;
        }
        let pairs = match &self.mask {
            None => (len - lag) as f64,
            Some(m) => dot(&m[..len - lag], &m[lag..]),
        };
        if pairs < MIN_ACF_PAIRS as f64 {
            return f64::NAN;
        }
        let cov = dot(&self.z[..len - lag], &self.z[lag..]) / pairs;
        (cov / self.var).clamp(-1.0, 1.0)
    }
}

/// Dot product with four independent accumulators, so that the compiler can vectorise it.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Autocorrelation of `values` at `lag` steps, skipping pairs with a missing value.
/// `NaN` if the series is constant or fewer than [`MIN_ACF_PAIRS`] pairs are present.
pub fn acf(values: &[f64], lag: usize) -> f64 {
    acf_many(values, [lag])[0]
}

/// Autocorrelations at several lags, sharing one centring pass.
pub fn acf_many(values: &[f64], lags: impl IntoIterator<Item = usize>) -> Vec<f64> {
    let centered = Centered::new(values);
    lags.into_iter()
        .map(|lag| centered.as_ref().map_or(f64::NAN, |c| c.acf(lag)))
        .collect()
}

/// The series averaged to hourly buckets (aligned to whole UTC hours, NaN-aware: a bucket
/// with no present value is NaN) when its step is finer than an hour and divides it;
/// otherwise the series itself.
pub fn to_hourly(series: &RegularSeries) -> Cow<'_, RegularSeries> {
    let step = series.step();
    if step >= SECONDS_PER_HOUR || SECONDS_PER_HOUR % step != 0 || series.is_empty() {
        return Cow::Borrowed(series);
    }
    let first_hour = series.start().div_euclid(SECONDS_PER_HOUR) * SECONDS_PER_HOUR;
    let mut sums: Vec<(f64, usize)> = Vec::new();
    for (i, &v) in series.values().iter().enumerate() {
        let bucket = ((series.ts_at(i) - first_hour) / SECONDS_PER_HOUR) as usize;
        if bucket >= sums.len() {
            sums.resize(bucket + 1, (0.0, 0));
        }
        if !v.is_nan() {
            sums[bucket].0 += v;
            sums[bucket].1 += 1;
        }
    }
    let values = sums
        .into_iter()
        .map(|(s, n)| if n == 0 { f64::NAN } else { s / n as f64 })
        .collect();
    // Means of finite values are finite and the step is positive, so this cannot fail.
    Cow::Owned(
        RegularSeries::new(first_hour, SECONDS_PER_HOUR, values).unwrap_or_else(|_| series.clone()),
    )
}

/// A detected seasonal period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodEstimate {
    /// The period in steps of the input series.
    pub steps: usize,
    /// The ACF at that period (computed on hourly values for sub-hourly series).
    pub acf: f64,
}

/// Detects the dominant seasonal period of `series` (see the module documentation for the
/// rule). Returns `None` if no candidate lag has an ACF of at least [`MIN_PERIOD_ACF`] or the
/// history is too short (a lag is only considered if the history holds two full cycles).
pub fn detect_period(series: &RegularSeries) -> Option<PeriodEstimate> {
    let work = to_hourly(series);
    let wstep = work.step();
    // How many input steps one working step spans (1 unless aggregated to hours).
    let factor = (wstep / series.step()).max(1) as usize;
    let window = (DETECTION_WINDOW_SECS / wstep).max(1) as usize;
    let values = &work.values()[work.len().saturating_sub(window)..];

    let lo = ((MIN_PERIOD_SECS + wstep - 1) / wstep).max(1) as usize;
    let hi = ((MAX_PERIOD_SECS / wstep) as usize).min(values.len() / 2);
    if lo > hi {
        return None;
    }
    // ACF over lo-1..=hi+1 so that local peaks can be recognised at the range's ends.
    let first = lo - 1;
    let acfs = acf_many(values, first..=hi + 1);
    let at = |lag: usize| acfs[lag - first];

    let mut candidates: Vec<(usize, f64)> = Vec::new();
    for secs in [SECONDS_PER_DAY, 7 * SECONDS_PER_DAY] {
        if secs % wstep == 0 {
            let lag = (secs / wstep) as usize;
            if (lo..=hi).contains(&lag) && at(lag).is_finite() {
                candidates.push((lag, at(lag)));
            }
        }
    }
    candidates.extend((lo..=hi).filter_map(|l| {
        let (a, p, n) = (at(l), at(l - 1), at(l + 1));
        (a.is_finite() && (p.is_nan() || a > p) && (n.is_nan() || a >= n)).then_some((l, a))
    }));

    let &(best_lag, best_acf) = candidates
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
    if best_acf < MIN_PERIOD_ACF {
        return None;
    }
    candidates.sort_by_key(|c| c.0);
    let (lag, acf) = candidates
        .into_iter()
        .find(|&(lag, acf)| {
            let multiple = (best_lag as f64 / lag as f64).round() as usize * lag;
            acf >= best_acf - HARMONIC_TOLERANCE && multiple.abs_diff(best_lag) <= 1
        })
        .unwrap_or((best_lag, best_acf));
    Some(PeriodEstimate {
        steps: lag * factor,
        acf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn series(step: i64, values: Vec<f64>) -> RegularSeries {
        RegularSeries::new(0, step, values).unwrap()
    }

    #[test]
    fn acf_of_a_sine_follows_the_cosine() {
        let v: Vec<f64> = (0..480).map(|t| (TAU * t as f64 / 24.0).sin()).collect();
        assert!((acf(&v, 24) - 1.0).abs() < 0.02);
        assert!((acf(&v, 12) + 1.0).abs() < 0.02);
        assert!(acf(&v, 6).abs() < 0.05);
        assert!(acf(&[1.0; 50], 3).is_nan(), "constant series has no ACF");
    }

    #[test]
    fn acf_skips_missing_pairs() {
        let mut v: Vec<f64> = (0..480).map(|t| (TAU * t as f64 / 24.0).sin()).collect();
        for x in v.iter_mut().skip(100).take(30) {
            *x = f64::NAN;
        }
        assert!((acf(&v, 24) - 1.0).abs() < 0.03);
        assert!(acf(&[1.0, f64::NAN, 2.0], 1).is_nan());
    }

    #[test]
    fn hourly_aggregation_averages_buckets() {
        // 30-minute steps starting half-way through an hour.
        let s = RegularSeries::new(1800, 1800, vec![1.0, 2.0, 4.0, f64::NAN, f64::NAN]).unwrap();
        let h = to_hourly(&s);
        assert_eq!(h.start(), 0);
        assert_eq!(h.step(), 3600);
        assert_eq!(h.len(), 3);
        assert_eq!(h.values()[0], 1.0);
        assert_eq!(h.values()[1], 3.0);
        assert!(h.values()[2].is_nan());
        let hourly = series(3600, vec![1.0, 2.0]);
        assert!(matches!(to_hourly(&hourly), Cow::Borrowed(_)));
    }

    #[test]
    fn detects_a_twelve_hour_cycle() {
        let v: Vec<f64> = (0..24 * 30)
            .map(|t| (TAU * t as f64 / 12.0).sin() + 0.1 * ((t * 7919) % 13) as f64 / 13.0)
            .collect();
        let p = detect_period(&series(3600, v)).unwrap();
        assert_eq!(p.steps, 12);
    }

    #[test]
    fn detects_daily_period_on_five_minute_data_in_native_steps() {
        let v: Vec<f64> = (0..288 * 21)
            .map(|t| (TAU * t as f64 / 288.0).sin())
            .collect();
        let p = detect_period(&series(300, v)).unwrap();
        assert_eq!(p.steps, 288);
    }

    #[test]
    fn no_period_in_white_noise_or_short_series() {
        // A deterministic pseudo-random sequence (LCG) without any cycle.
        let mut x: u64 = 42;
        let v: Vec<f64> = (0..24 * 30)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) as f64 / (1u64 << 31) as f64
            })
            .collect();
        assert_eq!(detect_period(&series(3600, v)), None);
        assert_eq!(detect_period(&series(3600, vec![1.0, 2.0, 3.0])), None);
    }
}
