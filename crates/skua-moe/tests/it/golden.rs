use skua_moe::io::golden::read_golden;
use skua_moe::plan::eplb::{EplbGreedy, EplbMode};
use skua_moe::plan::{PlanRequest, Planner};

use crate::moe_data;

#[test]
fn eplb_greedy_matches_the_published_example_exactly() {
    let case = read_golden(&moe_data("eplb_golden/readme_example.json.gz")).unwrap();
    let req = PlanRequest::new(&case.topology, &case.weight, case.groups);
    let got = EplbGreedy {
        mode: EplbMode::Auto,
    }
    .plan(&req)
    .unwrap();
    assert_eq!(got.phy2log(), case.placement.phy2log());
    for l in 0..got.layers() {
        assert_eq!(got.logcnt(l), case.logcnt[l]);
    }
}

#[test]
fn eplb_greedy_reaches_the_reference_max_gpu_load_on_every_golden_file() {
    let dir = moe_data("eplb_golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the 8 golden files in {}",
        dir.display()
    );
    for f in files {
        let case = read_golden(&f).unwrap();
        let req = PlanRequest::new(&case.topology, &case.weight, case.groups);
        let got = EplbGreedy {
            mode: EplbMode::Auto,
        }
        .plan(&req)
        .unwrap();
        let mut worse = Vec::new();
        for l in 0..case.weight.layers() {
            let ours = max(&got.gpu_loads(&case.topology, l, case.weight.layer(l)));
            let theirs = max(&case
                .placement
                .gpu_loads(&case.topology, l, case.weight.layer(l)));
            if ours > theirs * (1.0 + 1e-6) {
                worse.push((l, ours, theirs));
            }
        }
        let same = (0..got.layers())
            .filter(|&l| got.layer(l) == case.placement.layer(l))
            .count();
        eprintln!(
            "{}: {same}/{} layers identical, {} worse",
            case.name,
            got.layers(),
            worse.len()
        );
        assert!(
            worse.is_empty(),
            "{}: layers worse than EPLB: {worse:?}",
            case.name
        );
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[test]
fn skua_planner_is_never_worse_than_eplb_and_keeps_the_invariants() {
    use skua_moe::plan::skua::SkuaPlanner;
    use skua_moe::study::duplicate_gpus;
    // The smaller golden files (the V3-scale ones are timed by `skua bench experts`).
    for name in [
        "readme_example",
        "zipf_small_global",
        "zipf_small_hier",
        "esft_law_8gpu_80slots",
    ] {
        let case = read_golden(&moe_data(&format!("eplb_golden/{name}.json.gz"))).unwrap();
        let req = PlanRequest::new(&case.topology, &case.weight, case.groups);
        let got = SkuaPlanner::default().plan(&req).unwrap();
        got.validate(&case.topology).unwrap();
        assert_eq!(duplicate_gpus(&got, &case.topology), 0);
        for l in 0..case.weight.layers() {
            let ours = max(&got.gpu_loads(&case.topology, l, case.weight.layer(l)));
            let theirs = max(&case
                .placement
                .gpu_loads(&case.topology, l, case.weight.layer(l)));
            assert!(
                ours <= theirs * (1.0 + 1e-9),
                "{name} layer {l}: {ours} > EPLB's {theirs}"
            );
            assert_eq!(got.logcnt(l).iter().sum::<usize>(), case.topology.slots());
        }
        // Same input, same placement.
        assert_eq!(
            SkuaPlanner::default().plan(&req).unwrap(),
            got,
            "{name}: not deterministic"
        );
    }
}
