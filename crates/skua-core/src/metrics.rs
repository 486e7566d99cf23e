//! Point and probabilistic error metrics. Pairs where the actual or the forecast is NaN
//! are skipped; a metric over no valid pair is `NaN`.

fn pairs<'a>(actual: &'a [f64], pred: &'a [f64]) -> impl Iterator<Item = (f64, f64)> + 'a {
    actual
        .iter()
        .zip(pred)
        .filter(|(a, p)| a.is_finite() && p.is_finite())
        .map(|(a, p)| (*a, *p))
}

fn mean_of(it: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in it {
        sum += v;
        n += 1;
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Mean absolute error.
pub fn mae(actual: &[f64], pred: &[f64]) -> f64 {
    mean_of(pairs(actual, pred).map(|(a, p)| (a - p).abs()))
}

/// Root mean squared error.
pub fn rmse(actual: &[f64], pred: &[f64]) -> f64 {
    mean_of(pairs(actual, pred).map(|(a, p)| (a - p) * (a - p))).sqrt()
}

/// Symmetric MAPE in percent (0..=200); pairs where both are zero count as zero error.
pub fn smape(actual: &[f64], pred: &[f64]) -> f64 {
    mean_of(pairs(actual, pred).map(|(a, p)| {
        let d = a.abs() + p.abs();
        if d == 0.0 {
            0.0
        } else {
            200.0 * (a - p).abs() / d
        }
    }))
}

/// The MASE scale: in-sample MAE of the seasonal naive forecast with period `season`
/// (NaN-aware). Returns `NaN` if the history is too short or the scale is zero.
pub fn seasonal_scale(history: &[f64], season: usize) -> f64 {
    if season == 0 || history.len() <= season {
        return f64::NAN;
    }
    let s = mean_of(
        history[season..]
            .iter()
            .zip(history)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (a - b).abs()),
    );
    if s > 0.0 { s } else { f64::NAN }
}

/// Mean absolute scaled error with the given seasonal scale (see [`seasonal_scale`]).
pub fn mase(actual: &[f64], pred: &[f64], scale: f64) -> f64 {
    mae(actual, pred) / scale
}

/// Pinball (quantile) loss at level `q`.
pub fn pinball(actual: &[f64], pred_q: &[f64], q: f64) -> f64 {
    mean_of(pairs(actual, pred_q).map(|(a, p)| {
        let d = a - p;
        if d >= 0.0 { q * d } else { (q - 1.0) * d }
    }))
}

/// Share of actuals inside `[lower, upper]` (interval coverage).
pub fn coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> f64 {
    mean_of(
        actual
            .iter()
            .zip(lower.iter().zip(upper))
            .filter(|(a, (l, u))| a.is_finite() && l.is_finite() && u.is_finite())
            .map(|(a, (l, u))| if *a >= *l && *a <= *u { 1.0 } else { 0.0 }),
    )
}

/// Quantile of a sample by linear interpolation (NumPy's default); NaNs are ignored.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

/// Quantile of an already sorted, NaN-free sample by linear interpolation.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Mean of the non-NaN values (`NaN` if none).
pub fn nanmean(values: &[f64]) -> f64 {
    mean_of(values.iter().copied().filter(|v| !v.is_nan()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_metrics() {
        let a = [1.0, 2.0, 3.0, f64::NAN];
        let p = [2.0, 2.0, 5.0, 1.0];
        assert!((mae(&a, &p) - 1.0).abs() < 1e-12);
        assert!((rmse(&a, &p) - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((smape(&[0.0], &[0.0])).abs() < 1e-12);
        assert!((smape(&[1.0], &[3.0]) - 100.0).abs() < 1e-12);
        assert!(mae(&[f64::NAN], &[1.0]).is_nan());
    }

    #[test]
    fn mase_and_pinball() {
        let hist = [1.0, 2.0, 1.0, 2.0, 1.0, 3.0];
        // season 2: |1-1|,|2-2|,|1-1|,|3-2| -> 0.25
        assert!((seasonal_scale(&hist, 2) - 0.25).abs() < 1e-12);
        assert!((mase(&[1.0], &[1.5], 0.25) - 2.0).abs() < 1e-12);
        assert!(seasonal_scale(&[1.0, 1.0, 1.0], 1).is_nan());
        assert!((pinball(&[10.0], &[8.0], 0.9) - 1.8).abs() < 1e-12);
        assert!((pinball(&[8.0], &[10.0], 0.9) - 0.2).abs() < 1e-12);
        assert!((coverage(&[1.0, 5.0], &[0.0, 0.0], &[2.0, 2.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let v = [4.0, 1.0, 3.0, 2.0, f64::NAN];
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile(&v, 0.75) - 3.25).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
