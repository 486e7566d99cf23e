//! Property tests: every baseline forecast is well-formed on random series with gaps.

use proptest::prelude::*;
use skua_core::RegularSeries;

/// A random hourly series: a daily cycle, noise, an offset that may be negative, and
/// random NaN runs (including possibly a whole-day hole).
fn series_with_gaps() -> impl Strategy<Value = RegularSeries> {
    (
        7usize..40,
        -50.0f64..50.0,
        0.0f64..30.0,
        prop::collection::vec(0.0f64..1.0, 24 * 40),
        prop::collection::vec((0usize..24 * 40, 1usize..30), 0..8),
    )
        .prop_map(|(days, offset, amp, noise, gaps)| {
            let n = days * 24;
            let mut v: Vec<f64> = (0..n)
                .map(|t| {
                    offset
                        + amp * ((t % 24) as f64 / 24.0 * std::f64::consts::TAU).sin()
                        + 10.0 * noise[t]
                })
                .collect();
            for (at, len) in gaps {
                for x in v.iter_mut().skip(at).take(len) {
                    *x = f64::NAN;
                }
            }
            RegularSeries::new(0, 3600, v).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn forecasts_are_finite_sorted_and_contain_the_point(
        s in series_with_gaps(),
        horizon in 1usize..72,
    ) {
        prop_assume!(s.present() > 0);
        for model in skua_forecast::baselines() {
            let fitted = match model.fit(&s) {
                Ok(f) => f,
                // previous_week legitimately needs a week; nothing else may fail.
                Err(skua_forecast::FitError::TooShort { .. }) => continue,
                Err(e) => return Err(TestCaseError::fail(format!("{}: {e}", model.name()))),
            };
            let f = fitted.predict(horizon, &[0.9, 0.1, 0.5, 0.25, 0.75]).unwrap();
            prop_assert!(f.check().is_ok(), "{}: {:?}", model.name(), f.check());
            prop_assert_eq!(f.point.len(), horizon);
            prop_assert_eq!(f.quantiles.len(), 5);
            let lo = f.quantile(0.1).unwrap();
            let hi = f.quantile(0.9).unwrap();
            for h in 0..horizon {
                prop_assert!(lo[h] <= f.point[h] && f.point[h] <= hi[h],
                    "{} step {h}: {} {} {}", model.name(), lo[h], f.point[h], hi[h]);
            }
            if s.values().iter().all(|v| v.is_nan() || *v >= 0.0) {
                prop_assert!(lo.iter().all(|v| *v >= 0.0));
            }
        }
    }
}
