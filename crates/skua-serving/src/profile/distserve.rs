//! DistServe's profiler coefficients (Zhong et al., DistServe, OSDI 2024).
//!
//! The JSON maps model name → tensor-parallel degree → `prefill`, `decoding_smallbs`,
//! `decoding_largebs` (each `[a, b, c]`, ms) and `decoding_large_small_bs_threshold`.
//! DistServe's simulator (`LLMServe/DistServe`, `simdistserve/estimators/time_estimator.py`,
//! `get_prefill_time` / `get_decode_time`) applies them as
//!
//! - prefill_ms = a + b·Σtokens + c·Σ(tokens²): `sum_num_tokens_sqr = sum([x ** 2 for x in
//!   prefill_len_list])` — the sum of per-request squares (attention is per request), not the
//!   square of the batch's total;
//! - decode_ms = a + b·Σcontext + c·batch_size, with `decoding_smallbs` when
//!   `batch_size < threshold` and `decoding_largebs` otherwise; the context of a decode
//!   sequence is prompt + generated so far + 1.
//!
//! (At pipeline degree 1 the upstream simulator adds no constant; an older revision added 1 ms
//! to prefill as a placeholder for pipeline overhead. skua adds none.)
//!
//! [`DistServeProfile::published_prefill_ms`] and [`DistServeProfile::published_decode_ms`] are
//! exactly those formulas. [`LatencyModel::iteration_ms`] differs in two guarded ways, both so
//! that more work never costs less (a simulator whose scheduler could save time by batching
//! more is wrong in a way that policies would exploit):
//!
//! 1. **Negative coefficients are clamped to 0** (listed by [`DistServeProfile::adjustments`]).
//!    The default files have one: vLLM's OPT-66B TP2 prefill `c = −7.1e-6` (its prefill would
//!    start to *fall* beyond ~27k tokens). The OPT-175B entries of the `7057aef` file have
//!    several, including negative per-sequence decode costs.
//! 2. **The small/large batch switch is made monotone**: at `batch ≥ threshold` the decode cost
//!    is `max(large(batch, ctx), small(threshold − 1, ctx))`. DistServe's raw switch lets the
//!    cost *drop* when the batch grows past the threshold (OPT-13B TP1: from 94 to 95 sequences
//!    of 1,000 context tokens the published time falls from 82.5 ms to 77.3 ms); the envelope
//!    holds it at the small-batch value until the large-batch fit overtakes it, and equals the
//!    published value everywhere else.
//!
//! Mixed iterations (see the [module docs](super)) subtract `min(a_prefill, a_decode_small)`:
//! the small-batch intercept is the fit's estimate of an empty decode pass (the large-batch fit
//! only covers ≥ 95 sequences, so its intercept is an extrapolation, not an overhead).
//!
//! # The three files
//!
//! - `profiler-a100-80g.distserve.json`: DistServe's own engine (the default; it is the profile
//!   the 37 real runs validate). OPT-13B TP1/2/4, OPT-66B TP2/3/4/8.
//! - `profiler-a100-80g.vllm.json`: the same models and degrees profiled on vLLM, which
//!   DistServe's simulator uses for its vLLM baseline (`engine_type="vllm"`). Every coefficient
//!   differs: vLLM is slower — OPT-13B TP1 prefill of 512 tokens 96.1 ms vs 72.1 ms, decode at
//!   batch 1 with 512 context 23.8 ms vs 20.3 ms — and OPT-66B TP2 has the negative `c` above.
//! - `profiler-a100-80g.distserve.7057aef-with-opt175b.json`: an older DistServe revision
//!   (`7057aef`) adding OPT-175B (TP1/2/4/8, threshold 10). Its OPT-13B/66B decode coefficients
//!   equal the default file's, its prefill coefficients are ~9 % lower, and OPT-66B TP8 is
//!   absent. Its OPT-175B fits are implausible (TP8 prefill slope 0.0068 ms/token, 15× below
//!   OPT-66B's; negative decode terms) and TP1–TP4 cannot hold OPT-175B's 349 GB of weights on
//!   80 GB GPUs, so [`list`](super::list) does not offer them; the file still loads.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::arch::{Gpu, KvSizing, MemoryBudget, ModelArch, canonical_model_name};
use super::{
    Iteration, LatencyModel, ProfileError, chunk_new_tokens, chunk_quadratic_per_request,
    combine_parts,
};

/// One (model, TP) entry of a DistServe profile, as published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistServeCoefficients {
    /// `[a, b, c]`: prefill_ms = a + b·Σtokens + c·Σtokens².
    pub prefill: [f64; 3],
    /// `[a, b, c]`: decode_ms = a + b·Σcontext + c·batch, for batch < `threshold`.
    pub decode_small: [f64; 3],
    /// The same for batch ≥ `threshold`.
    pub decode_large: [f64; 3],
    /// `decoding_large_small_bs_threshold`.
    pub threshold: u32,
}

#[derive(Deserialize)]
struct RawEntry {
    decoding_large_small_bs_threshold: u32,
    prefill: [f64; 3],
    decoding_smallbs: [f64; 3],
    decoding_largebs: [f64; 3],
}

/// A parsed DistServe profiler JSON: model → TP → coefficients.
#[derive(Debug, Clone, PartialEq)]
pub struct DistServeFile {
    file: String,
    label: Option<String>,
    /// Keyed by the model name as the file spells it (`facebook/opt-13b`).
    entries: BTreeMap<String, BTreeMap<u32, DistServeCoefficients>>,
}

impl DistServeFile {
    /// Reads and parses a profiler JSON file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses profiler JSON text; `file` names it in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Self, ProfileError> {
        let raw: BTreeMap<String, BTreeMap<String, RawEntry>> = serde_json::from_str(text)
            .map_err(|e| ProfileError::Json {
                file: file.to_string(),
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        let mut entries = BTreeMap::new();
        for (model, by_tp) in raw {
            let mut parsed = BTreeMap::new();
            for (tp_key, e) in by_tp {
                let tp = tp_key
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|tp| *tp > 0)
                    .ok_or_else(|| ProfileError::Invalid {
                        file: file.to_string(),
                        reason: format!(
                            "model `{model}`: tensor-parallel key `{tp_key}` is not a positive \
                             integer"
                        ),
                    })?;
                let coef = DistServeCoefficients {
                    prefill: e.prefill,
                    decode_small: e.decoding_smallbs,
                    decode_large: e.decoding_largebs,
                    threshold: e.decoding_large_small_bs_threshold,
                };
                let all = coef
                    .prefill
                    .iter()
                    .chain(&coef.decode_small)
                    .chain(&coef.decode_large);
                if all.clone().any(|v| !v.is_finite()) {
                    return Err(ProfileError::Invalid {
                        file: file.to_string(),
                        reason: format!("model `{model}` tp{tp}: a coefficient is not finite"),
                    });
                }
                parsed.insert(tp, coef);
            }
            entries.insert(model, parsed);
        }
        if entries.is_empty() {
            return Err(ProfileError::Invalid {
                file: file.to_string(),
                reason: "the profile has no models".into(),
            });
        }
        Ok(Self {
            file: file.to_string(),
            label: None,
            entries,
        })
    }

    /// Tags the profiles built from this file (e.g. `vllm`): names become
    /// `opt-13b/tp1/a100-80g/vllm`.
    pub fn with_label(mut self, label: &str) -> Self {
        self.label = Some(label.to_string());
        self
    }

    /// Model names as the file spells them.
    pub fn models(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// Tensor-parallel degrees the file has for `model`.
    pub fn tps(&self, model: &str) -> Result<Vec<u32>, ProfileError> {
        Ok(self.model_entry(model)?.1.keys().copied().collect())
    }

    /// The published coefficients of (`model`, `tp`).
    pub fn coefficients(
        &self,
        model: &str,
        tp: u32,
    ) -> Result<&DistServeCoefficients, ProfileError> {
        let (name, by_tp) = self.model_entry(model)?;
        by_tp.get(&tp).ok_or_else(|| ProfileError::UnknownVariant {
            file: self.file.clone(),
            model: name.to_string(),
            wanted: format!("tp{tp}"),
            available: by_tp
                .keys()
                .map(|t| format!("tp{t}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The profile of (`model`, `tp`) on A100-80G with the default memory budget.
    pub fn profile(&self, model: &str, tp: u32) -> Result<DistServeProfile, ProfileError> {
        let arch = ModelArch::lookup(model)?;
        let gpu = Gpu::lookup("a100-80gb")?;
        let kv = KvSizing::from_memory(arch, tp, &MemoryBudget::for_gpu(gpu))?;
        self.profile_with_kv(model, tp, kv)
    }

    /// The profile of (`model`, `tp`) with explicit KV sizing.
    pub fn profile_with_kv(
        &self,
        model: &str,
        tp: u32,
        kv: KvSizing,
    ) -> Result<DistServeProfile, ProfileError> {
        let published = *self.coefficients(model, tp)?;
        let short = canonical_model_name(model);
        let mut name = format!("{short}/tp{tp}/a100-80g");
        if let Some(label) = &self.label {
            name.push('/');
            name.push_str(label);
        }
        Ok(DistServeProfile::new(name, published, kv))
    }

    fn model_entry(
        &self,
        model: &str,
    ) -> Result<(&str, &BTreeMap<u32, DistServeCoefficients>), ProfileError> {
        let wanted = canonical_model_name(model);
        self.entries
            .iter()
            .find(|(name, _)| canonical_model_name(name) == wanted)
            .map(|(name, by_tp)| (name.as_str(), by_tp))
            .ok_or_else(|| ProfileError::UnknownModel {
                file: self.file.clone(),
                model: model.to_string(),
                available: self
                    .entries
                    .iter()
                    .map(|(m, by_tp)| {
                        let tps: Vec<String> = by_tp.keys().map(|t| format!("tp{t}")).collect();
                        format!("{m} ({})", tps.join("/"))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A DistServe-profiled engine: one (model, TP) on A100-80G.
#[derive(Debug, Clone, PartialEq)]
pub struct DistServeProfile {
    name: String,
    published: DistServeCoefficients,
    /// `published` with negative coefficients clamped to 0.
    used: DistServeCoefficients,
    adjustments: Vec<String>,
    kv: KvSizing,
}

impl DistServeProfile {
    fn new(name: String, published: DistServeCoefficients, kv: KvSizing) -> Self {
        let mut adjustments = Vec::new();
        let mut clamp = |set: [f64; 3], what: &str| {
            let mut out = set;
            for (i, v) in out.iter_mut().enumerate() {
                if *v < 0.0 {
                    adjustments.push(format!("{what}[{i}] = {v:e} clamped to 0"));
                    *v = 0.0;
                }
            }
            out
        };
        let used = DistServeCoefficients {
            prefill: clamp(published.prefill, "prefill"),
            decode_small: clamp(published.decode_small, "decoding_smallbs"),
            decode_large: clamp(published.decode_large, "decoding_largebs"),
            threshold: published.threshold,
        };
        Self {
            name,
            published,
            used,
            adjustments,
            kv,
        }
    }

    /// Overrides the KV-cache capacity (tokens).
    pub fn with_kv_capacity(mut self, capacity_tokens: u64) -> Self {
        self.kv.capacity_tokens = capacity_tokens;
        self
    }

    /// The coefficients as published in the file.
    pub fn coefficients(&self) -> &DistServeCoefficients {
        &self.published
    }

    /// Negative published coefficients that [`LatencyModel::iteration_ms`] clamps to 0.
    pub fn adjustments(&self) -> &[String] {
        &self.adjustments
    }

    /// DistServe's prefill formula exactly: `a + b·Σlen + c·Σlen²` (0 for no prompts).
    pub fn published_prefill_ms(&self, prompt_lens: &[u32]) -> f64 {
        if prompt_lens.is_empty() {
            return 0.0;
        }
        let [a, b, c] = self.published.prefill;
        let sum: f64 = prompt_lens.iter().map(|&l| f64::from(l)).sum();
        let sq: f64 = prompt_lens.iter().map(|&l| f64::from(l).powi(2)).sum();
        a + b * sum + c * sq
    }

    /// DistServe's decode formula exactly, with its small/large switch (0 for batch 0).
    pub fn published_decode_ms(&self, batch: u32, context: u64) -> f64 {
        if batch == 0 {
            return 0.0;
        }
        let set = if batch < self.published.threshold {
            self.published.decode_small
        } else {
            self.published.decode_large
        };
        linear(set, context, batch)
    }

    /// Prefill part of an iteration (chunks `(new, cached)`), clamped coefficients; 0 when no
    /// chunk has new tokens.
    pub fn prefill_ms(&self, chunks: &[(u32, u32)]) -> Option<f64> {
        let new = chunk_new_tokens(chunks);
        if new <= 0.0 {
            return None;
        }
        let [a, b, c] = self.used.prefill;
        Some(a + b * new + c * chunk_quadratic_per_request(chunks))
    }

    /// Decode part of an iteration: clamped coefficients, monotone small/large envelope.
    pub fn decode_ms(&self, batch: u32, context: u64) -> Option<f64> {
        if batch == 0 {
            return None;
        }
        let t = self.used.threshold;
        if batch < t {
            return Some(linear(self.used.decode_small, context, batch));
        }
        let large = linear(self.used.decode_large, context, batch);
        if t <= 1 {
            return Some(large);
        }
        Some(large.max(linear(self.used.decode_small, context, t - 1)))
    }
}

fn linear([a, b, c]: [f64; 3], context: u64, batch: u32) -> f64 {
    a + b * context as f64 + c * f64::from(batch)
}

impl LatencyModel for DistServeProfile {
    fn name(&self) -> &str {
        &self.name
    }

    fn iteration_ms(&self, it: &Iteration) -> f64 {
        let shared = self.used.prefill[0].min(self.used.decode_small[0]);
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

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "facebook/opt-13b": {
        "1": {
          "decoding_large_small_bs_threshold": 4,
          "prefill": [10.0, 0.1, 1e-5],
          "decoding_smallbs": [12.0, 0.001, 0.5],
          "decoding_largebs": [5.0, 0.001, 2.0]
        }
      }
    }"#;

    fn sample() -> DistServeProfile {
        DistServeFile::parse(SAMPLE, "sample.json")
            .expect("valid")
            .profile("opt-13b", 1)
            .expect("known")
    }

    #[test]
    fn published_formulas_match_hand_values() {
        let p = sample();
        // 10 + 0.1·(100 + 200) + 1e-5·(100² + 200²)
        assert!((p.published_prefill_ms(&[100, 200]) - 40.5).abs() < 1e-12);
        // batch 3 < 4: small set; batch 4: large set.
        assert!((p.published_decode_ms(3, 1000) - (12.0 + 1.0 + 1.5)).abs() < 1e-12);
        assert!((p.published_decode_ms(4, 1000) - (5.0 + 1.0 + 8.0)).abs() < 1e-12);
    }

    #[test]
    fn envelope_holds_the_small_batch_value_past_the_threshold() {
        let p = sample();
        // Published: batch 3 → 14.5 ms, batch 4 (large) → 14.0 ms: the raw switch drops.
        assert!(p.published_decode_ms(4, 1000) < p.published_decode_ms(3, 1000));
        assert_eq!(p.decode_ms(4, 1000), Some(14.5));
        // Further out the large-batch fit takes over and equals the published value.
        assert_eq!(p.decode_ms(10, 1000), Some(p.published_decode_ms(10, 1000)));
    }

    #[test]
    fn mixed_iteration_subtracts_the_smaller_intercept() {
        let p = sample();
        let it = Iteration {
            prefill: vec![(100, 0)],
            decode_batch: 2,
            decode_context: 500,
        };
        let prefill = 10.0 + 10.0 + 0.1;
        let decode = 12.0 + 0.5 + 1.0;
        assert!((p.iteration_ms(&it) - (prefill + decode - 10.0)).abs() < 1e-12);
        assert_eq!(p.iteration_ms(&Iteration::default()), 0.0);
    }

    #[test]
    fn negative_coefficients_are_clamped_and_reported() {
        let text = SAMPLE.replace("[10.0, 0.1, 1e-5]", "[10.0, 0.1, -1e-5]");
        let p = DistServeFile::parse(&text, "neg.json")
            .and_then(|f| f.profile("opt-13b", 1))
            .expect("valid");
        assert_eq!(p.adjustments().len(), 1);
        let big = p.prefill_ms(&[(100_000, 0)]).expect("has tokens");
        assert!((big - (10.0 + 10_000.0)).abs() < 1e-9);
    }

    #[test]
    fn malformed_json_reports_the_line() {
        let broken = SAMPLE.replace("\"prefill\": [10.0, 0.1, 1e-5]", "\"prefill\": [10.0, 0.1]");
        let err = DistServeFile::parse(&broken, "broken.json").expect_err("two numbers");
        match err {
            ProfileError::Json { line, .. } => assert_eq!(line, 5),
            other => panic!("expected a JSON error, got {other}"),
        }
    }

    #[test]
    fn unknown_model_and_tp_list_what_the_file_has() {
        let file = DistServeFile::parse(SAMPLE, "sample.json").expect("valid");
        let err = file.profile("opt-66b", 2).expect_err("absent").to_string();
        assert!(err.contains("facebook/opt-13b (tp1)"), "{err}");
        let err = file
            .coefficients("opt-13b", 8)
            .expect_err("absent")
            .to_string();
        assert!(err.contains("tp8") && err.contains("it has: tp1"), "{err}");
    }

    #[test]
    fn non_numeric_tp_key_is_rejected() {
        let text = SAMPLE.replace("\"1\": {", "\"one\": {");
        let err = DistServeFile::parse(&text, "bad.json").expect_err("bad key");
        assert!(err.to_string().contains("`one`"));
    }
}
