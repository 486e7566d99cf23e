//! The statistics a synthetic trace is calibrated on and checked against.

use serde::Serialize;

use crate::coact::Coactivation;
use crate::load::TokenTrace;

/// Share of expert pairs counted as "top" by [`TraceStats::top_pair_share`].
pub const TOP_PAIR_FRACTION: f64 = 0.1;

/// Skew and co-activation statistics of a trace, each the mean over layers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TraceStats {
    /// Layers measured.
    pub layers: usize,
    /// Hottest expert's count over the mean count.
    pub max_over_mean: f64,
    /// Lowest per-layer `max_over_mean`.
    pub max_over_mean_low: f64,
    /// Highest per-layer `max_over_mean`.
    pub max_over_mean_high: f64,
    /// Coefficient of variation (population standard deviation over mean) of expert counts.
    pub cv: f64,
    /// Co-activation concentration: the share of all same-token expert pairs that fall on the
    /// 10 % most frequent (unordered) pairs. Independent uniform routing gives a little over 0.1;
    /// a router whose pairs always repeat gives 1.
    pub top_pair_share: f64,
}

/// Measures `trace`.
pub fn trace_stats(trace: &TokenTrace) -> TraceStats {
    let counts = trace.counts();
    let coact = Coactivation::from_trace(trace);
    let e = trace.experts();
    let mut mm = Vec::with_capacity(trace.layers());
    let (mut cv, mut share) = (0.0, 0.0);
    let mut pairs = Vec::with_capacity(e * e.saturating_sub(1) / 2);
    for l in 0..trace.layers() {
        let c = counts.layer(l);
        let mean = c.iter().sum::<f64>() / e as f64;
        let max = c.iter().copied().fold(0.0, f64::max);
        let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / e as f64;
        mm.push(if mean > 0.0 { max / mean } else { 0.0 });
        cv += if mean > 0.0 { var.sqrt() / mean } else { 0.0 };

        let m = coact.layer(l);
        pairs.clear();
        for a in 0..e {
            pairs.extend(m[a * e + a + 1..(a + 1) * e].iter().map(|&x| f64::from(x)));
        }
        pairs.sort_unstable_by(|a, b| b.total_cmp(a));
        let total: f64 = pairs.iter().sum();
        let top = (pairs.len() as f64 * TOP_PAIR_FRACTION).ceil() as usize;
        if total > 0.0 {
            share += pairs[..top].iter().sum::<f64>() / total;
        }
    }
    let n = trace.layers() as f64;
    TraceStats {
        layers: trace.layers(),
        max_over_mean: mm.iter().sum::<f64>() / n,
        max_over_mean_low: mm.iter().copied().fold(f64::INFINITY, f64::min),
        max_over_mean_high: mm.iter().copied().fold(0.0, f64::max),
        cv: cv / n,
        top_pair_share: share / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_statistics() {
        // 4 experts, top-2, one layer; tokens choose {0,1} ×3 and {2,3} ×1.
        let t = TokenTrace::new(4, 2, 1, vec![0, 1, 0, 1, 0, 1, 2, 3], vec![0]).unwrap();
        let s = trace_stats(&t);
        // Counts 3,3,1,1: mean 2, max 3, sd 1.
        assert!((s.max_over_mean - 1.5).abs() < 1e-12);
        assert!((s.cv - 0.5).abs() < 1e-12);
        // 6 pairs → top ceil(0.6) = 1 pair: {0,1} with 3 of 4 pair events.
        assert!((s.top_pair_share - 0.75).abs() < 1e-12);
    }
}
