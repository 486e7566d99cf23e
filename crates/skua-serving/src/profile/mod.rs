//! Engine latency profiles: per-iteration latency of a continuous-batching engine.
//!
//! - [`DistServeProfile`]: DistServe's fitted coefficients (OPT-13B/66B on A100-80G, DistServe's
//!   own engine and vLLM) — the default profile, `opt-13b:tp1@a100`.
//! - [`SplitwiseFit`]: a robust fit of SplitwiseSim's measured `perf_model.csv` (Llama2-70B and
//!   BLOOM-176B on A100/H100) — for long-prompt traces.
//! - [`ProfileSpec`]: names such as `llama2-70b:tp4@h100` → a boxed [`LatencyModel`]; [`list`].
//! - [`KvSizing`]: KV bytes per token and pool capacity from the model architecture.
//! - [`SloSpec`]: the benchmark protocol's per-request TTFT and TPOT thresholds.
//!
//! # Costing an iteration
//!
//! Both profiles split an iteration into a prefill part and a decode part:
//!
//! - prefill = `a_p + b_p·Σn + c_p·Q` over the prefill chunks `(n new, k cached)`, where the
//!   attention term `Q = Σ((k + n)² − k²)` charges each chunk for attending to its cached
//!   context. Chunks of one prompt therefore add up to the quadratic term of the whole prompt
//!   (`(n₁)² + ((n₁+n₂)² − n₁²) = (n₁+n₂)²`), and a prefix-cache hit removes exactly the cached
//!   part. Without cached context this is DistServe's per-request `c·Σ(tokens²)`.
//! - decode = `a_d + b_d·Σcontext + c_d·batch`.
//! - a **mixed** iteration (vLLM's chunked prefill: prefill chunks and decode sequences in one
//!   forward pass) = prefill + decode − `min(a_p, a_d)`: one forward pass pays its fixed
//!   overhead (kernel launches, the weight read of a memory-bound step) once, not twice, so the
//!   smaller intercept is taken out. Subtracting the *smaller* one keeps the mixed cost at or
//!   above each part alone and, being a constant, keeps it monotone in every token count. The
//!   marginal terms add: chunk tokens and decode tokens are separate rows of the same GEMMs,
//!   and their attention is separate work. DistServe's own simulator costs a chunked-prefill
//!   batch with its prefill formula alone, ignoring both the decode sequences and the cached
//!   context (`simdistserve/base/worker.py`, `do_prefill`); that undercounts long-context chunks.
//! - an iteration with no new prefill tokens and no decode sequences costs 0.
//!
//! Every cost is non-decreasing in every token count, chunk and sequence (property-tested).

mod arch;
mod calibrated;
mod distserve;
mod error;
mod lsq;
mod slo;
mod spec;
mod splitwise;

pub use arch::{GPUS, Gpu, KvSizing, MODELS, MemoryBudget, ModelArch};
pub use calibrated::Calibrated;
pub use distserve::{DistServeCoefficients, DistServeFile, DistServeProfile};
pub use error::ProfileError;
pub use lsq::FitQuality;
pub use slo::{SloSpec, SloThresholds};
pub use spec::{ProfileInfo, ProfileSource, ProfileSpec, list};
pub use splitwise::{
    DecodeFit, PrefillFit, PrefillForm, SplitwiseData, SplitwiseFit, SplitwiseKey,
};

/// The work of one engine iteration (one forward pass).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Iteration {
    /// Prefill chunks in this iteration: `(new_tokens, cached_context_tokens)` per request,
    /// where `cached_context_tokens` are tokens already in KV (an earlier chunk or a prefix hit).
    pub prefill: Vec<(u32, u32)>,
    /// Number of decode sequences (one new token each).
    pub decode_batch: u32,
    /// Sum of the context lengths (prompt + generated so far) of the decode sequences.
    pub decode_context: u64,
}

/// Per-iteration latency of one engine instance.
pub trait LatencyModel: Send + Sync + std::fmt::Debug {
    /// Short name, e.g. `opt-13b/tp1/a100-80g`.
    fn name(&self) -> &str;
    /// Milliseconds one iteration takes.
    fn iteration_ms(&self, it: &Iteration) -> f64;
    /// KV-cache capacity of one instance in tokens.
    fn kv_capacity_tokens(&self) -> u64;
    /// Bytes of KV per token (for KV-transfer times between P and D instances).
    fn kv_bytes_per_token(&self) -> u64;

    /// Time to first token of a `prompt_tokens` prompt on an idle instance: the whole prompt in
    /// one prefill iteration, nothing cached, nothing else batched.
    fn idle_ttft_ms(&self, prompt_tokens: u32) -> f64 {
        self.iteration_ms(&Iteration {
            prefill: vec![(prompt_tokens, 0)],
            ..Iteration::default()
        })
    }

    /// Time of one decode iteration at batch 1 with `context_tokens` in context on an idle
    /// instance.
    fn idle_tpot_ms(&self, context_tokens: u64) -> f64 {
        self.iteration_ms(&Iteration {
            prefill: Vec::new(),
            decode_batch: 1,
            decode_context: context_tokens,
        })
    }
}

/// The attention term `Σ((k + n)² − k²)` of prefill chunks `(n new, k cached)`, per request.
pub(crate) fn chunk_quadratic_per_request(chunks: &[(u32, u32)]) -> f64 {
    chunks
        .iter()
        .map(|&(n, k)| {
            let (n, k) = (f64::from(n), f64::from(k));
            n * (n + 2.0 * k)
        })
        .sum()
}

/// New tokens of prefill chunks.
pub(crate) fn chunk_new_tokens(chunks: &[(u32, u32)]) -> f64 {
    chunks.iter().map(|&(n, _)| f64::from(n)).sum()
}

/// Combines the parts of one iteration: each part is `Some(total_ms)` when present; `shared_ms`
/// is the fixed overhead both parts include and a mixed pass pays once.
pub(crate) fn combine_parts(prefill: Option<f64>, decode: Option<f64>, shared_ms: f64) -> f64 {
    match (prefill, decode) {
        (None, None) => 0.0,
        (Some(p), None) => p,
        (None, Some(d)) => d,
        (Some(p), Some(d)) => p + d - shared_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_one_prompt_add_up_to_the_whole_prompts_quadratic_term() {
        let whole = chunk_quadratic_per_request(&[(3000, 0)]);
        let split = chunk_quadratic_per_request(&[(1000, 0)])
            + chunk_quadratic_per_request(&[(1500, 1000)])
            + chunk_quadratic_per_request(&[(500, 2500)]);
        assert_eq!(whole, 3000.0 * 3000.0);
        assert_eq!(split, whole);
    }

    #[test]
    fn a_prefix_hit_removes_the_cached_part() {
        // 1,000 of 3,000 tokens cached: the remaining work is 3000² − 1000².
        assert_eq!(
            chunk_quadratic_per_request(&[(2000, 1000)]),
            3000.0f64.powi(2) - 1000.0f64.powi(2)
        );
    }

    #[test]
    fn mixed_pays_the_shared_overhead_once() {
        assert_eq!(combine_parts(None, None, 5.0), 0.0);
        assert_eq!(combine_parts(Some(30.0), None, 5.0), 30.0);
        assert_eq!(combine_parts(None, Some(20.0), 5.0), 20.0);
        assert_eq!(combine_parts(Some(30.0), Some(20.0), 5.0), 45.0);
    }
}
