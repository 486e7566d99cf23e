//! Expert-load data: aggregated counts per (layer, expert) and per-token routing traces.

use crate::MoeError;

/// Token counts (or any non-negative load) per (layer, expert), row-major `layers × experts`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertLoad {
    layers: usize,
    experts: usize,
    values: Vec<f64>,
}

impl ExpertLoad {
    /// A zero load of the given shape.
    pub fn zeros(layers: usize, experts: usize) -> Self {
        Self {
            layers,
            experts,
            values: vec![0.0; layers * experts],
        }
    }

    /// Builds from rows (one per layer); every row must have the same length and finite, non-negative values.
    pub fn from_rows(rows: Vec<Vec<f64>>) -> Result<Self, MoeError> {
        let layers = rows.len();
        let experts = rows.first().map_or(0, Vec::len);
        if layers == 0 || experts == 0 {
            return Err(MoeError::Shape(
                "an expert load needs at least one layer and one expert".into(),
            ));
        }
        let mut values = Vec::with_capacity(layers * experts);
        for (l, row) in rows.into_iter().enumerate() {
            if row.len() != experts {
                return Err(MoeError::Shape(format!(
                    "layer {l} has {} experts, layer 0 has {experts}",
                    row.len()
                )));
            }
            for (e, v) in row.iter().enumerate() {
                if !v.is_finite() || *v < 0.0 {
                    return Err(MoeError::Shape(format!(
                        "layer {l} expert {e}: load {v} is not a finite non-negative number"
                    )));
                }
            }
            values.extend(row);
        }
        Ok(Self {
            layers,
            experts,
            values,
        })
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// Number of logical experts per layer.
    pub fn experts(&self) -> usize {
        self.experts
    }

    /// One layer's loads.
    pub fn layer(&self, l: usize) -> &[f64] {
        &self.values[l * self.experts..(l + 1) * self.experts]
    }

    /// One layer's loads, mutable.
    pub fn layer_mut(&mut self, l: usize) -> &mut [f64] {
        &mut self.values[l * self.experts..(l + 1) * self.experts]
    }

    /// The load of expert `e` in layer `l`.
    pub fn get(&self, l: usize, e: usize) -> f64 {
        self.values[l * self.experts + e]
    }

    /// Adds `v` to expert `e` of layer `l`.
    pub fn add(&mut self, l: usize, e: usize, v: f64) {
        self.values[l * self.experts + e] += v;
    }

    /// Total load of a layer.
    pub fn layer_total(&self, l: usize) -> f64 {
        self.layer(l).iter().sum()
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The rows, one per layer.
    pub fn rows(&self) -> Vec<Vec<f64>> {
        (0..self.layers).map(|l| self.layer(l).to_vec()).collect()
    }

    /// Keeps only the given layers (in that order).
    pub fn select_layers(&self, layers: &[usize]) -> Self {
        let mut values = Vec::with_capacity(layers.len() * self.experts);
        for &l in layers {
            values.extend_from_slice(self.layer(l));
        }
        Self {
            layers: layers.len(),
            experts: self.experts,
            values,
        }
    }
}

/// Per-token routing: for every layer and token, the `top_k` experts the router chose.
///
/// Tokens are the same (same order) in every layer, as in the ESFT files. Optional gate weights
/// are kept when the source has them.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenTrace {
    layers: usize,
    experts: usize,
    top_k: usize,
    tokens: usize,
    /// `layers × tokens × top_k` expert ids.
    choices: Vec<u16>,
    /// Sequence boundaries: token index where each sequence starts (ascending, first is 0).
    sequence_starts: Vec<usize>,
}

impl TokenTrace {
    /// Builds a trace; `choices` is layer-major (`layers × tokens × top_k`), every id `< experts`.
    pub fn new(
        experts: usize,
        top_k: usize,
        layers: usize,
        choices: Vec<u16>,
        sequence_starts: Vec<usize>,
    ) -> Result<Self, MoeError> {
        if experts == 0 || top_k == 0 || layers == 0 {
            return Err(MoeError::Shape(
                "a token trace needs experts, top-k and layers > 0".into(),
            ));
        }
        if experts > usize::from(u16::MAX) {
            return Err(MoeError::Shape(format!(
                "{experts} experts is more than supported ({})",
                u16::MAX
            )));
        }
        if choices.len() % (layers * top_k) != 0 {
            return Err(MoeError::Shape(format!(
                "{} choices do not divide into {layers} layers × top-{top_k}",
                choices.len()
            )));
        }
        let tokens = choices.len() / (layers * top_k);
        if let Some(bad) = choices.iter().find(|&&c| usize::from(c) >= experts) {
            return Err(MoeError::Shape(format!(
                "expert id {bad} is not below {experts}"
            )));
        }
        let mut starts = sequence_starts;
        if starts.first() != Some(&0) {
            starts.insert(0, 0);
        }
        if starts.windows(2).any(|w| w[0] >= w[1])
            || starts
                .last()
                .is_some_and(|&s| s > tokens || (s == tokens && tokens > 0))
        {
            return Err(MoeError::Shape(
                "sequence starts must be strictly increasing and inside the trace".into(),
            ));
        }
        Ok(Self {
            layers,
            experts,
            top_k,
            tokens,
            choices,
            sequence_starts: starts,
        })
    }

    /// Number of MoE layers.
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// Number of routed experts per layer.
    pub fn experts(&self) -> usize {
        self.experts
    }

    /// Experts chosen per token.
    pub fn top_k(&self) -> usize {
        self.top_k
    }

    /// Number of tokens.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// Number of sequences.
    pub fn sequences(&self) -> usize {
        self.sequence_starts.len()
    }

    /// Token range `[start, end)` of sequence `s`.
    pub fn sequence_range(&self, s: usize) -> std::ops::Range<usize> {
        let start = self.sequence_starts[s];
        let end = self
            .sequence_starts
            .get(s + 1)
            .copied()
            .unwrap_or(self.tokens);
        start..end
    }

    /// The experts token `t` chose in layer `l`.
    pub fn choice(&self, l: usize, t: usize) -> &[u16] {
        let at = (l * self.tokens + t) * self.top_k;
        &self.choices[at..at + self.top_k]
    }

    /// Counts per (layer, expert) over tokens `range`.
    pub fn counts_in(&self, range: std::ops::Range<usize>) -> ExpertLoad {
        let mut load = ExpertLoad::zeros(self.layers, self.experts);
        for l in 0..self.layers {
            let row = load.layer_mut(l);
            for t in range.clone() {
                for &e in self.choice(l, t) {
                    row[usize::from(e)] += 1.0;
                }
            }
        }
        load
    }

    /// Counts per (layer, expert) over the whole trace.
    pub fn counts(&self) -> ExpertLoad {
        self.counts_in(0..self.tokens)
    }

    /// A trace with only the given sequences (in that order).
    pub fn select_sequences(&self, sequences: &[usize]) -> Self {
        let ranges: Vec<_> = sequences.iter().map(|&s| self.sequence_range(s)).collect();
        let tokens: usize = ranges.iter().map(|r| r.len()).sum();
        let mut choices = Vec::with_capacity(self.layers * tokens * self.top_k);
        for l in 0..self.layers {
            for r in &ranges {
                for t in r.clone() {
                    choices.extend_from_slice(self.choice(l, t));
                }
            }
        }
        let mut starts = Vec::with_capacity(ranges.len());
        let mut at = 0;
        for r in &ranges {
            if !r.is_empty() {
                starts.push(at);
            }
            at += r.len();
        }
        self.with_choices(tokens, choices, starts)
    }

    /// A trace of this one's shape holding `choices` (`layers × tokens × top_k`) for `tokens`
    /// tokens, with sequences starting at `starts` (none: one sequence).
    fn with_choices(&self, tokens: usize, choices: Vec<u16>, mut starts: Vec<usize>) -> Self {
        if starts.is_empty() {
            starts.push(0);
        }
        Self {
            layers: self.layers,
            experts: self.experts,
            top_k: self.top_k,
            tokens,
            choices,
            sequence_starts: starts,
        }
    }

    /// Splits by sequences into two halves: even-numbered and odd-numbered sequences (interleaved, so
    /// both halves cover the whole file), used for held-out scoring.
    pub fn halves(&self) -> (Self, Self) {
        let even: Vec<usize> = (0..self.sequences()).step_by(2).collect();
        let odd: Vec<usize> = (1..self.sequences()).step_by(2).collect();
        (self.select_sequences(&even), self.select_sequences(&odd))
    }

    /// Splits by tokens into two halves: even-numbered and odd-numbered tokens (each sequence
    /// keeps its boundaries in both halves), so both halves see the same requests and differ by
    /// sampling alone.
    pub fn token_halves(&self) -> (Self, Self) {
        let pick = |parity: usize| {
            let mut choices = Vec::with_capacity(self.choices.len() / 2 + self.top_k);
            for l in 0..self.layers {
                for t in (parity..self.tokens).step_by(2) {
                    choices.extend_from_slice(self.choice(l, t));
                }
            }
            let tokens = (self.tokens + 1 - parity) / 2;
            let mut starts: Vec<usize> = self
                .sequence_starts
                .iter()
                .map(|&s| (s + 1 - parity.min(s + 1)) / 2)
                .collect();
            starts.dedup();
            starts.retain(|&s| s < tokens.max(1));
            self.with_choices(tokens, choices, starts)
        };
        (pick(0), pick(1))
    }

    /// Keeps only the given layers.
    pub fn select_layers(&self, layers: &[usize]) -> Self {
        let mut choices = Vec::with_capacity(layers.len() * self.tokens * self.top_k);
        for &l in layers {
            let at = l * self.tokens * self.top_k;
            choices.extend_from_slice(&self.choices[at..at + self.tokens * self.top_k]);
        }
        Self {
            layers: layers.len(),
            experts: self.experts,
            top_k: self.top_k,
            tokens: self.tokens,
            choices,
            sequence_starts: self.sequence_starts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> TokenTrace {
        // 2 layers, 3 tokens, top-2, sequences [0,1) and [1,3).
        TokenTrace::new(
            4,
            2,
            2,
            vec![0, 1, 1, 2, 2, 3, /* layer 1 */ 3, 0, 0, 1, 1, 2],
            vec![0, 1],
        )
        .unwrap()
    }

    #[test]
    fn counts_sum_to_tokens_times_top_k() {
        let t = trace();
        let c = t.counts();
        assert_eq!(c.layer(0), &[1.0, 2.0, 2.0, 1.0]);
        assert_eq!(c.layer(1), &[2.0, 2.0, 1.0, 1.0]);
        assert_eq!(c.layer_total(1), 6.0);
    }

    #[test]
    fn halves_partition_sequences() {
        let (a, b) = trace().halves();
        assert_eq!(a.tokens() + b.tokens(), 3);
        assert_eq!(a.choice(0, 0), &[0, 1]);
        assert_eq!(b.choice(1, 1), &[1, 2]);
    }

    #[test]
    fn rejects_out_of_range_ids_and_ragged_rows() {
        assert!(TokenTrace::new(2, 1, 1, vec![0, 2], vec![0]).is_err());
        assert!(ExpertLoad::from_rows(vec![vec![1.0, 2.0], vec![1.0]]).is_err());
        assert!(ExpertLoad::from_rows(vec![vec![1.0, f64::NAN]]).is_err());
    }
}
