//! Simulator fidelity: replaying DistServe's 37 measured runs (OPT-13B on A100-80G, ShareGPT
//! prompts; vLLM and DistServe) through the simulator and comparing latencies.
//!
//! The ground truth is DistServe's alignment data (`distserve_ground_truth/csv`), one CSV per run
//! named `<system>[-c<P-tp><P-pp>d<D-tp><D-pp>]-<requests>-<rate>.csv` with columns
//! `arrival_s,prompt_len,output_len,ttft_ms,tpot_ms,latency_ms`. The cluster of each run follows
//! DistServe's own alignment script (`simdistserve/benchmarks/alignment`): `vllm-*` is one vLLM
//! instance at TP1; `c21d11` is a TP2 prefill instance and a TP1 decode instance; `c21d12` has a
//! two-stage pipeline-parallel decode, which skua models as two TP1 decode instances (a pipeline
//! of two stages keeps two batches in flight: twice the throughput and KV room at the latency of
//! one stage pair; the profile files have no pipeline-parallel coefficients).
//!
//! `distserve-*` runs without a config in the name are read as `c21d11`: measured side by side
//! they are that configuration (at 3 and 6 req/s their TTFT p50 is within 10 % and their TPOT p50
//! within 2 % of the `c21d11` runs at the same rate, while a TP1 prefill instance would be about
//! 50 % slower to first token), and TP2 prefill + TP1 decode is DistServe's placement for OPT-13B.
//!
//! Each run replays its own arrivals, prompt and output lengths; the comparison is per run
//! (TTFT and TPOT p50/p90) and per configuration (the *knee*: the arrival rate at which p90 TTFT
//! crosses 1 s, interpolated linearly between the measured rates).

use std::path::PathBuf;
use std::sync::Arc;

use crate::policy::{InstanceRole, LeastOutstanding, PdPair, Router, StaticRoles};
use crate::profile::{Calibrated, LatencyModel, ProfileSpec};
use crate::sim::{EngineConfig, InstanceSpec, Percentiles, SimConfig, simulate};
use crate::workload::{Request, Workload};

mod calibrate;
mod runs;

pub use calibrate::{FidelityReport, calibrate, is_tuning_run, study};
pub use runs::{parse_run_name, read_run, read_runs};

/// p90 TTFT above this marks the knee, milliseconds.
pub const KNEE_TTFT_P90_MS: f64 = 1000.0;

/// Errors of the fidelity replay.
#[derive(Debug, thiserror::Error)]
pub enum FidelityError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A run file's name does not follow `<system>[-cXYdZW]-<requests>-<rate>.csv`.
    #[error("{file}: {reason}")]
    Name {
        /// The file name.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A row of a run file is malformed.
    #[error("{file}:{line}: {reason}")]
    Row {
        /// The file name.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The directory holds no run.
    #[error("{0}: no ground-truth run (*.csv) found")]
    Empty(PathBuf),
    /// A profile could not be built.
    #[error("profile {spec}: {reason}")]
    Profile {
        /// The profile spec.
        spec: String,
        /// Why.
        reason: String,
    },
    /// The simulation failed.
    #[error("simulating {run}: {reason}")]
    Sim {
        /// The run.
        run: String,
        /// Why.
        reason: String,
    },
}

/// The serving system of a measured run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum System {
    /// One colocated vLLM instance.
    Vllm,
    /// DistServe: prefill and decode on separate instances.
    DistServe {
        /// Tensor-parallel degree of the prefill instance.
        prefill_tp: u32,
        /// Pipeline-parallel degree of the prefill instance.
        prefill_pp: u32,
        /// Tensor-parallel degree of the decode instance.
        decode_tp: u32,
        /// Pipeline-parallel degree of the decode instance.
        decode_pp: u32,
    },
}

impl System {
    /// Label such as `vllm` or `distserve-c21d11`.
    pub fn label(&self) -> String {
        match self {
            System::Vllm => "vllm".into(),
            System::DistServe {
                prefill_tp,
                prefill_pp,
                decode_tp,
                decode_pp,
            } => format!("distserve-c{prefill_tp}{prefill_pp}d{decode_tp}{decode_pp}"),
        }
    }
}

/// One measured request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasuredRequest {
    /// Arrival, seconds since the run's first request.
    pub arrival_s: f64,
    /// Prompt tokens.
    pub prompt_len: u32,
    /// Output tokens.
    pub output_len: u32,
    /// Measured time to first token, ms.
    pub ttft_ms: f64,
    /// Measured time per output token, ms.
    pub tpot_ms: f64,
}

/// One measured run.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredRun {
    /// File stem, e.g. `vllm-100-1`.
    pub name: String,
    /// The serving system.
    pub system: System,
    /// Requests sent.
    pub requests_sent: u32,
    /// Nominal arrival rate, requests/s.
    pub rate: f64,
    /// The requests, in arrival order.
    pub requests: Vec<MeasuredRequest>,
}

/// Calibration factors of one engine (1 = the published profile as is).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    /// Factor on prefill iterations.
    pub prefill: f64,
    /// Factor on decode iterations.
    pub decode: f64,
    /// Milliseconds per scheduled sequence per iteration (the engine's per-sequence CPU work).
    pub per_sequence_ms: f64,
}

impl Default for Scales {
    fn default() -> Self {
        Scales {
            prefill: 1.0,
            decode: 1.0,
            per_sequence_ms: 0.0,
        }
    }
}

/// Calibration of both engines of the measured runs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Calibration {
    /// vLLM's factors.
    pub vllm: Scales,
    /// DistServe's factors.
    pub distserve: Scales,
}

/// How a run is replayed.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The `serving` data directory (profiles are read from it).
    pub serving_dir: PathBuf,
    /// Engine knobs. Default: no chunked prefill (vLLM 0.2 and DistServe of the paper's time
    /// prefill whole prompts), no prefix cache (ShareGPT prompts share none).
    pub engine: EngineConfig,
    /// P→D KV bandwidth, bytes/s. Default 150 GB/s: DistServe places OPT-13B's prefill and
    /// decode instances on one NVLink node (A100 NVLink 3: 300 GB/s per direction, about half
    /// reached by a KV copy).
    pub kv_link_bytes_per_s: f64,
    /// Factors on the published profiles (see [`calibrate`]).
    pub calibration: Calibration,
}

impl ReplayConfig {
    /// Defaults for the data directory `serving_dir`.
    pub fn new(serving_dir: impl Into<PathBuf>) -> Self {
        ReplayConfig {
            serving_dir: serving_dir.into(),
            engine: EngineConfig {
                chunked_prefill: false,
                prefix_cache: false,
                ..EngineConfig::default()
            },
            kv_link_bytes_per_s: 150e9,
            calibration: Calibration::default(),
        }
    }
}

/// Measured against simulated latencies of one run, milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunComparison {
    /// Run name.
    pub name: String,
    /// System label.
    pub system: String,
    /// Nominal rate, requests/s.
    pub rate: f64,
    /// Requests replayed.
    pub requests: usize,
    /// Measured TTFT p50 / p90.
    pub real_ttft: (f64, f64),
    /// Simulated TTFT p50 / p90.
    pub sim_ttft: (f64, f64),
    /// Measured TPOT p50 / p90.
    pub real_tpot: (f64, f64),
    /// Simulated TPOT p50 / p90.
    pub sim_tpot: (f64, f64),
    /// Whether the measured run is below the knee (p90 TTFT ≤ 1 s).
    pub below_knee: bool,
}

impl RunComparison {
    /// Relative error of the simulated TTFT p50, (sim − real) / real.
    pub fn ttft_p50_error(&self) -> f64 {
        rel(self.sim_ttft.0, self.real_ttft.0)
    }
    /// Relative error of the simulated TPOT p50.
    pub fn tpot_p50_error(&self) -> f64 {
        rel(self.sim_tpot.0, self.real_tpot.0)
    }
}

fn rel(sim: f64, real: f64) -> f64 {
    if real > 0.0 {
        (sim - real) / real
    } else {
        f64::NAN
    }
}

/// Builds `spec` (its KV capacity times `kv_factor`), scaled by `scales`.
fn profile(
    cfg: &ReplayConfig,
    spec: &str,
    kv_factor: u64,
    scales: Scales,
) -> Result<Arc<dyn LatencyModel>, FidelityError> {
    let bad = |reason: String| FidelityError::Profile {
        spec: spec.to_string(),
        reason,
    };
    let parsed: ProfileSpec = spec.parse().map_err(|e| bad(format!("{e}")))?;
    let mut model: Arc<dyn LatencyModel> = Arc::from(
        parsed
            .build(&cfg.serving_dir)
            .map_err(|e| bad(format!("{e}")))?,
    );
    if kv_factor > 1 {
        let capacity = model.kv_capacity_tokens() * kv_factor;
        model = Arc::from(
            parsed
                .build_with_kv_capacity(&cfg.serving_dir, capacity)
                .map_err(|e| bad(format!("{e}")))?,
        );
    }
    Ok(Arc::new(
        Calibrated::new(model, scales.prefill, scales.decode)
            .with_per_sequence_ms(scales.per_sequence_ms),
    ))
}

/// The simulated cluster and router of a system.
fn cluster(
    system: System,
    cfg: &ReplayConfig,
) -> Result<(SimConfig, Box<dyn Router>), FidelityError> {
    let (specs, router): (Vec<InstanceSpec>, Box<dyn Router>) = match system {
        System::Vllm => (
            vec![InstanceSpec {
                role: InstanceRole::Mixed,
                model: profile(cfg, "opt-13b:tp1+vllm", 1, cfg.calibration.vllm)?,
            }],
            Box::new(LeastOutstanding::new()),
        ),
        System::DistServe {
            prefill_tp,
            prefill_pp,
            decode_tp,
            decode_pp,
        } => {
            // Pipeline parallelism: one instance with `pp` GPUs' KV room at one stage chain's
            // latency (the profiles have no PP coefficients; see the module docs).
            let scales = cfg.calibration.distserve;
            let p = profile(
                cfg,
                &format!("opt-13b:tp{prefill_tp}+distserve"),
                u64::from(prefill_pp),
                scales,
            )?;
            let d = profile(
                cfg,
                &format!("opt-13b:tp{decode_tp}+distserve"),
                u64::from(decode_pp),
                scales,
            )?;
            let specs = vec![
                InstanceSpec {
                    role: InstanceRole::Prefill,
                    model: p,
                },
                InstanceSpec {
                    role: InstanceRole::Decode,
                    model: d,
                },
            ];
            (specs, Box::new(PdPair::new()))
        }
    };
    let mut sim = SimConfig::new(specs);
    sim.engine = cfg.engine.clone();
    sim.kv_link_bytes_per_s = cfg.kv_link_bytes_per_s;
    // Router-local bookkeeping only: a single-queue replay has no scrape to wait for.
    sim.staleness_s = 0.0;
    sim.controller_interval_s = None;
    Ok((sim, router))
}

fn workload_of(run: &MeasuredRun) -> Workload {
    Workload {
        name: run.name.clone(),
        block_tokens: 16,
        requests: run
            .requests
            .iter()
            .enumerate()
            .map(|(i, r)| Request {
                id: i as u64,
                arrival_s: r.arrival_s,
                input_tokens: r.prompt_len,
                output_tokens: r.output_len,
                prefix_blocks: Vec::new(),
            })
            .collect(),
    }
}

pub(super) fn p50_p90(values: Vec<f64>) -> (f64, f64) {
    Percentiles::of(values).map_or((f64::NAN, f64::NAN), |p| (p.p50, p.p90))
}

/// Replays one run and compares.
pub fn replay(run: &MeasuredRun, cfg: &ReplayConfig) -> Result<RunComparison, FidelityError> {
    let (sim, mut router) = cluster(run.system, cfg)?;
    let workload = workload_of(run);
    let result = simulate(&sim, &workload, router.as_mut(), &mut StaticRoles).map_err(|e| {
        FidelityError::Sim {
            run: run.name.clone(),
            reason: e.to_string(),
        }
    })?;
    result
        .check_conservation()
        .map_err(|e| FidelityError::Sim {
            run: run.name.clone(),
            reason: e.to_string(),
        })?;
    let finished: Vec<_> = result.requests.iter().filter(|r| r.is_finished()).collect();
    let sim_ttft = p50_p90(
        finished
            .iter()
            .filter_map(|r| r.ttft_s())
            .map(|s| s * 1e3)
            .collect(),
    );
    let sim_tpot = p50_p90(
        finished
            .iter()
            .filter(|r| r.output_tokens > 1)
            .filter_map(|r| r.tpot_s())
            .map(|s| s * 1e3)
            .collect(),
    );
    let real_ttft = p50_p90(run.requests.iter().map(|r| r.ttft_ms).collect());
    let real_tpot = p50_p90(
        run.requests
            .iter()
            .filter(|r| r.output_len > 1)
            .map(|r| r.tpot_ms)
            .collect(),
    );
    Ok(RunComparison {
        name: run.name.clone(),
        system: run.system.label(),
        rate: run.rate,
        requests: run.requests.len(),
        real_ttft,
        sim_ttft,
        real_tpot,
        sim_tpot,
        below_knee: real_ttft.1 <= KNEE_TTFT_P90_MS,
    })
}

/// The knee of one system, measured and simulated (requests/s; `None` when p90 TTFT never
/// crosses 1 s, or is above it already at the lowest rate).
#[derive(Debug, Clone, PartialEq)]
pub struct Knee {
    /// System label.
    pub system: String,
    /// Measured knee.
    pub real: Option<f64>,
    /// Simulated knee.
    pub sim: Option<f64>,
}

/// The rate at which `p90` (by rate, ascending) first exceeds the threshold, interpolated
/// linearly from the last rate below it.
pub fn knee_of(points: &[(f64, f64)]) -> Option<f64> {
    let mut pts = points.to_vec();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let above = pts.iter().position(|&(_, p)| p > KNEE_TTFT_P90_MS)?;
    if above == 0 {
        return None;
    }
    let (r1, p1) = pts[above - 1];
    let (r2, p2) = pts[above];
    Some(r1 + (KNEE_TTFT_P90_MS - p1) / (p2 - p1) * (r2 - r1))
}

/// Knees per system. Where several runs share a rate, the one with the most requests counts
/// (the longest, closest to steady state).
pub fn knees(rows: &[RunComparison]) -> Vec<Knee> {
    let mut systems: Vec<&str> = rows.iter().map(|r| r.system.as_str()).collect();
    systems.dedup();
    systems
        .into_iter()
        .map(|system| {
            let mut by_rate: Vec<&RunComparison> =
                rows.iter().filter(|r| r.system == system).collect();
            by_rate.sort_by(|a, b| a.rate.total_cmp(&b.rate).then(b.requests.cmp(&a.requests)));
            by_rate.dedup_by(|a, b| a.rate == b.rate);
            let real: Vec<(f64, f64)> = by_rate.iter().map(|r| (r.rate, r.real_ttft.1)).collect();
            let sim: Vec<(f64, f64)> = by_rate.iter().map(|r| (r.rate, r.sim_ttft.1)).collect();
            Knee {
                system: system.to_string(),
                real: knee_of(&real),
                sim: knee_of(&sim),
            }
        })
        .collect()
}

/// Median of the absolute relative errors of TTFT p50 and TPOT p50 over the runs below the knee.
pub fn median_abs_errors(rows: &[RunComparison]) -> (f64, f64) {
    let below: Vec<&RunComparison> = rows.iter().filter(|r| r.below_knee).collect();
    let med = |mut v: Vec<f64>| {
        v.retain(|x| x.is_finite());
        Percentiles::of(v).map_or(f64::NAN, |p| p.p50)
    };
    (
        med(below.iter().map(|r| r.ttft_p50_error().abs()).collect()),
        med(below.iter().map(|r| r.tpot_p50_error().abs()).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knee_interpolates_between_the_rates_around_one_second() {
        let pts = [(1.0, 200.0), (2.0, 600.0), (3.0, 1400.0), (4.0, 30000.0)];
        // 600 → 1400 between 2 and 3 req/s: 1000 ms at 2.5.
        assert!((knee_of(&pts).unwrap() - 2.5).abs() < 1e-12);
        assert_eq!(knee_of(&[(1.0, 100.0), (2.0, 200.0)]), None);
        assert_eq!(knee_of(&[(1.0, 2000.0), (2.0, 3000.0)]), None);
    }
}
