//! The synthetic generator against the real ESFT traces, and the LocMoE analysis on it.

use skua_moe::io::esft::read_esft_task;
use skua_moe::locmoe::{
    DEFAULT_STRENGTHS, RoutingPolicy, capacity_for_angle, capacity_lower_bound,
    locality_balance_report, round_robin_placement, simulate_angular_routing, simulate_routing,
};
use skua_moe::plan::eplb::{EplbGreedy, EplbMode};
use skua_moe::plan::{PlanRequest, Planner};
use skua_moe::synth::{SynthConfig, calibrate_to, generate, generate_windows, trace_stats};
use skua_moe::{TokenTrace, Topology};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Tolerances of the calibrated generator against the real trace. The real per-layer
/// max/mean spans 2.9–4.7 over the 26 layers, so a mean over layers drawn from the same
/// spread moves by several percent between equally good fits: 15 % on the skew statistics,
/// 0.03 on the pair share (its layer-to-layer spread is 0.56–0.70).
const SKEW_TOL: f64 = 0.15;
const PAIR_TOL: f64 = 0.03;

#[test]
fn calibrated_generator_matches_the_esft_intent_trace() {
    let real = read_esft_task(&crate::moe_data("esft/intent"))
        .unwrap()
        .trace;
    let (cfg, report) = calibrate_to(&real, SynthConfig::esft_like()).unwrap();
    assert_eq!((cfg.experts, cfg.top_k, cfg.layers), (64, 6, 26));
    assert_eq!(
        (cfg.tokens, cfg.sequences),
        (real.tokens(), real.sequences())
    );

    // The statistics the fit saw, and those of a full 26-layer trace it did not see.
    let full = trace_stats(&generate(&cfg).unwrap());
    for s in [&report.synthetic, &full] {
        assert!(rel(s.cv, report.real.cv) < SKEW_TOL, "{report:?} {full:?}");
        assert!(
            rel(s.max_over_mean, report.real.max_over_mean) < SKEW_TOL,
            "{report:?}"
        );
        assert!(
            (s.top_pair_share - report.real.top_pair_share).abs() < PAIR_TOL,
            "{report:?}"
        );
    }
    // DeepSeek-V2-Lite routing puts 3–6× the mean load on the hottest expert of a layer.
    assert!((3.0..=6.0).contains(&full.max_over_mean), "{full:?}");
    assert!(
        full.max_over_mean_low >= 2.0 && full.max_over_mean_high <= 8.0,
        "{full:?}"
    );

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["expert_skew"].as_f64(), Some(cfg.expert_skew));
    assert!(json["real"]["top_pair_share"].as_f64().is_some());
}

#[test]
fn calibration_tracks_a_less_concentrated_task() {
    // The law task has visibly less co-activation concentration (0.49 vs 0.61): the fit must
    // follow it with a weaker topic strength, not reuse the intent fit.
    let law = read_esft_task(&crate::moe_data("esft/law")).unwrap().trace;
    let law = law.select_layers(&[0, 5, 10, 15, 20, 25]);
    let (cfg, report) = calibrate_to(&law, SynthConfig::esft_like()).unwrap();
    assert!((report.synthetic.top_pair_share - report.real.top_pair_share).abs() < PAIR_TOL);
    assert!(
        cfg.topic_strength < SynthConfig::esft_like().topic_strength,
        "{report:?}"
    );
}

fn groups_spanned(trace: &TokenTrace, group_size: usize, l: usize, t: usize) -> usize {
    let mut g: Vec<usize> = trace
        .choice(l, t)
        .iter()
        .map(|&e| usize::from(e) / group_size)
        .collect();
    g.sort_unstable();
    g.dedup();
    g.len()
}

#[test]
fn group_limit_is_respected() {
    let cfg = SynthConfig {
        tokens: 4096,
        sequences: 32,
        layers: 2,
        ..SynthConfig::deepseek_v3_like()
    };
    let limited = generate(&cfg).unwrap();
    let free = generate(&SynthConfig {
        top_groups: 0,
        ..cfg.clone()
    })
    .unwrap();
    let mut wide = 0;
    for l in 0..2 {
        for t in 0..cfg.tokens {
            assert!(
                groups_spanned(&limited, 32, l, t) <= 4,
                "layer {l} token {t}"
            );
            wide += usize::from(groups_spanned(&free, 32, l, t) > 4);
        }
    }
    // Without the limit, 8 experts scatter over more than 4 of the 8 groups for most tokens.
    assert!(wide > cfg.tokens, "{wide}");
}

#[test]
fn generation_is_deterministic_per_seed() {
    let cfg = SynthConfig {
        layers: 3,
        tokens: 2000,
        sequences: 20,
        ..SynthConfig::esft_like()
    };
    assert_eq!(generate(&cfg).unwrap(), generate(&cfg).unwrap());
    let other = generate(&SynthConfig {
        seed: 7,
        ..cfg.clone()
    })
    .unwrap();
    assert_ne!(generate(&cfg).unwrap(), other);
}

#[test]
fn drift_controls_how_far_windows_move() {
    let cfg = SynthConfig {
        layers: 2,
        tokens: 4000,
        sequences: 40,
        ..SynthConfig::esft_like()
    };
    // Total-variation distance between the expert shares of window 0 and window 1.
    let tv = |drift: f64| {
        let w = generate_windows(
            &SynthConfig {
                drift,
                ..cfg.clone()
            },
            2,
        )
        .unwrap();
        let (a, b) = (w[0].counts(), w[1].counts());
        (0..2)
            .map(|l| {
                let (sa, sb) = (a.layer_total(l), b.layer_total(l));
                a.layer(l)
                    .iter()
                    .zip(b.layer(l))
                    .map(|(x, y)| (x / sa - y / sb).abs())
                    .sum::<f64>()
                    / 2.0
            })
            .sum::<f64>()
            / 2.0
    };
    let (still, moving) = (tv(0.0), tv(1.0));
    assert!(moving > still + 0.1, "drift 0: {still}, drift 1: {moving}");
}

/// EPLB planned on window 0 and scored on window 1 of the DeepSeek-V3-like generator, on
/// 8 nodes × 4 GPUs × 288 slots (32 redundant): the issue reports hierarchical ≈ 4.0 nodes per
/// token at 34–52 % GPU imbalance and global ≈ 4.9 nodes at 8–13 %.
#[test]
fn deepseek_like_group_skew_reproduces_eplb_figures() {
    let cfg = SynthConfig::deepseek_v3_like();
    let w = generate_windows(&cfg, 2).unwrap();
    let topo = Topology::uniform(8, 32, 288).unwrap();
    let (plan_on, score_on) = (w[0].counts(), w[1].counts());
    let mut figures = Vec::new();
    for mode in [EplbMode::Hierarchical, EplbMode::Global] {
        let p = EplbGreedy { mode }
            .plan(&PlanRequest::new(&topo, &plan_on, cfg.groups))
            .unwrap();
        let s = skua_moe::eval::score(&p, &topo, &score_on, Some(&w[1]), &Default::default());
        let n = s.layers.len() as f64;
        let imbalance = s.layers.iter().map(|l| l.imbalance).sum::<f64>() / n;
        let nodes = s
            .layers
            .iter()
            .filter_map(|l| l.routed.map(|r| r.nodes_per_token))
            .sum::<f64>()
            / n;
        figures.push((imbalance, nodes));
    }
    let (hier, global) = (figures[0], figures[1]);
    assert!((0.30..=0.60).contains(&hier.0), "hierarchical {hier:?}");
    assert!((3.8..=4.0).contains(&hier.1), "hierarchical {hier:?}");
    assert!((0.05..=0.16).contains(&global.0), "global {global:?}");
    assert!((4.6..=5.4).contains(&global.1), "global {global:?}");
}

fn skewed() -> SynthConfig {
    SynthConfig {
        experts: 64,
        groups: 1,
        top_groups: 0,
        top_k: 6,
        layers: 2,
        tokens: 16_384,
        sequences: 128,
        expert_skew: 0.8,
        topic_strength: 1.0,
        ..SynthConfig::esft_like()
    }
}

#[test]
fn aux_free_bias_reduces_expert_imbalance() {
    let cfg = skewed();
    let topo = Topology::uniform(4, 16, 64).unwrap();
    let plain = simulate_routing(&cfg, RoutingPolicy::Plain, &topo, None).unwrap();
    // 32 steps of 512 tokens: γ = 0.1 lets the bias cross the ±2 logit spread of the skew.
    let bias = RoutingPolicy::AuxFreeBias { gamma: 0.1 };
    let free = simulate_routing(&cfg, bias, &topo, None).unwrap();
    assert!(
        free.expert_imbalance < 0.6 * plain.expert_imbalance,
        "plain {} aux-free {}",
        plain.expert_imbalance,
        free.expert_imbalance
    );
    // The bias needs steps to build up: the last quarter is better balanced than the first step.
    let h = &free.history;
    let late = h[h.len() * 3 / 4..]
        .iter()
        .map(|s| s.max_over_mean)
        .sum::<f64>()
        / (h.len() - h.len() * 3 / 4) as f64;
    assert!(late < 0.7 * h[0].max_over_mean, "{h:?}");
    assert_eq!(h.len(), cfg.tokens / skua_moe::locmoe::STEP_TOKENS);
}

#[test]
fn locality_bonus_keeps_tokens_on_their_node() {
    let cfg = SynthConfig {
        tokens: 4096,
        sequences: 32,
        layers: 2,
        ..SynthConfig::deepseek_v3_like()
    };
    // Round-robin over 8 nodes × 32 slots: node n holds exactly group n.
    let topo = Topology::uniform(8, 32, 256).unwrap();
    let plain = simulate_routing(&cfg, RoutingPolicy::Plain, &topo, None).unwrap();
    let local = RoutingPolicy::LocalityPreferring { bonus: 1.0 };
    let local = simulate_routing(&cfg, local, &topo, None).unwrap();
    assert!(
        local.local_share > plain.local_share + 0.1,
        "{plain:?} {local:?}"
    );
    assert!(
        local.nodes_per_token < plain.nodes_per_token,
        "{plain:?} {local:?}"
    );
    // One group per node and top-4 groups: never more than 4 nodes per token.
    assert!(plain.nodes_per_token <= 4.0 && local.nodes_per_token <= 4.0);
    // The LocMoE floor (orthonormal gates in DeepSeek-V3's 7,168 dimensions) is below the
    // busiest expert's share in both simulations.
    let floor = capacity_lower_bound(cfg.tokens, 256, 7168, 8).unwrap() / cfg.tokens as f64;
    assert!(floor <= plain.max_expert_share && floor <= local.max_expert_share);
}

#[test]
fn capacity_floor_holds_for_orthonormal_gates() {
    for (experts, dim, k) in [(8, 8, 1), (8, 8, 2), (6, 12, 2)] {
        let tokens = 20_000;
        let r = simulate_angular_routing(tokens, experts, dim, k, 11).unwrap();
        let floor = capacity_lower_bound(tokens, experts, dim, k).unwrap();
        let max_load = *r.loads.iter().max().unwrap() as f64;
        assert!(floor <= max_load, "{floor} > {max_load}");
        // Every unambiguous token reached its expert (the lemma, exact in every realisation).
        for i in 0..experts {
            assert!(r.aligned[i] <= r.loads[i], "expert {i}: {r:?}");
        }
        // The floor is the expected count of unambiguous tokens (binomial, 5 sd).
        let mean_aligned = r.aligned.iter().sum::<usize>() as f64 / experts as f64;
        let sd = (floor * (1.0 - floor / tokens as f64)).sqrt();
        assert!(
            (mean_aligned - floor).abs() < 5.0 * sd,
            "{mean_aligned} vs {floor}"
        );
        // An expert's load fits in the cap of its maximal angular deviation.
        for i in 0..experts {
            let cap = capacity_for_angle(tokens, dim, r.max_deviation[i]).unwrap();
            assert!(
                r.loads[i] as f64 <= cap + 5.0 * cap.sqrt(),
                "expert {i}: {cap}"
            );
        }
    }
}

#[test]
fn locality_sweep_trades_balance_for_local_traffic() {
    let cfg = SynthConfig {
        tokens: 4096,
        sequences: 32,
        layers: 2,
        ..SynthConfig::deepseek_v3_like()
    };
    let trace = generate(&cfg).unwrap();
    // Global EPLB with 2 slots per expert: replicas on several nodes to choose from.
    let topo = Topology::uniform(8, 32, 512).unwrap();
    let placement = EplbGreedy {
        mode: EplbMode::Global,
    }
    .plan(&PlanRequest::new(&topo, &trace.counts(), cfg.groups))
    .unwrap();
    let sweep = locality_balance_report(&trace, &placement, &topo, &DEFAULT_STRENGTHS).unwrap();
    let (first, last) = (sweep[0], sweep[sweep.len() - 1]);
    assert!(last.local_share > first.local_share + 0.05, "{sweep:?}");
    assert!(last.gpu_imbalance > first.gpu_imbalance, "{sweep:?}");
    assert!(last.nodes_per_token < first.nodes_per_token, "{sweep:?}");
    for w in sweep.windows(2) {
        assert!(w[1].local_share >= w[0].local_share - 0.01, "{sweep:?}");
    }
    // A placement that does not fit the trace is refused.
    let other = round_robin_placement(256, 1, &topo).unwrap();
    assert!(locality_balance_report(&trace, &other, &topo, &[0.0]).is_err());
}
