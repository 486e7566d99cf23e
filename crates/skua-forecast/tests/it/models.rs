//! Baseline models on hand-made series with known patterns.

use skua_core::metrics::coverage;
use skua_forecast::backtest::{BacktestConfig, backtest};
use skua_forecast::{Forecaster, MeanOfDays, Period, PreviousDay, PreviousWeek, SeasonalNaive};

use crate::data::{Lcg, daily_sine, hourly};

#[test]
fn previous_day_reproduces_yesterday_exactly() {
    let v = daily_sine(10, 40.0, 10.0, 3.0, 1);
    let f = PreviousDay
        .fit_predict(&hourly(v.clone()), 24, &[0.1, 0.5, 0.9])
        .unwrap();
    assert_eq!(f.point[..], v[v.len() - 24..]);
    assert_eq!(f.start, v.len() as i64 * 3600);
    assert_eq!(f.step, 3600);
    f.check().unwrap();
}

#[test]
fn mean_7d_averages_the_last_seven_days() {
    let v = daily_sine(20, 40.0, 10.0, 3.0, 2);
    let n = v.len();
    let f = MeanOfDays { k: 7 }
        .fit_predict(&hourly(v.clone()), 24, &[])
        .unwrap();
    for h in 0..24 {
        let expected: f64 = (1..=7).map(|d| v[n - 24 * d + h]).sum::<f64>() / 7.0;
        assert!((f.point[h] - expected).abs() < 1e-9, "hour {h}");
    }
}

#[test]
fn seasonal_naive_detects_day_on_a_sine_and_week_on_a_weekly_pattern() {
    let s = hourly(daily_sine(42, 40.0, 10.0, 2.0, 3));
    assert_eq!(SeasonalNaive::default().period_for(&s), 24);

    // Each hour of the week has its own random level: repeats weekly, not daily.
    let mut rng = Lcg::new(4);
    let week: Vec<f64> = (0..168).map(|_| 100.0 * rng.uniform()).collect();
    let v: Vec<f64> = (0..24 * 42).map(|t| week[t % 168] + rng.normal()).collect();
    let s = hourly(v.clone());
    assert_eq!(SeasonalNaive::default().period_for(&s), 168);
    let f = SeasonalNaive::default().fit_predict(&s, 24, &[]).unwrap();
    assert_eq!(f.point[..], v[v.len() - 168..v.len() - 144]);
    // A fixed period is used as given.
    let f = SeasonalNaive {
        period: Period::Steps(24),
    }
    .fit_predict(&s, 24, &[])
    .unwrap();
    assert_eq!(f.point[..], v[v.len() - 24..]);
}

#[test]
fn a_one_day_hole_falls_back_to_the_day_before() {
    let mut v = daily_sine(30, 40.0, 10.0, 1.0, 5);
    let n = v.len();
    for x in &mut v[n - 24..] {
        *x = f64::NAN;
    }
    let s = hourly(v.clone());
    let f = PreviousDay.fit_predict(&s, 24, &[0.1, 0.9]).unwrap();
    assert_eq!(f.point[..], v[n - 48..n - 24]);
    f.check().unwrap();
    let f = MeanOfDays { k: 7 }
        .fit_predict(&s, 24, &[0.1, 0.9])
        .unwrap();
    let expected: f64 = (2..=7).map(|d| v[n - 24 * d]).sum::<f64>() / 6.0;
    assert!((f.point[0] - expected).abs() < 1e-9);
    // A week back is missing too for previous_week → two weeks back.
    let f = PreviousWeek.fit_predict(&s, 24, &[]).unwrap();
    assert_eq!(f.point[..], v[n - 168..n - 144]);
    let mut w = v.clone();
    for x in &mut w[n - 168..n - 144] {
        *x = f64::NAN;
    }
    let f = PreviousWeek.fit_predict(&hourly(w), 24, &[]).unwrap();
    assert_eq!(f.point[..], v[n - 336..n - 312]);
}

#[test]
fn quantiles_cover_about_80_percent_of_iid_noise_around_a_daily_cycle() {
    let s = hourly(daily_sine(120, 50.0, 20.0, 4.0, 6));
    let config = BacktestConfig {
        windows: Some(60),
        ..BacktestConfig::default()
    };
    for model in skua_forecast::baselines() {
        let bt = backtest(model.as_ref(), &s, &config).unwrap();
        let c = bt.summary.coverage_80;
        assert!((0.72..=0.88).contains(&c), "{}: coverage {c}", model.name());
        for w in &bt.windows {
            let f = &w.forecast;
            f.check().unwrap();
            let (lo, hi) = (f.quantile(0.1).unwrap(), f.quantile(0.9).unwrap());
            assert!(
                lo.iter()
                    .zip(&f.point)
                    .zip(hi)
                    .all(|((l, p), u)| l <= p && p <= u)
            );
            assert!((coverage(&w.actuals, lo, hi) - w.coverage_80).abs() < 1e-12);
        }
    }
}

#[test]
fn mean_7d_is_more_accurate_than_previous_day_on_noisy_cycles() {
    let s = hourly(daily_sine(60, 50.0, 20.0, 4.0, 7));
    let cfg = BacktestConfig::default();
    let pd = backtest(&PreviousDay, &s, &cfg).unwrap().summary.mae;
    let m7 = backtest(&MeanOfDays { k: 7 }, &s, &cfg)
        .unwrap()
        .summary
        .mae;
    // previous_day's error is the difference of two noises (√2 σ), mean_7d's about √(8/7) σ.
    assert!(m7 < 0.85 * pd, "mean_7d {m7} vs previous_day {pd}");
}
