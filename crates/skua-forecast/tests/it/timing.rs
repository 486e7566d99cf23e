//! Fit + predict cost per series. Meaningful in release mode:
//! `cargo test -p skua-forecast --release --test it -- --ignored fit_predict_cost --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use crate::data::{daily_sine, hourly};

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn fit_predict_cost() {
    // 50 different 90-day hourly series so that caches do not flatter the numbers. The
    // machine is shared, so report the best and the median of 25 rounds.
    let series: Vec<_> = (0..50)
        .map(|i| hourly(daily_sine(90, 50.0, 20.0, 5.0, i)))
        .collect();
    for model in skua_forecast::baselines() {
        let mut rounds: Vec<f64> = (0..25)
            .map(|_| {
                let start = Instant::now();
                for s in &series {
                    let f = model
                        .fit_predict(black_box(s), 24, &[0.1, 0.5, 0.9])
                        .unwrap();
                    black_box(f);
                }
                start.elapsed().as_secs_f64() * 1e6 / series.len() as f64
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "TIMING {:<15} best {:7.2} µs, median {:7.2} µs per fit+predict (90 days hourly, h=24, 3 quantiles)",
            model.name(),
            rounds[0],
            rounds[rounds.len() / 2]
        );
    }
}
