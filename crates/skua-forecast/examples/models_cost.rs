//! One-off measurement of the issue-3 models on Bitbrains-500: CPU per fit on a 90-day hourly
//! history and backtest accuracy (MAE, 80 % coverage, tol2/areg2 with the lowest-mean 2 h
//! window, scored as in the fleet benchmark protocol). Run in release:
//!
//! ```text
//! cargo run --release -p skua-forecast --example models_cost [-- <model> ...]
//! ```
#![allow(clippy::print_stdout)]

#[allow(dead_code)]
#[path = "../tests/it/data.rs"]
mod data;

use std::time::Instant;

use skua_forecast::backtest::{BacktestConfig, backtest};
use skua_forecast::models::{all_models, by_name};

/// (tol, areg) of the lowest-mean window of `len` steps; `None` for flat or incomplete days.
fn decision(pred: &[f64], actual: &[f64], len: usize) -> Option<(f64, f64)> {
    let n = actual.len();
    let mean = actual.iter().sum::<f64>() / n as f64;
    let std = (actual.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    if std < 1e-9 || actual.iter().any(|a| a.is_nan()) {
        return None;
    }
    let win = |v: &[f64], s: usize| v[s..s + len].iter().sum::<f64>() / len as f64;
    let chosen =
        (0..=n - len).min_by(|&a, &b| win(pred, a).total_cmp(&win(pred, b)).then(a.cmp(&b)))?;
    let best = (0..=n - len)
        .map(|s| win(actual, s))
        .fold(f64::INFINITY, f64::min);
    let range = actual.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - actual.iter().copied().fold(f64::INFINITY, f64::min);
    let got = win(actual, chosen);
    Some((f64::from(got <= best + 0.1 * range), got - best))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let models = if args.is_empty() {
        all_models()
    } else {
        args.iter()
            .map(|a| by_name(a).expect("known model"))
            .collect()
    };
    let series: Vec<_> = data::bitbrains()
        .iter()
        .map(|vm| vm.interpolated())
        .collect();
    let cfg = BacktestConfig::default();
    println!(
        "{:<14} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7}",
        "model", "fit µs p50", "p95", "MAE", "cov80", "tol2", "areg2"
    );
    for model in &models {
        // Cost: fit + predict(24, 0.1/0.5/0.9) on the last 90 days of each VM.
        let mut costs: Vec<f64> = series
            .iter()
            .map(|s| {
                let h = s.slice(s.len().saturating_sub(90 * 24), s.len());
                let t = Instant::now();
                let f = model.fit_predict(&h, 24, &[0.1, 0.5, 0.9]);
                let us = t.elapsed().as_secs_f64() * 1e6;
                assert!(f.is_ok(), "{}: {:?}", model.name(), f.err());
                us
            })
            .collect();
        costs.sort_by(f64::total_cmp);
        let p = |q: f64| costs[((costs.len() - 1) as f64 * q).round() as usize];

        let (mut mae, mut cov, mut nw) = (0.0, 0.0, 0usize);
        let (mut tol, mut areg, mut nd) = (0.0, 0.0, 0usize);
        for s in &series {
            let bt = backtest(model.as_ref(), s, &cfg).expect("valid config");
            assert_eq!(bt.summary.failed, 0, "{}", model.name());
            for w in &bt.windows {
                mae += w.mae;
                cov += w.coverage_80;
                nw += 1;
                if let Some((t, a)) = decision(&w.forecast.point, &w.actuals, 2) {
                    tol += t;
                    areg += a;
                    nd += 1;
                }
            }
        }
        println!(
            "{:<14} {:>9.0} {:>9.0} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
            model.name(),
            p(0.5),
            p(0.95),
            mae / nw as f64,
            cov / nw as f64,
            tol / nd as f64,
            areg / nd as f64
        );
    }
}
