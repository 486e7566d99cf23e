//! skua's planner on synthetic and real traces: invariants, locality, move budgets.

use skua_moe::eval::{EvalConfig, score};
use skua_moe::forecast::bootstrap_futures;
use skua_moe::plan::eplb::{EplbGreedy, EplbMode};
use skua_moe::plan::skua::SkuaPlanner;
use skua_moe::plan::{PlanRequest, Planner};
use skua_moe::study::duplicate_gpus;
use skua_moe::synth::{SynthConfig, generate_windows};
use skua_moe::{ExpertLoad, Topology};

fn small_v3() -> SynthConfig {
    SynthConfig {
        layers: 2,
        tokens: 4096,
        sequences: 32,
        ..SynthConfig::deepseek_v3_like()
    }
}

#[test]
fn locality_stage_reaches_fewer_nodes_than_global_eplb_and_balances_better_than_hierarchical() {
    let cfg = small_v3();
    let w = generate_windows(&cfg, 1).unwrap();
    let topo = Topology::uniform(8, 32, 288).unwrap();
    let load = w[0].counts();
    let mut req = PlanRequest::new(&topo, &load, cfg.groups);
    req.tokens = Some(&w[0]);
    let cfgs = EvalConfig::default();
    let s = |p: &skua_moe::Placement| score(p, &topo, &load, Some(&w[0]), &cfgs);
    let skua = SkuaPlanner::default().plan(&req).unwrap();
    skua.validate(&topo).unwrap();
    assert_eq!(duplicate_gpus(&skua, &topo), 0);
    let global = EplbGreedy {
        mode: EplbMode::Global,
    }
    .plan(&req)
    .unwrap();
    let hier = EplbGreedy {
        mode: EplbMode::Hierarchical,
    }
    .plan(&req)
    .unwrap();
    let (ss, sg, sh) = (s(&skua), s(&global), s(&hier));
    assert!(
        ss.nodes_per_token.unwrap() < sg.nodes_per_token.unwrap() - 0.3,
        "{ss:?} vs {sg:?}"
    );
    assert!(
        ss.imbalance < sh.imbalance / 2.0,
        "{} vs hierarchical {}",
        ss.imbalance,
        sh.imbalance
    );
    // On the data it planned for, the cap holds.
    assert!(
        ss.imbalance <= SkuaPlanner::default().locality_slack + 0.1,
        "{}",
        ss.imbalance
    );
}

#[test]
fn incremental_replanning_respects_the_move_budget_and_helps() {
    let cfg = SynthConfig {
        drift: 0.3,
        ..small_v3()
    };
    let w = generate_windows(&cfg, 2).unwrap();
    let topo = Topology::uniform(8, 32, 288).unwrap();
    let planner = SkuaPlanner {
        locality_slack: 0.0,
        ..SkuaPlanner::default()
    };
    let (c0, c1) = (w[0].counts(), w[1].counts());
    let current = planner.plan(&PlanRequest::new(&topo, &c0, 8)).unwrap();
    let mut req = PlanRequest::new(&topo, &c1, 8);
    req.current = Some(&current);
    req.move_budget = Some(10);
    let inc = planner.plan(&req).unwrap();
    inc.validate(&topo).unwrap();
    let moved = current.slots_moved(&inc, &topo);
    assert!(moved.iter().all(|&m| m <= 10), "{moved:?}");
    assert!(moved.iter().sum::<usize>() > 0);
    let imb =
        |p: &skua_moe::Placement| score(p, &topo, &c1, None, &EvalConfig::default()).imbalance;
    assert!(
        imb(&inc) < imb(&current),
        "{} vs {}",
        imb(&inc),
        imb(&current)
    );
}

#[test]
fn unequal_nodes_and_robust_futures_are_planned_without_duplicates() {
    let cfg = SynthConfig {
        layers: 2,
        tokens: 2048,
        sequences: 16,
        ..SynthConfig::esft_like()
    };
    let w = generate_windows(&cfg, 1).unwrap();
    // Node 0 has 3 GPUs, node 1 has 1: 4 GPUs × 20 slots = 80 slots for 64 experts.
    let topo = Topology::with_node_gpus(&[3, 1], 20).unwrap();
    let load = w[0].counts();
    let futures = bootstrap_futures(&w[0], 4, 1);
    let mut req = PlanRequest::new(&topo, &load, 1);
    req.futures = &futures;
    req.tokens = Some(&w[0]);
    let p = SkuaPlanner::default().plan(&req).unwrap();
    p.validate(&topo).unwrap();
    assert_eq!(p.layers(), 2);
    assert!(
        EplbGreedy {
            mode: EplbMode::Auto
        }
        .plan(&req)
        .is_err(),
        "EPLB needs equal nodes"
    );
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let topo = Topology::uniform(1, 2, 4).unwrap();
    let load = ExpertLoad::from_rows(vec![vec![1.0; 6]]).unwrap();
    assert!(
        SkuaPlanner::default()
            .plan(&PlanRequest::new(&topo, &load, 1))
            .is_err(),
        "6 experts, 4 slots"
    );
    let load = ExpertLoad::from_rows(vec![vec![1.0; 3]]).unwrap();
    let wrong = ExpertLoad::from_rows(vec![vec![1.0; 4]]).unwrap();
    let futures = [wrong];
    let mut req = PlanRequest::new(&topo, &load, 1);
    req.futures = &futures;
    assert!(SkuaPlanner::default().plan(&req).is_err());
}
