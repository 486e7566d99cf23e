//! Co-activation: how often two experts of a layer are chosen by the same token.

use crate::load::TokenTrace;

/// Per layer, a symmetric `experts × experts` matrix of same-token pair counts (diagonal = 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Coactivation {
    experts: usize,
    layers: usize,
    pairs: Vec<f32>,
}

impl Coactivation {
    /// Counts, for every layer, the tokens that chose both experts of each pair.
    pub fn from_trace(trace: &TokenTrace) -> Self {
        let (e, layers) = (trace.experts(), trace.layers());
        let pairs = (0..layers)
            .flat_map(|l| layer_pairs(trace, l, trace.tokens()))
            .collect();
        Self {
            experts: e,
            layers,
            pairs,
        }
    }

    /// Number of experts.
    pub fn experts(&self) -> usize {
        self.experts
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// The matrix of layer `l`, row-major.
    pub fn layer(&self, l: usize) -> &[f32] {
        let n = self.experts * self.experts;
        &self.pairs[l * n..(l + 1) * n]
    }
}

/// Same-token pair counts of layer `l` over the first `tokens` tokens of `trace`, row-major
/// `experts × experts` (symmetric, zero diagonal).
pub fn layer_pairs(trace: &TokenTrace, l: usize, tokens: usize) -> Vec<f32> {
    let e = trace.experts();
    let mut m = vec![0f32; e * e];
    for t in 0..trace.tokens().min(tokens) {
        let c = trace.choice(l, t);
        for (i, &a) in c.iter().enumerate() {
            for &b in &c[i + 1..] {
                let (a, b) = (usize::from(a), usize::from(b));
                if a != b {
                    m[a * e + b] += 1.0;
                    m[b * e + a] += 1.0;
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_symmetric_counts() {
        let t = TokenTrace::new(3, 2, 1, vec![0, 1, 0, 1, 1, 2], vec![0]).unwrap();
        let c = Coactivation::from_trace(&t);
        let m = c.layer(0);
        assert_eq!(m[1], 2.0);
        assert_eq!(m[3], 2.0);
        assert_eq!(m[5], 1.0);
        assert_eq!(m[2], 0.0);
        assert_eq!(m[0], 0.0);
    }
}
