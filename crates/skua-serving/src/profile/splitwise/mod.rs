//! A fit of SplitwiseSim's measured performance model (Patel et al., Splitwise, ISCA 2024;
//! `perf_model.csv` of SplitwiseSim).
//!
//! Each row is one run of `batch_size` identical requests (`prompt_size` in, up to `token_size`
//! out) on one (model, hardware, TP): `prompt_time` is the batch's prefill, ms; `token_time` the
//! mean decode iteration, ms; `e2e_time` the whole run. The file holds three sweeps per group —
//! batch 1…64 at 512/128, prompt 128…8,192 at batch 1, output 128…8,192 at 512/batch 1 — each
//! configuration measured 5 times.
//!
//! # How the fit works
//!
//! 1. **Exact duplicate rows are dropped.** The 512/1/128 configuration belongs to all three
//!    sweeps and appears three times with identical values; kept once, it does not weigh triple.
//! 2. **Failed runs are screened out.** A configuration whose median `prompt_time` is below 2/3
//!    of the median of a configuration with strictly less prompt work (≤ prompt, ≤ batch) did
//!    not run as described. In this file that is Llama2-70B TP2 at batch 64 (A100 and both H100
//!    variants): prefill 800 ms against 6,600 ms at batch 32, `e2e_time` 160 s — 64 × 640 tokens
//!    exceed the ~38k-token KV pool left by 138 GB of weights on 2 × 80 GB, so the engine could
//!    not batch them. Replicate noise is ≤ 6 %, so a 1/3 drop is never noise.
//! 3. **Robust, relative, non-negative least squares.** Residuals are relative (latencies span
//!    40 ms to 13 s; unweighted least squares left 10–35 % median errors on short prompts);
//!    coefficients are constrained ≥ 0 (exactly, by solving every subset of free coefficients —
//!    a negative term would make latency fall as work grows); a first fit minimises absolute
//!    relative residuals (iteratively reweighted), rows more than 3 × max(1.4826·MAD, pooled
//!    replicate s.d.) off it are dropped, the rest refitted by least squares. The replicate
//!    floor keeps real signal from being trimmed when most rows fit unusually well. The normal
//!    equations are solved on column-scaled features (raw columns span 1 to 10⁹).
//!
//! **Prefill** is fitted in two forms and the one with the lower median relative error over all
//! screened rows is kept (ties go to the per-request form): `a + b·T + c·Σpᵢ²` (per-request
//! attention, DistServe's form) and `a + b·T + c·T²` (T = prompt_size × batch_size, the batch's
//! tokens). The two differ only for batches of several prompts; for one prompt both are
//! `a + b·p + c·p²`. [`PrefillFit::other_form_median_rel_error`] keeps the loser's score.
//!
//! **Decode**: `token_time = a + b·Σcontext + c·batch`. The context of a sequence averaged over
//! its decode is `prompt + g/2`, where `g` is the number of tokens it generated. `token_size` is
//! only the requested maximum — runs of 1,024+ requested tokens often stop early (`e2e_time`
//! shows ~400–750 tokens) — so `g = (e2e_time − prompt_time) / token_time`, clipped to
//! [1, token_size].
//!
//! # Extrapolation
//!
//! Prompts were measured up to 8,192 tokens ([`SplitwiseFit::extrapolates`]); batches up to 64
//! prompts (32,768 tokens) and decode batches up to 64. Beyond, the fitted polynomials are used
//! as they are: prefill of one long prompt grows as `a + b·p + c·p²` with `c ≥ 0`, so never
//! slower than linearly and, past `p* = b/c` ([`SplitwiseFit::quadratic_crossover_tokens`]),
//! dominated by the quadratic term; decode grows linearly in total context and batch. For
//! Llama2-70B the fits put `p*` between 13k and 70k tokens, while counting FLOPs alone (linear
//! part 2·params per token, attention 2·layers·hidden·p per token) puts it near
//! params/(layers·hidden) ≈ 105k: extrapolated prefill of very long prompts is therefore more
//! likely too slow than too fast (Llama2-70B TP4 A100: 2.0 s at 8k, 12 s at 32k, 70 s at 100k).
//! Attention kernels (FlashAttention) and chunked prefill change this balance in ways the
//! measurements cannot tell.
//!
//! # Fit quality (measured on the shipped file)
//!
//! Prefill: R² 0.951–0.9998 on kept rows, median relative error 0.8–5.7 %; 64–89 of 90–95 rows
//! kept (BLOOM-176B on H100 keeps only 64: its batch and prompt sweeps disagree). The
//! batch-total form wins in 6 of 12 groups, by 0.1–2.0 points of median error. Decode: R²
//! 0.93–0.997 and median error 0.4–1.7 % in 11 groups; Llama2-70B TP2 A100 reaches only
//! R² 0.68 / 4.1 %: its batch-1, 128-token runs measure 54–57 ms and every other configuration
//! 60 ms or more, a step no model linear in context and batch follows.

mod load;

pub use load::{SplitwiseData, SplitwiseKey};

use std::collections::BTreeMap;

use load::PerfRow;

use super::arch::{
    Gpu, KvSizing, MemoryBudget, ModelArch, canonical_gpu_name, canonical_model_name,
};
use super::lsq::{FitQuality, Obs, median, median_abs_rel, robust_fit};
use super::{
    Iteration, LatencyModel, ProfileError, chunk_new_tokens, chunk_quadratic_per_request,
    combine_parts,
};

impl SplitwiseData {
    /// Fits (`model`, `hardware`, `tp`) with KV sized by the default memory budget.
    pub fn fit(&self, model: &str, hardware: &str, tp: u32) -> Result<SplitwiseFit, ProfileError> {
        let key = self.find(model, hardware, tp)?;
        let arch = ModelArch::lookup(&key.model)?;
        let gpu = Gpu::lookup(&key.hardware)?;
        let kv = KvSizing::from_memory(arch, tp, &MemoryBudget::for_gpu(gpu))?;
        self.fit_with_kv(model, hardware, tp, kv)
    }

    /// Fits (`model`, `hardware`, `tp`) with explicit KV sizing.
    pub fn fit_with_kv(
        &self,
        model: &str,
        hardware: &str,
        tp: u32,
        kv: KvSizing,
    ) -> Result<SplitwiseFit, ProfileError> {
        let key = self.find(model, hardware, tp)?;
        let rows = &self.groups[key];
        fit_group(key, rows, kv)
    }

    fn find(&self, model: &str, hardware: &str, tp: u32) -> Result<&SplitwiseKey, ProfileError> {
        let (m, h) = (canonical_model_name(model), canonical_gpu_name(hardware));
        let same_model: Vec<&SplitwiseKey> = self
            .groups
            .keys()
            .filter(|k| canonical_model_name(&k.model) == m)
            .collect();
        if same_model.is_empty() {
            let mut models: Vec<&str> = self.groups.keys().map(|k| k.model.as_str()).collect();
            models.dedup();
            return Err(ProfileError::UnknownModel {
                file: self.file.clone(),
                model: model.to_string(),
                available: models.join(", "),
            });
        }
        same_model
            .iter()
            .find(|k| canonical_gpu_name(&k.hardware) == h && k.tp == tp)
            .copied()
            .ok_or_else(|| ProfileError::UnknownVariant {
                file: self.file.clone(),
                model: model.to_string(),
                wanted: format!("tp{tp} on {hardware}"),
                available: same_model
                    .iter()
                    .map(|k| format!("tp{} on {}", k.tp, k.hardware))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// How a batch's prompts enter the quadratic prefill term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefillForm {
    /// `c·Σ pᵢ²`: attention per request (DistServe's form).
    PerRequest,
    /// `c·T²` with T the batch's total prompt tokens.
    BatchTotal,
}

/// The fitted prefill model of one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrefillFit {
    /// The chosen form.
    pub form: PrefillForm,
    /// `[a, b, c]`, ms: `a + b·T + c·quadratic term`; all ≥ 0.
    pub coef: [f64; 3],
    /// Quality of the chosen form.
    pub quality: FitQuality,
    /// Median relative error of the form not chosen, on the same rows.
    pub other_form_median_rel_error: f64,
}

/// The fitted decode model of one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeFit {
    /// `[a, b, c]`, ms: `a + b·Σcontext + c·batch`; all ≥ 0.
    pub coef: [f64; 3],
    /// Quality of the fit.
    pub quality: FitQuality,
}

/// A fitted Splitwise profile of one (model, hardware, TP); a [`LatencyModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct SplitwiseFit {
    name: String,
    key: SplitwiseKey,
    prefill: PrefillFit,
    decode: DecodeFit,
    kv: KvSizing,
    max_measured_prompt: u32,
    screened_out: Vec<(u32, u32, u32)>,
}

impl SplitwiseFit {
    /// The group this fit is of.
    pub fn key(&self) -> &SplitwiseKey {
        &self.key
    }

    /// The prefill fit.
    pub fn prefill(&self) -> &PrefillFit {
        &self.prefill
    }

    /// The decode fit.
    pub fn decode(&self) -> &DecodeFit {
        &self.decode
    }

    /// Configurations `(prompt, batch, tokens)` dropped as failed runs before fitting.
    pub fn screened_out(&self) -> &[(u32, u32, u32)] {
        &self.screened_out
    }

    /// Longest prompt measured for this group (8,192 in Splitwise's file).
    pub fn max_measured_prompt(&self) -> u32 {
        self.max_measured_prompt
    }

    /// True when a prompt is longer than any measured one: its prefill time is an extrapolation
    /// of the fitted polynomial (see the module docs for how it extrapolates).
    pub fn extrapolates(&self, prompt_tokens: u32) -> bool {
        prompt_tokens > self.max_measured_prompt
    }

    /// Prompt length at which the quadratic prefill term equals the linear one (`b/c`); `None`
    /// when the fit has no quadratic term.
    pub fn quadratic_crossover_tokens(&self) -> Option<f64> {
        let [_, b, c] = self.prefill.coef;
        (c > 0.0).then(|| b / c)
    }

    /// Overrides the KV-cache capacity (tokens).
    pub fn with_kv_capacity(mut self, capacity_tokens: u64) -> Self {
        self.kv.capacity_tokens = capacity_tokens;
        self
    }

    /// Prefill part of an iteration (chunks `(new, cached)`); `None` when no chunk has new tokens.
    pub fn prefill_ms(&self, chunks: &[(u32, u32)]) -> Option<f64> {
        let new = chunk_new_tokens(chunks);
        if new <= 0.0 {
            return None;
        }
        let [a, b, c] = self.prefill.coef;
        let quad = match self.prefill.form {
            PrefillForm::PerRequest => chunk_quadratic_per_request(chunks),
            PrefillForm::BatchTotal => {
                // (Σ(n + k))² − (Σk)²: the batch-total analogue of the per-request term.
                let cached: f64 = chunks.iter().map(|&(_, k)| f64::from(k)).sum();
                (new + cached).powi(2) - cached.powi(2)
            }
        };
        Some(a + b * new + c * quad)
    }

    /// Decode part of an iteration; `None` for batch 0.
    pub fn decode_ms(&self, batch: u32, context: u64) -> Option<f64> {
        if batch == 0 {
            return None;
        }
        let [a, b, c] = self.decode.coef;
        Some(a + b * context as f64 + c * f64::from(batch))
    }
}

impl LatencyModel for SplitwiseFit {
    fn name(&self) -> &str {
        &self.name
    }

    fn iteration_ms(&self, it: &Iteration) -> f64 {
        let shared = self.prefill.coef[0].min(self.decode.coef[0]);
        combine_parts(
            self.prefill_ms(&it.prefill),
            self.decode_ms(it.decode_batch, it.decode_context),
            shared,
        )
    }

    fn kv_capacity_tokens(&self) -> u64 {
        self.kv.capacity_tokens
    }

    fn kv_bytes_per_token(&self) -> u64 {
        self.kv.bytes_per_token
    }
}

/// Configurations whose median prefill time is below 2/3 of that of a configuration with
/// strictly less prompt work.
fn failed_configs(rows: &[PerfRow]) -> Vec<(u32, u32, u32)> {
    let mut by_cfg: BTreeMap<(u32, u32, u32), Vec<f64>> = BTreeMap::new();
    for r in rows {
        by_cfg
            .entry((r.prompt, r.batch, r.tokens))
            .or_default()
            .push(r.prompt_ms);
    }
    let medians: Vec<((u32, u32, u32), f64)> =
        by_cfg.iter().map(|(k, v)| (*k, median(v))).collect();
    medians
        .iter()
        .filter(|((p, b, _), m)| {
            medians.iter().any(|((p2, b2, _), m2)| {
                p2 <= p
                    && b2 <= b
                    && u64::from(*p2) * u64::from(*b2) < u64::from(*p) * u64::from(*b)
                    && *m < m2 * (2.0 / 3.0)
            })
        })
        .map(|(k, _)| *k)
        .collect()
}

fn fit_group(
    key: &SplitwiseKey,
    rows: &[PerfRow],
    kv: KvSizing,
) -> Result<SplitwiseFit, ProfileError> {
    let screened_out = failed_configs(rows);
    let rows: Vec<&PerfRow> = rows
        .iter()
        .filter(|r| !screened_out.contains(&(r.prompt, r.batch, r.tokens)))
        .collect();
    let fit_err = |what: &'static str, reason: String| ProfileError::Fit {
        group: key.to_string(),
        what,
        reason,
    };

    let prefill_obs = |form: PrefillForm| -> Vec<Obs> {
        rows.iter()
            .map(|r| {
                let (p, b) = (f64::from(r.prompt), f64::from(r.batch));
                let t = p * b;
                let quad = match form {
                    PrefillForm::PerRequest => b * p * p,
                    PrefillForm::BatchTotal => t * t,
                };
                Obs {
                    x: [1.0, t, quad],
                    y: r.prompt_ms,
                    key: (r.prompt, r.batch, r.tokens),
                }
            })
            .collect()
    };
    let per_req_obs = prefill_obs(PrefillForm::PerRequest);
    let total_obs = prefill_obs(PrefillForm::BatchTotal);
    let per_req = robust_fit(&per_req_obs).map_err(|e| fit_err("prompt_time", e))?;
    let total = robust_fit(&total_obs).map_err(|e| fit_err("prompt_time", e))?;
    let (e_req, e_tot) = (
        median_abs_rel(&per_req_obs, &per_req.coef),
        median_abs_rel(&total_obs, &total.coef),
    );
    let prefill = if e_tot < e_req {
        PrefillFit {
            form: PrefillForm::BatchTotal,
            coef: total.coef,
            quality: total.quality,
            other_form_median_rel_error: e_req,
        }
    } else {
        PrefillFit {
            form: PrefillForm::PerRequest,
            coef: per_req.coef,
            quality: per_req.quality,
            other_form_median_rel_error: e_tot,
        }
    };

    let decode_obs: Vec<Obs> = rows
        .iter()
        .map(|r| {
            let generated = ((r.e2e_ms - r.prompt_ms) / r.token_ms).clamp(1.0, f64::from(r.tokens));
            let b = f64::from(r.batch);
            Obs {
                x: [1.0, b * (f64::from(r.prompt) + generated / 2.0), b],
                y: r.token_ms,
                key: (r.prompt, r.batch, r.tokens),
            }
        })
        .collect();
    let decode = robust_fit(&decode_obs).map_err(|e| fit_err("token_time", e))?;

    Ok(SplitwiseFit {
        name: format!("{}/tp{}/{}", key.model, key.tp, key.hardware),
        key: key.clone(),
        prefill,
        decode: DecodeFit {
            coef: decode.coef,
            quality: decode.quality,
        },
        kv,
        max_measured_prompt: rows.iter().map(|r| r.prompt).max().unwrap_or(0),
        screened_out,
    })
}

#[cfg(test)]
mod tests {
    use super::load::tests::synthetic_csv;
    use super::*;

    #[test]
    fn recovers_synthetic_coefficients_and_picks_the_per_request_form() {
        let data = SplitwiseData::from_reader(synthetic_csv().as_bytes(), "synthetic.csv")
            .expect("valid CSV");
        let fit = data.fit("llama2-70b", "a100", 4).expect("fits");
        assert_eq!(fit.prefill().form, PrefillForm::PerRequest);
        let [a, b, c] = fit.prefill().coef;
        assert!(
            (a - 20.0).abs() < 2.0 && (b - 0.1).abs() < 0.005 && (c - 1e-5).abs() < 1e-6,
            "{a} {b} {c}"
        );
        let [a, b, c] = fit.decode().coef;
        assert!(
            (a - 30.0).abs() < 1.0 && (b - 1e-4).abs() < 2e-5 && (c - 0.2).abs() < 0.05,
            "{a} {b} {c}"
        );
        assert!(fit.extrapolates(8193) && !fit.extrapolates(8192));
    }

    #[test]
    fn a_failed_run_is_screened_out() {
        let mut csv = synthetic_csv();
        // Batch 64 "finishing" its prefill far faster than batch 32: the run did not batch.
        csv.push_str("llama2-70b,a100-80gb,512,64,128,1,1,800,67,160000,4\n");
        let data = SplitwiseData::from_reader(csv.as_bytes(), "s.csv").expect("valid");
        let fit = data.fit("llama2-70b", "a100-80gb", 4).expect("fits");
        assert_eq!(fit.screened_out(), &[(512, 64, 128)]);
    }

    #[test]
    fn unknown_group_lists_what_exists() {
        let data = SplitwiseData::from_reader(synthetic_csv().as_bytes(), "s.csv").expect("valid");
        let err = data
            .fit("llama2-70b", "h100", 8)
            .expect_err("absent")
            .to_string();
        assert!(err.contains("tp4 on a100-80gb"), "{err}");
        let err = data
            .fit("bloom-176b", "a100", 8)
            .expect_err("absent")
            .to_string();
        assert!(err.contains("llama2-70b"), "{err}");
    }
}
