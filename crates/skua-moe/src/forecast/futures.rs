//! Sampled next windows: Dirichlet–multinomial futures for a robust planning objective, and
//! multinomial resamples for an evaluation's noise floor.
//!
//! A future of a layer is drawn in two steps: shares `q ~ Dirichlet(α · p)` centred on the
//! forecast's shares `p` (Gamma draws `gᵢ ~ Gamma(α pᵢ, 1)`, `q = g / Σg`), then counts
//! `n ~ Multinomial(N, q)` with `N` the forecast's layer total rounded to an integer. The sampled
//! counts then have mean `N p` (the forecast) and variance `N pᵢ(1 − pᵢ)(N + α)/(1 + α)` — the
//! Dirichlet-multinomial variance — which is what [`dirichlet_concentration`] matches to the
//! history. Counts are token–expert assignments; top-k routing picks `k` *distinct* experts per
//! token, which a multinomial ignores (its variance is slightly larger), and tokens of one
//! sequence are correlated, which the fitted `α` absorbs.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, Gamma};

use super::shares;
use crate::load::{ExpertLoad, TokenTrace};

/// The concentration used when a layer has fewer than 2 windows with load: `α = 20 · experts`,
/// i.e. Dirichlet share noise of about 22 % of the share for a typical expert (`1/√(α/K)`). This
/// is about the most dispersed ESFT task (`summary`, where windows of ~700–1400 tokens fit
/// `α/K ≈ 18–24` on average); the other tasks fit larger values, so the default errs towards
/// wider futures.
pub const DEFAULT_CONCENTRATION_PER_EXPERT: f64 = 20.0;

/// Smallest fitted concentration: shares about as dispersed as a flat Dirichlet.
pub const MIN_CONCENTRATION: f64 = 1.0;

/// Largest fitted concentration: the history shows no more dispersion than multinomial noise.
pub const MAX_CONCENTRATION: f64 = 1e7;

/// Per layer, the Dirichlet concentration `α` fitted to the history's between-window dispersion
/// by the method of moments.
///
/// With `W ≥ 2` windows with load in the layer, mean shares `p̄`, summed sample variance of the
/// shares `V` and the harmonic mean window total `N`: `r = V / (1 − Σp̄ᵢ²)`, corrected for `p̄`
/// being estimated as `c = r / (1 + r/W)`; then `c = (N + α) / (N(1 + α))` (the
/// Dirichlet-multinomial variance ratio) gives `α = N(1 − c)/(cN − 1)`, clamped to
/// [[`MIN_CONCENTRATION`], [`MAX_CONCENTRATION`]] (`cN ≤ 1`, no extra dispersion, gives the
/// maximum). Layers with fewer than 2 windows with load get
/// [`DEFAULT_CONCENTRATION_PER_EXPERT`]` · experts`. Windows of another shape than the first are
/// ignored; an empty history gives an empty vector.
pub fn dirichlet_concentration(history: &[ExpertLoad]) -> Vec<f64> {
    let Some(first) = history.first() else {
        return Vec::new();
    };
    let (layers, experts) = (first.layers(), first.experts());
    let same: Vec<&ExpertLoad> = history
        .iter()
        .filter(|h| h.layers() == layers && h.experts() == experts)
        .collect();
    (0..layers)
        .map(|l| layer_concentration(&same, l, experts))
        .collect()
}

fn layer_concentration(history: &[&ExpertLoad], l: usize, experts: usize) -> f64 {
    let default = DEFAULT_CONCENTRATION_PER_EXPERT * experts as f64;
    let rows: Vec<(Vec<f64>, f64)> = history
        .iter()
        .filter_map(|h| shares(h.layer(l)).map(|s| (s, h.layer_total(l))))
        .collect();
    if rows.len() < 2 {
        return default;
    }
    let w = rows.len() as f64;
    let mean: Vec<f64> = (0..experts)
        .map(|i| rows.iter().map(|(s, _)| s[i]).sum::<f64>() / w)
        .collect();
    let spread = 1.0 - mean.iter().map(|p| p * p).sum::<f64>();
    if spread <= 0.0 {
        // One expert takes everything in every window: nothing can vary.
        return MAX_CONCENTRATION;
    }
    let v: f64 = (0..experts)
        .map(|i| {
            rows.iter()
                .map(|(s, _)| (s[i] - mean[i]).powi(2))
                .sum::<f64>()
                / (w - 1.0)
        })
        .sum();
    let r = v / spread;
    let c = r / (1.0 + r / w);
    let n = w / rows.iter().map(|(_, t)| 1.0 / t).sum::<f64>();
    if c * n <= 1.0 {
        return MAX_CONCENTRATION;
    }
    if c >= 1.0 {
        return MIN_CONCENTRATION;
    }
    (n * (1.0 - c) / (c * n - 1.0)).clamp(MIN_CONCENTRATION, MAX_CONCENTRATION)
}

/// `n` sampled next windows around `forecast` (Dirichlet–multinomial per layer, see the module
/// docs), with concentrations from [`dirichlet_concentration`] of `history`; deterministic for a
/// seed.
///
/// Windows of `history` whose shape differs from `forecast`'s are ignored; a layer without a
/// fitted value uses the default concentration. A layer whose forecast is zero stays zero.
pub fn sample_futures(
    forecast: &ExpertLoad,
    history: &[ExpertLoad],
    n: usize,
    seed: u64,
) -> Vec<ExpertLoad> {
    let (layers, experts) = (forecast.layers(), forecast.experts());
    let same: Vec<ExpertLoad> = history
        .iter()
        .filter(|h| h.layers() == layers && h.experts() == experts)
        .cloned()
        .collect();
    let alpha = dirichlet_concentration(&same);
    let default = DEFAULT_CONCENTRATION_PER_EXPERT * experts as f64;
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut out = ExpertLoad::zeros(layers, experts);
            for l in 0..layers {
                let Some(p) = shares(forecast.layer(l)) else {
                    continue;
                };
                let a = alpha.get(l).copied().unwrap_or(default);
                let q = dirichlet(&p, a, &mut rng);
                multinomial(
                    count(forecast.layer_total(l)),
                    &q,
                    out.layer_mut(l),
                    &mut rng,
                );
            }
            out
        })
        .collect()
}

/// `n` multinomial resamples of `load`'s per-layer shares with `tokens_per_layer` draws per layer
/// (in `load`'s units, i.e. token–expert assignments for routing counts); deterministic for a
/// seed. A non-finite or negative total draws nothing; an all-zero layer stays zero.
pub fn multinomial_noise(
    load: &ExpertLoad,
    tokens_per_layer: f64,
    n: usize,
    seed: u64,
) -> Vec<ExpertLoad> {
    let (layers, experts) = (load.layers(), load.experts());
    let draws = count(tokens_per_layer);
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut out = ExpertLoad::zeros(layers, experts);
            for l in 0..layers {
                if let Some(p) = shares(load.layer(l)) {
                    multinomial(draws, &p, out.layer_mut(l), &mut rng);
                }
            }
            out
        })
        .collect()
}

/// `n` futures by the sequence bootstrap: each future draws the trace's sequences with
/// replacement (as many as it has) and counts their tokens, so the futures vary the way whole
/// requests vary (a request's tokens share topic and experts), not token by token. Each future is
/// scaled to the trace's per-layer totals. Deterministic for a seed; an empty trace gives no future.
pub fn bootstrap_futures(trace: &TokenTrace, n: usize, seed: u64) -> Vec<ExpertLoad> {
    let seqs: Vec<Vec<f64>> = (0..trace.sequences())
        .map(|s| trace.counts_in(trace.sequence_range(s)).values().to_vec())
        .collect();
    resample_sequences(&seqs, trace.experts(), n, seed)
        .into_iter()
        .map(|v| {
            let mut out = ExpertLoad::zeros(trace.layers(), trace.experts());
            for (l, row) in v.chunks(trace.experts()).enumerate() {
                out.layer_mut(l).copy_from_slice(row);
            }
            out
        })
        .collect()
}

/// `n` sequence-bootstrap futures of one layer of `trace`, drawn as [`bootstrap_futures`] draws
/// them (the same seed picks the same sequences): cheap when a planner wants many draws of a
/// single layer. Deterministic for a seed; an empty trace gives no future.
pub fn bootstrap_layer(trace: &TokenTrace, layer: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let seqs: Vec<Vec<f64>> = (0..trace.sequences())
        .map(|s| {
            let mut c = vec![0.0; trace.experts()];
            for t in trace.sequence_range(s) {
                trace
                    .choice(layer, t)
                    .iter()
                    .for_each(|&e| c[usize::from(e)] += 1.0);
            }
            c
        })
        .collect();
    resample_sequences(&seqs, trace.experts(), n, seed)
}

/// `n` draws of `seqs.len()` per-sequence count vectors with replacement, each summed and then
/// scaled, chunk by chunk of `chunk` values (one layer), to the chunk's total over all
/// sequences. No draw when there is no sequence or no count.
fn resample_sequences(seqs: &[Vec<f64>], chunk: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let len = seqs.first().map_or(0, Vec::len);
    if len == 0 || chunk == 0 || seqs.iter().flatten().sum::<f64>() <= 0.0 {
        return Vec::new();
    }
    let mut full = vec![0.0; len];
    for s in seqs {
        full.iter_mut().zip(s).for_each(|(o, v)| *o += v);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut out = vec![0.0; len];
            for _ in 0..seqs.len() {
                let s = &seqs[rng.random_range(0..seqs.len())];
                out.iter_mut().zip(s).for_each(|(o, v)| *o += v);
            }
            for (o, f) in out.chunks_mut(chunk).zip(full.chunks(chunk)) {
                let (want, got) = (f.iter().sum::<f64>(), o.iter().sum::<f64>());
                if got > 0.0 {
                    o.iter_mut().for_each(|v| *v *= want / got);
                }
            }
            out
        })
        .collect()
}

/// A total as a whole number of draws (rounded; 0 when not a finite non-negative number).
fn count(total: f64) -> u64 {
    if total.is_finite() && total > 0.0 {
        total.round() as u64
    } else {
        0
    }
}

/// Shares drawn from `Dirichlet(alpha · p)` by normalised Gamma draws; `p` itself when the draw
/// degenerates (all Gamma draws underflow to zero) or `alpha` is at its maximum.
fn dirichlet(p: &[f64], alpha: f64, rng: &mut StdRng) -> Vec<f64> {
    if alpha >= MAX_CONCENTRATION {
        return p.to_vec();
    }
    let g: Vec<f64> = p
        .iter()
        .map(|&pi| {
            let shape = alpha * pi;
            match Gamma::new(shape, 1.0) {
                Ok(d) if shape > 0.0 => d.sample(rng),
                _ => 0.0,
            }
        })
        .collect();
    let sum: f64 = g.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        g.iter().map(|x| x / sum).collect()
    } else {
        p.to_vec()
    }
}

/// Adds `Multinomial(draws, q)` counts to `out` by sequential conditional binomials.
fn multinomial(draws: u64, q: &[f64], out: &mut [f64], rng: &mut StdRng) {
    let mut left = draws;
    let mut mass: f64 = q.iter().sum();
    let last = q.iter().rposition(|&x| x > 0.0);
    for (i, (&qi, o)) in q.iter().zip(out.iter_mut()).enumerate() {
        if left == 0 || mass <= 0.0 {
            break;
        }
        let x = if Some(i) == last {
            left
        } else {
            let p = (qi / mass).clamp(0.0, 1.0);
            match Binomial::new(left, p) {
                Ok(b) => b.sample(rng),
                Err(_) => 0,
            }
        };
        *o += x as f64;
        left -= x;
        mass -= qi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multinomial_conserves_the_total_and_skips_zero_shares() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut out = vec![0.0; 4];
        multinomial(1000, &[0.5, 0.0, 0.5, 0.0], &mut out, &mut rng);
        assert_eq!(out.iter().sum::<f64>(), 1000.0);
        assert_eq!(out[1], 0.0);
        assert_eq!(out[3], 0.0);
        assert!(out[0] > 400.0 && out[2] > 400.0, "{out:?}");
    }

    #[test]
    fn counts_round_and_refuse_bad_totals() {
        assert_eq!(count(9.6), 10);
        assert_eq!(count(-3.0), 0);
        assert_eq!(count(f64::NAN), 0);
        assert_eq!(count(f64::INFINITY), 0);
    }

    #[test]
    fn dirichlet_draws_are_shares_and_keep_zeros() {
        let mut rng = StdRng::seed_from_u64(1);
        let q = dirichlet(&[0.2, 0.0, 0.8], 5.0, &mut rng);
        assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(q[1], 0.0);
        assert_eq!(
            dirichlet(&[0.2, 0.8], MAX_CONCENTRATION, &mut rng),
            vec![0.2, 0.8]
        );
    }

    #[test]
    fn one_layer_draws_are_the_same_draws_as_whole_futures() {
        // 2 layers, 4 experts, top-1; 6 tokens in 3 sequences of different make-up.
        let choices = vec![0, 0, 1, 2, 3, 3, /* layer 1 */ 1, 2, 2, 0, 0, 3];
        let trace = TokenTrace::new(4, 1, 2, choices, vec![0, 2, 4]).unwrap();
        let whole = bootstrap_futures(&trace, 5, 11);
        assert_eq!(whole.len(), 5);
        for l in 0..2 {
            let one = bootstrap_layer(&trace, l, 5, 11);
            assert_eq!(one.len(), 5);
            for (f, w) in one.iter().zip(&whole) {
                assert_eq!(f.as_slice(), w.layer(l));
                assert!((f.iter().sum::<f64>() - 6.0).abs() < 1e-9, "{f:?}");
            }
        }
        // Draws differ: with 3 distinct sequences, 5 draws are not all the trace itself.
        let counts = trace.counts();
        assert!(whole.iter().any(|w| w.layer(0) != counts.layer(0)));
        assert!(bootstrap_layer(&trace, 0, 0, 11).is_empty());
    }

    #[test]
    fn too_short_a_history_gets_the_default() {
        let h = [ExpertLoad::from_rows(vec![vec![1.0, 2.0, 3.0]]).unwrap()];
        assert_eq!(dirichlet_concentration(&h), vec![60.0]);
        assert!(dirichlet_concentration(&[]).is_empty());
    }
}
