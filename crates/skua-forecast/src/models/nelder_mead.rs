//! A small Nelder–Mead simplex minimiser (Nelder & Mead 1965; the adaptive-free standard
//! coefficients 1, 2, ½, ½) for the few smoothing parameters of [`crate::models::ets`].
//! Deterministic, no allocation per iteration beyond the simplex itself.

/// Minimises `f` from `x0` with initial steps `step` (one per coordinate), for at most
/// `max_evals` evaluations or until the simplex's values span less than `ftol` (relative).
/// Returns the best point and its value.
pub fn minimize(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x0: &[f64],
    step: &[f64],
    max_evals: usize,
    ftol: f64,
) -> (Vec<f64>, f64) {
    let d = x0.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| {
        *evals += 1;
        let v = f(x);
        if v.is_nan() { f64::INFINITY } else { v }
    };
    let v0 = eval(x0, &mut evals);
    simplex.push((x0.to_vec(), v0));
    for i in 0..d {
        let mut x = x0.to_vec();
        x[i] += step[i];
        let v = eval(&x, &mut evals);
        simplex.push((x, v));
    }
    let along = |a: &[f64], b: &[f64], t: f64| -> Vec<f64> {
        a.iter().zip(b).map(|(a, b)| a + t * (b - a)).collect()
    };
    while evals < max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[d].1);
        if (worst - best).abs() <= ftol * (best.abs() + worst.abs()) + 1e-300 {
            break;
        }
        let mut centroid = vec![0.0; d];
        for (x, _) in &simplex[..d] {
            for (c, xi) in centroid.iter_mut().zip(x) {
                *c += xi / d as f64;
            }
        }
        let xw = simplex[d].0.clone();
        // Points on the line from the worst vertex through the centroid: t = 2 reflects,
        // 3 expands, 1.5 contracts outside, 0.5 inside.
        let xr = along(&xw, &centroid, 2.0);
        let fr = eval(&xr, &mut evals);
        if fr < simplex[0].1 {
            let xe = along(&xw, &centroid, 3.0);
            let fe = eval(&xe, &mut evals);
            simplex[d] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (xr, fr);
        } else {
            let (xc, fc) = if fr < worst {
                let xc = along(&xw, &centroid, 1.5);
                let fc = eval(&xc, &mut evals);
                (xc, fc)
            } else {
                let xc = along(&xw, &centroid, 0.5);
                let fc = eval(&xc, &mut evals);
                (xc, fc)
            };
            if fc < fr.min(worst) {
                simplex[d] = (xc, fc);
            } else {
                // Shrink towards the best vertex.
                let x0 = simplex[0].0.clone();
                for v in simplex.iter_mut().skip(1) {
                    v.0 = along(&x0, &v.0, 0.5);
                    v.1 = eval(&v.0, &mut evals);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, v) = simplex.swap_remove(0);
    (x, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_rosenbrock_valley() {
        let mut f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, v) = minimize(&mut f, &[-1.2, 1.0], &[0.5, 0.5], 2000, 1e-14);
        assert!(v < 1e-8, "{v}");
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3,
            "{x:?}"
        );
    }

    #[test]
    fn respects_the_evaluation_budget_and_nan() {
        let mut count = 0;
        let mut f = |x: &[f64]| {
            count += 1;
            if x[0] < 0.0 {
                f64::NAN
            } else {
                (x[0] - 2.0).powi(2)
            }
        };
        let (x, _) = minimize(&mut f, &[1.0], &[0.5], 30, 0.0);
        assert!(count <= 32, "{count}");
        assert!((x[0] - 2.0).abs() < 0.1, "{x:?}");
    }
}
