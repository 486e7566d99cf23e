//! Goodput: the highest arrival-rate scale at which SLO attainment stays ≥ 90 % (the protocol),
//! found by a geometric bracket and a bisection to 2 %.
//!
//! Attainment is not perfectly monotone in the scale (a faster replay can line bursts up
//! differently against the batch schedule, stale signals alias with the scrape interval), so the
//! search does not assume it. It brackets first: from `start` (×1, the trace's own rate) it steps
//! up by `step` while the bar is met, or down while it is not, until one scale meets the bar and
//! its neighbour step does not. It then bisects that bracket (geometric midpoints) until the
//! failing end is within `tolerance` of the passing end. The answer is therefore a scale that
//! meets the bar with a failing scale at most 2 % above it — the first crossing above ×1 when ×1
//! passes, or the highest power-of-`step` crossing below it when it does not — not a claim that
//! every lower scale passes. Every probe is kept in [`Goodput::runs`] so the curve can be read.

use crate::workload::Workload;

use super::plan::ClusterPlan;
use super::{BenchError, GOODPUT_TARGET, evaluate};

/// How the goodput search runs.
#[derive(Debug, Clone, PartialEq)]
pub struct GoodputSearch {
    /// Lowest scale tried; failing there reports [`GoodputBound::BelowLo`].
    pub lo: f64,
    /// Highest scale tried; passing there reports [`GoodputBound::AtLeastHi`].
    pub hi: f64,
    /// First scale tried (clamped into `[lo, hi]`).
    pub start: f64,
    /// Bracketing factor (> 1).
    pub step: f64,
    /// Relative width at which bisection stops (0.02 = 2 %).
    pub tolerance: f64,
    /// Attainment bar (the protocol's 0.90).
    pub target: f64,
}

impl Default for GoodputSearch {
    fn default() -> Self {
        Self {
            lo: 1.0 / 32.0,
            hi: 32.0,
            start: 1.0,
            step: 2.0,
            tolerance: 0.02,
            target: GOODPUT_TARGET,
        }
    }
}

/// Whether the goodput is a found crossing or a bound of the searched range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoodputBound {
    /// A scale meeting the bar with a failing scale within the tolerance above it.
    Found,
    /// The bar is missed even at `lo`: goodput is reported as 0.
    BelowLo,
    /// The bar is met at `hi`: goodput is at least `hi` (reported as `hi`).
    AtLeastHi,
}

/// One simulated probe of the search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// Arrival speed-up.
    pub scale: f64,
    /// SLO attainment there.
    pub attainment: f64,
}

/// The goodput of one policy on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Goodput {
    /// The scale (0 when [`GoodputBound::BelowLo`], `hi` when [`GoodputBound::AtLeastHi`]).
    pub scale: f64,
    /// `scale` × the workload's mean arrival rate at ×1 (requests / span of arrivals).
    pub req_per_s: f64,
    /// Found, or a bound of the range.
    pub bound: GoodputBound,
    /// The lowest failing scale above `scale` the search saw (`None` if none failed above it).
    pub fail_scale: Option<f64>,
    /// Every probe, in the order made.
    pub runs: Vec<Probe>,
}

impl GoodputSearch {
    /// A search over `[lo, hi]` with the default start, step, tolerance and bar.
    pub fn new(lo: f64, hi: f64) -> Self {
        Self {
            lo,
            hi,
            ..Self::default()
        }
    }

    /// Checks every setting; the first bad one is reported.
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |what, why: String| Err(BenchError::Invalid { what, why });
        if !(self.lo.is_finite() && self.lo > 0.0 && self.hi.is_finite() && self.hi >= self.lo) {
            return bad(
                "goodput range",
                format!("need 0 < lo ≤ hi, finite; got {}..{}", self.lo, self.hi),
            );
        }
        if !(self.start.is_finite() && self.start > 0.0) {
            return bad("goodput start", format!("must be > 0, got {}", self.start));
        }
        if !(self.step.is_finite() && self.step > 1.0) {
            return bad("goodput step", format!("must be > 1, got {}", self.step));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return bad(
                "goodput tolerance",
                format!("must be > 0, got {}", self.tolerance),
            );
        }
        if !(self.target > 0.0 && self.target <= 1.0) {
            return bad(
                "goodput target",
                format!("must be in (0, 1], got {}", self.target),
            );
        }
        Ok(())
    }

    /// Searches the goodput of `policy` on `workload` and `plan`. `known` holds attainments
    /// already measured (e.g. the matrix's speed-up runs), reused when a probe lands on the same
    /// scale exactly; `on_probe` is called after each new simulation.
    pub fn run(
        &self,
        workload: &Workload,
        plan: &ClusterPlan,
        policy: &str,
        known: &[Probe],
        on_probe: &dyn Fn(Probe),
    ) -> Result<Goodput, BenchError> {
        self.validate()?;
        let (bound, pass, fail, runs) = self.search(|scale| {
            if let Some(p) = known.iter().find(|p| p.scale == scale) {
                return Ok::<f64, BenchError>(p.attainment);
            }
            let attainment = evaluate::attainment(workload, plan, policy, scale)?;
            on_probe(Probe { scale, attainment });
            Ok(attainment)
        })?;
        let scale = match bound {
            GoodputBound::BelowLo => 0.0,
            GoodputBound::Found | GoodputBound::AtLeastHi => pass,
        };
        Ok(Goodput {
            scale,
            req_per_s: scale * workload.stats().mean_rate_per_s,
            bound,
            fail_scale: fail,
            runs,
        })
    }

    /// The search itself over any attainment function: (bound, highest passing scale (0 when
    /// none), lowest failing scale above it, probes).
    pub(crate) fn search<E>(
        &self,
        mut attainment: impl FnMut(f64) -> Result<f64, E>,
    ) -> Result<(GoodputBound, f64, Option<f64>, Vec<Probe>), E> {
        let mut runs = Vec::new();
        let mut probe = |scale: f64| -> Result<bool, E> {
            let a = attainment(scale)?;
            runs.push(Probe {
                scale,
                attainment: a,
            });
            Ok(a >= self.target)
        };
        let start = self.start.clamp(self.lo, self.hi);
        let (mut pass, mut fail);
        if probe(start)? {
            pass = start;
            loop {
                if pass >= self.hi {
                    return Ok((GoodputBound::AtLeastHi, pass, None, runs));
                }
                let next = (pass * self.step).min(self.hi);
                if probe(next)? {
                    pass = next;
                } else {
                    fail = next;
                    break;
                }
            }
        } else {
            fail = start;
            loop {
                if fail <= self.lo {
                    return Ok((GoodputBound::BelowLo, 0.0, Some(fail), runs));
                }
                let next = (fail / self.step).max(self.lo);
                if probe(next)? {
                    pass = next;
                    break;
                }
                fail = next;
            }
        }
        while fail > pass * (1.0 + self.tolerance) {
            let mid = (pass * fail).sqrt();
            if probe(mid)? {
                pass = mid;
            } else {
                fail = mid;
            }
        }
        Ok((GoodputBound::Found, pass, Some(fail), runs))
    }
}

/// The goodput of `policy` on `workload` over scales `[lo, hi]` (default start ×1, step ×2,
/// 2 % tolerance, 90 % bar).
pub fn goodput(
    workload: &Workload,
    plan: &ClusterPlan,
    policy: &str,
    lo: f64,
    hi: f64,
) -> Result<Goodput, BenchError> {
    GoodputSearch::new(lo, hi).run(workload, plan, policy, &[], &|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// Attainment falling linearly from 1 at scale 0, crossing the 0.9 bar at scale `x`.
    fn linear(x: f64) -> impl FnMut(f64) -> Result<f64, Infallible> {
        move |s| Ok((1.0 - 0.1 * s / x).max(0.0))
    }

    #[test]
    fn finds_the_crossing_to_two_percent_going_up() {
        let s = GoodputSearch::default();
        let (bound, pass, fail, runs) = s.search(linear(5.3)).unwrap();
        assert_eq!(bound, GoodputBound::Found);
        let fail = fail.expect("a failing scale");
        assert!(pass <= 5.3 && 5.3 < fail, "{pass} {fail}");
        assert!(fail <= pass * 1.02, "{pass} {fail}");
        // Bracket 1, 2, 4, 8 then bisection from a ×2 bracket to 2 %: ⌈log2(ln 2 / ln 1.02)⌉ = 6.
        assert_eq!(
            runs[..4].iter().map(|p| p.scale).collect::<Vec<_>>(),
            [1.0, 2.0, 4.0, 8.0]
        );
        assert!(runs.len() <= 4 + 6, "{}", runs.len());
    }

    #[test]
    fn brackets_downwards_when_the_start_fails() {
        let s = GoodputSearch::default();
        let (bound, pass, fail, runs) = s.search(linear(0.3)).unwrap();
        assert_eq!(bound, GoodputBound::Found);
        assert!(pass <= 0.3 && 0.3 < fail.unwrap() && fail.unwrap() <= pass * 1.02);
        assert_eq!(
            runs[..3].iter().map(|p| p.scale).collect::<Vec<_>>(),
            [1.0, 0.5, 0.25]
        );
    }

    #[test]
    fn range_edges_are_flagged() {
        let s = GoodputSearch::new(0.5, 8.0);
        let (bound, pass, fail, _) = s.search(linear(100.0)).unwrap();
        assert_eq!((bound, pass, fail), (GoodputBound::AtLeastHi, 8.0, None));
        let (bound, pass, fail, runs) = s.search(linear(0.01)).unwrap();
        assert_eq!((bound, pass, fail), (GoodputBound::BelowLo, 0.0, Some(0.5)));
        assert_eq!(runs.iter().map(|p| p.scale).collect::<Vec<_>>(), [1.0, 0.5]);
        // A start outside the range is clamped into it.
        let s = GoodputSearch {
            start: 100.0,
            ..GoodputSearch::new(0.5, 8.0)
        };
        let (bound, _, _, runs) = s.search(linear(100.0)).unwrap();
        assert_eq!((bound, runs.len()), (GoodputBound::AtLeastHi, 1));
        // lo = hi: one probe decides.
        let s = GoodputSearch::new(2.0, 2.0);
        assert_eq!(s.search(linear(5.0)).unwrap().0, GoodputBound::AtLeastHi);
        assert_eq!(s.search(linear(1.0)).unwrap().0, GoodputBound::BelowLo);
    }

    #[test]
    fn a_dip_above_the_first_crossing_does_not_move_the_answer() {
        // Passes below 3, fails in [3, 5), passes again in [5, 6), fails above.
        let f = |s: f64| -> Result<f64, Infallible> {
            Ok(if s < 3.0 || (5.0..6.0).contains(&s) {
                0.95
            } else {
                0.5
            })
        };
        let (bound, pass, fail, _) = GoodputSearch::default().search(f).unwrap();
        assert_eq!(bound, GoodputBound::Found);
        assert!(pass < 3.0 && fail.unwrap() >= 3.0 && fail.unwrap() <= pass * 1.02);
    }

    #[test]
    fn bad_settings_are_refused() {
        for s in [
            GoodputSearch::new(0.0, 1.0),
            GoodputSearch::new(2.0, 1.0),
            GoodputSearch::new(1.0, f64::INFINITY),
            GoodputSearch {
                step: 1.0,
                ..GoodputSearch::default()
            },
            GoodputSearch {
                tolerance: 0.0,
                ..GoodputSearch::default()
            },
            GoodputSearch {
                target: 1.5,
                ..GoodputSearch::default()
            },
        ] {
            assert!(
                matches!(s.validate(), Err(BenchError::Invalid { .. })),
                "{s:?}"
            );
        }
        assert!(GoodputSearch::default().validate().is_ok());
    }
}
