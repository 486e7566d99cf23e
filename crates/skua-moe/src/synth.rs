//! Synthetic routing traces: a seeded generator of per-token expert choices with realistic skew
//! and co-activation, calibrated against real traces (ESFT, DeepSeek-V2-Lite).
//!
//! The model, per layer and window (see [`SynthModel`]):
//!
//! * every expert has a log-popularity `expert_skew · z_e` (so its share is log-normal with σ =
//!   `expert_skew`), plus its group's offset `group_skew · z_g`;
//! * every token has a latent topic: a sequence draws one topic (Zipf-weighted, `1/(rank+1)`)
//!   and 90 % of its tokens keep it, the rest draw their own — so experts favoured by the same
//!   topic are chosen together, as in real traces; each topic adds `topic_strength · a_{t,e}`
//!   (`a ~ N(0, 1)`, one matrix per layer) to every expert's score;
//! * the token's score for expert `e` is that logit plus Gumbel noise, so that picking the
//!   `top_k` highest scores samples experts without replacement in proportion to
//!   `exp(logit)` (the Gumbel-top-k trick; without a group limit the generator draws the same
//!   distribution directly, by successive softmax sampling);
//! * with a group limit (DeepSeek-V3's node-limited routing), groups are ranked by the sum of
//!   their two best scores, the best `top_groups` are kept, and the `top_k` experts are chosen
//!   among them.
//!
//! `drift` moves the popularities between windows (an AR(1) step: `z ← √(1−drift)·z +
//! √drift·ε`), for re-planning tests; topics stay. Every random stream is derived from `seed`,
//! the window and the layer, so a trace is a pure function of its config, and the same streams
//! are reused when only `expert_skew` or `topic_strength` change (calibration relies on that).

mod calibrate;
mod model;
mod stats;

pub use calibrate::{CalibrationReport, calibrate_to};
pub use model::{SynthModel, TokenTopics, select_experts};
pub use stats::{TraceStats, trace_stats};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::MoeError;
use crate::load::TokenTrace;

/// Parameters of the synthetic routing generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Routed experts per layer.
    pub experts: usize,
    /// Expert groups (contiguous ids, `experts / groups` each); 1 when the model has none.
    pub groups: usize,
    /// Groups a token may use (DeepSeek-V3: 4 of 8); 0 = no group limit.
    pub top_groups: usize,
    /// Experts chosen per token.
    pub top_k: usize,
    /// MoE layers.
    pub layers: usize,
    /// Tokens per window.
    pub tokens: usize,
    /// Sequences per window (tokens are split evenly over them).
    pub sequences: usize,
    /// σ of the log-normal per-expert popularity.
    pub expert_skew: f64,
    /// σ of the log-normal per-group popularity factor.
    pub group_skew: f64,
    /// Latent topics.
    pub topic_count: usize,
    /// Weight of a topic's expert affinities in the score.
    pub topic_strength: f64,
    /// Share of the popularity variance renewed between consecutive windows, in `[0, 1]`.
    pub drift: f64,
    /// Seed of every random stream.
    pub seed: u64,
}

impl SynthConfig {
    /// DeepSeek-V3-like: 256 experts in 8 groups, top-4 groups, top-8 experts, 4 layers, 16k
    /// tokens in 128 sequences. The group skew is set so that EPLB planned on one window and
    /// scored on the next, on 8 nodes × 4 GPUs × 288 slots, sees 30–60 % GPU imbalance with
    /// the hierarchical policy (≈ 4.0 nodes per token) and 7–11 % with the global one (≈ 5.0).
    pub fn deepseek_v3_like() -> Self {
        Self {
            experts: 256,
            groups: 8,
            top_groups: 4,
            top_k: 8,
            layers: 4,
            tokens: 16_384,
            sequences: 128,
            expert_skew: 0.3,
            group_skew: 0.2,
            topic_count: 16,
            topic_strength: 0.8,
            drift: 0.05,
            seed: 0x5eed_0d53,
        }
    }

    /// ESFT-like (DeepSeek-V2-Lite): 64 experts, no groups, top-6, 26 layers, 8k tokens in 128
    /// sequences; 24 topics, with skew and topic strength near what [`calibrate_to`] fits on the
    /// ESFT `intent` task (hottest expert ≈ 3.8× the mean).
    pub fn esft_like() -> Self {
        Self {
            experts: 64,
            groups: 1,
            top_groups: 0,
            top_k: 6,
            layers: 26,
            tokens: 8_192,
            sequences: 128,
            expert_skew: 0.72,
            group_skew: 0.0,
            topic_count: 24,
            topic_strength: 3.7,
            drift: 0.1,
            seed: 0x5eed_e5f7,
        }
    }

    /// Experts per group.
    pub fn group_size(&self) -> usize {
        self.experts / self.groups.max(1)
    }

    /// Whether the router is group-limited.
    pub fn group_limited(&self) -> bool {
        self.top_groups > 0 && self.top_groups < self.groups
    }

    /// Checks every parameter; the message names the first bad one.
    pub fn validate(&self) -> Result<(), MoeError> {
        let bad = |m: String| Err(MoeError::Shape(format!("synthetic config: {m}")));
        if self.experts == 0 || self.experts > usize::from(u16::MAX) {
            return bad(format!("experts = {} is not in 1..=65535", self.experts));
        }
        if self.top_k == 0 || self.top_k > self.experts {
            return bad(format!(
                "top_k = {} is not in 1..={}",
                self.top_k, self.experts
            ));
        }
        if self.groups == 0 || self.experts % self.groups != 0 {
            return bad(format!(
                "{} experts do not divide into {} groups",
                self.experts, self.groups
            ));
        }
        if self.top_groups > self.groups {
            return bad(format!(
                "top_groups = {} is more than the {} groups",
                self.top_groups, self.groups
            ));
        }
        if self.group_limited() && self.top_groups * self.group_size() < self.top_k {
            return bad(format!(
                "{} groups of {} experts cannot supply top_k = {}",
                self.top_groups,
                self.group_size(),
                self.top_k
            ));
        }
        if self.layers == 0 || self.tokens == 0 || self.topic_count == 0 {
            return bad("layers, tokens and topic_count must be positive".into());
        }
        if self.sequences == 0 || self.sequences > self.tokens {
            return bad(format!(
                "sequences = {} is not in 1..={} (tokens)",
                self.sequences, self.tokens
            ));
        }
        for (name, v) in [
            ("expert_skew", self.expert_skew),
            ("group_skew", self.group_skew),
            ("topic_strength", self.topic_strength),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("{name} = {v} is not a finite non-negative number"));
            }
        }
        if !(0.0..=1.0).contains(&self.drift) {
            return bad(format!("drift = {} is not in [0, 1]", self.drift));
        }
        Ok(())
    }
}

/// Generates window 0 of `cfg`.
pub fn generate(cfg: &SynthConfig) -> Result<TokenTrace, MoeError> {
    generate_window(cfg, 0)
}

/// Generates window `window` of `cfg`: popularities drifted `window` times, fresh sequences.
pub fn generate_window(cfg: &SynthConfig, window: usize) -> Result<TokenTrace, MoeError> {
    let model = SynthModel::new(cfg, window)?;
    trace_of(&model, window)
}

/// Generates windows `0..windows` (consecutive windows are related through `drift`).
pub fn generate_windows(cfg: &SynthConfig, windows: usize) -> Result<Vec<TokenTrace>, MoeError> {
    let mut out = Vec::with_capacity(windows);
    let mut model = SynthModel::new(cfg, 0)?;
    for w in 0..windows {
        if w > 0 {
            model.advance();
        }
        out.push(trace_of(&model, w)?);
    }
    Ok(out)
}

fn trace_of(model: &SynthModel, window: usize) -> Result<TokenTrace, MoeError> {
    let cfg = model.config();
    let topics = model.token_topics(window);
    let per_layer: Vec<Vec<u16>> = (0..cfg.layers)
        .into_par_iter()
        .map(|l| {
            let mut noise = model.noise(window, l);
            let mut scores = vec![0.0; cfg.experts];
            let mut chosen = Vec::with_capacity(cfg.top_k);
            let mut out = Vec::with_capacity(cfg.tokens * cfg.top_k);
            for &topic in &topics.topic {
                model.sample_token(l, topic, &mut noise, &mut scores, &mut chosen);
                out.extend_from_slice(&chosen);
            }
            out
        })
        .collect();
    TokenTrace::new(
        cfg.experts,
        cfg.top_k,
        cfg.layers,
        per_layer.concat(),
        topics.sequence_starts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SynthConfig {
        SynthConfig {
            experts: 32,
            groups: 4,
            top_groups: 2,
            top_k: 4,
            layers: 2,
            tokens: 600,
            sequences: 12,
            ..SynthConfig::deepseek_v3_like()
        }
    }

    #[test]
    fn presets_are_valid() {
        SynthConfig::deepseek_v3_like().validate().unwrap();
        SynthConfig::esft_like().validate().unwrap();
    }

    #[test]
    fn validation_names_the_bad_field() {
        let cfg = SynthConfig {
            drift: 1.5,
            ..small()
        };
        let msg = cfg.validate().unwrap_err().to_string();
        assert!(msg.contains("drift"), "{msg}");
        let cfg = SynthConfig {
            top_groups: 1,
            top_k: 9,
            ..small()
        };
        assert!(cfg.validate().unwrap_err().to_string().contains("top_k"));
        let cfg = SynthConfig {
            groups: 5,
            ..small()
        };
        assert!(generate(&cfg).is_err());
    }

    #[test]
    fn trace_has_the_configured_shape_and_distinct_choices() {
        let cfg = small();
        let t = generate(&cfg).unwrap();
        assert_eq!(
            (t.layers(), t.tokens(), t.top_k(), t.sequences()),
            (2, 600, 4, 12)
        );
        for l in 0..t.layers() {
            for tok in 0..t.tokens() {
                let mut c = t.choice(l, tok).to_vec();
                c.sort_unstable();
                c.dedup();
                assert_eq!(c.len(), 4, "token {tok} chose an expert twice");
            }
        }
    }

    #[test]
    fn windows_start_with_window_zero_and_drift_changes_counts() {
        let cfg = small();
        let ws = generate_windows(&cfg, 3).unwrap();
        assert_eq!(ws[0], generate(&cfg).unwrap());
        assert_eq!(ws[2], generate_window(&cfg, 2).unwrap());
        assert_ne!(ws[0].counts(), ws[1].counts());
    }
}
