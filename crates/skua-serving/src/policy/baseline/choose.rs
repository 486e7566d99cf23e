//! Picking one instance out of scored candidates, the way the baselines' own pickers break ties.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::policy::{InstanceRole, RejectReason, RouteDecision};

/// The refusal every baseline returns when no accepting instance has the role it needs.
pub(crate) fn no_instance(role: InstanceRole) -> RouteDecision {
    RouteDecision::Reject {
        reason: RejectReason::NoInstance { role },
    }
}

/// A seeded generator for one policy: `salt` keeps policies built from the same seed from
/// drawing the same stream.
pub(crate) fn seeded(seed: u64, salt: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Running minimum with uniformly random tie-breaking (reservoir sampling over the tied
/// candidates): Dynamo's zero-temperature picker and the Gateway API Inference Extension's
/// max-score picker both choose uniformly among equal best scores. Each candidate may carry a
/// payload `P` that does not take part in the comparison.
pub(crate) struct MinRandomTies<K, P = ()> {
    best: Option<(K, usize, P)>,
    ties: u32,
}

impl<K: PartialOrd + Copy, P: Copy> MinRandomTies<K, P> {
    /// No candidate yet.
    pub(crate) fn new() -> Self {
        Self {
            best: None,
            ties: 0,
        }
    }

    /// Offers candidate `id` with cost `key` and `payload`.
    pub(crate) fn offer_with(
        &mut self,
        id: usize,
        key: K,
        payload: P,
        rng: &mut Xoshiro256PlusPlus,
    ) {
        match self.best {
            Some((best, _, _)) if key > best => {}
            Some((best, _, _)) if key == best => {
                self.ties += 1;
                if rng.random_range(0..self.ties) == 0 {
                    self.best = Some((key, id, payload));
                }
            }
            _ => {
                self.best = Some((key, id, payload));
                self.ties = 1;
            }
        }
    }

    /// The chosen candidate, if any was offered.
    pub(crate) fn pick(&self) -> Option<usize> {
        self.best.map(|(_, id, _)| id)
    }

    /// The chosen candidate and its payload.
    pub(crate) fn pick_with(&self) -> Option<(usize, P)> {
        self.best.map(|(_, id, p)| (id, p))
    }
}

impl<K: PartialOrd + Copy> MinRandomTies<K> {
    /// Offers candidate `id` with cost `key`.
    pub(crate) fn offer(&mut self, id: usize, key: K, rng: &mut Xoshiro256PlusPlus) {
        self.offer_with(id, key, (), rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_minimum_and_spreads_ties() {
        let mut rng = seeded(1, 2);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            let mut m = MinRandomTies::new();
            m.offer(0, 3.0, &mut rng);
            m.offer(1, 1.0, &mut rng);
            m.offer(2, 2.0, &mut rng);
            m.offer(3, 1.0, &mut rng);
            counts[m.pick().expect("offered")] += 1;
        }
        assert_eq!(counts[0] + counts[2], 0, "{counts:?}");
        // Two tied minima, each ~2000 of 4000; a fair coin stays within ±200 (≈6 σ).
        assert!(counts[1].abs_diff(2000) < 200, "{counts:?}");
    }

    #[test]
    fn payloads_follow_the_pick_without_breaking_ties() {
        let mut rng = seeded(3, 4);
        let mut seen = [false; 2];
        for _ in 0..200 {
            let mut m = MinRandomTies::new();
            m.offer_with(0, 1.0, 'a', &mut rng);
            m.offer_with(1, 1.0, 'b', &mut rng);
            let (id, p) = m.pick_with().expect("offered");
            assert_eq!(p, ['a', 'b'][id]);
            seen[id] = true;
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn empty_picks_nothing() {
        assert_eq!(MinRandomTies::<u32>::new().pick(), None);
    }
}
