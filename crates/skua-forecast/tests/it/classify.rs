//! Classification on synthetic series with a known class.

use skua_forecast::classify::{SeriesClass, classify};

use crate::data::{Lcg, daily_sine, hourly};

#[test]
fn synthetic_series_get_their_class() {
    // Flat with tiny noise.
    assert_eq!(
        classify(&hourly(daily_sine(28, 50.0, 0.0, 0.1, 1))).class,
        SeriesClass::Stable
    );
    // A clear daily cycle.
    assert_eq!(
        classify(&hourly(daily_sine(28, 50.0, 20.0, 3.0, 2))).class,
        SeriesClass::Daily
    );
    // Each hour of the week has its own level.
    let mut rng = Lcg::new(3);
    let week: Vec<f64> = (0..168).map(|_| 100.0 * rng.uniform()).collect();
    let v: Vec<f64> = (0..24 * 28).map(|t| week[t % 168] + rng.normal()).collect();
    let c = classify(&hourly(v.clone()));
    assert_eq!(c.class, SeriesClass::Weekly, "{:?}", c.stats);
    // The same pattern with less than two weeks of history cannot be weekly.
    assert_ne!(
        classify(&hourly(v[..24 * 10].to_vec())).class,
        SeriesClass::Weekly
    );
    // White noise well above the noise floor.
    let noise: Vec<f64> = (0..24 * 28).map(|_| 50.0 + 10.0 * rng.normal()).collect();
    assert_eq!(classify(&hourly(noise)).class, SeriesClass::Unpredictable);
}
