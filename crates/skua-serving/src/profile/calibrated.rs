//! A latency model scaled by calibration factors measured against a real engine.

use std::sync::Arc;

use super::{Iteration, LatencyModel};

/// Another model's iterations with the prefill part scaled by `prefill_scale` and the decode
/// part by `decode_scale` (a mixed iteration: the whole, plus each part's scaled excess). The
/// fidelity replay fits the factors on some of DistServe's measured runs and reports the rest:
/// a fitted profile captures the GPU kernels, while a served engine also spends time on
/// scheduling, sampling and streaming per token.
#[derive(Debug, Clone)]
pub struct Calibrated {
    inner: Arc<dyn LatencyModel>,
    prefill_scale: f64,
    decode_scale: f64,
    per_sequence_ms: f64,
    name: String,
}

impl Calibrated {
    /// Wraps `inner`; factors must be positive and finite (others are taken as 1).
    pub fn new(inner: Arc<dyn LatencyModel>, prefill_scale: f64, decode_scale: f64) -> Self {
        let ok = |x: f64| if x.is_finite() && x > 0.0 { x } else { 1.0 };
        let (prefill_scale, decode_scale) = (ok(prefill_scale), ok(decode_scale));
        let name = format!("{}×p{prefill_scale:.2}×d{decode_scale:.2}", inner.name());
        Calibrated {
            inner,
            prefill_scale,
            decode_scale,
            per_sequence_ms: 0.0,
            name,
        }
    }

    /// Also charges `ms` per sequence in every iteration (the engine's per-sequence CPU work:
    /// scheduling, sampling, detokenising; vLLM 0.2 does it in Python). Negative or non-finite
    /// values are taken as 0.
    pub fn with_per_sequence_ms(mut self, ms: f64) -> Self {
        self.per_sequence_ms = if ms.is_finite() && ms > 0.0 { ms } else { 0.0 };
        if self.per_sequence_ms > 0.0 {
            self.name = format!("{}+{:.2}ms/seq", self.name, self.per_sequence_ms);
        }
        self
    }

    /// The per-sequence overhead, ms.
    pub fn per_sequence_ms(&self) -> f64 {
        self.per_sequence_ms
    }

    /// The prefill factor.
    pub fn prefill_scale(&self) -> f64 {
        self.prefill_scale
    }

    /// The decode factor.
    pub fn decode_scale(&self) -> f64 {
        self.decode_scale
    }
}

impl LatencyModel for Calibrated {
    fn name(&self) -> &str {
        &self.name
    }

    fn iteration_ms(&self, it: &Iteration) -> f64 {
        let seqs = it.prefill.len() as f64 + f64::from(it.decode_batch);
        self.scaled_ms(it) + self.per_sequence_ms * seqs
    }

    fn kv_capacity_tokens(&self) -> u64 {
        self.inner.kv_capacity_tokens()
    }

    fn kv_bytes_per_token(&self) -> u64 {
        self.inner.kv_bytes_per_token()
    }
}

impl Calibrated {
    fn scaled_ms(&self, it: &Iteration) -> f64 {
        let whole = self.inner.iteration_ms(it);
        match (it.prefill.is_empty(), it.decode_batch == 0) {
            (true, true) => whole,
            (true, false) => whole * self.decode_scale,
            (false, true) => whole * self.prefill_scale,
            (false, false) => {
                let prefill = self.inner.iteration_ms(&Iteration {
                    prefill: it.prefill.clone(),
                    ..Iteration::default()
                });
                let decode = self.inner.iteration_ms(&Iteration {
                    prefill: Vec::new(),
                    ..it.clone()
                });
                whole + (self.prefill_scale - 1.0) * prefill + (self.decode_scale - 1.0) * decode
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 ms + 1 ms per prefill token; 5 ms + 2 ms per decode sequence; mixed = sum − 5.
    #[derive(Debug)]
    struct Linear;

    impl LatencyModel for Linear {
        fn name(&self) -> &str {
            "linear"
        }
        fn iteration_ms(&self, it: &Iteration) -> f64 {
            let p: u32 = it.prefill.iter().map(|&(n, _)| n).sum();
            let pm = if p > 0 { 10.0 + f64::from(p) } else { 0.0 };
            let dm = if it.decode_batch > 0 {
                5.0 + 2.0 * f64::from(it.decode_batch)
            } else {
                0.0
            };
            if pm > 0.0 && dm > 0.0 {
                pm + dm - 5.0
            } else {
                pm + dm
            }
        }
        fn kv_capacity_tokens(&self) -> u64 {
            1000
        }
        fn kv_bytes_per_token(&self) -> u64 {
            7
        }
    }

    #[test]
    fn scales_each_part() {
        let c = Calibrated::new(Arc::new(Linear), 1.5, 2.0);
        let prefill = Iteration {
            prefill: vec![(90, 0)],
            ..Iteration::default()
        };
        let decode = Iteration {
            decode_batch: 10,
            decode_context: 100,
            ..Iteration::default()
        };
        assert_eq!(c.iteration_ms(&prefill), 150.0);
        assert_eq!(c.iteration_ms(&decode), 50.0);
        let mixed = Iteration {
            prefill: vec![(90, 0)],
            decode_batch: 10,
            decode_context: 100,
        };
        // 120 unscaled, + 0.5 × 100 prefill + 1.0 × 25 decode.
        assert_eq!(c.iteration_ms(&mixed), 195.0);
        assert_eq!(c.iteration_ms(&Iteration::default()), 0.0);
        assert_eq!((c.kv_capacity_tokens(), c.kv_bytes_per_token()), (1000, 7));
        let same = Calibrated::new(Arc::new(Linear), f64::NAN, -1.0);
        assert_eq!(same.iteration_ms(&mixed), 120.0);
    }

    #[test]
    fn the_per_sequence_overhead_is_charged_per_scheduled_sequence() {
        let c = Calibrated::new(Arc::new(Linear), 1.0, 1.0).with_per_sequence_ms(0.25);
        assert_eq!(c.per_sequence_ms(), 0.25);
        assert!(c.name().ends_with("+0.25ms/seq"), "{}", c.name());
        // Decode of 8 sequences: 5 + 16 ms, plus 8 × 0.25.
        let decode = Iteration {
            prefill: Vec::new(),
            decode_batch: 8,
            decode_context: 100,
        };
        assert!((c.iteration_ms(&decode) - 23.0).abs() < 1e-9);
        // Two prompts and 4 decodes: 6 sequences.
        let mixed = Iteration {
            prefill: vec![(10, 0), (20, 0)],
            decode_batch: 4,
            decode_context: 100,
        };
        let plain = Linear.iteration_ms(&mixed);
        assert!((c.iteration_ms(&mixed) - plain - 1.5).abs() < 1e-9);
        let none = Calibrated::new(Arc::new(Linear), 1.0, 1.0).with_per_sequence_ms(-3.0);
        assert_eq!(none.per_sequence_ms(), 0.0);
    }
}
