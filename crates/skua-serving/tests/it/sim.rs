//! The discrete-event simulator on hand-made workloads whose timings can be worked out by hand.
//!
//! The test engine costs an iteration `10 ms + 0.1 ms × new prefill tokens` if it has prefill
//! chunks, plus `20 ms + 0.5 ms × decode sequences` if it has decodes. Single-instance engine
//! behaviour is here; clusters (P/D, role flips, signals, determinism, conservation) in `sim/cluster.rs`.

mod cluster;

use std::sync::Arc;

use skua_serving::policy::{
    InstanceRole, RejectReason, RoleController, RoundRobin, Router, StaticRoles,
};
use skua_serving::profile::{Iteration, LatencyModel};
use skua_serving::sim::{RequestStatus, SimConfig, SimResult, simulate};
use skua_serving::workload::{Request, Workload};

#[derive(Debug)]
struct Linear {
    kv_tokens: u64,
    kv_bytes: u64,
}

impl LatencyModel for Linear {
    fn name(&self) -> &str {
        "test-linear"
    }
    fn iteration_ms(&self, it: &Iteration) -> f64 {
        let new: u32 = it.prefill.iter().map(|&(n, _)| n).sum();
        let prefill = if it.prefill.is_empty() {
            0.0
        } else {
            10.0 + 0.1 * f64::from(new)
        };
        let decode = if it.decode_batch == 0 {
            0.0
        } else {
            20.0 + 0.5 * f64::from(it.decode_batch)
        };
        prefill + decode
    }
    fn kv_capacity_tokens(&self) -> u64 {
        self.kv_tokens
    }
    fn kv_bytes_per_token(&self) -> u64 {
        self.kv_bytes
    }
}

pub(super) fn model(kv_tokens: u64) -> Arc<dyn LatencyModel> {
    Arc::new(Linear {
        kv_tokens,
        kv_bytes: 1_000_000,
    })
}

pub(super) fn cluster(n: usize, role: InstanceRole, kv_tokens: u64) -> SimConfig {
    let mut c = SimConfig::homogeneous(n, role, model(kv_tokens));
    c.staleness_s = 0.0;
    c
}

pub(super) fn req(id: u64, arrival_s: f64, input: u32, output: u32) -> Request {
    Request {
        id,
        arrival_s,
        input_tokens: input,
        output_tokens: output,
        prefix_blocks: Vec::new(),
    }
}

pub(super) fn workload(requests: Vec<Request>) -> Workload {
    Workload {
        name: "hand-made".into(),
        block_tokens: 16,
        requests,
    }
}

/// Runs and checks conservation (every test goes through here).
pub(super) fn run(cfg: &SimConfig, w: &Workload, router: &mut dyn Router) -> SimResult {
    run_with(cfg, w, router, &mut StaticRoles)
}

pub(super) fn run_with(
    cfg: &SimConfig,
    w: &Workload,
    router: &mut dyn Router,
    ctl: &mut dyn RoleController,
) -> SimResult {
    let r = simulate(cfg, w, router, ctl).expect("simulation runs");
    if let Err(e) = r.check_conservation() {
        panic!("{e}");
    }
    r
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[track_caller]
pub(super) fn assert_close(a: Option<f64>, b: f64) {
    let a = a.expect("value present");
    assert!(close(a, b), "{a} != {b}");
}

#[test]
fn one_request_alone_ttft_is_prefill_and_tpot_is_decode() {
    let r = run(
        &cluster(1, InstanceRole::Mixed, 10_000),
        &workload(vec![req(0, 0.0, 100, 5)]),
        &mut RoundRobin::new(),
    );
    let o = &r.requests[0];
    assert_eq!(o.status, RequestStatus::Finished);
    assert_close(o.ttft_s(), 0.020); // 10 + 0.1 × 100 ms
    assert_close(o.tpot_s(), 0.0205); // 20 + 0.5 × 1 ms
    assert_close(o.e2e_s(), 0.020 + 4.0 * 0.0205);
    assert_eq!(r.instances[0].iterations, 5);
    assert!(close(r.makespan_s(), 0.102));
    assert!(close(r.instances[0].utilisation, 1.0));
}

#[test]
fn two_simultaneous_requests_share_each_batch() {
    let w = workload(vec![req(0, 0.0, 100, 3), req(1, 0.0, 100, 3)]);
    let r = run(
        &cluster(1, InstanceRole::Mixed, 10_000),
        &w,
        &mut RoundRobin::new(),
    );
    for o in &r.requests {
        assert_close(o.ttft_s(), 0.030); // one prefill of 200 tokens
        assert_close(o.tpot_s(), 0.021); // decode batch of 2
    }
    assert_eq!(r.instances[0].iterations, 3);
    assert!(close(r.instances[0].mean_batch, 2.0));
}

#[test]
fn a_late_arrival_is_chunked_in_with_running_decodes() {
    let w = workload(vec![req(0, 0.0, 100, 3), req(1, 0.010, 100, 3)]);
    let r = run(
        &cluster(1, InstanceRole::Mixed, 10_000),
        &w,
        &mut RoundRobin::new(),
    );
    // 0–20 ms prefill r0; 20–60.5 decode r0 + prefill r1; 60.5–81.5 decode both; 81.5–102 decode r1.
    assert_close(r.requests[0].first_token_s, 0.020);
    assert_close(r.requests[1].first_token_s, 0.0605);
    assert_close(r.requests[0].finish_s, 0.0815);
    assert_close(r.requests[1].finish_s, 0.102);
    assert_close(r.requests[1].tpot_s(), (0.102 - 0.0605) / 2.0);
}

#[test]
fn without_chunked_prefill_prefills_run_alone_and_first() {
    let mut cfg = cluster(1, InstanceRole::Mixed, 10_000);
    cfg.engine.chunked_prefill = false;
    let w = workload(vec![req(0, 0.0, 100, 3), req(1, 0.010, 100, 2)]);
    let r = run(&cfg, &w, &mut RoundRobin::new());
    // 0–20 prefill r0; 20–40 prefill-only r1; 40–61 decode both (r1 done); 61–81.5 decode r0.
    assert_close(r.requests[1].first_token_s, 0.040);
    assert_close(r.requests[1].finish_s, 0.061);
    assert_close(r.requests[0].finish_s, 0.0815);
}

#[test]
fn a_prompt_larger_than_kv_is_rejected_with_a_reason() {
    let w = workload(vec![req(0, 0.0, 2000, 10), req(1, 0.0, 100, 2)]);
    let r = run(
        &cluster(1, InstanceRole::Mixed, 1024),
        &w,
        &mut RoundRobin::new(),
    );
    assert_eq!(
        r.requests[0].status,
        RequestStatus::Rejected {
            reason: RejectReason::ExceedsKvCapacity {
                instance: 0,
                needed_tokens: 2016, // 2,009 tokens at most, in 16-token blocks
                capacity_tokens: 1024
            }
        }
    );
    assert_eq!(r.requests[1].status, RequestStatus::Finished);
    assert_eq!((r.totals.rejected, r.totals.finished), (1, 1));
}

#[test]
fn whole_prompt_over_the_budget_is_rejected_when_chunking_is_off() {
    let mut cfg = cluster(1, InstanceRole::Mixed, 100_000);
    cfg.engine.chunked_prefill = false;
    cfg.engine.max_batched_tokens = Some(2048);
    let r = run(
        &cfg,
        &workload(vec![req(0, 0.0, 3000, 2)]),
        &mut RoundRobin::new(),
    );
    assert!(matches!(
        r.requests[0].status,
        RequestStatus::Rejected {
            reason: RejectReason::ExceedsBatchBudget {
                prompt_tokens: 3000,
                budget_tokens: 2048,
                ..
            }
        }
    ));
}

#[test]
fn kv_pressure_preempts_the_most_recent_request_and_both_finish() {
    // 4 blocks of 16 tokens; each request needs 3 blocks at its longest (16 + 20 − 1 tokens).
    let mut cfg = cluster(1, InstanceRole::Mixed, 64);
    cfg.engine.prefix_cache = false;
    let w = workload(vec![req(0, 0.0, 16, 20), req(1, 0.0, 16, 20)]);
    let r = run(&cfg, &w, &mut RoundRobin::new());
    assert_eq!(r.totals.preemptions, 1);
    assert_eq!(
        (r.requests[0].preemptions, r.requests[1].preemptions),
        (0, 1)
    );
    // 13.2 ms prefill of both, 16 decodes of both (21 ms), then r1 needs its third block and r2
    // is evicted: r1's last 3 decodes alone (20.5 ms). r2 then recomputes 33 tokens (13.3 ms)
    // and decodes twice more.
    let r0_end = 0.0132 + 16.0 * 0.021 + 3.0 * 0.0205;
    assert_close(r.requests[0].finish_s, r0_end);
    assert_close(r.requests[1].first_token_s, 0.0132);
    assert_close(r.requests[1].finish_s, r0_end + 0.0133 + 2.0 * 0.0205);
    assert_eq!(r.instances[0].prefill_tokens, 32 + 33);
}

#[test]
fn a_prefix_hit_shortens_the_second_prefill() {
    let mut a = req(0, 0.0, 100, 2);
    a.prefix_blocks = vec![11, 12, 13, 14, 15, 16];
    let mut b = req(1, 1.0, 100, 2);
    b.prefix_blocks = a.prefix_blocks.clone();
    let mut c = req(2, 2.0, 100, 2);
    c.prefix_blocks = vec![99, 12, 13, 14, 15, 16]; // differs in the first block: no hit
    let r = run(
        &cluster(1, InstanceRole::Mixed, 10_000),
        &workload(vec![a, b, c]),
        &mut RoundRobin::new(),
    );
    assert_close(r.requests[0].ttft_s(), 0.020);
    assert_eq!(r.requests[1].prefix_hit_tokens, 96);
    assert_close(r.requests[1].ttft_s(), 0.0104); // 4 new tokens
    assert_eq!(r.requests[2].prefix_hit_tokens, 0);
    assert_close(r.requests[2].ttft_s(), 0.020);
    // Trace blocks of 32 tokens map onto two engine blocks each: the same hit.
    let mut w = workload(vec![req(0, 0.0, 100, 2), req(1, 1.0, 100, 2)]);
    w.block_tokens = 32;
    for q in &mut w.requests {
        q.prefix_blocks = vec![1, 2, 3];
    }
    let r = run(
        &cluster(1, InstanceRole::Mixed, 10_000),
        &w,
        &mut RoundRobin::new(),
    );
    assert_eq!(r.requests[1].prefix_hit_tokens, 96);
}

#[test]
fn chunked_prefill_splits_a_long_prompt_by_the_budget() {
    let r = run(
        &cluster(1, InstanceRole::Mixed, 10_000),
        &workload(vec![req(0, 0.0, 5000, 1)]),
        &mut RoundRobin::new(),
    );
    // ceil(5000 / 2048) = 3 chunks: 2048, 2048, 904 tokens.
    assert_eq!(r.instances[0].iterations, 3);
    assert_eq!(r.instances[0].prefill_tokens, 5000);
    assert_close(r.requests[0].ttft_s(), 2.0 * 0.2148 + 0.1004);
    assert_close(r.requests[0].tpot_s(), 0.0);
}
