//! A tiny robust least-squares fitter for three-coefficient latency models.
//!
//! - **Relative weighting.** Latencies in one profile span 40 ms to 13 s; plain least squares
//!   would fit the slowest rows and leave 10–35 % median errors on short prompts (measured on
//!   Splitwise's file). Every row's residual is divided by its measured value, so the fit
//!   minimises relative error.
//! - **Non-negative coefficients.** Intercept, per-token and quadratic/per-sequence terms are
//!   physical costs; a negative one makes latency fall as work grows (or go negative when
//!   extrapolated). With three coefficients, exact non-negative least squares is cheap: solve
//!   every subset of free coefficients (the rest held at 0) and keep the best feasible solution
//!   — the constrained optimum is the unconstrained optimum on its own free set.
//! - **Robust refit.** A first fit minimises the sum of absolute relative residuals (iteratively
//!   reweighted least squares), rows whose relative residual exceeds 3 × a robust scale are
//!   dropped, and the rest are refitted by least squares. The scale is the larger of 1.4826 × MAD
//!   of the first fit's relative residuals and the pooled relative standard deviation of
//!   replicate measurements (rows of the same configuration), so real signal is never trimmed as
//!   "outlier" merely because the bulk of the rows fit unusually well.
//! - **Normal equations** on column-scaled features (the raw columns span 1 to 10⁹, whose Gram
//!   matrix would be numerically singular), solved by Gaussian elimination with partial pivoting.

/// One observation: features, measured value (> 0), and a replicate key (rows with the same key
/// are repeated measurements of one configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Obs {
    /// Features `[1, x1, x2]`.
    pub x: [f64; 3],
    /// Measured value, ms.
    pub y: f64,
    /// Configuration the row measures.
    pub key: (u32, u32, u32),
}

/// How well a fit matches its rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitQuality {
    /// Coefficient of determination on the rows kept by the robust trim (ms, unweighted).
    pub r_squared: f64,
    /// Coefficient of determination on every row offered to the fit, trimmed ones included.
    pub r_squared_all: f64,
    /// Median of |predicted − measured| / measured over every row offered to the fit.
    pub median_rel_error: f64,
    /// The same over the kept rows only.
    pub median_rel_error_kept: f64,
    /// Rows offered to the fit.
    pub rows: usize,
    /// Rows kept by the robust trim.
    pub kept: usize,
    /// Pooled relative standard deviation of replicate measurements (the noise floor).
    pub replicate_rel_sd: f64,
    /// Trim threshold actually used: 3 × max(1.4826·MAD, noise floor), relative.
    pub trim_threshold: f64,
}

/// Result of [`robust_fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RobustFit {
    /// Coefficients, all ≥ 0.
    pub coef: [f64; 3],
    /// Quality figures.
    pub quality: FitQuality,
}

/// Fits `y ≈ coef · x` with relative weights, non-negative coefficients and one robust trim.
pub(crate) fn robust_fit(obs: &[Obs]) -> Result<RobustFit, String> {
    if obs.len() < 4 {
        return Err(format!("{} usable rows; at least 4 are needed", obs.len()));
    }
    if let Some(bad) = obs.iter().find(|o| !(o.y.is_finite() && o.y > 0.0)) {
        return Err(format!("measured value {} is not a positive number", bad.y));
    }
    let base: Vec<f64> = obs.iter().map(|o| 1.0 / o.y).collect();

    // First fit: least absolute relative deviation by iteratively reweighted least squares.
    let mut coef = nnls(obs, &base).ok_or("singular system")?;
    for _ in 0..60 {
        let w: Vec<f64> = obs
            .iter()
            .zip(&base)
            .map(|(o, b)| b / rel_residual(o, &coef).abs().max(1e-4).sqrt())
            .collect();
        let next = nnls(obs, &w).ok_or("singular system")?;
        let change = next
            .iter()
            .zip(&coef)
            .map(|(n, c)| (n - c).abs() / c.abs().max(1e-12))
            .fold(0.0, f64::max);
        coef = next;
        if change < 1e-9 {
            break;
        }
    }

    let rel: Vec<f64> = obs.iter().map(|o| rel_residual(o, &coef)).collect();
    let med = median(&rel);
    let mad = 1.4826 * median(&rel.iter().map(|r| (r - med).abs()).collect::<Vec<_>>());
    let floor = replicate_rel_sd(obs);
    let threshold = 3.0 * mad.max(floor);
    let kept: Vec<Obs> = obs
        .iter()
        .zip(&rel)
        .filter(|(_, r)| threshold <= 0.0 || r.abs() <= threshold)
        .map(|(o, _)| *o)
        .collect();
    let kept = if kept.len() >= 4 { kept } else { obs.to_vec() };
    let kept_base: Vec<f64> = kept.iter().map(|o| 1.0 / o.y).collect();
    let coef = nnls(&kept, &kept_base).ok_or("singular system after trimming")?;

    let quality = FitQuality {
        r_squared: r_squared(&kept, &coef),
        r_squared_all: r_squared(obs, &coef),
        median_rel_error: median_abs_rel(obs, &coef),
        median_rel_error_kept: median_abs_rel(&kept, &coef),
        rows: obs.len(),
        kept: kept.len(),
        replicate_rel_sd: floor,
        trim_threshold: threshold,
    };
    Ok(RobustFit { coef, quality })
}

/// Median of |relative residual| of `coef` on `obs`.
pub(crate) fn median_abs_rel(obs: &[Obs], coef: &[f64; 3]) -> f64 {
    median(
        &obs.iter()
            .map(|o| rel_residual(o, coef).abs())
            .collect::<Vec<_>>(),
    )
}

fn predict(x: &[f64; 3], coef: &[f64; 3]) -> f64 {
    x[0] * coef[0] + x[1] * coef[1] + x[2] * coef[2]
}

fn rel_residual(o: &Obs, coef: &[f64; 3]) -> f64 {
    (o.y - predict(&o.x, coef)) / o.y
}

fn r_squared(obs: &[Obs], coef: &[f64; 3]) -> f64 {
    let n = obs.len() as f64;
    let mean = obs.iter().map(|o| o.y).sum::<f64>() / n;
    let ss_tot: f64 = obs.iter().map(|o| (o.y - mean).powi(2)).sum();
    let ss_res: f64 = obs
        .iter()
        .map(|o| (o.y - predict(&o.x, coef)).powi(2))
        .sum();
    if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        f64::NAN
    }
}

/// Median; NaN for an empty slice.
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        0.5 * (v[mid - 1] + v[mid])
    }
}

/// Pooled relative standard deviation of rows sharing a configuration key; 0 without replicates.
fn replicate_rel_sd(obs: &[Obs]) -> f64 {
    let mut groups: std::collections::BTreeMap<(u32, u32, u32), Vec<f64>> = Default::default();
    for o in obs {
        groups.entry(o.key).or_default().push(o.y);
    }
    let (mut ss, mut dof) = (0.0, 0usize);
    for ys in groups.values().filter(|ys| ys.len() >= 2) {
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        ss += ys.iter().map(|y| ((y - mean) / mean).powi(2)).sum::<f64>();
        dof += ys.len() - 1;
    }
    if dof == 0 {
        0.0
    } else {
        (ss / dof as f64).sqrt()
    }
}

/// Non-negative weighted least squares by active-set enumeration; `w` multiplies residuals.
fn nnls(obs: &[Obs], w: &[f64]) -> Option<[f64; 3]> {
    let mut best: Option<([f64; 3], f64)> = None;
    for mask in 1u8..8 {
        let free = [mask & 1 != 0, mask & 2 != 0, mask & 4 != 0];
        let Some(coef) = wls(obs, w, free) else {
            continue;
        };
        if coef.iter().any(|c| *c < 0.0 || !c.is_finite()) {
            continue;
        }
        let sse: f64 = obs
            .iter()
            .zip(w)
            .map(|(o, wi)| (wi * (o.y - predict(&o.x, &coef))).powi(2))
            .sum();
        if best.is_none_or(|(_, s)| sse < s) {
            best = Some((coef, sse));
        }
    }
    best.map(|(c, _)| c)
}

/// Weighted least squares over the `free` columns (others fixed at 0), via normal equations on
/// column-scaled features.
fn wls(obs: &[Obs], w: &[f64], free: [bool; 3]) -> Option<[f64; 3]> {
    let cols: Vec<usize> = (0..3).filter(|j| free[*j]).collect();
    let k = cols.len();
    let scale: Vec<f64> = cols
        .iter()
        .map(|&j| {
            let m = obs.iter().map(|o| o.x[j].abs()).fold(0.0, f64::max);
            if m > 0.0 { m } else { 1.0 }
        })
        .collect();
    let mut a = [[0.0f64; 4]; 3];
    for (o, wi) in obs.iter().zip(w) {
        let w2 = wi * wi;
        for r in 0..k {
            let xr = o.x[cols[r]] / scale[r];
            for c in 0..k {
                a[r][c] += w2 * xr * o.x[cols[c]] / scale[c];
            }
            a[r][3] += w2 * xr * o.y;
        }
    }
    let sol = gauss(&mut a, k)?;
    let mut coef = [0.0; 3];
    for (i, &j) in cols.iter().enumerate() {
        coef[j] = sol[i] / scale[i];
    }
    Some(coef)
}

/// Solves the `k`×`k` system in `a` (augmented, right-hand side in column 3).
fn gauss(a: &mut [[f64; 4]; 3], k: usize) -> Option<[f64; 3]> {
    let norm = (0..k)
        .flat_map(|r| (0..k).map(move |c| (r, c)))
        .map(|(r, c)| a[r][c].abs())
        .fold(0.0, f64::max);
    if !(norm.is_finite() && norm > 0.0) {
        return None;
    }
    for col in 0..k {
        let pivot = (col..k).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-13 * norm {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for row in a.iter_mut().take(k).skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
        }
    }
    let mut x = [0.0; 3];
    for row in (0..k).rev() {
        let s: f64 = (row + 1..k).map(|c| a[row][c] * x[c]).sum();
        x[row] = (a[row][3] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(x1: f64, x2: f64, y: f64) -> Obs {
        Obs {
            x: [1.0, x1, x2],
            y,
            key: (x1 as u32, x2 as u32, 0),
        }
    }

    #[test]
    fn recovers_exact_coefficients_across_wide_feature_scales() {
        // y = 20 + 0.1·T + 7e-6·T² over T = 128 … 32,768: features span 1 … 1.1e9.
        let rows: Vec<Obs> = (7..=15)
            .map(|p| {
                let t = f64::from(1u32 << p);
                obs(t, t * t, 20.0 + 0.1 * t + 7e-6 * t * t)
            })
            .collect();
        let fit = robust_fit(&rows).expect("well-posed");
        let [a, b, c] = fit.coef;
        assert!((a - 20.0).abs() < 1e-6 * 20.0, "a = {a}");
        assert!((b - 0.1).abs() < 1e-6 * 0.1, "b = {b}");
        assert!((c - 7e-6).abs() < 1e-6 * 7e-6, "c = {c}");
        assert!(fit.quality.r_squared > 0.999_999);
    }

    #[test]
    fn a_gross_outlier_is_trimmed_and_does_not_move_the_fit() {
        let mut rows: Vec<Obs> = (1..=20)
            .map(|i| {
                let x = f64::from(i) * 100.0;
                // ±1 % deterministic noise around y = 10 + 0.5·x.
                let noise = if i % 2 == 0 { 1.01 } else { 0.99 };
                obs(x, 0.0, (10.0 + 0.5 * x) * noise)
            })
            .collect();
        rows.push(obs(2000.0, 0.0, 80.0)); // a failed run: 8 % of the expected time
        let fit = robust_fit(&rows).expect("well-posed");
        assert_eq!(fit.quality.kept, 20, "only the outlier goes");
        assert!((fit.coef[1] - 0.5).abs() < 0.01, "slope {}", fit.coef[1]);
    }

    #[test]
    fn coefficients_are_never_negative() {
        // Data that an unconstrained fit explains with a negative quadratic term.
        let rows: Vec<Obs> = [100.0, 200.0, 400.0, 800.0, 1600.0]
            .iter()
            .map(|&t: &f64| obs(t, t * t, 5.0 + 0.2 * t - 2e-5 * t * t))
            .collect();
        let fit = robust_fit(&rows).expect("well-posed");
        assert!(fit.coef.iter().all(|c| *c >= 0.0), "{:?}", fit.coef);
        assert_eq!(fit.coef[2], 0.0, "the quadratic term is held at zero");
    }

    #[test]
    fn too_few_or_nonpositive_rows_are_errors() {
        assert!(robust_fit(&[obs(1.0, 1.0, 1.0)]).is_err());
        let rows: Vec<Obs> = (1..6).map(|i| obs(f64::from(i), 0.0, 0.0)).collect();
        assert!(robust_fit(&rows).is_err());
    }

    #[test]
    fn median_of_even_and_odd_lengths() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
