//! What a simulation produced: per-request outcomes, per-instance statistics, totals, and the
//! conservation audit.

use crate::policy::{InstanceRole, RejectReason};

use super::error::{ConservationError, Violation};

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestStatus {
    /// All output tokens were generated.
    Finished,
    /// Refused by the router or the engine.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
    /// Still queued, running or in transfer when the time limit hit.
    Unfinished,
}

/// One request's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOutcome {
    /// The request's id.
    pub id: u64,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Output tokens asked for.
    pub output_tokens: u32,
    /// Arrival, seconds since the workload start.
    pub arrival_s: f64,
    /// The mixed instance, or the prefill instance of a disaggregated request.
    pub instance: Option<usize>,
    /// The decode instance of a disaggregated request.
    pub decode_instance: Option<usize>,
    /// When the first output token was produced (end of the prompt's last prefill iteration).
    pub first_token_s: Option<f64>,
    /// When the last output token was produced.
    pub finish_s: Option<f64>,
    /// How it ended.
    pub status: RequestStatus,
    /// Output tokens generated (equals `output_tokens` when finished).
    pub generated_tokens: u32,
    /// Times it was preempted (and recomputed).
    pub preemptions: u32,
    /// Prompt tokens served from the prefix cache, summed over its admissions.
    pub prefix_hit_tokens: u64,
}

impl RequestOutcome {
    /// Whether it finished.
    pub fn is_finished(&self) -> bool {
        self.status == RequestStatus::Finished
    }

    /// Time to first token, seconds (finished or not, once the first token exists).
    pub fn ttft_s(&self) -> Option<f64> {
        self.first_token_s.map(|t| t - self.arrival_s)
    }

    /// Time per output token after the first: (finish − first token) / (output − 1); 0 for a
    /// one-token output. `None` unless finished.
    pub fn tpot_s(&self) -> Option<f64> {
        let (first, finish) = (self.first_token_s?, self.finish_s?);
        Some(if self.output_tokens > 1 {
            (finish - first) / f64::from(self.output_tokens - 1)
        } else {
            0.0
        })
    }

    /// End-to-end latency, seconds. `None` unless finished.
    pub fn e2e_s(&self) -> Option<f64> {
        self.finish_s.map(|t| t - self.arrival_s)
    }
}

/// One point of an instance's load time series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Sample time, seconds since the workload start.
    pub t_s: f64,
    /// Queued requests.
    pub waiting: u32,
    /// Requests in the running batch.
    pub running: u32,
    /// KV tokens held by requests (whole blocks; excludes unreferenced prefix-cache blocks).
    pub kv_used_tokens: u64,
}

/// An instance's KV blocks at the end of the run, for the leak audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvAudit {
    /// Blocks of capacity.
    pub total_blocks: u64,
    /// Free blocks by the allocator's running count.
    pub free_blocks: u64,
    /// Blocks in the prefix cache.
    pub cached_blocks: u64,
    /// Sum of the prefix cache's reference counts.
    pub cache_refs: u64,
    /// Private blocks of requests still queued, running or in transfer (counted from the requests).
    pub live_private_blocks: u64,
    /// Prefix-cache units referenced by those requests (counted from the requests).
    pub live_shared_refs: u64,
}

/// One instance's statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceResult {
    /// Instance id.
    pub id: usize,
    /// Latency model name.
    pub model: String,
    /// Role at the end.
    pub final_role: InstanceRole,
    /// Seconds spent running iterations.
    pub busy_s: f64,
    /// `busy_s` / makespan.
    pub utilisation: f64,
    /// Iterations run.
    pub iterations: u64,
    /// Mean sequences per iteration.
    pub mean_batch: f64,
    /// Prefill tokens computed (prefix hits excluded, recomputation included).
    pub prefill_tokens: u64,
    /// Decode steps run.
    pub decode_tokens: u64,
    /// Preemptions on this instance.
    pub preemptions: u64,
    /// Completed role flips.
    pub flips: u32,
    /// Seconds spent draining before flips (including a drain still under way at the end).
    pub drain_s: f64,
    /// Queue and KV time series, one point per `sample_interval_s`.
    pub samples: Vec<Sample>,
    /// KV blocks at the end.
    pub kv: KvAudit,
}

/// Cluster-wide counts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Requests in the workload.
    pub offered: usize,
    /// Finished requests (counted as they finished).
    pub finished: usize,
    /// Rejected requests (counted as they were rejected).
    pub rejected: usize,
    /// Unfinished requests at the end.
    pub unfinished: usize,
    /// Output tokens generated, over all requests.
    pub generated_tokens: u64,
    /// Preemptions, over all instances.
    pub preemptions: u64,
    /// Prompt tokens served from prefix caches.
    pub prefix_hit_tokens: u64,
    /// P→D KV transfers.
    pub transfers: u64,
    /// Bytes moved by those transfers.
    pub transfer_bytes: u64,
    /// Completed role flips.
    pub flips: u64,
}

/// Everything one simulation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    /// The router's name.
    pub router: String,
    /// The role controller's name.
    pub controller: String,
    /// One outcome per request, in workload order.
    pub requests: Vec<RequestOutcome>,
    /// One entry per instance.
    pub instances: Vec<InstanceResult>,
    /// Counts.
    pub totals: Totals,
    /// First arrival, seconds since the workload start.
    pub start_s: f64,
    /// Last completion (or the time limit, if requests were left unfinished).
    pub end_s: f64,
}

impl SimResult {
    /// `end_s − start_s`: from the first arrival to the last completion.
    pub fn makespan_s(&self) -> f64 {
        self.end_s - self.start_s
    }

    /// Verifies that requests, tokens and KV blocks are conserved; lists every violation.
    pub fn check_conservation(&self) -> Result<(), ConservationError> {
        let mut violations = Vec::new();
        let t = &self.totals;
        let (mut fin, mut rej, mut unf) = (0, 0, 0);
        for r in &self.requests {
            let bad_tokens = match r.status {
                RequestStatus::Finished => {
                    fin += 1;
                    let ordered = matches!(
                        (r.first_token_s, r.finish_s),
                        (Some(a), Some(b)) if r.arrival_s <= a && a <= b
                    );
                    if !ordered {
                        violations.push(Violation::Times { id: r.id });
                    }
                    r.generated_tokens != r.output_tokens
                }
                RequestStatus::Rejected { .. } => {
                    rej += 1;
                    r.generated_tokens != 0
                }
                RequestStatus::Unfinished => {
                    unf += 1;
                    r.generated_tokens >= r.output_tokens
                }
            };
            if bad_tokens {
                violations.push(Violation::Tokens {
                    id: r.id,
                    generated: r.generated_tokens,
                    expected: r.output_tokens,
                });
            }
        }
        let counted = (t.finished, t.rejected, t.unfinished);
        if counted != (fin, rej, unf)
            || fin + rej + unf != t.offered
            || self.requests.len() != t.offered
        {
            violations.push(Violation::RequestCount {
                offered: t.offered,
                finished: t.finished,
                rejected: t.rejected,
                unfinished: t.unfinished,
            });
        }
        for inst in &self.instances {
            let k = &inst.kv;
            if k.free_blocks + k.cached_blocks + k.live_private_blocks != k.total_blocks {
                violations.push(Violation::KvLeak {
                    instance: inst.id,
                    total_blocks: k.total_blocks,
                    free_blocks: k.free_blocks,
                    cached_blocks: k.cached_blocks,
                    live_private_blocks: k.live_private_blocks,
                });
            }
            if k.cache_refs != k.live_shared_refs {
                violations.push(Violation::KvRefs {
                    instance: inst.id,
                    cache_refs: k.cache_refs,
                    live_refs: k.live_shared_refs,
                });
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ConservationError { violations })
        }
    }
}
