//! The discrete-event cluster simulator (after DistServe's and Vidur's simulators, Dynamo's mocker).
//!
//! Each instance is a vLLM-like engine ([`engine`](self) module docs): continuous batching with an
//! FCFS waiting queue, chunked prefill (or vLLM 0.2's whole-prompt prefill), paged KV with an LRU
//! prefix cache, and preemption by recomputation. Requests are routed on arrival by a
//! [`Router`](crate::policy::Router); in P/D disaggregation the prefill instance produces the first
//! token and its KV then crosses the decode instance's inbound link (transfers into one instance are
//! serialised FIFO) before decoding there. A [`RoleController`](crate::policy::RoleController) may flip
//! instance roles; a flipping instance drains first. Iteration times come from each instance's
//! [`LatencyModel`](crate::profile::LatencyModel).
//!
//! KV moves by pull, as in DistServe: a decode instance starts a transfer only once it can reserve
//! the blocks (FIFO); until then the KV stays on the prefill instance, so a full decode pool pushes
//! back on prefill and time to first token grows — the knee of the measured DistServe runs.
//! Transferred sequences hold their blocks and are admitted ahead of work that still needs blocks.
//!
//! Simplifications, stated once: decode instances do not look up their prefix cache for
//! transferred KV; a prompt's blocks join the prefix
//! cache when its prefill completes (not chunk by chunk); without chunked prefill, a recomputed
//! sequence longer than the token budget runs alone instead of being dropped.

mod config;
mod control;
mod engine;
mod error;
mod event;
mod finish;
mod kv;
mod prefix;
mod result;
mod run;
mod summary;

pub use config::{DEFAULT_KV_LINK_BYTES_PER_S, EngineConfig, InstanceSpec, SimConfig};
pub use error::{ConservationError, SimError, Violation};
pub use result::{
    InstanceResult, KvAudit, RequestOutcome, RequestStatus, Sample, SimResult, Totals,
};
pub use run::simulate;
pub use summary::{Percentiles, Slo, Summary};
