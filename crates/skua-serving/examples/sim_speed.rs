//! Simulator speed: a seeded synthetic workload of 1M requests on 16 instances, and (when the data
//! is present) the Mooncake conversation trace on 16 instances of the Llama2-70B TP4 H100 profile.
//!
//! Run: `cargo run --release -p skua-serving --example sim_speed [requests]`

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Exp, LogNormal};
use skua_serving::policy::{InstanceRole, LeastOutstanding, StaticRoles};
use skua_serving::profile::{Iteration, LatencyModel, ProfileSpec};
use skua_serving::sim::{SimConfig, SimResult, simulate};
use skua_serving::workload::{Request, Workload, load_mooncake};

/// A linear engine of roughly OPT-13B on one A100 (DistServe's profile, rounded).
#[derive(Debug)]
struct Opt13bLike;

impl LatencyModel for Opt13bLike {
    fn name(&self) -> &str {
        "opt-13b-like"
    }
    fn iteration_ms(&self, it: &Iteration) -> f64 {
        let new: u32 = it.prefill.iter().map(|&(n, _)| n).sum();
        let prefill = if new > 0 {
            12.0 + 0.07 * f64::from(new)
        } else {
            0.0
        };
        let decode = if it.decode_batch > 0 {
            11.0 + 0.1 * f64::from(it.decode_batch) + 2e-5 * it.decode_context as f64
        } else {
            0.0
        };
        prefill + decode
    }
    fn kv_capacity_tokens(&self) -> u64 {
        60_000
    }
    fn kv_bytes_per_token(&self) -> u64 {
        819_200
    }
}

fn synthetic(n: usize, rate_per_s: f64, seed: u64) -> Result<Workload, Box<dyn Error>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let gap = Exp::new(rate_per_s)?;
    let input = LogNormal::from_mean_cv(512.0, 1.0)?;
    let output = LogNormal::from_mean_cv(128.0, 1.0)?;
    let mut t = 0.0;
    let requests = (0..n as u64)
        .map(|id| {
            t += gap.sample(&mut rng);
            Request {
                id,
                arrival_s: t,
                input_tokens: (input.sample(&mut rng) as u32).clamp(1, 8192),
                output_tokens: (output.sample(&mut rng) as u32).clamp(1, 2048),
                prefix_blocks: Vec::new(),
            }
        })
        .collect();
    Ok(Workload {
        name: format!("synthetic-{n}"),
        block_tokens: 16,
        requests,
    })
}

fn report(label: &str, r: &SimResult, secs: f64) {
    let s = r.summary();
    let ttft = s.ttft.map_or(f64::NAN, |p| p.p50);
    let tpot = s.tpot.map_or(f64::NAN, |p| p.p50);
    println!(
        "{label}: {} requests simulated in {secs:.2} s = {:.0} requests/s \
         (finished {}, rejected {}, preemptions {}, makespan {:.0} s, mean utilisation {:.2}, \
         TTFT p50 {:.3} s, TPOT p50 {:.4} s)",
        s.offered,
        s.offered as f64 / secs,
        s.finished,
        s.rejected,
        s.preemptions,
        s.makespan_s,
        s.mean_utilisation,
        ttft,
        tpot,
    );
}

fn main() -> Result<(), Box<dyn Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 1_000_000,
    };
    let w = synthetic(n, 100.0, 42)?;
    let cfg = SimConfig::homogeneous(16, InstanceRole::Mixed, Arc::new(Opt13bLike));
    let t0 = Instant::now();
    let r = simulate(&cfg, &w, &mut LeastOutstanding::new(), &mut StaticRoles)?;
    let secs = t0.elapsed().as_secs_f64();
    r.check_conservation()?;
    report("synthetic", &r, secs);

    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/serving");
    let trace = data.join("mooncake/conversation_trace.jsonl");
    if !trace.exists() {
        println!("mooncake: {} not found, skipped", trace.display());
        return Ok(());
    }
    let (w, _) = load_mooncake(&trace)?;
    let model: Arc<dyn LatencyModel> =
        Arc::from("llama2-70b:tp4@h100".parse::<ProfileSpec>()?.build(&data)?);
    let cfg = SimConfig::homogeneous(16, InstanceRole::Mixed, model);
    let t0 = Instant::now();
    let r = simulate(&cfg, &w, &mut LeastOutstanding::new(), &mut StaticRoles)?;
    let secs = t0.elapsed().as_secs_f64();
    r.check_conservation()?;
    report("mooncake", &r, secs);
    Ok(())
}
