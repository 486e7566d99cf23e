//! LLM request workloads: trace loaders, the ServeGen generator, time slicing and speed-up.
//!
//! - Loaders ([`load_azure`], [`load_mooncake`], [`load_burstgpt`] and their `read_*` twins
//!   for any reader) accept plain or gzip files and return the workload with a
//!   [`LoadReport`] of what was clamped, filtered or out of order.
//! - [`ServeGenClient`] generates multi-day workloads from ServeGen's per-client models.
//! - [`synthetic`] makes large Poisson / log-normal workloads for benchmarks.
//! - [`Workload::slice`], [`Workload::speed_up`], [`Workload::take`] and [`Workload::stats`]
//!   transform and summarise any of them.

mod azure;
mod burstgpt;
mod error;
mod flowkv;
mod load;
mod mooncake;
mod servegen;
mod source;
mod stats;
mod synthetic;
mod timestamp;
mod transform;

pub use self::azure::{load_azure, read_azure};
pub use self::burstgpt::{BurstGptOptions, load_burstgpt, read_burstgpt};
pub use self::error::WorkloadError;
pub use self::flowkv::{
    BurstWindow, DECODE_HEAVY_INPUT_MEAN, DECODE_HEAVY_OUTPUT_MEAN, ImbalanceSpec, OverloadSpec,
    PREFILL_HEAVY_INPUT, PREFILL_HEAVY_OUTPUT_MEAN, Scenario, imbalance_scenario, normal_scenario,
    overload_scenario,
};
pub use self::load::LoadReport;
pub use self::mooncake::{MOONCAKE_BLOCK_TOKENS, load_mooncake, read_mooncake};
pub use self::servegen::{
    ArrivalFamily, ServeGenClient, ServeGenOptions, ShapeSource, TraceWindow,
};
pub use self::stats::{TokenStats, WorkloadStats};
pub use self::synthetic::{LengthDist, synthetic};

/// One inference request as the simulator and the router see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Position in the workload (0-based, dense, in arrival order).
    pub id: u64,
    /// Arrival time in seconds since the workload's start (non-decreasing along the workload).
    pub arrival_s: f64,
    /// Prompt length in tokens (≥ 1).
    pub input_tokens: u32,
    /// Tokens to generate (≥ 1; a trace's 0 is clamped to 1 and counted by the loader).
    pub output_tokens: u32,
    /// Prefix-block hash ids, one per `Workload::block_tokens` tokens of the prompt
    /// (equal ids = shareable prefix KV). Empty when the trace has none.
    pub prefix_blocks: Vec<u64>,
}

/// A request stream sorted by arrival.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Human-readable name (file stem or generator name).
    pub name: String,
    /// Tokens per prefix block of `Request::prefix_blocks` (Mooncake: 512).
    pub block_tokens: u32,
    /// Requests, sorted by `arrival_s`, ids dense from 0.
    pub requests: Vec<Request>,
}
