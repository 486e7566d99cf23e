//! skua's serving plane (after FlowKV, Llumnix, DistServe).
//!
//! - [`workload`]: LLM request traces (Azure 2023, Mooncake, BurstGPT) and the ServeGen generator.
//! - [`profile`]: per-iteration engine latency models fitted to published profiles, KV capacity.
//! - [`sim`]: the deterministic discrete-event cluster simulator (continuous batching, chunked
//!   prefill, paged KV with a prefix cache, preemption, P/D disaggregation).
//!
//! Architecture invariant: nothing here touches the filesystem except the loaders in
//! [`workload`] and [`profile`] (which take paths or readers); given inputs and a seed,
//! simulation is deterministic.

pub mod bench;
pub mod fidelity;
pub mod policy;
pub mod profile;
pub mod sim;
pub mod workload;
