//! Time slicing, speed-up and truncation of a [`Workload`]. Each returns a new workload that
//! keeps the invariants: sorted by arrival, ids dense from 0.

use super::error::WorkloadError;
use super::{Request, Workload};

impl Workload {
    /// The requests arriving in `[start_s, end_s)`, with time re-based so `start_s` becomes 0.
    /// `end_s` may be `f64::INFINITY`; `start_s` must be finite and not after `end_s`.
    pub fn slice(&self, start_s: f64, end_s: f64) -> Result<Workload, WorkloadError> {
        let mut out = self.slice_absolute(start_s, end_s)?;
        for r in &mut out.requests {
            r.arrival_s -= start_s;
        }
        Ok(out)
    }

    /// Like [`Workload::slice`], but arrivals keep their original times.
    pub fn slice_absolute(&self, start_s: f64, end_s: f64) -> Result<Workload, WorkloadError> {
        if !start_s.is_finite() {
            return Err(WorkloadError::InvalidArgument {
                what: "slice start",
                value: start_s.to_string(),
                expected: "a finite number of seconds",
            });
        }
        if end_s.is_nan() || end_s < start_s {
            return Err(WorkloadError::InvalidArgument {
                what: "slice end",
                value: end_s.to_string(),
                expected: "a number of seconds not before the start (infinity for the rest)",
            });
        }
        // Requests are sorted by arrival, so the window is one contiguous run.
        let lo = self.requests.partition_point(|r| r.arrival_s < start_s);
        let hi = self.requests.partition_point(|r| r.arrival_s < end_s);
        Ok(self.with_requests(self.requests[lo..hi.max(lo)].to_vec()))
    }

    /// The same requests `factor` times faster: every arrival divided by `factor`.
    pub fn speed_up(&self, factor: f64) -> Result<Workload, WorkloadError> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(WorkloadError::InvalidArgument {
                what: "speed-up factor",
                value: factor.to_string(),
                expected: "a finite number > 0 (2 = twice the request rate)",
            });
        }
        let mut out = self.clone();
        for r in &mut out.requests {
            r.arrival_s /= factor;
        }
        Ok(out)
    }

    /// The first `n` requests (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Workload {
        self.with_requests(self.requests.iter().take(n).cloned().collect())
    }

    /// A workload with this one's name and block size and `requests` (already in arrival
    /// order), numbered densely from 0.
    fn with_requests(&self, mut requests: Vec<Request>) -> Workload {
        for (i, r) in requests.iter_mut().enumerate() {
            r.id = i as u64;
        }
        Workload {
            name: self.name.clone(),
            block_tokens: self.block_tokens,
            requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(times: &[f64]) -> Workload {
        Workload {
            name: "w".into(),
            block_tokens: 1,
            requests: times
                .iter()
                .enumerate()
                .map(|(i, &t)| Request {
                    id: i as u64,
                    arrival_s: t,
                    input_tokens: 10 + i as u32,
                    output_tokens: 1,
                    prefix_blocks: Vec::new(),
                })
                .collect(),
        }
    }

    fn times(w: &Workload) -> Vec<f64> {
        w.requests.iter().map(|r| r.arrival_s).collect()
    }

    #[test]
    fn slice_is_half_open_rebased_and_renumbered() {
        let w = workload(&[0.0, 1.0, 2.0, 2.0, 3.0, 5.0]);
        let s = w.slice(2.0, 5.0).expect("valid");
        assert_eq!(times(&s), vec![0.0, 0.0, 1.0]);
        assert_eq!(
            s.requests.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(s.requests[0].input_tokens, 12);
        let a = w.slice_absolute(2.0, f64::INFINITY).expect("valid");
        assert_eq!(times(&a), vec![2.0, 2.0, 3.0, 5.0]);
        assert!(w.slice(3.0, 1.0).is_err());
        assert!(w.slice(f64::NAN, 1.0).is_err());
        assert!(w.slice(0.0, f64::NAN).is_err());
        assert!(w.slice(9.0, 10.0).expect("valid").requests.is_empty());
    }

    #[test]
    fn speed_up_divides_arrivals_and_rejects_bad_factors() {
        let w = workload(&[0.0, 1.0, 4.0]);
        assert_eq!(
            times(&w.speed_up(4.0).expect("valid")),
            vec![0.0, 0.25, 1.0]
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = w.speed_up(bad).expect_err("rejected");
            assert!(
                matches!(err, WorkloadError::InvalidArgument { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn take_keeps_a_prefix() {
        let w = workload(&[0.0, 1.0, 4.0]);
        assert_eq!(times(&w.take(2)), vec![0.0, 1.0]);
        assert_eq!(w.take(10).requests.len(), 3);
        assert!(w.take(0).requests.is_empty());
    }
}
