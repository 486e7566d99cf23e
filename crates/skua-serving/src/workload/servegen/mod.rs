//! The ServeGen workload generator (Xiang et al., "ServeGen: Workload Characterization and
//! Generation of Large Language Model Serving in Production", NSDI 2026; alibaba/ServeGen).
//!
//! ServeGen publishes per-client *models*, not requests: `chunk-<i>-trace.csv` gives, per
//! 600 s window, the observed rate and inter-arrival CV and a fitted family (`Gamma` or
//! `Weibull`, parameters shape `p1` and scale `p2`); `chunk-<i>-dataset.json` gives token-length
//! distributions per 6 h window. This module turns one client's model into a [`Workload`].
//!
//! How the columns are used (checked against the published sample, see the tests):
//! - **volume** comes from `rate`: a window holds `rate · rate_scale · length` requests
//!   (rounded at random to a whole count). The fitted scale `p2` is not used: it does not
//!   reproduce the rate (for the m-large client, `rate · mean(fit)` spans 0.03–1.0 for Gamma
//!   windows and 0.08–3.4 for Weibull windows);
//! - **burstiness** comes from the family and a shape. For Gamma windows `p1 = 1/cv²` to ten
//!   digits (a moment fit), so the generated CV is the row's `cv`. Weibull windows are not
//!   moment fits: for m-large the CV implied by `p1` is only 0.27–0.61 of the row's `cv` (for
//!   deepseek-r1's four Weibull windows 0.95–1.0). [`ShapeSource::MatchCv`] (the default)
//!   therefore solves the Weibull shape from `cv`, while [`ShapeSource::Fitted`] keeps
//!   ServeGen's `p1`. Mind that the sample CV of a few hundred heavy-tailed gaps is biased low,
//!   so a single generated window usually shows a smaller CV than its row;
//! - **lengths**: input and output tokens are drawn independently from the dataset window
//!   containing the arrival (the latest one starting at or before it); if that window lacks a
//!   distribution, the nearest window that has one is used.
//!
//! Window `i` of the file draws from its own random stream derived from `(seed, i)`, so
//! generating a sub-range gives exactly the requests of the full run in that range.

mod arrivals;
mod dataset;
mod trace;

use std::io::Read;
use std::path::Path;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use self::arrivals::{GapShape, window_arrivals};
use self::dataset::{DatasetWindow, LengthPmf, parse_dataset};
use self::trace::parse_trace;
pub use self::trace::{ArrivalFamily, TraceWindow};
use super::error::WorkloadError;
use super::source::{open_path, wrap_reader};
use super::{Request, Workload};

/// Which shape the inter-arrival gaps of a window get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShapeSource {
    /// Reproduce the row's observed `cv` with the row's family (Gamma: `1/cv²`, which equals
    /// ServeGen's `p1`; Weibull: the shape solved from `cv`).
    #[default]
    MatchCv,
    /// Use ServeGen's fitted shape `p1` as published.
    Fitted,
}

/// What to generate from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeGenOptions {
    /// Start of the generated range, seconds since the trace start; arrivals are re-based to it.
    pub start_s: f64,
    /// Length of the range in seconds; `None` runs to the end of the trace.
    pub duration_s: Option<f64>,
    /// Multiplier on every window's rate (> 0).
    pub rate_scale: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// How gap shapes are chosen.
    pub shape: ShapeSource,
}

impl Default for ServeGenOptions {
    fn default() -> Self {
        Self {
            start_s: 0.0,
            duration_s: None,
            rate_scale: 1.0,
            seed: 0,
            shape: ShapeSource::MatchCv,
        }
    }
}

/// One ServeGen client: its trace windows and its token-length distributions.
#[derive(Debug, Clone)]
pub struct ServeGenClient {
    name: String,
    windows: Vec<TraceWindow>,
    /// Per trace window: (input, output) distributions, `None` if the file has none at all.
    lengths: Vec<(Option<usize>, Option<usize>)>,
    datasets: Vec<DatasetWindow>,
}

impl ServeGenClient {
    /// Loads `chunk-<chunk>-trace.csv` and `chunk-<chunk>-dataset.json` from `dir` (e.g.
    /// `servegen_sample/data/language/m-large`); the client is named after the directory.
    pub fn load_chunk(dir: impl AsRef<Path>, chunk: u32) -> Result<Self, WorkloadError> {
        let dir = dir.as_ref();
        let name = dir.file_name().map_or_else(
            || "servegen".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::load(
            dir.join(format!("chunk-{chunk}-trace.csv")),
            dir.join(format!("chunk-{chunk}-dataset.json")),
            &name,
        )
    }

    /// Loads a client from its trace and dataset files (plain or gzip).
    pub fn load(
        trace: impl AsRef<Path>,
        dataset: impl AsRef<Path>,
        name: &str,
    ) -> Result<Self, WorkloadError> {
        let (trace, dataset) = (trace.as_ref(), dataset.as_ref());
        let windows = parse_trace(open_path(trace)?, &trace.display().to_string())?;
        let datasets = parse_dataset(open_path(dataset)?, &dataset.display().to_string())?;
        Ok(Self::build(name, windows, datasets))
    }

    /// Like [`ServeGenClient::load`], from readers; `name` names the client and its files in
    /// errors (`<name>/trace`, `<name>/dataset`).
    pub fn from_readers<T: Read, D: Read>(
        trace: T,
        dataset: D,
        name: &str,
    ) -> Result<Self, WorkloadError> {
        let trace_name = format!("{name}/trace");
        let dataset_name = format!("{name}/dataset");
        let windows = parse_trace(wrap_reader(trace, &trace_name)?, &trace_name)?;
        let datasets = parse_dataset(wrap_reader(dataset, &dataset_name)?, &dataset_name)?;
        Ok(Self::build(name, windows, datasets))
    }

    fn build(name: &str, windows: Vec<TraceWindow>, datasets: Vec<DatasetWindow>) -> Self {
        let lengths = windows
            .iter()
            .map(|w| {
                (
                    pick(&datasets, w.start_s, |d| d.input.is_some()),
                    pick(&datasets, w.start_s, |d| d.output.is_some()),
                )
            })
            .collect();
        Self {
            name: name.to_owned(),
            windows,
            lengths,
            datasets,
        }
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The trace windows, in time order.
    pub fn windows(&self) -> &[TraceWindow] {
        &self.windows
    }

    /// Length in seconds of window `i`: up to the next window, the last one as long as the
    /// one before it (600 s if it is alone).
    pub fn window_len_s(&self, i: usize) -> f64 {
        match (self.windows.get(i), self.windows.get(i + 1)) {
            (Some(w), Some(next)) => next.start_s - w.start_s,
            (Some(w), None) if i > 0 => w.start_s - self.windows[i - 1].start_s,
            _ => 600.0,
        }
    }

    /// Start times of the dataset windows whose input and output distributions serve trace
    /// time `t_s` (after falling back to the nearest window with a distribution).
    pub fn token_source(&self, t_s: f64) -> (Option<f64>, Option<f64>) {
        let at = |has: fn(&DatasetWindow) -> bool| {
            pick(&self.datasets, t_s, has).map(|i| self.datasets[i].start_s)
        };
        (at(|d| d.input.is_some()), at(|d| d.output.is_some()))
    }

    /// Generates the requests of `[start_s, start_s + duration_s)`; a range without traffic
    /// gives an empty workload.
    pub fn generate(&self, options: &ServeGenOptions) -> Result<Workload, WorkloadError> {
        let (start, end) = self.check(options)?;
        let mut rows: Vec<(f64, u32, u32)> = Vec::new();
        for (i, w) in self.windows.iter().enumerate() {
            let len = self.window_len_s(i);
            if w.start_s + len <= start || w.start_s >= end || w.rate <= 0.0 {
                continue;
            }
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(window_seed(options.seed, i as u64));
            let expected = w.rate * options.rate_scale * len;
            let whole = expected.floor();
            let n = whole as usize + usize::from(rng.random::<f64>() < expected - whole);
            let shape = gap_shape(w, options.shape);
            let times = window_arrivals(w.start_s, len, n, shape, &mut rng);
            let (input, output) = self.lengths[i];
            let input = input.and_then(|d| self.datasets[d].input.as_ref());
            let output = output.and_then(|d| self.datasets[d].output.as_ref());
            for t in times {
                // Lengths are drawn for every arrival of the window, kept or not, so the
                // stream does not depend on the requested range.
                let i_len = draw(input, &mut rng);
                let o_len = draw(output, &mut rng);
                if t >= start && t < end {
                    rows.push((t - start, i_len, o_len));
                }
            }
        }
        let requests = rows
            .into_iter()
            .enumerate()
            .map(|(id, (arrival_s, input_tokens, output_tokens))| Request {
                id: id as u64,
                arrival_s,
                input_tokens,
                output_tokens,
                prefix_blocks: Vec::new(),
            })
            .collect();
        Ok(Workload {
            name: format!("servegen-{}", self.name),
            block_tokens: 1,
            requests,
        })
    }

    fn check(&self, o: &ServeGenOptions) -> Result<(f64, f64), WorkloadError> {
        if !(o.start_s.is_finite() && o.start_s >= 0.0) {
            return Err(WorkloadError::InvalidArgument {
                what: "ServeGen start",
                value: o.start_s.to_string(),
                expected: "a finite number of seconds ≥ 0",
            });
        }
        if !(o.rate_scale.is_finite() && o.rate_scale > 0.0) {
            return Err(WorkloadError::InvalidArgument {
                what: "ServeGen rate scale",
                value: o.rate_scale.to_string(),
                expected: "a finite number > 0",
            });
        }
        let end = match o.duration_s {
            None => f64::INFINITY,
            Some(d) if d.is_finite() && d > 0.0 => o.start_s + d,
            Some(d) => {
                return Err(WorkloadError::InvalidArgument {
                    what: "ServeGen duration",
                    value: d.to_string(),
                    expected: "a finite number of seconds > 0 (or none for the whole trace)",
                });
            }
        };
        Ok((o.start_s, end))
    }
}

/// The gap shape of a window with traffic.
fn gap_shape(w: &TraceWindow, source: ShapeSource) -> GapShape {
    match (w.family, source) {
        // A window with traffic but no fit: a Poisson process is the neutral choice.
        (None | Some(ArrivalFamily::Exponential), _) => GapShape::Exponential,
        (Some(ArrivalFamily::Gamma), ShapeSource::MatchCv) => GapShape::gamma_for_cv(w.cv),
        (Some(ArrivalFamily::Gamma), ShapeSource::Fitted) => GapShape::Gamma(w.p1),
        (Some(ArrivalFamily::Weibull), ShapeSource::MatchCv) => GapShape::weibull_for_cv(w.cv),
        (Some(ArrivalFamily::Weibull), ShapeSource::Fitted) => GapShape::Weibull(w.p1),
    }
}

/// A token length from `pmf` (1 without a distribution or for a drawn 0).
fn draw(pmf: Option<&LengthPmf>, rng: &mut Xoshiro256PlusPlus) -> u32 {
    pmf.map_or(1, |p| p.sample(rng)).max(1)
}

/// The dataset window serving trace time `t`: the latest one starting at or before `t` if it
/// has the distribution, otherwise the nearest one that has it (ties to the earlier).
fn pick(datasets: &[DatasetWindow], t: f64, has: impl Fn(&DatasetWindow) -> bool) -> Option<usize> {
    let home = datasets
        .partition_point(|d| d.start_s <= t)
        .saturating_sub(1);
    let anchor = datasets.get(home)?.start_s;
    if has(&datasets[home]) {
        return Some(home);
    }
    // `min_by` keeps the first of equal distances, i.e. the earlier window.
    datasets
        .iter()
        .enumerate()
        .filter(|(_, d)| has(d))
        .min_by(|(_, a), (_, b)| {
            (a.start_s - anchor)
                .abs()
                .total_cmp(&(b.start_s - anchor).abs())
        })
        .map(|(i, _)| i)
}

/// Seed of window `i`'s random stream: SplitMix64 of the seed, offset by the window index.
fn window_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).wrapping_add(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "0,0.5,1.0,Gamma,1.0,2.0\n600,0,0,,0,0\n1200,2.0,3.0,Weibull,0.5,1.0\n";
    const DATASET: &str = r#"{"0": {"input_tokens": "{100: 1.0}", "output_tokens": "{10: 1.0}"},
                              "1200": {"input_tokens": "{}", "output_tokens": "{20: 1.0}"}}"#;

    fn client() -> ServeGenClient {
        ServeGenClient::from_readers(TRACE.as_bytes(), DATASET.as_bytes(), "c").expect("valid")
    }

    #[test]
    fn counts_follow_rates_and_lengths_follow_windows() {
        let w = client()
            .generate(&ServeGenOptions::default())
            .expect("valid");
        let first: Vec<&Request> = w.requests.iter().filter(|r| r.arrival_s < 600.0).collect();
        let third: Vec<&Request> = w
            .requests
            .iter()
            .filter(|r| r.arrival_s >= 1200.0)
            .collect();
        assert_eq!(
            (first.len(), third.len(), w.requests.len()),
            (300, 1200, 1500)
        );
        assert!(
            first
                .iter()
                .all(|r| r.input_tokens == 100 && r.output_tokens == 10)
        );
        // Window 1200 has no input distribution: it borrows window 0's.
        assert!(
            third
                .iter()
                .all(|r| r.input_tokens == 100 && r.output_tokens == 20)
        );
        assert!(
            w.requests
                .windows(2)
                .all(|p| p[0].arrival_s <= p[1].arrival_s)
        );
        assert!(w.requests.iter().enumerate().all(|(i, r)| r.id == i as u64));
        assert_eq!(client().token_source(1500.0), (Some(0.0), Some(1200.0)));
    }

    #[test]
    fn sub_range_equals_slice_of_full_run() {
        let c = client();
        let full = c
            .generate(&ServeGenOptions {
                seed: 9,
                ..Default::default()
            })
            .expect("valid");
        let part = c
            .generate(&ServeGenOptions {
                seed: 9,
                start_s: 1300.0,
                duration_s: Some(400.0),
                ..Default::default()
            })
            .expect("valid");
        let sliced = full.slice(1300.0, 1700.0).expect("valid");
        assert_eq!(part.requests, sliced.requests);
        assert!(!part.requests.is_empty());
    }

    #[test]
    fn shape_sources_differ_only_for_weibull() {
        let gamma = TraceWindow {
            start_s: 0.0,
            rate: 1.0,
            cv: 2.0,
            family: Some(ArrivalFamily::Gamma),
            p1: 0.25,
            p2: 1.0,
            line: 1,
        };
        assert_eq!(
            gap_shape(&gamma, ShapeSource::MatchCv),
            gap_shape(&gamma, ShapeSource::Fitted)
        );
        let weibull = TraceWindow {
            family: Some(ArrivalFamily::Weibull),
            p1: 0.5,
            ..gamma
        };
        assert_eq!(
            gap_shape(&weibull, ShapeSource::Fitted),
            GapShape::Weibull(0.5)
        );
        assert!((gap_shape(&weibull, ShapeSource::MatchCv).cv() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_options() {
        let c = client();
        for o in [
            ServeGenOptions {
                rate_scale: 0.0,
                ..Default::default()
            },
            ServeGenOptions {
                start_s: -1.0,
                ..Default::default()
            },
            ServeGenOptions {
                duration_s: Some(0.0),
                ..Default::default()
            },
            ServeGenOptions {
                duration_s: Some(f64::NAN),
                ..Default::default()
            },
        ] {
            assert!(
                matches!(c.generate(&o), Err(WorkloadError::InvalidArgument { .. })),
                "{o:?}"
            );
        }
    }
}
