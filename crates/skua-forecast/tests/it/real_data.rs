//! Real data: Bitbrains Rnd, hourly CPU % of 500 VMs (see the fleet benchmark protocol).

use std::collections::BTreeMap;

use skua_forecast::backtest::{BacktestConfig, backtest};
use skua_forecast::classify::{SeriesClass, classify};
use skua_forecast::{Forecaster, MeanOfDays, PreviousDay, PreviousWeek};

use crate::data::bitbrains;

#[test]
fn bitbrains_loads_500_vms_on_an_hourly_grid() {
    let vms = bitbrains();
    assert_eq!(vms.len(), 500);
    for vm in vms {
        assert!(
            vm.series.start() >= crate::data::BITBRAINS_START,
            "{}",
            vm.id
        );
        assert!(vm.series.present() > 24 * 30, "{} is too short", vm.id);
    }
}

/// Mean MAE, tol2 and areg2 of `model` over the protocol's last 14 daily windows of `vms`.
fn protocol_scores(model: &dyn Forecaster, vms: &[crate::data::Vm]) -> (f64, f64, f64) {
    let cfg = BacktestConfig::default();
    let (mut mae, mut n_mae, mut tol, mut areg, mut n_dec) = (0.0, 0usize, 0.0, 0.0, 0usize);
    for vm in vms {
        let bt = backtest(model, &vm.interpolated(), &cfg).unwrap();
        assert_eq!(bt.summary.windows, 14, "{} with {}", vm.id, model.name());
        for w in &bt.windows {
            w.forecast.check().unwrap();
            mae += w.mae;
            n_mae += 1;
            if let Some((t, a)) = window_decision(&w.forecast.point, &w.actuals, 2) {
                tol += t;
                areg += a;
                n_dec += 1;
            }
        }
    }
    (mae / n_mae as f64, tol / n_dec as f64, areg / n_dec as f64)
}

/// Reference test: the baselines reproduce the protocol's statsforecast 2.1.1 figures on
/// all 500 VMs (tol2 and areg2 of previous day, previous week and the 7-day mean), and the
/// 7-day same-hour mean picks better 2-hour windows than the persistent forecast (higher
/// tol2, lower areg2). Its MAE is *not* lower on this data (a 7-day mean lags level
/// shifts; 3.44 vs 3.18), so MAE is printed, not asserted.
#[test]
fn baselines_match_the_statsforecast_reference_on_bitbrains_500() {
    let vms = bitbrains();
    let reference: [(&dyn Forecaster, f64, f64); 3] = [
        (&PreviousDay, 0.590, 2.04),
        (&PreviousWeek, 0.582, 2.61),
        (&MeanOfDays { k: 7 }, 0.624, 1.32),
    ];
    let mut scores = Vec::new();
    for (model, tol_ref, areg_ref) in reference {
        let (mae, tol, areg) = protocol_scores(model, vms);
        println!(
            "{}: MAE {mae:.3}, tol2 {tol:.4} (ref {tol_ref}), areg2 {areg:.4} (ref {areg_ref})",
            model.name()
        );
        assert!(
            (tol - tol_ref).abs() < 0.002,
            "{} tol2 {tol} vs {tol_ref}",
            model.name()
        );
        assert!(
            (areg - areg_ref).abs() < 0.01,
            "{} areg2 {areg} vs {areg_ref}",
            model.name()
        );
        scores.push((tol, areg));
    }
    let (pd, m7) = (scores[0], scores[2]);
    assert!(
        m7.0 > pd.0 && m7.1 < pd.1,
        "mean_7d {m7:?} vs previous_day {pd:?}"
    );
}

#[test]
fn bitbrains_class_counts() {
    let mut counts: BTreeMap<SeriesClass, usize> = BTreeMap::new();
    for vm in bitbrains() {
        *counts.entry(classify(&vm.series).class).or_default() += 1;
    }
    println!("Bitbrains-500 classes (gaps as NaN): {counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 500);
    // A real fleet is a mix: no class should swallow everything.
    assert!(counts.values().all(|&c| c < 450), "{counts:?}");
    assert!(counts.len() >= 3, "{counts:?}");
}

/// The protocol's window decision for a job of `len` hours: (tol, areg) of the window with
/// the lowest mean predicted load, scored on the actuals. `None` for flat actuals.
pub fn window_decision(pred: &[f64], actual: &[f64], len: usize) -> Option<(f64, f64)> {
    let n = actual.len();
    let mean = actual.iter().sum::<f64>() / n as f64;
    let std = (actual.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    if std < 1e-9 || actual.iter().any(|a| a.is_nan()) {
        return None;
    }
    let win = |v: &[f64], s: usize| v[s..s + len].iter().sum::<f64>() / len as f64;
    let starts = 0..=n - len;
    let chosen = starts
        .clone()
        .min_by(|&a, &b| win(pred, a).total_cmp(&win(pred, b)).then(a.cmp(&b)))?;
    let best = starts.map(|s| win(actual, s)).fold(f64::INFINITY, f64::min);
    let range = actual.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - actual.iter().cloned().fold(f64::INFINITY, f64::min);
    let got = win(actual, chosen);
    Some((f64::from(got <= best + 0.1 * range), got - best))
}
