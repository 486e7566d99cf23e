//! Cluster-level behaviour: P/D transfers, role flips, stale signals, limits, errors,
//! determinism and the conservation property.

use std::sync::Arc;

use proptest::prelude::*;
use skua_serving::policy::{
    ClusterView, InstanceRole, LeastOutstanding, PdPair, RejectReason, RoleController, RoundRobin,
    RouteDecision, Router, StaticRoles,
};
use skua_serving::profile::{Iteration, LatencyModel};
use skua_serving::sim::{RequestStatus, SimConfig, SimError, SimResult, Slo, Violation, simulate};
use skua_serving::workload::{Request, Workload};

use super::{assert_close, close, cluster, req, run, run_with, workload};

#[test]
fn pd_ttft_excludes_the_transfer_and_decode_waits_for_it() {
    let mut cfg = cluster(2, InstanceRole::Prefill, 100_000);
    cfg.instances[1].role = InstanceRole::Decode;
    cfg.kv_link_bytes_per_s = 1e10; // 1,000 tokens × 1 MB = 0.1 s
    let r = run(
        &cfg,
        &workload(vec![req(0, 0.0, 1000, 3)]),
        &mut PdPair::new(),
    );
    let o = &r.requests[0];
    assert_eq!((o.instance, o.decode_instance), (Some(0), Some(1)));
    assert_close(o.ttft_s(), 0.110);
    // Transfer 0.110–0.210, then two decodes on instance 1.
    assert_close(o.finish_s, 0.210 + 2.0 * 0.0205);
    assert_close(o.tpot_s(), (0.251 - 0.110) / 2.0);
    assert_eq!(
        (r.instances[0].iterations, r.instances[1].iterations),
        (1, 2)
    );
    assert_eq!(
        (r.totals.transfers, r.totals.transfer_bytes),
        (1, 1_000_000_000)
    );
}

#[test]
fn pd_transfers_into_one_decode_instance_are_serialised() {
    let mut cfg = cluster(2, InstanceRole::Prefill, 100_000);
    cfg.instances[1].role = InstanceRole::Decode;
    cfg.kv_link_bytes_per_s = 1e10;
    let w = workload(vec![req(0, 0.0, 1000, 3), req(1, 0.0, 1000, 3)]);
    let r = run(&cfg, &w, &mut PdPair::new());
    // Both prefilled together (210 ms); transfers end at 0.310 and 0.410.
    assert_close(r.requests[0].ttft_s(), 0.210);
    assert_close(r.requests[1].ttft_s(), 0.210);
    assert_close(r.requests[0].finish_s, 0.310 + 2.0 * 0.0205);
    assert_close(r.requests[1].finish_s, 0.410 + 2.0 * 0.0205);
}

#[test]
fn a_full_decode_instance_pulls_the_next_kv_only_when_it_has_room() {
    // The decode instance fits one 1,000-token request, not two: the second transfer waits
    // until the first request finishes, and its KV stays on the prefill instance meanwhile.
    let mut cfg = cluster(2, InstanceRole::Prefill, 100_000);
    cfg.instances[1].role = InstanceRole::Decode;
    cfg.instances[1].model = super::model(1100);
    cfg.kv_link_bytes_per_s = 1e10;
    let w = workload(vec![req(0, 0.0, 1000, 3), req(1, 0.0, 1000, 3)]);
    let r = run(&cfg, &w, &mut PdPair::new());
    assert_close(r.requests[0].ttft_s(), 0.210);
    assert_close(r.requests[1].ttft_s(), 0.210);
    assert_close(r.requests[0].finish_s, 0.310 + 2.0 * 0.0205);
    // Pulled at 0.351 when the first frees its blocks: transfer until 0.451, two decodes.
    assert_close(r.requests[1].finish_s, 0.351 + 0.100 + 2.0 * 0.0205);
    assert_eq!(r.totals.transfers, 2);
}

#[test]
fn a_one_token_pd_request_finishes_on_the_prefill_instance() {
    let mut cfg = cluster(2, InstanceRole::Prefill, 100_000);
    cfg.instances[1].role = InstanceRole::Decode;
    let r = run(
        &cfg,
        &workload(vec![req(0, 0.0, 100, 1)]),
        &mut PdPair::new(),
    );
    assert_close(r.requests[0].finish_s, 0.020);
    assert_eq!(r.totals.transfers, 0);
    assert_eq!(r.instances[1].iterations, 0);
}

/// Flips instance 1 to prefill at its first call.
struct FlipOnce(bool);

impl RoleController for FlipOnce {
    fn name(&self) -> &str {
        "flip-once"
    }
    fn decide(&mut self, _view: &ClusterView) -> Vec<(usize, InstanceRole)> {
        if std::mem::replace(&mut self.0, true) {
            Vec::new()
        } else {
            vec![(1, InstanceRole::Prefill)]
        }
    }
}

#[test]
fn a_role_flip_drains_before_switching() {
    let mut cfg = cluster(2, InstanceRole::Mixed, 10_000);
    cfg.controller_interval_s = Some(0.05);
    // r0 → instance 0, r1 → instance 1 (finishes at 20 + 19 × 20.5 = 409.5 ms); the later ones
    // arrive while instance 1 drains or after it became a prefill instance.
    let mut reqs = vec![req(0, 0.0, 100, 2), req(1, 0.0, 100, 20)];
    reqs.extend((2..8).map(|i| req(i, 0.1 * i as f64, 50, 2)));
    let r = run_with(
        &cfg,
        &workload(reqs),
        &mut RoundRobin::new(),
        &mut FlipOnce(false),
    );
    let i1 = &r.instances[1];
    assert_eq!((i1.flips, i1.final_role), (1, InstanceRole::Prefill));
    assert!(close(i1.drain_s, 0.4095 - 0.05), "drain {}", i1.drain_s);
    assert_eq!(r.requests[1].instance, Some(1));
    assert_eq!(r.requests[1].status, RequestStatus::Finished);
    for o in &r.requests[2..] {
        assert_eq!(
            o.instance,
            Some(0),
            "request {} routed to a draining or prefill instance",
            o.id
        );
    }
    assert_eq!(r.totals.flips, 1);
}

#[test]
fn a_stale_view_herds_requests_onto_one_instance() {
    /// Picks the instance with the fewest waiting requests (a scraped field).
    struct LeastWaiting;
    impl Router for LeastWaiting {
        fn name(&self) -> &str {
            "least-waiting"
        }
        fn route(&mut self, _req: &Request, view: &ClusterView) -> RouteDecision {
            let l = view
                .instances
                .iter()
                .min_by_key(|l| l.waiting + l.running)
                .expect("instances");
            RouteDecision::Mixed { instance: l.id }
        }
    }
    let w = workload((0..4).map(|i| req(i, 0.0, 100, 2)).collect());
    let fresh = run(
        &cluster(2, InstanceRole::Mixed, 10_000),
        &w,
        &mut LeastWaiting,
    );
    let mut stale_cfg = cluster(2, InstanceRole::Mixed, 10_000);
    stale_cfg.staleness_s = 1.0;
    let stale = run(&stale_cfg, &w, &mut LeastWaiting);
    let on0 = |r: &SimResult| r.requests.iter().filter(|o| o.instance == Some(0)).count();
    assert_eq!(on0(&fresh), 2);
    assert_eq!(on0(&stale), 4);
}

#[test]
fn the_time_limit_leaves_long_requests_unfinished() {
    let mut cfg = cluster(1, InstanceRole::Mixed, 100_000);
    cfg.time_limit_after_last_arrival_s = Some(0.1);
    let r = run(
        &cfg,
        &workload(vec![req(0, 0.0, 100, 1000), req(1, 0.0, 10, 2)]),
        &mut RoundRobin::new(),
    );
    assert_eq!(r.requests[0].status, RequestStatus::Unfinished);
    assert!(r.requests[0].generated_tokens > 1 && r.requests[0].generated_tokens < 1000);
    assert_eq!(r.requests[1].status, RequestStatus::Finished);
    assert!(close(r.end_s, 0.1));
    assert_eq!(r.totals.unfinished, 1);
}

#[test]
fn slo_attainment_counts_only_finished_requests_within_both_limits() {
    let w = workload(vec![req(0, 0.0, 100, 5), req(1, 0.0, 5000, 10)]);
    let r = run(
        &cluster(1, InstanceRole::Mixed, 4096),
        &w,
        &mut RoundRobin::new(),
    );
    assert!(matches!(
        r.requests[1].status,
        RequestStatus::Rejected { .. }
    ));
    let loose = Slo {
        ttft_s: 1.0,
        tpot_s: 1.0,
    };
    let tight = Slo {
        ttft_s: 0.019,
        tpot_s: 1.0,
    };
    assert_eq!(r.slo_attainment(&[loose, loose]).expect("two SLOs"), 0.5);
    assert_eq!(r.slo_attainment(&[tight, loose]).expect("two SLOs"), 0.0);
    assert_eq!(
        r.slo_attainment_by(|o| if o.id == 0 { loose } else { tight }),
        0.5
    );
    assert!(matches!(
        r.slo_attainment(&[loose]),
        Err(SimError::SloCount {
            expected: 2,
            got: 1
        })
    ));
    let s = r.summary();
    assert_eq!((s.finished, s.rejected), (1, 1));
    let ttft = s.ttft.expect("one finished request");
    assert!(close(ttft.p50, 0.020) && close(ttft.p99, 0.020));
}

#[test]
fn invalid_router_decisions_and_latencies_are_errors() {
    struct Nowhere;
    impl Router for Nowhere {
        fn name(&self) -> &str {
            "nowhere"
        }
        fn route(&mut self, _req: &Request, _view: &ClusterView) -> RouteDecision {
            RouteDecision::Mixed { instance: 7 }
        }
    }
    let w = workload(vec![req(0, 0.0, 10, 2)]);
    let cfg = cluster(2, InstanceRole::Mixed, 1000);
    let e =
        simulate(&cfg, &w, &mut Nowhere, &mut StaticRoles).expect_err("instance 7 does not exist");
    assert!(
        matches!(e, SimError::InvalidRoute { request: 0, .. }),
        "{e}"
    );
    // Round robin on a prefill-only cluster rejects instead.
    let r = run(
        &cluster(1, InstanceRole::Prefill, 1000),
        &w,
        &mut RoundRobin::new(),
    );
    assert!(matches!(
        r.requests[0].status,
        RequestStatus::Rejected {
            reason: RejectReason::NoInstance { .. }
        }
    ));

    #[derive(Debug)]
    struct Broken;
    impl LatencyModel for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn iteration_ms(&self, _it: &Iteration) -> f64 {
            f64::NAN
        }
        fn kv_capacity_tokens(&self) -> u64 {
            1000
        }
        fn kv_bytes_per_token(&self) -> u64 {
            1
        }
    }
    let cfg = SimConfig::homogeneous(1, InstanceRole::Mixed, Arc::new(Broken));
    let e = simulate(&cfg, &w, &mut RoundRobin::new(), &mut StaticRoles).expect_err("NaN latency");
    assert!(matches!(e, SimError::Latency { .. }), "{e}");
    let mut unsorted = w.clone();
    unsorted.requests.push(req(1, -1.0, 10, 2));
    let e = simulate(
        &cluster(1, InstanceRole::Mixed, 1000),
        &unsorted,
        &mut RoundRobin::new(),
        &mut StaticRoles,
    )
    .expect_err("unsorted arrivals");
    assert!(matches!(e, SimError::Workload { index: 1, .. }), "{e}");
}

#[test]
fn an_audit_finds_a_tampered_result() {
    let mut r = run(
        &cluster(1, InstanceRole::Mixed, 1000),
        &workload(vec![req(0, 0.0, 10, 3)]),
        &mut RoundRobin::new(),
    );
    r.requests[0].generated_tokens = 2;
    r.instances[0].kv.free_blocks -= 1;
    let e = r.check_conservation().expect_err("two violations");
    assert_eq!(e.violations.len(), 2);
    assert!(matches!(
        e.violations[0],
        Violation::Tokens {
            id: 0,
            generated: 2,
            expected: 3
        }
    ));
    assert!(matches!(
        e.violations[1],
        Violation::KvLeak { instance: 0, .. }
    ));
}

/// A seeded pseudo-random workload (splitmix64, so the test does not depend on rand's streams).
fn random_workload(seed: u64, n: usize, max_in: u32, max_out: u32) -> Workload {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut t = 0.0;
    let requests = (0..n as u64)
        .map(|id| {
            t += (next() % 50) as f64 / 1000.0;
            let input = 1 + (next() % u64::from(max_in)) as u32;
            let output = 1 + (next() % u64::from(max_out)) as u32;
            // Prefixes drawn from a few shared families of 16-token blocks.
            let family = next() % 3;
            let blocks = (input / 16) as u64;
            let prefix_blocks = (0..blocks).map(|b| family * 1000 + b).collect();
            Request {
                id,
                arrival_s: t,
                input_tokens: input,
                output_tokens: output,
                prefix_blocks,
            }
        })
        .collect();
    Workload {
        name: format!("random-{seed}"),
        block_tokens: 16,
        requests,
    }
}

#[test]
fn same_inputs_give_bit_identical_results() {
    let w = random_workload(7, 300, 600, 80);
    let mut cfg = cluster(2, InstanceRole::Mixed, 1500);
    cfg.staleness_s = 0.05;
    let a = run(&cfg, &w, &mut LeastOutstanding::new());
    let b = run(&cfg, &w, &mut LeastOutstanding::new());
    assert!(
        a.totals.preemptions > 0 && a.totals.prefix_hit_tokens > 0,
        "the case exercises preemption and caching: {:?}",
        a.totals
    );
    assert_eq!(a, b);
    let bits = |r: &SimResult| {
        r.requests
            .iter()
            .map(|o| o.finish_s.map(f64::to_bits))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn requests_tokens_and_kv_are_conserved(
        seed in any::<u64>(),
        n in 1usize..40,
        kv in 64u64..1200,
        chunked in any::<bool>(),
        prefix in any::<bool>(),
        policy in 0u8..3,
        limit in proptest::option::of(0.0f64..2.0),
    ) {
        let w = random_workload(seed, n, 400, 60);
        let (mut cfg, mut router): (SimConfig, Box<dyn Router>) = match policy {
            0 => (cluster(3, InstanceRole::Mixed, kv), Box::new(RoundRobin::new())),
            1 => (cluster(3, InstanceRole::Mixed, kv), Box::new(LeastOutstanding::new())),
            _ => {
                let mut c = cluster(3, InstanceRole::Prefill, kv);
                c.instances[2].role = InstanceRole::Decode;
                (c, Box::new(PdPair::new()))
            }
        };
        cfg.engine.chunked_prefill = chunked;
        cfg.engine.prefix_cache = prefix;
        cfg.engine.max_batched_tokens = Some(512);
        cfg.engine.max_num_seqs = 8;
        cfg.time_limit_after_last_arrival_s = limit;
        let r = simulate(&cfg, &w, router.as_mut(), &mut StaticRoles).expect("simulation runs");
        prop_assert!(r.check_conservation().is_ok(), "{:?}", r.check_conservation());
        let t = r.totals;
        prop_assert_eq!(t.finished + t.rejected + t.unfinished, n);
        if limit.is_none() {
            prop_assert_eq!(t.unfinished, 0);
        }
        for o in &r.requests {
            if o.is_finished() {
                prop_assert!(o.ttft_s().expect("finished") >= 0.0);
            }
        }
    }
}
