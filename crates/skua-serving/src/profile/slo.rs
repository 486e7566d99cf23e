//! The benchmark protocol's per-request SLOs (`docs/serving-benchmark-protocol.md`):
//! TTFT ≤ max(200 ms, 5 × the request's TTFT on an idle instance) and TPOT ≤ 5 × the decode
//! iteration time at batch 1 with the request's context.

use super::LatencyModel;

/// How SLO thresholds are derived from a latency model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloSpec {
    /// Multiple of the idle time allowed (default 5).
    pub factor: f64,
    /// Lowest TTFT threshold, ms (default 200).
    pub ttft_floor_ms: f64,
}

impl Default for SloSpec {
    fn default() -> Self {
        Self {
            factor: 5.0,
            ttft_floor_ms: 200.0,
        }
    }
}

/// The two thresholds of one request, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloThresholds {
    /// Time-to-first-token threshold.
    pub ttft_ms: f64,
    /// Time-per-output-token threshold.
    pub tpot_ms: f64,
}

impl SloSpec {
    /// TTFT threshold of a `prompt_tokens` prompt: max(floor, factor × idle TTFT).
    pub fn ttft_ms(&self, model: &dyn LatencyModel, prompt_tokens: u32) -> f64 {
        (self.factor * model.idle_ttft_ms(prompt_tokens)).max(self.ttft_floor_ms)
    }

    /// TPOT threshold at `context_tokens` of context: factor × batch-1 decode time.
    pub fn tpot_ms(&self, model: &dyn LatencyModel, context_tokens: u64) -> f64 {
        self.factor * model.idle_tpot_ms(context_tokens)
    }

    /// Both thresholds of a request with `prompt_tokens` in and `output_tokens` out.
    ///
    /// The TPOT context is `prompt + output/2`: a request's TPOT averages its decode iterations,
    /// whose contexts run from `prompt + 1` to `prompt + output − 1`, and decode time is linear
    /// in context, so the average idle iteration is the one at the mean context.
    pub fn for_request(
        &self,
        model: &dyn LatencyModel,
        prompt_tokens: u32,
        output_tokens: u32,
    ) -> SloThresholds {
        let context = u64::from(prompt_tokens) + u64::from(output_tokens) / 2;
        SloThresholds {
            ttft_ms: self.ttft_ms(model, prompt_tokens),
            tpot_ms: self.tpot_ms(model, context),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Iteration;
    use super::*;

    /// prefill = 10 + 0.1·tokens, decode = 20 + 0.01·context.
    #[derive(Debug)]
    struct Toy;

    impl LatencyModel for Toy {
        fn name(&self) -> &str {
            "toy"
        }
        fn iteration_ms(&self, it: &Iteration) -> f64 {
            let p: u32 = it.prefill.iter().map(|c| c.0).sum();
            let prefill = if p > 0 {
                10.0 + 0.1 * f64::from(p)
            } else {
                0.0
            };
            let decode = if it.decode_batch > 0 {
                20.0 + 0.01 * it.decode_context as f64
            } else {
                0.0
            };
            prefill + decode
        }
        fn kv_capacity_tokens(&self) -> u64 {
            1
        }
        fn kv_bytes_per_token(&self) -> u64 {
            1
        }
    }

    #[test]
    fn ttft_has_a_floor_and_scales_above_it() {
        let slo = SloSpec::default();
        // Idle TTFT of 100 tokens = 20 ms → 5× = 100 ms < 200 ms floor.
        assert_eq!(slo.ttft_ms(&Toy, 100), 200.0);
        // 1,000 tokens: 110 ms idle → 550 ms.
        assert!((slo.ttft_ms(&Toy, 1000) - 550.0).abs() < 1e-9);
    }

    #[test]
    fn tpot_uses_the_mean_decode_context() {
        let slo = SloSpec {
            factor: 2.0,
            ttft_floor_ms: 0.0,
        };
        let t = slo.for_request(&Toy, 1000, 200);
        // Context 1,000 + 100 → 20 + 11 = 31 ms idle → 62 ms.
        assert!((t.tpot_ms - 62.0).abs() < 1e-9);
        assert!((t.ttft_ms - 220.0).abs() < 1e-9);
    }
}
