//! Rolling-origin backtests: statsforecast's cutoff convention, no look-ahead, metrics.

use skua_core::RegularSeries;
use skua_forecast::backtest::{BacktestConfig, backtest};
use skua_forecast::{MeanOfDays, PreviousDay, SeasonalNaive};

use crate::data::daily_sine;

const T0: i64 = 1_372_636_800;

fn series(values: Vec<f64>) -> RegularSeries {
    RegularSeries::new(T0, 3600, values).unwrap()
}

#[test]
fn cutoffs_follow_statsforecast_cross_validation() {
    // cross_validation(h=24, step_size=12, n_windows=3) on 200 hourly points: the last
    // window's actuals are the last 24 points; cutoffs are the last training timestamps
    // at indices 175, 163, 151.
    let v: Vec<f64> = (0..200).map(|t| t as f64).collect();
    let cfg = BacktestConfig {
        horizon_steps: 24,
        stride_steps: 12,
        windows: Some(3),
        min_train_steps: 24,
        quantiles: vec![0.5],
    };
    let bt = backtest(&PreviousDay, &series(v.clone()), &cfg).unwrap();
    let cutoffs: Vec<i64> = bt.windows.iter().map(|w| w.cutoff).collect();
    assert_eq!(cutoffs, [151, 163, 175].map(|i| T0 + i * 3600));
    for w in &bt.windows {
        let last_train = ((w.cutoff - T0) / 3600) as usize;
        assert_eq!(w.train_len, last_train + 1);
        assert_eq!(w.forecast.start, w.cutoff + 3600);
        assert_eq!(w.actuals[..], v[last_train + 1..last_train + 25]);
    }
    assert_eq!(*bt.windows[2].actuals.last().unwrap(), 199.0);

    // windows: None → every window with enough training data, oldest first.
    let all = BacktestConfig {
        windows: None,
        min_train_steps: 100,
        ..cfg
    };
    let bt = backtest(&PreviousDay, &series(v), &all).unwrap();
    let lens: Vec<usize> = bt.windows.iter().map(|w| w.train_len).collect();
    assert_eq!(lens, [104, 116, 128, 140, 152, 164, 176]);
}

#[test]
fn a_spike_after_the_cutoff_never_leaks_into_the_forecast() {
    let base = daily_sine(30, 50.0, 10.0, 2.0, 11);
    let cfg = BacktestConfig::default();
    let models: Vec<Box<dyn skua_forecast::Forecaster>> = vec![
        Box::new(PreviousDay),
        Box::new(MeanOfDays { k: 7 }),
        Box::new(SeasonalNaive::default()),
    ];
    for model in models {
        let clean = backtest(model.as_ref(), &series(base.clone()), &cfg).unwrap();
        for (k, w) in clean.windows.iter().enumerate() {
            // Replace everything after this cutoff with a huge spike: this window's
            // forecast must not change; its actuals must.
            let mut spiked = base.clone();
            for x in &mut spiked[w.train_len..] {
                *x = 1e6;
            }
            let bt = backtest(model.as_ref(), &series(spiked), &cfg).unwrap();
            assert_eq!(bt.windows[k].cutoff, w.cutoff);
            assert_eq!(
                bt.windows[k].forecast,
                w.forecast,
                "{} window {k}",
                model.name()
            );
            assert!(bt.windows[k].actuals.iter().all(|a| *a == 1e6));
            assert!(bt.windows[k].forecast.point.iter().all(|p| *p < 1e3));
        }
    }
}

#[test]
fn metrics_match_their_definitions() {
    let v = daily_sine(21, 50.0, 10.0, 2.0, 12);
    let bt = backtest(&PreviousDay, &series(v.clone()), &BacktestConfig::default()).unwrap();
    assert_eq!(bt.summary.windows, 14);
    for w in &bt.windows {
        let train = &v[..w.train_len];
        let scale: f64 = (24..train.len())
            .map(|t| (train[t] - train[t - 24]).abs())
            .sum::<f64>()
            / (train.len() - 24) as f64;
        let abs: Vec<f64> = w
            .actuals
            .iter()
            .zip(&w.forecast.point)
            .map(|(a, p)| (a - p).abs())
            .collect();
        let mae = abs.iter().sum::<f64>() / 24.0;
        let smape = w
            .actuals
            .iter()
            .zip(&w.forecast.point)
            .map(|(a, p)| 200.0 * (a - p).abs() / (a.abs() + p.abs()))
            .sum::<f64>()
            / 24.0;
        assert!((w.mae - mae).abs() < 1e-9);
        assert!((w.mase - mae / scale).abs() < 1e-9);
        assert!((w.smape - smape).abs() < 1e-9);
        assert!(w.rmse >= w.mae);
    }
    let mean_mae = bt.windows.iter().map(|w| w.mae).sum::<f64>() / 14.0;
    assert!((bt.summary.mae - mean_mae).abs() < 1e-9);
    // Seasonal naive on a daily series scores MASE near 1 by construction.
    assert!(
        (0.7..1.3).contains(&bt.summary.mase),
        "mase {}",
        bt.summary.mase
    );
}

#[test]
fn short_series_reports_skipped_windows() {
    let v = daily_sine(10, 50.0, 10.0, 2.0, 13);
    let bt = backtest(&PreviousDay, &series(v), &BacktestConfig::default()).unwrap();
    // 10 days, 7 days minimum training, 1-day windows: cutoffs after days 7, 8, 9.
    assert_eq!(bt.summary.windows, 3);
    assert_eq!(bt.summary.skipped_short_train, 11);
}
