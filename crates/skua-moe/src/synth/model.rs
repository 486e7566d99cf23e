//! The generator's latent model: popularities, topic affinities, token topics, noisy scores and
//! the (group-limited) top-k selection. [`crate::locmoe`] drives the same model to simulate
//! routing policies that add biases to the scores.

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};

use super::SynthConfig;
use crate::MoeError;

/// Share of a sequence's tokens that keep the sequence's topic (the rest draw their own).
pub const TOPIC_STICKINESS: f64 = 0.9;

const TAG_MODEL: u64 = 1;
const TAG_DRIFT: u64 = 2;
const TAG_TOPICS: u64 = 3;
const TAG_NOISE: u64 = 4;
/// Draws per expert slot before [`SynthModel::sample_token`] falls back to an exact scan.
const REJECTION_TRIES: usize = 8;

/// The latent state of one window: per layer, standard-normal popularity draws and topic
/// affinities, and the logits they make under the config's scales.
#[derive(Debug, Clone)]
pub struct SynthModel {
    cfg: SynthConfig,
    window: usize,
    /// `layers × experts`, N(0, 1) after drift.
    z_expert: Vec<f64>,
    /// `layers × groups`, N(0, 1) after drift.
    z_group: Vec<f64>,
    /// `layers × topics × experts`, N(0, 1).
    affinity: Vec<f64>,
    /// `layers × topics × experts`: the score of each expert before noise.
    logits: Vec<f64>,
    /// `layers × topics × experts`: running sums of `exp(logit − max logit)` per (layer, topic).
    cumulative: Vec<f64>,
}

/// The topic of every token of a window, and where its sequences start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTopics {
    /// Topic per token.
    pub topic: Vec<usize>,
    /// Token index where each sequence starts (first is 0).
    pub sequence_starts: Vec<usize>,
}

impl SynthModel {
    /// The model of window `window` (window 0 drawn from the seed, then `window` drift steps).
    pub fn new(cfg: &SynthConfig, window: usize) -> Result<Self, MoeError> {
        cfg.validate()?;
        let (e, g, t) = (cfg.experts, cfg.groups, cfg.topic_count);
        let mut z_expert = Vec::with_capacity(cfg.layers * e);
        let mut z_group = Vec::with_capacity(cfg.layers * g);
        let mut affinity = Vec::with_capacity(cfg.layers * t * e);
        for l in 0..cfg.layers {
            let mut rng = stream(cfg.seed, TAG_MODEL, 0, l as u64);
            z_expert.extend((0..e).map(|_| normal(&mut rng)));
            z_group.extend((0..g).map(|_| normal(&mut rng)));
            affinity.extend((0..t * e).map(|_| normal(&mut rng)));
        }
        let mut m = Self {
            cfg: cfg.clone(),
            window: 0,
            z_expert,
            z_group,
            affinity,
            logits: Vec::new(),
            cumulative: Vec::new(),
        };
        for _ in 0..window {
            m.drift_once();
        }
        m.refresh_logits();
        Ok(m)
    }

    /// The config this model was built from.
    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    /// The window this model describes.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Moves to the next window (one drift step of the popularities).
    pub fn advance(&mut self) {
        self.drift_once();
        self.refresh_logits();
    }

    fn drift_once(&mut self) {
        self.window += 1;
        let d = self.cfg.drift;
        if d == 0.0 {
            return;
        }
        let (keep, renew) = ((1.0 - d).sqrt(), d.sqrt());
        let (e, g) = (self.cfg.experts, self.cfg.groups);
        for l in 0..self.cfg.layers {
            let mut rng = stream(self.cfg.seed, TAG_DRIFT, self.window as u64, l as u64);
            for z in &mut self.z_expert[l * e..(l + 1) * e] {
                *z = keep * *z + renew * normal(&mut rng);
            }
            for z in &mut self.z_group[l * g..(l + 1) * g] {
                *z = keep * *z + renew * normal(&mut rng);
            }
        }
    }

    fn refresh_logits(&mut self) {
        let c = &self.cfg;
        let (e, g, t) = (c.experts, c.groups, c.topic_count);
        let gs = c.group_size();
        self.logits = vec![0.0; c.layers * t * e];
        for l in 0..c.layers {
            for topic in 0..t {
                let at = (l * t + topic) * e;
                for x in 0..e {
                    self.logits[at + x] = c.expert_skew * self.z_expert[l * e + x]
                        + c.group_skew * self.z_group[l * g + x / gs]
                        + c.topic_strength * self.affinity[at + x];
                }
            }
        }
        self.cumulative = vec![0.0; self.logits.len()];
        for (lg, cum) in self.logits.chunks(e).zip(self.cumulative.chunks_mut(e)) {
            let max = lg.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut acc = 0.0;
            for (c, &x) in cum.iter_mut().zip(lg) {
                acc += (x - max).exp();
                *c = acc;
            }
        }
    }

    /// Expected log-popularity of each expert of layer `l` (no topic, no noise): what a planner
    /// would learn from long-run counts, up to the topic mixture.
    pub fn popularity(&self, l: usize) -> Vec<f64> {
        let (e, g, gs) = (self.cfg.experts, self.cfg.groups, self.cfg.group_size());
        (0..e)
            .map(|x| {
                self.cfg.expert_skew * self.z_expert[l * e + x]
                    + self.cfg.group_skew * self.z_group[l * g + x / gs]
            })
            .collect()
    }

    /// The topic of every token of window `window` (sequence topics are Zipf-weighted).
    pub fn token_topics(&self, window: usize) -> TokenTopics {
        let c = &self.cfg;
        let mut rng = stream(c.seed, TAG_TOPICS, window as u64, 0);
        let cumulative: Vec<f64> = (0..c.topic_count)
            .scan(0.0, |acc, r| {
                *acc += 1.0 / (r as f64 + 1.0);
                Some(*acc)
            })
            .collect();
        let total = cumulative[cumulative.len() - 1];
        let zipf = |rng: &mut StdRng| {
            let u = rng.random::<f64>() * total;
            cumulative
                .partition_point(|&x| x <= u)
                .min(c.topic_count - 1)
        };
        let (base, extra) = (c.tokens / c.sequences, c.tokens % c.sequences);
        let mut topic = Vec::with_capacity(c.tokens);
        let mut sequence_starts = Vec::with_capacity(c.sequences);
        for s in 0..c.sequences {
            sequence_starts.push(topic.len());
            let own = zipf(&mut rng);
            for _ in 0..base + usize::from(s < extra) {
                let t = if rng.random::<f64>() < TOPIC_STICKINESS {
                    own
                } else {
                    zipf(&mut rng)
                };
                topic.push(t);
            }
        }
        TokenTopics {
            topic,
            sequence_starts,
        }
    }

    /// The noise stream of layer `l` in window `window`.
    pub fn noise(&self, window: usize, l: usize) -> StdRng {
        stream(self.cfg.seed, TAG_NOISE, window as u64, l as u64)
    }

    /// Draws the experts of one token of `topic` in layer `l` (the generator's path). Without a
    /// group limit it samples successively from the softmax of the logits, rejecting repeats —
    /// the same distribution as the top-k of logit + Gumbel noise, at a fraction of the draws;
    /// with a group limit it takes [`Self::scores`] and [`select_experts`].
    pub fn sample_token(
        &self,
        l: usize,
        topic: usize,
        noise: &mut StdRng,
        scratch: &mut [f64],
        out: &mut Vec<u16>,
    ) {
        if self.cfg.group_limited() {
            self.scores(l, topic, noise, scratch);
            select_experts(scratch, &self.cfg, out);
            return;
        }
        let e = self.cfg.experts;
        let at = (l * self.cfg.topic_count + topic) * e;
        let cum = &self.cumulative[at..at + e];
        let total = cum[e - 1];
        out.clear();
        while out.len() < self.cfg.top_k {
            let mut pick = None;
            for _ in 0..REJECTION_TRIES {
                let u = noise.random::<f64>() * total;
                let x = cum.partition_point(|&c| c <= u).min(e - 1) as u16;
                if !out.contains(&x) {
                    pick = Some(x);
                    break;
                }
            }
            // Chosen experts hold most of the mass: draw from the rest directly (the same
            // conditional distribution, so the sampler stays exact).
            let x = pick.unwrap_or_else(|| {
                let weight = |x: usize| cum[x] - if x == 0 { 0.0 } else { cum[x - 1] };
                let taken: f64 = out.iter().map(|&x| weight(usize::from(x))).sum();
                let mut u = noise.random::<f64>() * (total - taken);
                let mut last = 0;
                for x in (0..e).filter(|&x| !out.contains(&(x as u16))) {
                    last = x;
                    u -= weight(x);
                    if u < 0.0 {
                        break;
                    }
                }
                last as u16
            });
            out.push(x);
        }
    }

    /// Writes the scores of every expert of layer `l` for a token of `topic`: logit plus Gumbel
    /// noise drawn from `noise` (`l < layers`, `topic < topic_count`).
    pub fn scores(&self, l: usize, topic: usize, noise: &mut StdRng, out: &mut [f64]) {
        let e = self.cfg.experts;
        let at = (l * self.cfg.topic_count + topic) * e;
        for (o, &logit) in out.iter_mut().zip(&self.logits[at..at + e]) {
            *o = logit + gumbel(noise);
        }
    }
}

/// Picks the `top_k` highest scores (ids in descending score order, ties to the lower id). With
/// a group limit, only experts of the `top_groups` groups with the highest sum of their two best
/// scores compete (DeepSeek-V3's node-limited routing). `scores` has one entry per expert (a
/// shorter slice yields fewer candidates, never a panic).
pub fn select_experts(scores: &[f64], cfg: &SynthConfig, out: &mut Vec<u16>) {
    let mut best: Vec<(f64, usize)> = Vec::with_capacity(cfg.top_k + 1);
    if cfg.group_limited() {
        let gs = cfg.group_size();
        let mut groups: Vec<(f64, usize)> = Vec::with_capacity(cfg.top_groups + 1);
        let mut two: Vec<(f64, usize)> = Vec::with_capacity(3);
        for (g, group) in scores.chunks(gs).enumerate() {
            two.clear();
            for (i, &s) in group.iter().enumerate() {
                push_top(&mut two, 2, s, i);
            }
            let value = two.iter().map(|x| x.0).sum();
            push_top(&mut groups, cfg.top_groups, value, g);
        }
        // Scan kept groups in id order so that ties between experts go to the lower id.
        groups.sort_unstable_by_key(|x| x.1);
        for &(_, g) in &groups {
            for (i, &s) in scores
                .chunks(gs)
                .nth(g)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                push_top(&mut best, cfg.top_k, s, g * gs + i);
            }
        }
    } else {
        for (i, &s) in scores.iter().enumerate() {
            push_top(&mut best, cfg.top_k, s, i);
        }
    }
    out.clear();
    out.extend(best.iter().map(|&(_, i)| i as u16));
}

/// Inserts `(v, i)` into `buf`, kept sorted by descending value and at most `cap` long; an
/// equal value goes after the ones already there (so earlier ids win ties).
fn push_top(buf: &mut Vec<(f64, usize)>, cap: usize, v: f64, i: usize) {
    if buf.len() == cap && buf.last().is_some_and(|x| x.0 >= v) {
        return;
    }
    let at = buf.partition_point(|x| x.0 >= v);
    buf.insert(at, (v, i));
    buf.truncate(cap);
}

fn normal(rng: &mut StdRng) -> f64 {
    StandardNormal.sample(rng)
}

/// A standard Gumbel draw, `−ln E` with `E ~ Exp(1)` (ziggurat: one logarithm per draw).
fn gumbel<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let e: f64 = Exp1.sample(rng);
    -e.max(f64::MIN_POSITIVE).ln()
}

/// An independent stream per (seed, purpose, window, layer).
fn stream(seed: u64, tag: u64, a: u64, b: u64) -> StdRng {
    StdRng::seed_from_u64(mix(seed ^ mix(tag ^ mix(a ^ mix(b)))))
}

/// The splitmix64 finaliser: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(groups: usize, top_groups: usize) -> SynthConfig {
        SynthConfig {
            experts: 8,
            groups,
            top_groups,
            top_k: 3,
            layers: 1,
            tokens: 10,
            sequences: 2,
            ..SynthConfig::esft_like()
        }
    }

    #[test]
    fn plain_selection_takes_the_highest_scores() {
        let s = [0.1, 5.0, 0.3, 4.0, 0.2, 3.0, 0.0, 1.0];
        let mut out = Vec::new();
        select_experts(&s, &cfg(1, 0), &mut out);
        assert_eq!(out, vec![1, 3, 5]);
    }

    #[test]
    fn group_limit_ranks_groups_by_their_two_best_scores() {
        // Groups of 2: g0 = {0,1} sum 5.1, g1 = {2,3} sum 4.3, g2 = {4,5} sum 4.5, g3 = {6,7} 4.0.
        // Experts 3 and 6 have the 2nd and 3rd best scores, but their groups lose to g0 and g2.
        let s = [0.1, 5.0, 0.3, 4.0, 1.5, 3.0, 3.5, 0.5];
        let mut out = Vec::new();
        select_experts(&s, &cfg(4, 2), &mut out);
        assert_eq!(out, vec![1, 5, 4]);
    }

    #[test]
    fn ties_go_to_the_lower_id() {
        let mut out = Vec::new();
        select_experts(&[1.0; 8], &cfg(1, 0), &mut out);
        assert_eq!(out, vec![0, 1, 2]);
        select_experts(&[1.0; 8], &cfg(4, 2), &mut out);
        assert_eq!(out, vec![0, 1, 2]);
        // Too few scores: fewer candidates, no panic.
        select_experts(&[1.0, 3.0], &cfg(4, 2), &mut out);
        assert_eq!(out, vec![1, 0]);
    }

    #[test]
    fn both_samplers_match_the_exact_top_2_inclusion_probabilities() {
        // Without replacement from p ∝ exp(logit): P(i in top-2) = p_i + Σ_j p_j · p_i / (1 − p_j).
        let c = SynthConfig {
            experts: 4,
            top_k: 2,
            topic_count: 1,
            ..cfg(1, 0)
        };
        let mut m = SynthModel::new(&c, 0).unwrap();
        m.logits = vec![2.0, 1.0, 0.0, -1.0];
        m.cumulative = m
            .logits
            .iter()
            .scan(0.0, |acc, &x: &f64| {
                *acc += (x - 2.0).exp();
                Some(*acc)
            })
            .collect();
        let z: f64 = m.logits.iter().map(|x| x.exp()).sum();
        let p: Vec<f64> = m.logits.iter().map(|x| x.exp() / z).collect();
        let exact: Vec<f64> = (0..4)
            .map(|i| {
                p[i] + (0..4)
                    .filter(|&j| j != i)
                    .map(|j| p[j] * p[i] / (1.0 - p[j]))
                    .sum::<f64>()
            })
            .collect();
        let n = 100_000;
        let mut rng = StdRng::seed_from_u64(9);
        let (mut fast, mut gumbel) = (vec![0.0; 4], vec![0.0; 4]);
        let (mut scratch, mut out) = (vec![0.0; 4], Vec::new());
        for _ in 0..n {
            m.sample_token(0, 0, &mut rng, &mut scratch, &mut out);
            assert_eq!(out.len(), 2);
            assert_ne!(out[0], out[1]);
            for &x in &out {
                fast[usize::from(x)] += 1.0 / n as f64;
            }
            m.scores(0, 0, &mut rng, &mut scratch);
            select_experts(&scratch, &c, &mut out);
            for &x in &out {
                gumbel[usize::from(x)] += 1.0 / n as f64;
            }
        }
        for i in 0..4 {
            assert!((fast[i] - exact[i]).abs() < 0.01, "{fast:?} {exact:?}");
            assert!((gumbel[i] - exact[i]).abs() < 0.01, "{gumbel:?} {exact:?}");
        }
    }

    #[test]
    fn sampler_stays_exact_when_one_expert_holds_the_mass() {
        let c = SynthConfig {
            experts: 4,
            top_k: 3,
            topic_count: 1,
            ..cfg(1, 0)
        };
        let mut m = SynthModel::new(&c, 0).unwrap();
        m.cumulative = vec![1.0, 1.0 + 1e-12, 1.0 + 2e-12, 1.0 + 3e-12];
        let mut rng = StdRng::seed_from_u64(1);
        let (mut scratch, mut out) = (vec![0.0; 4], Vec::new());
        m.sample_token(0, 0, &mut rng, &mut scratch, &mut out);
        let mut sorted = out.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!((out[0], sorted.len()), (0, 3));
    }

    #[test]
    fn gumbel_draws_have_the_gumbel_mean() {
        // E[Gumbel(0, 1)] is the Euler–Mascheroni constant 0.5772…; sd π/√6 ≈ 1.28.
        let mut rng = StdRng::seed_from_u64(3);
        let n = 200_000;
        let mean = (0..n).map(|_| gumbel(&mut rng)).sum::<f64>() / n as f64;
        assert!((mean - 0.5772).abs() < 0.01, "{mean}");
    }

    #[test]
    fn topics_follow_sequences() {
        let c = SynthConfig {
            tokens: 1000,
            sequences: 10,
            ..cfg(1, 0)
        };
        let m = SynthModel::new(&c, 0).unwrap();
        let tt = m.token_topics(0);
        assert_eq!(tt.topic.len(), 1000);
        assert_eq!(
            tt.sequence_starts,
            (0..10).map(|s| s * 100).collect::<Vec<_>>()
        );
        // Within a sequence, most tokens share the most common topic (stickiness 0.9).
        let mut shared = 0;
        for s in 0..10 {
            let seq = &tt.topic[s * 100..(s + 1) * 100];
            let mut n = vec![0; c.topic_count];
            for &t in seq {
                n[t] += 1;
            }
            shared += n.iter().max().copied().unwrap_or(0);
        }
        assert!(shared >= 850, "{shared}");
    }

    #[test]
    fn drift_zero_keeps_popularity_and_one_renews_it() {
        let c = SynthConfig {
            drift: 0.0,
            ..cfg(1, 0)
        };
        let a = SynthModel::new(&c, 0).unwrap();
        assert_eq!(
            a.popularity(0),
            SynthModel::new(&c, 3).unwrap().popularity(0)
        );
        let c = SynthConfig { drift: 1.0, ..c };
        let b = SynthModel::new(&c, 1).unwrap();
        assert_ne!(a.popularity(0), b.popularity(0));
    }
}
