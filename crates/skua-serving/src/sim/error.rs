//! Simulator errors and conservation violations.

use std::fmt;

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A configuration knob is out of range.
    #[error("invalid simulator config `{field}`: {why}")]
    Config {
        /// The knob.
        field: &'static str,
        /// What is wrong and what is allowed.
        why: String,
    },
    /// A workload request is unusable.
    #[error("invalid workload request #{index} (id {id}): {why}")]
    Workload {
        /// Position in the workload.
        index: usize,
        /// The request's id.
        id: u64,
        /// What is wrong.
        why: String,
    },
    /// A router returned a decision the cluster cannot carry out (a policy bug).
    #[error("router `{router}` made an invalid decision for request {request}: {why}")]
    InvalidRoute {
        /// The router's name.
        router: String,
        /// The request id.
        request: u64,
        /// What is wrong (unknown instance, wrong role, draining instance).
        why: String,
    },
    /// A role controller named an instance that does not exist.
    #[error(
        "role controller `{controller}` named instance {instance}, but the cluster has {count}"
    )]
    InvalidRole {
        /// The controller's name.
        controller: String,
        /// The instance it named.
        instance: usize,
        /// Number of instances.
        count: usize,
    },
    /// Requests are open but nothing can run (a scheduling deadlock; a simulator bug).
    #[error(
        "simulation stalled at {at_s:.3} s: {open} requests open, {queued} queued, no instance can run"
    )]
    Stalled {
        /// Simulated time.
        at_s: f64,
        /// Requests neither finished nor rejected.
        open: usize,
        /// Sequences waiting, running or waiting for KV room.
        queued: usize,
    },
    /// A latency model returned a negative or non-finite iteration time.
    #[error("latency model `{model}` returned {ms} ms for an iteration; it must be finite and ≥ 0")]
    Latency {
        /// The model's name.
        model: String,
        /// The value it returned.
        ms: f64,
    },
    /// SLO thresholds were given for a different number of requests than were simulated.
    #[error("got {got} SLO thresholds for {expected} requests")]
    SloCount {
        /// Number of requests in the result.
        expected: usize,
        /// Number of thresholds passed.
        got: usize,
    },
}

/// One broken invariant found by `SimResult::check_conservation`.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// finished + rejected + unfinished ≠ offered.
    RequestCount {
        /// Requests in the workload.
        offered: usize,
        /// Finished requests.
        finished: usize,
        /// Rejected requests.
        rejected: usize,
        /// Unfinished requests.
        unfinished: usize,
    },
    /// A finished request generated a different number of tokens than it asked for, or a
    /// rejected/unfinished one generated too many.
    Tokens {
        /// Request id.
        id: u64,
        /// Tokens generated.
        generated: u32,
        /// Tokens asked for.
        expected: u32,
    },
    /// A finished request lacks a time, or its times are out of order.
    Times {
        /// Request id.
        id: u64,
    },
    /// An instance's KV blocks do not add up at the end: free + cached + held by live requests ≠ total.
    KvLeak {
        /// Instance id.
        instance: usize,
        /// Blocks of capacity.
        total_blocks: u64,
        /// Free blocks by the allocator's count.
        free_blocks: u64,
        /// Blocks in the prefix cache.
        cached_blocks: u64,
        /// Private blocks held by requests still queued, running or in transfer.
        live_private_blocks: u64,
    },
    /// Prefix-cache reference counts do not match the references live requests hold.
    KvRefs {
        /// Instance id.
        instance: usize,
        /// Sum of cache reference counts.
        cache_refs: u64,
        /// Prefix-cache units referenced by live requests.
        live_refs: u64,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RequestCount {
                offered,
                finished,
                rejected,
                unfinished,
            } => write!(
                f,
                "{finished} finished + {rejected} rejected + {unfinished} unfinished ≠ {offered} offered"
            ),
            Self::Tokens {
                id,
                generated,
                expected,
            } => write!(
                f,
                "request {id} generated {generated} tokens, expected {expected}"
            ),
            Self::Times { id } => write!(f, "request {id} has missing or out-of-order times"),
            Self::KvLeak {
                instance,
                total_blocks,
                free_blocks,
                cached_blocks,
                live_private_blocks,
            } => write!(
                f,
                "instance {instance}: {free_blocks} free + {cached_blocks} cached + {live_private_blocks} held ≠ {total_blocks} KV blocks"
            ),
            Self::KvRefs {
                instance,
                cache_refs,
                live_refs,
            } => write!(
                f,
                "instance {instance}: prefix cache counts {cache_refs} references, live requests hold {live_refs}"
            ),
        }
    }
}

/// Every broken invariant of one simulation result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("simulation broke {} conservation invariant(s): {}", .violations.len(), join(.violations))]
pub struct ConservationError {
    /// The violations, in check order.
    pub violations: Vec<Violation>,
}

fn join(v: &[Violation]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
