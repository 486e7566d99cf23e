//! The online output-length estimator of skua's scheduler (after Past-Future and JITServe).
//!
//! A router does not know how many tokens a request will generate. It does know the lengths of
//! the requests that already finished, so it keeps their distribution (per prompt-length class,
//! log-spaced buckets, pooled into the whole-workload distribution while a class is sparse) and
//! predicts a new request's output as that distribution's mean. As a request streams, the
//! estimate is refined: having generated `g` tokens, its expected remaining length is
//! `E[L − g | L > g]` under the same distribution (the conditional mean, which grows for
//! heavy-tailed workloads — a request that has run long is likely to run longer).

/// Bucket edges grow by this factor (about 12 % relative resolution).
const GROWTH: f64 = 1.125;
/// Buckets: the last holds everything from `GROWTH^(BUCKETS−1)` up (≈ 2.3 M tokens).
const BUCKETS: usize = 125;
/// Prompt-length classes: `[0, 256)`, `[256, 1k)`, `[1k, 4k)`, `[4k, 16k)`, `16k+`.
const CLASS_EDGES: [u32; 4] = [256, 1024, 4096, 16384];
/// Observations a class needs before it is trusted on its own; below that it is blended with
/// the whole workload's distribution in proportion.
const CLASS_TRUST: f64 = 200.0;
/// Weight of the prior (in observations) before anything has finished.
const PRIOR_WEIGHT: f64 = 20.0;

/// A histogram of output lengths over log-spaced buckets.
#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    counts: Vec<f64>,
    /// Sum of the lengths per bucket (the bucket's mean is kept exactly).
    sums: Vec<f64>,
    total: f64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            counts: vec![0.0; BUCKETS],
            sums: vec![0.0; BUCKETS],
            total: 0.0,
        }
    }

    fn bucket(len: f64) -> usize {
        if len <= 1.0 {
            return 0;
        }
        ((len.ln() / GROWTH.ln()) as usize).min(BUCKETS - 1)
    }

    fn add(&mut self, len: f64, weight: f64) {
        let b = Self::bucket(len);
        self.counts[b] += weight;
        self.sums[b] += weight * len;
        self.total += weight;
    }

    /// `(Σ weight, Σ weight × length)` over observations longer than `g`, the bucket holding
    /// `g` counted by the share of its observations above `g` (uniform within the bucket).
    fn tail(&self, g: f64) -> (f64, f64) {
        let first = Self::bucket(g);
        let (mut n, mut s) = (0.0, 0.0);
        for b in first..BUCKETS {
            let (c, sum) = (self.counts[b], self.sums[b]);
            if c <= 0.0 {
                continue;
            }
            let mean = sum / c;
            if b == first {
                if mean > g {
                    n += c * 0.5;
                    s += c * 0.5 * mean.max(g + 1.0);
                }
            } else {
                n += c;
                s += sum;
            }
        }
        (n, s)
    }
}

/// The estimator: a prior, the whole workload's distribution and one per prompt-length class.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputLengthEstimator {
    prior_mean: f64,
    all: Histogram,
    classes: Vec<Histogram>,
}

impl OutputLengthEstimator {
    /// An estimator whose prior mean output (before anything finished) is `prior_mean` tokens.
    pub fn new(prior_mean: f64) -> Self {
        let prior_mean = if prior_mean.is_finite() && prior_mean >= 1.0 {
            prior_mean
        } else {
            256.0
        };
        Self {
            prior_mean,
            all: Histogram::new(),
            classes: vec![Histogram::new(); CLASS_EDGES.len() + 1],
        }
    }

    fn class(prompt_tokens: u32) -> usize {
        CLASS_EDGES
            .iter()
            .position(|&e| prompt_tokens < e)
            .unwrap_or(CLASS_EDGES.len())
    }

    /// Records a finished request.
    pub fn observe(&mut self, prompt_tokens: u32, output_tokens: u32) {
        let len = f64::from(output_tokens.max(1));
        self.all.add(len, 1.0);
        self.classes[Self::class(prompt_tokens)].add(len, 1.0);
    }

    /// Finished requests seen.
    pub fn observations(&self) -> u64 {
        self.all.total as u64
    }

    /// Expected further output tokens of a request with a `prompt_tokens` prompt that has
    /// generated `generated` tokens so far (at least 1).
    pub fn expected_remaining(&self, prompt_tokens: u32, generated: u32) -> f64 {
        let g = f64::from(generated);
        let class = &self.classes[Self::class(prompt_tokens)];
        // Blend: class (trusted in proportion to its size), whole workload, prior.
        let w_class = (class.total / CLASS_TRUST).min(1.0);
        let (cn, cs) = class.tail(g);
        let (an, asum) = self.all.tail(g);
        let mut n = w_class * cn + (1.0 - w_class) * an;
        let mut s = w_class * cs + (1.0 - w_class) * asum;
        // The prior: an exponential tail with the prior mean (memoryless: remaining = mean),
        // weighted as PRIOR_WEIGHT observations scaled by its survival at g.
        // The prior fades as observations accumulate.
        let survive = (-g / self.prior_mean).exp();
        let pw = PRIOR_WEIGHT * PRIOR_WEIGHT / (PRIOR_WEIGHT + self.all.total) * survive;
        n += pw;
        s += pw * (g + self.prior_mean);
        if n <= 1e-12 {
            // Longer than anything seen: assume it runs as long again.
            return g.max(1.0);
        }
        (s / n - g).max(1.0)
    }

    /// Expected output length of a new request (nothing generated yet).
    pub fn expected_total(&self, prompt_tokens: u32) -> f64 {
        self.expected_remaining(prompt_tokens, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_any_observation_the_prior_mean_is_predicted() {
        let e = OutputLengthEstimator::new(300.0);
        assert!((e.expected_total(100) - 300.0).abs() < 1e-9);
        // Memoryless prior: remaining stays at the mean.
        assert!((e.expected_remaining(100, 500) - 300.0).abs() < 1e-6);
    }

    #[test]
    fn learns_the_workload_mean() {
        let mut e = OutputLengthEstimator::new(1000.0);
        for i in 0..2000 {
            e.observe(500, 80 + (i % 41)); // mean 100
        }
        let m = e.expected_total(500);
        assert!((m - 100.0).abs() < 10.0, "{m}");
        assert_eq!(e.observations(), 2000);
    }

    #[test]
    fn classes_separate_short_and_long_prompts() {
        let mut e = OutputLengthEstimator::new(100.0);
        for _ in 0..1000 {
            e.observe(100, 1000);
            e.observe(8000, 50);
        }
        assert!(e.expected_total(100) > 800.0, "{}", e.expected_total(100));
        assert!(e.expected_total(8000) < 80.0, "{}", e.expected_total(8000));
    }

    #[test]
    fn a_request_that_ran_long_is_expected_to_run_longer() {
        // Bimodal: half 20 tokens, half 2,000.
        let mut e = OutputLengthEstimator::new(100.0);
        for _ in 0..1000 {
            e.observe(300, 20);
            e.observe(300, 2000);
        }
        let fresh = e.expected_remaining(300, 1);
        let past_short = e.expected_remaining(300, 100);
        assert!(fresh < 1100.0 && fresh > 900.0, "{fresh}");
        // Past the short mode, only the long mode remains: ~1,900 to go.
        assert!(past_short > 1700.0 && past_short < 2000.0, "{past_short}");
    }

    #[test]
    fn past_the_longest_seen_it_still_predicts_at_least_one_token() {
        let mut e = OutputLengthEstimator::new(10.0);
        for _ in 0..10_000 {
            e.observe(10, 10);
        }
        let r = e.expected_remaining(10, 5000);
        assert!(r >= 1.0 && r.is_finite(), "{r}");
    }
}
