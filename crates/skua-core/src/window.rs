//! Time windows on a regular grid and rolling means over them.

use serde::{Deserialize, Serialize};

use crate::time::Ts;

/// A half-open time interval `[start, end)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First second inside the window.
    pub start: Ts,
    /// First second after the window.
    pub end: Ts,
}

impl TimeWindow {
    /// Length in seconds.
    pub fn len_secs(&self) -> i64 {
        self.end - self.start
    }
    /// True if the two windows share at least one second.
    pub fn overlaps(&self, other: &TimeWindow) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Means of every contiguous run of `len` values: element `i` is the mean of
/// `values[i..i + len]`, ignoring NaNs; `NaN` if the run has no value at all.
/// Returns `values.len() + 1 - len` means (none if `len` is 0 or too long).
pub fn rolling_means(values: &[f64], len: usize) -> Vec<f64> {
    if len == 0 || len > values.len() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(values.len() + 1 - len);
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (i, &v) in values.iter().enumerate() {
        if !v.is_nan() {
            sum += v;
            n += 1;
        }
        if i >= len {
            let old = values[i - len];
            if !old.is_nan() {
                sum -= old;
                n -= 1;
            }
        }
        if i + 1 >= len {
            out.push(if n == 0 { f64::NAN } else { sum / n as f64 });
        }
    }
    out
}

/// Index of the smallest non-NaN value (ties → the earliest), if any.
pub fn argmin(values: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        match best {
            Some((_, b)) if v >= b => {}
            _ => best = Some((i, v)),
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_means_skip_nan() {
        let m = rolling_means(&[1.0, 3.0, f64::NAN, 5.0], 2);
        assert_eq!(m.len(), 3);
        assert!((m[0] - 2.0).abs() < 1e-12);
        assert!((m[1] - 3.0).abs() < 1e-12);
        assert!((m[2] - 5.0).abs() < 1e-12);
        assert!(rolling_means(&[f64::NAN, f64::NAN], 2)[0].is_nan());
        assert!(rolling_means(&[1.0], 2).is_empty());
    }

    #[test]
    fn argmin_prefers_earliest() {
        assert_eq!(argmin(&[3.0, 1.0, f64::NAN, 1.0]), Some(1));
        assert_eq!(argmin(&[f64::NAN]), None);
        let a = TimeWindow { start: 0, end: 10 };
        assert!(a.overlaps(&TimeWindow { start: 9, end: 20 }));
        assert!(!a.overlaps(&TimeWindow { start: 10, end: 20 }));
    }
}
