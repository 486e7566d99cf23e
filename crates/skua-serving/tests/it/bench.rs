//! The benchmark harness on a tiny synthetic workload and a toy engine: goodput is a real
//! crossing of the 90 % bar, the search's range edges are flagged, the matrix holds every
//! requested policy and is the same on 1 and 2 threads, unknown policies fail with the catalog's
//! own error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use skua_serving::bench::{
    BenchError, BenchTrace, ClusterPlan, GoodputBound, GoodputSearch, MatrixConfig, Progress,
    evaluate, goodput, run_matrix,
};
use skua_serving::policy::{PolicyContext, PolicyError, catalog};
use skua_serving::profile::{Iteration, LatencyModel, SloSpec};
use skua_serving::workload::{LengthDist, Workload, synthetic};

/// A small engine: prefill 10 ms + 0.05 ms/token, decode 8 ms + 0.1 ms/sequence +
/// 0.0005 ms/context token; 20,000 KV tokens.
#[derive(Debug)]
struct Toy;

impl LatencyModel for Toy {
    fn name(&self) -> &str {
        "toy"
    }
    fn iteration_ms(&self, it: &Iteration) -> f64 {
        let new: u32 = it.prefill.iter().map(|c| c.0).sum();
        let prefill = if it.prefill.is_empty() {
            0.0
        } else {
            10.0 + 0.05 * f64::from(new)
        };
        let decode = if it.decode_batch == 0 {
            0.0
        } else {
            8.0 + 0.1 * f64::from(it.decode_batch) + 0.0005 * it.decode_context as f64
        };
        prefill + decode
    }
    fn kv_capacity_tokens(&self) -> u64 {
        20_000
    }
    fn kv_bytes_per_token(&self) -> u64 {
        1000
    }
}

const RR: &str = "round_robin";
const LOR: &str = "least_outstanding";

fn plan() -> ClusterPlan {
    ClusterPlan::homogeneous(2, Arc::new(Toy))
}

/// 300 requests, Poisson at 20 req/s, prompts ~300 and outputs ~30 tokens.
fn tiny() -> Workload {
    synthetic(
        300,
        20.0,
        1,
        LengthDist::log_normal(300.0, 0.5).capped(2000),
        LengthDist::log_normal(30.0, 0.5).capped(200),
    )
    .expect("valid workload")
}

fn attainment(w: &Workload, policy: &str, scale: f64) -> f64 {
    evaluate(w, &plan(), policy, scale)
        .expect("evaluation runs")
        .attainment
}

/// The baselines these tests use must be registered (they are the catalog's simplest routers).
fn require_policies() {
    let names = catalog::names();
    for p in [RR, LOR] {
        assert!(
            names.contains(&p),
            "the catalog must register `{p}` (it has: {names:?})"
        );
    }
}

#[test]
fn goodput_is_a_crossing_of_the_ninety_percent_bar() {
    require_policies();
    let w = tiny();
    let g = goodput(&w, &plan(), RR, 1.0 / 32.0, 32.0).expect("search runs");
    assert_eq!(g.bound, GoodputBound::Found, "{g:?}");
    let fail = g.fail_scale.expect("a failing scale above");
    assert!(fail > g.scale && fail <= g.scale * 1.02 + 1e-12, "{g:?}");
    // Re-evaluated from scratch (full runs, not the search's cut ones).
    assert!(attainment(&w, RR, g.scale) >= 0.9, "{g:?}");
    assert!(attainment(&w, RR, fail) < 0.9, "{g:?}");
    assert!(attainment(&w, RR, g.scale * 1.02) < 0.9, "{g:?}");
    // Goodput in requests/s is the scale times the trace's own mean rate.
    let rate = w.stats().mean_rate_per_s;
    assert!((g.req_per_s - g.scale * rate).abs() < 1e-9);
    // Each probe's attainment (runs cut at the attainment horizon) equals a full run's.
    for p in &g.runs {
        assert_eq!(p.attainment, attainment(&w, RR, p.scale), "{p:?}");
    }
}

#[test]
fn range_edges_are_flagged_not_guessed() {
    require_policies();
    let w = tiny();
    let p = plan();
    // Far below the load the cluster handles: passes at hi.
    let g = GoodputSearch::new(0.01, 0.04)
        .run(&w, &p, RR, &[], &|_| {})
        .expect("runs");
    assert_eq!((g.bound, g.scale), (GoodputBound::AtLeastHi, 0.04), "{g:?}");
    // Far above it: fails at lo, goodput 0.
    let g = GoodputSearch::new(500.0, 1000.0)
        .run(&w, &p, RR, &[], &|_| {})
        .expect("runs");
    assert_eq!(
        (g.bound, g.scale, g.req_per_s),
        (GoodputBound::BelowLo, 0.0, 0.0),
        "{g:?}"
    );
    assert!(g.runs.iter().all(|r| r.attainment < 0.9), "{g:?}");
}

#[test]
fn evaluate_reports_consistent_counts() {
    require_policies();
    let w = tiny();
    for scale in [1.0, 8.0] {
        let r = evaluate(&w, &plan(), LOR, scale).expect("runs");
        assert_eq!(r.offered, 300);
        assert_eq!(r.finished + r.rejected + r.unfinished, r.offered, "{r:?}");
        assert!(r.attained <= r.finished);
        assert_eq!(r.utilisation.len(), 2);
        assert!(r.utilisation.iter().all(|u| (0.0..=1.0).contains(u)));
        let (ttft, tpot) = (r.ttft.expect("finished"), r.tpot.expect("finished"));
        assert!(ttft.p50 <= ttft.p99 && tpot.p50 <= tpot.p99);
    }
    // Faster arrivals cannot finish the same work sooner than the arrivals allow, and queue more.
    let slow = evaluate(&w, &plan(), LOR, 1.0).unwrap();
    let fast = evaluate(&w, &plan(), LOR, 8.0).unwrap();
    assert!(fast.makespan_s < slow.makespan_s);
    assert!(fast.ttft.unwrap().p99 > slow.ttft.unwrap().p99);
    let empty = Workload {
        requests: Vec::new(),
        ..tiny()
    };
    assert!(matches!(
        evaluate(&empty, &plan(), LOR, 1.0),
        Err(BenchError::Invalid { .. })
    ));
    assert!(matches!(
        evaluate(&w, &plan(), LOR, 0.0),
        Err(BenchError::Workload(_))
    ));
}

fn traces() -> Vec<BenchTrace> {
    vec![
        BenchTrace {
            name: "tiny".into(),
            workload: tiny(),
            plan: plan(),
        },
        BenchTrace {
            name: "tiny-3".into(),
            workload: tiny().take(120),
            plan: ClusterPlan::homogeneous(3, Arc::new(Toy)),
        },
    ]
}

fn config(threads: usize) -> MatrixConfig {
    MatrixConfig {
        speedups: vec![1.0, 2.0, 4.0],
        search: GoodputSearch::new(0.25, 16.0),
        threads,
    }
}

#[test]
fn the_matrix_holds_every_policy_in_order_and_ignores_the_thread_count() {
    require_policies();
    let rows = AtomicUsize::new(0);
    let sims = AtomicUsize::new(0);
    let progress = |p: &Progress| match p {
        Progress::PolicyDone { total, .. } => {
            assert_eq!(*total, 4);
            rows.fetch_add(1, Ordering::SeqCst);
        }
        Progress::Simulated { .. } => {
            sims.fetch_add(1, Ordering::SeqCst);
        }
    };
    let two = run_matrix(&traces(), &[LOR, RR], &config(2), &progress).expect("runs");
    assert_eq!(rows.load(Ordering::SeqCst), 4);
    assert!(sims.load(Ordering::SeqCst) >= 4 * 3);
    let one = run_matrix(&traces(), &[LOR, RR], &config(1), &|_| {}).expect("runs");
    assert_eq!(one, two);
    assert_eq!(two.traces.len(), 2);
    for t in &two.traces {
        let names: Vec<&str> = t.policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, [LOR, RR], "{}", t.trace);
        for p in &t.policies {
            let scales: Vec<f64> = p.at.iter().map(|r| r.scale).collect();
            assert_eq!(scales, [1.0, 2.0, 4.0]);
            assert_eq!(&p.base, &p.at[0]);
            assert!(!p.skua && !p.oracle);
            // The ×1, ×2 and ×4 runs double as probes of the goodput search.
            for r in &p.at {
                if let Some(probe) = p.goodput.runs.iter().find(|q| q.scale == r.scale) {
                    assert_eq!(probe.attainment, r.attainment);
                }
            }
        }
        // No skua policy was run: nothing to compare.
        assert!(t.comparison().is_none());
    }
}

#[test]
fn unknown_policies_fail_with_the_catalogs_error_before_anything_runs() {
    require_policies();
    let sims = AtomicUsize::new(0);
    let err = run_matrix(&traces(), &[RR, "no_such_policy"], &config(2), &|_| {
        sims.fetch_add(1, Ordering::SeqCst);
    })
    .expect_err("unknown policy");
    let ctx = PolicyContext {
        models: vec![Arc::new(Toy)],
        slo: SloSpec::default(),
        block_tokens: 0,
        seed: 0,
    };
    let catalog_err = catalog::build("no_such_policy", &ctx).expect_err("unknown");
    assert!(matches!(catalog_err, PolicyError::Unknown { .. }));
    assert!(
        matches!(&err, BenchError::Policy(e) if *e == catalog_err),
        "{err}"
    );
    assert_eq!(err.to_string(), catalog_err.to_string());
    assert_eq!(sims.load(Ordering::SeqCst), 0, "nothing may run first");
    // Duplicates and empty settings are refused too.
    for (policies, cfg) in [
        (vec![RR, RR], config(2)),
        (vec![], config(2)),
        (
            vec![RR],
            MatrixConfig {
                speedups: vec![],
                ..config(2)
            },
        ),
        (
            vec![RR],
            MatrixConfig {
                speedups: vec![-1.0],
                ..config(2)
            },
        ),
        (vec![RR], config(0)),
    ] {
        let r = run_matrix(&traces(), &policies, &cfg, &|_| {});
        assert!(
            matches!(r, Err(BenchError::Invalid { .. })),
            "{policies:?} {cfg:?}"
        );
    }
}

/// `n` requests at `rate` req/s with the tiny workload's lengths.
fn poisson(n: usize, rate: f64, seed: u64) -> Workload {
    synthetic(
        n,
        rate,
        seed,
        LengthDist::log_normal(300.0, 0.5).capped(2000),
        LengthDist::log_normal(30.0, 0.5).capped(200),
    )
    .expect("valid workload")
}

#[test]
fn under_extreme_overload_skua_refuses_early_and_the_admitted_keep_their_ttft_slo() {
    // Far beyond what two toy instances serve: queues grow without bound for FCFS routers.
    let w = poisson(3000, 400.0, 7);
    let skua = evaluate(&w, &plan(), "skua", 1.0).expect("runs");
    let lor = evaluate(&w, &plan(), LOR, 1.0).expect("runs");
    assert!(skua.rejected > 0, "nothing refused");
    assert_eq!(
        skua.rejected_by_reason.get("overloaded").copied(),
        Some(skua.rejected),
        "{:?}",
        skua.rejected_by_reason
    );
    let p99 = skua.ttft_over_slo.expect("some finished").p99;
    assert!(p99 <= 1.0, "admitted p99 TTFT is {p99:.2} × its SLO");
    let lor_p99 = lor.ttft_over_slo.expect("some finished").p99;
    assert!(lor_p99 > 1.0 && lor.rejected == 0, "{lor_p99}");
    assert!(
        skua.attainment > lor.attainment,
        "{} vs {}",
        skua.attainment,
        lor.attainment
    );
    // The ablation without admission control admits everything.
    let plain = evaluate(&w, &plan(), "skua_no_admission", 1.0).expect("runs");
    assert_eq!(plain.rejected, 0);
}

#[test]
fn skua_policies_are_deterministic_per_seed() {
    let w = poisson(600, 30.0, 3);
    for name in ["skua", "skua_pd", "oracle"] {
        let a = evaluate(&w, &plan(), name, 2.0).expect("runs");
        let b = evaluate(&w, &plan(), name, 2.0).expect("runs");
        assert_eq!(a.attained, b.attained, "{name}");
        assert_eq!(a.rejected, b.rejected, "{name}");
        assert_eq!(a.makespan_s.to_bits(), b.makespan_s.to_bits(), "{name}");
        assert_eq!(a.role_flips, b.role_flips, "{name}");
    }
}
