//! Forecasters and sampled futures: hand-made histories, statistical checks, and ESFT windows.

use std::collections::HashMap;
use std::sync::OnceLock;

use rand::SeedableRng;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand_distr::Distribution;
use rand_distr::multi::Dirichlet;
use skua_moe::ExpertLoad;
use skua_moe::forecast::{
    BaseEstimator, Ewma, LastWindow, LoadForecaster, SkuaForecaster, SlidingWindow,
    dirichlet_concentration, multinomial_noise, one_step_errors, sample_futures,
    windows_from_trace,
};
use skua_moe::load::TokenTrace;

use crate::moe_data;

fn load(rows: &[&[f64]]) -> ExpertLoad {
    ExpertLoad::from_rows(rows.iter().map(|r| r.to_vec()).collect()).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

/// `draws` categorical draws from `shares` (rand's `WeightedIndex`, independent of the crate's
/// multinomial sampler).
fn categorical_counts(shares: &[f64], draws: usize, rng: &mut StdRng) -> Vec<f64> {
    let d = WeightedIndex::new(shares.iter().copied()).unwrap();
    let mut c = vec![0.0; shares.len()];
    for _ in 0..draws {
        c[d.sample(rng)] += 1.0;
    }
    c
}

/// One-layer windows drawn i.i.d. from Dirichlet(alpha · p) then `draws` categorical draws.
fn dirichlet_multinomial_windows(
    p: &[f64],
    alpha: f64,
    draws: usize,
    windows: usize,
    seed: u64,
) -> Vec<ExpertLoad> {
    let mut rng = StdRng::seed_from_u64(seed);
    let params: Vec<f64> = p.iter().map(|x| x * alpha).collect();
    let dir = Dirichlet::new(&params).unwrap();
    (0..windows)
        .map(|_| {
            let q: Vec<f64> = dir.sample(&mut rng);
            ExpertLoad::from_rows(vec![categorical_counts(&q, draws, &mut rng)]).unwrap()
        })
        .collect()
}

#[test]
fn ewma_starts_from_the_oldest_window_and_weights_the_newest_by_alpha() {
    // Shares a = [.25, .75], b = [.75, .25]; totals 4 and 8 → mean total 6.
    let a = load(&[&[1.0, 3.0]]);
    let b = load(&[&[6.0, 2.0]]);
    let f = Ewma::new(0.5)
        .unwrap()
        .forecast(&[a.clone(), b.clone()])
        .unwrap();
    // 0.5·a + 0.5·b = [.5, .5], times 6.
    assert_close(f.layer(0), &[3.0, 3.0], 1e-12);
    // α = 0.3 on [a, b, c]: weights 0.49, 0.21, 0.3 (s₁ = a, s₂ = .3b + .7a, s₃ = .3c + .7s₂).
    let c = load(&[&[10.0, 0.0]]);
    let f = Ewma::new(0.3).unwrap().forecast(&[a, b, c]).unwrap();
    let s0 = 0.49 * 0.25 + 0.21 * 0.75 + 0.3 * 1.0;
    let total = (4.0 + 8.0 + 10.0) / 3.0;
    assert_close(f.layer(0), &[s0 * total, (1.0 - s0) * total], 1e-12);
}

#[test]
fn sliding_window_pools_the_last_k_windows_and_last_window_takes_the_last() {
    let h = [
        load(&[&[1.0, 3.0]]),
        load(&[&[6.0, 2.0]]),
        load(&[&[0.0, 10.0]]),
    ];
    let mean_total = 22.0 / 3.0;
    // k = 2: counts [6, 12] pooled → shares [1/3, 2/3] (not the mean of shares [3/8, 5/8]).
    let f = SlidingWindow::new(2).unwrap().forecast(&h).unwrap();
    assert_close(
        f.layer(0),
        &[mean_total / 3.0, 2.0 * mean_total / 3.0],
        1e-12,
    );
    // A window longer than the history uses all of it: [7, 15] / 22.
    let f = SlidingWindow::new(10).unwrap().forecast(&h).unwrap();
    assert_close(
        f.layer(0),
        &[7.0 / 22.0 * mean_total, 15.0 / 22.0 * mean_total],
        1e-12,
    );
    let f = LastWindow.forecast(&h).unwrap();
    assert_close(f.layer(0), &[0.0, mean_total], 1e-12);
}

#[test]
fn every_forecaster_refuses_empty_and_ragged_histories() {
    let forecasters: Vec<Box<dyn LoadForecaster>> = vec![
        Box::new(LastWindow),
        Box::new(SlidingWindow::new(3).unwrap()),
        Box::new(Ewma::new(0.4).unwrap()),
        Box::new(SkuaForecaster::default()),
    ];
    let a = load(&[&[1.0, 2.0, 3.0, 4.0]]);
    let b = load(&[&[1.0, 2.0, 3.0, 4.0], &[1.0, 1.0, 1.0, 1.0]]);
    for f in &forecasters {
        assert!(f.forecast(&[]).is_err(), "{}", f.name());
        let err = f.forecast(&[a.clone(), b.clone()]).unwrap_err();
        assert!(err.to_string().contains("window 1"), "{}: {err}", f.name());
    }
    assert!(Ewma::new(0.0).is_err() && Ewma::new(1.01).is_err());
    assert!(SkuaForecaster::new(0.5, 0).is_err());
    assert!(SkuaForecaster::new(-0.1, 4).is_err());
}

#[test]
fn forecasts_are_scaled_to_the_mean_window_total_per_layer() {
    let h = [
        load(&[&[5.0, 1.0, 1.0, 1.0, 2.0], &[1.0, 1.0, 0.0, 0.0, 0.0]]),
        load(&[&[10.0, 2.0, 2.0, 4.0, 2.0], &[3.0, 3.0, 0.0, 0.0, 0.0]]),
        load(&[&[7.0, 3.0, 1.0, 1.0, 3.0], &[2.0, 2.0, 2.0, 2.0, 0.0]]),
    ];
    let forecasters: Vec<Box<dyn LoadForecaster>> = vec![
        Box::new(LastWindow),
        Box::new(SlidingWindow::new(2).unwrap()),
        Box::new(Ewma::new(0.3).unwrap()),
        Box::new(SkuaForecaster::default()),
    ];
    for f in &forecasters {
        let out = f.forecast(&h).unwrap();
        assert!((out.layer_total(0) - 15.0).abs() < 1e-9, "{}", f.name());
        assert!(
            (out.layer_total(1) - 16.0 / 3.0).abs() < 1e-9,
            "{}",
            f.name()
        );
    }
}

#[test]
fn skua_needs_three_windows_to_backtest_and_otherwise_uses_the_sliding_window() {
    let h = [
        load(&[&[50.0, 20.0, 10.0, 10.0, 5.0, 5.0]]),
        load(&[&[45.0, 25.0, 10.0, 8.0, 7.0, 5.0]]),
    ];
    let skua = SkuaForecaster::default();
    let c = skua.explain(&h).unwrap();
    assert_eq!(c[0].base, BaseEstimator::SlidingWindow);
    assert!(c[0].ewma_error.is_none() && c[0].advantage.is_none());
    assert!(c[0].shrinkage > 0.0 && c[0].shrinkage < 1.0);
    // The forecast is the pooled sliding-window shares pulled towards 1/6 by λ.
    let pooled = [95.0, 45.0, 20.0, 18.0, 12.0, 10.0].map(|x| x / 200.0);
    let lambda = c[0].shrinkage;
    let want: Vec<f64> = pooled
        .iter()
        .map(|p| (1.0 / 6.0 + (1.0 - lambda) * (p - 1.0 / 6.0)) * 100.0)
        .collect();
    assert_close(skua.forecast(&h).unwrap().layer(0), &want, 1e-9);
    let h3 = [h[0].clone(), h[1].clone(), h[0].clone()];
    let c = skua.explain(&h3).unwrap();
    assert!(c[0].ewma_error.is_some() && c[0].sliding_error.is_some());
}

#[test]
fn skua_picks_the_ewma_for_a_drifting_layer_and_the_sliding_window_for_a_stationary_one() {
    // Layer 0 drifts steadily from favouring expert 0 to favouring expert 7; layer 1 has fixed
    // shares and only sampling noise. 24 windows of 2000 draws.
    let experts = 8;
    let mut rng = StdRng::seed_from_u64(11);
    let fixed: Vec<f64> = (0..experts).map(|e| (e + 1) as f64).collect();
    let history: Vec<ExpertLoad> = (0..24)
        .map(|w| {
            let t = w as f64 / 23.0;
            let drift: Vec<f64> = (0..experts)
                .map(|e| {
                    let x = e as f64 / (experts - 1) as f64;
                    (-(x - t).powi(2) / 0.05).exp() + 0.01
                })
                .collect();
            ExpertLoad::from_rows(vec![
                categorical_counts(&drift, 2000, &mut rng),
                categorical_counts(&fixed, 2000, &mut rng),
            ])
            .unwrap()
        })
        .collect();
    let c = SkuaForecaster::default().explain(&history).unwrap();
    assert_eq!(c[0].base, BaseEstimator::Ewma, "{:?}", c[0]);
    assert_eq!(c[1].base, BaseEstimator::SlidingWindow, "{:?}", c[1]);
}

#[test]
fn skua_shrinks_more_when_windows_disagree_more_than_sampling_explains() {
    let p = [0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05];
    let calm = dirichlet_multinomial_windows(&p, 5000.0, 1000, 6, 3);
    let jumpy = dirichlet_multinomial_windows(&p, 10.0, 1000, 6, 3);
    let skua = SkuaForecaster::default();
    let a = skua.explain(&calm).unwrap()[0].shrinkage;
    let b = skua.explain(&jumpy).unwrap()[0].shrinkage;
    assert!(a < b, "calm λ = {a}, jumpy λ = {b}");
}

#[test]
fn fitted_concentration_recovers_a_known_dirichlet_and_orders_calm_before_jumpy() {
    let p: Vec<f64> = (1..=16).map(|e| e as f64 / 136.0).collect();
    for alpha in [30.0, 300.0] {
        let h = dirichlet_multinomial_windows(&p, alpha, 2000, 80, 5);
        let fit = dirichlet_concentration(&h)[0];
        assert!(
            fit > alpha / 1.25 && fit < alpha * 1.25,
            "true α = {alpha}, fitted {fit}"
        );
    }
    let calm = dirichlet_multinomial_windows(&p, 3000.0, 2000, 10, 8);
    let jumpy = dirichlet_multinomial_windows(&p, 20.0, 2000, 10, 8);
    let (a, b) = (
        dirichlet_concentration(&calm)[0],
        dirichlet_concentration(&jumpy)[0],
    );
    assert!(a > 10.0 * b, "calm {a}, jumpy {b}");
}

#[test]
fn futures_are_deterministic_per_seed_and_keep_each_layer_total() {
    let forecast = load(&[&[40.0, 30.0, 20.0, 10.0], &[0.0, 0.0, 0.0, 0.0]]);
    let history = [
        load(&[&[45.0, 25.0, 20.0, 10.0], &[0.0, 0.0, 0.0, 0.0]]),
        load(&[&[35.0, 35.0, 20.0, 10.0], &[0.0, 0.0, 0.0, 0.0]]),
    ];
    let a = sample_futures(&forecast, &history, 5, 42);
    let b = sample_futures(&forecast, &history, 5, 42);
    let c = sample_futures(&forecast, &history, 5, 43);
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
    assert_ne!(a, c);
    for f in &a {
        assert_eq!(f.layer_total(0), 100.0);
        assert_eq!(f.layer(1), &[0.0; 4]);
    }
    // A history of another shape is ignored rather than a panic.
    let odd = [load(&[&[1.0, 2.0]])];
    assert_eq!(sample_futures(&forecast, &odd, 3, 1).len(), 3);
    assert_eq!(
        multinomial_noise(&forecast, 50.0, 2, 9),
        multinomial_noise(&forecast, 50.0, 2, 9)
    );
}

#[test]
fn future_means_and_variances_match_the_dirichlet_multinomial() {
    // A forecast of N = 1000 over 8 experts; history fitted to α ≈ 200.
    let p = [0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05];
    let history = dirichlet_multinomial_windows(&p, 200.0, 1000, 40, 21);
    let alpha = dirichlet_concentration(&history)[0];
    let forecast = ExpertLoad::from_rows(vec![p.iter().map(|x| x * 1000.0).collect()]).unwrap();
    let n = 2000;
    let futures = sample_futures(&forecast, &history, n, 7);
    for (e, &pe) in p.iter().enumerate() {
        let xs: Vec<f64> = futures.iter().map(|f| f.get(0, e)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        // Dirichlet-multinomial variance: N p(1 − p)(N + α)/(1 + α).
        let want_var = 1000.0 * pe * (1.0 - pe) * (1000.0 + alpha) / (1.0 + alpha);
        let se = (want_var / n as f64).sqrt();
        assert!(
            (mean - 1000.0 * pe).abs() < 5.0 * se,
            "expert {e}: mean {mean}, forecast {}",
            1000.0 * pe
        );
        assert!(
            var > 0.8 * want_var && var < 1.25 * want_var,
            "expert {e}: variance {var}, Dirichlet-multinomial {want_var}"
        );
    }
}

#[test]
fn multinomial_noise_has_the_requested_total_and_binomial_spread() {
    let load = load(&[&[1.0, 1.0, 2.0, 4.0], &[0.0, 0.0, 0.0, 0.0]]);
    let n = 2000;
    let draws = multinomial_noise(&load, 800.0, n, 3);
    assert_eq!(draws.len(), n);
    for d in &draws {
        assert_eq!(d.layer_total(0), 800.0);
        assert_eq!(d.layer_total(1), 0.0);
    }
    let xs: Vec<f64> = draws.iter().map(|d| d.get(0, 3)).collect();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Binomial(800, 0.5): mean 400, variance 200.
    assert!(
        (mean - 400.0).abs() < 5.0 * (200.0 / n as f64).sqrt(),
        "{mean}"
    );
    assert!(var > 160.0 && var < 250.0, "{var}");
    assert!(
        multinomial_noise(&load, f64::NAN, 1, 3)[0]
            .values()
            .iter()
            .all(|&v| v == 0.0)
    );
}

/// ESFT traces of DeepSeek-V2-Lite routing (64 experts, top-6, 26 MoE layers), read once.
fn esft(task: &str) -> &'static TokenTrace {
    static TRACES: OnceLock<HashMap<&'static str, TokenTrace>> = OnceLock::new();
    let traces = TRACES.get_or_init(|| {
        ["intent", "law", "summary"]
            .into_iter()
            .map(|t| (t, esft_trace(t)))
            .collect()
    });
    &traces[task]
}

/// A small reader for the ESFT per-token files (one line per sequence: 6 expert ids per token,
/// tab-separated, then an empty field and the gate weights), all 26 layers.
fn esft_trace(task: &str) -> TokenTrace {
    let mut choices = Vec::new();
    let mut starts: Option<Vec<usize>> = None;
    for layer in 1..=26 {
        let path = moe_data(&format!("esft/{task}/expert_weights_{layer}.txt.gz"));
        let text = skua_moe::io::read_text(&path).unwrap();
        let mut seq_starts = Vec::new();
        let mut tokens = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            seq_starts.push(tokens);
            let before = choices.len();
            choices.extend(
                line.split('\t')
                    .take_while(|f| !f.is_empty())
                    .map(|f| f.trim().parse::<u16>().unwrap()),
            );
            let ids = choices.len() - before;
            assert_eq!(ids % 6, 0, "{}: ragged token", path.display());
            tokens += ids / 6;
        }
        match &starts {
            None => starts = Some(seq_starts),
            Some(s) => assert_eq!(s, &seq_starts, "layer {layer} has other sequences"),
        }
    }
    TokenTrace::new(64, 6, 26, choices, starts.unwrap()).unwrap()
}

#[test]
fn esft_windows_partition_the_trace_and_add_up_to_the_published_counts() {
    // derived_expert_counts.csv: task, moe_layer (1-based), expert, token_count.
    let mut reader = csv::Reader::from_path(moe_data("esft/derived_expert_counts.csv")).unwrap();
    let mut want = vec![vec![0.0; 64]; 26];
    for row in reader.records() {
        let row = row.unwrap();
        if &row[0] == "law" {
            let l: usize = row[1].parse().unwrap();
            let e: usize = row[2].parse().unwrap();
            want[l - 1][e] = row[3].parse().unwrap();
        }
    }
    let trace = esft("law");
    let windows = windows_from_trace(trace, 8);
    assert_eq!(windows.len(), 8);
    let tokens: Vec<f64> = windows.iter().map(|w| w.layer_total(0) / 6.0).collect();
    let ideal = trace.tokens() as f64 / 8.0;
    // Each boundary is the sequence end closest to its target, so no window is further from
    // equal than one sequence.
    let longest = (0..trace.sequences())
        .map(|s| trace.sequence_range(s).len() as f64)
        .fold(0.0, f64::max);
    assert!(
        tokens.iter().all(|t| (t - ideal).abs() <= longest),
        "{tokens:?}, longest sequence {longest}"
    );
    for (l, row) in want.iter().enumerate() {
        let got: Vec<f64> = (0..64)
            .map(|e| windows.iter().map(|w| w.get(l, e)).sum())
            .collect();
        assert_eq!(&got, row, "layer {}", l + 1);
    }
}

#[test]
fn skua_is_no_worse_than_the_sliding_window_one_window_ahead_on_esft() {
    // Mean one-step share error (L1 of shares, from the 4th window on), per task and split.
    let skua = SkuaForecaster::default();
    let sliding = SlidingWindow::new(8).unwrap();
    let mean = |e: Vec<f64>| e.iter().sum::<f64>() / e.len() as f64;
    for windows in [8, 12] {
        let (mut sum_skua, mut sum_sliding) = (0.0, 0.0);
        let mut lines = Vec::new();
        for task in ["intent", "law", "summary"] {
            let w = windows_from_trace(esft(task), windows);
            let a = mean(one_step_errors(&skua, &w, 3).unwrap());
            let b = mean(one_step_errors(&sliding, &w, 3).unwrap());
            let last = mean(one_step_errors(&LastWindow, &w, 3).unwrap());
            lines.push(format!(
                "{task}: skua {a:.4}, sliding(8) {b:.4}, last {last:.4}"
            ));
            // Both beat the last window alone, which carries one window of sampling noise.
            assert!(a < last && b < last, "{}", lines.join("; "));
            sum_skua += a;
            sum_sliding += b;
        }
        println!("{windows} windows: {}", lines.join("; "));
        assert!(
            sum_skua <= sum_sliding,
            "{windows} windows: {}",
            lines.join("; ")
        );
    }
}
