//! `skua experts` and `skua bench experts`: the real binary on the shared MoE data
//! (../shared/data/moe) and on hand-made inputs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{run, text, write};

/// `../shared/data/moe`, or a loud failure: these tests must not pass on missing data.
fn moe_data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/moe");
    assert!(
        p.is_dir(),
        "the shared MoE data is missing: expected {} (CI checks out ../shared beside the repo)",
        p.display()
    );
    p.canonicalize().expect("canonical data path")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn json(p: &Path) -> Value {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{} not written: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// `phy2log` as rows of expert ids.
fn phy2log(v: &Value) -> Vec<Vec<u64>> {
    v["phy2log"]
        .as_array()
        .expect("phy2log is an array")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("a phy2log row is an array")
                .iter()
                .map(|x| x.as_u64().expect("an expert id"))
                .collect()
        })
        .collect()
}

/// Every layer has `slots` entries, every expert `0..experts` at least once, and no GPU of
/// `slots_per_gpu` consecutive slots holds an expert twice (skua's planner promises that).
fn check_placement(rows: &[Vec<u64>], slots: usize, experts: u64, slots_per_gpu: usize) {
    for (l, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), slots, "layer {l}");
        let placed: BTreeSet<u64> = row.iter().copied().collect();
        assert_eq!(placed, (0..experts).collect(), "layer {l} misses experts");
        for gpu in row.chunks(slots_per_gpu) {
            let distinct: BTreeSet<_> = gpu.iter().collect();
            assert_eq!(
                distinct.len(),
                gpu.len(),
                "layer {l}: a GPU holds a duplicate"
            );
        }
    }
}

#[test]
fn eplb_on_the_readme_golden_file_reproduces_its_placement() {
    let golden = moe_data().join("eplb_golden/readme_example.json.gz");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eplb.json");
    let o = run(&[
        "experts",
        "plan",
        "--golden",
        s(&golden),
        "--planner",
        "eplb",
        "--out-eplb",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("eplb (hierarchical)"), "{stdout}");
    assert!(stdout.contains("imbalance"), "{stdout}");
    // The reference answer, read from the golden file itself.
    let reference: Value =
        serde_json::from_str(&skua_moe::io::read_text(&golden).expect("the golden file reads"))
            .expect("the golden file is JSON");
    let written = json(&out);
    assert_eq!(phy2log(&written), phy2log(&reference));
    assert_eq!(written["logcnt"], reference["logcnt"]);
}

#[test]
fn skua_on_an_esft_task_writes_engine_files_that_parse() {
    let law = moe_data().join("esft/law");
    let dir = tempfile::tempdir().unwrap();
    let (eplb, sglang, yaml, summary) = (
        dir.path().join("plan.eplb.json"),
        dir.path().join("plan.sglang.json"),
        dir.path().join("moe_load_balancer.yaml"),
        dir.path().join("summary.json"),
    );
    let o = run(&[
        "experts",
        "plan",
        "--esft",
        s(&law),
        "--nodes",
        "2",
        "--gpus",
        "8",
        "--slots",
        "80",
        "--futures",
        "2",
        "--first-dense",
        "1",
        "--out-eplb",
        s(&eplb),
        "--out-sglang",
        s(&sglang),
        "--out-trtllm",
        s(&yaml),
        "--json",
        s(&summary),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("planner      skua"), "{stdout}");
    assert!(stdout.contains("worst layer"), "{stdout}");

    let maps = json(&eplb);
    let rows = phy2log(&maps);
    assert_eq!(rows.len(), 26);
    check_placement(&rows, 80, 64, 10);
    let logcnt = maps["logcnt"].as_array().expect("logcnt");
    assert_eq!(logcnt.len(), 26);
    let replicas: u64 = logcnt[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(replicas, 80);
    assert_eq!(maps["log2phy"][0].as_array().map(Vec::len), Some(64));

    // SGLang: one row per decoder layer (1 dense + 26 MoE); MoE layer 1 is placement layer 0.
    let sg = json(&sglang);
    let map = sg["physical_to_logical_map"].as_array().expect("the map");
    assert_eq!(map.len(), 27);
    assert_eq!(map[1], maps["phy2log"][0]);

    let y = std::fs::read_to_string(&yaml).expect("YAML written");
    assert!(y.contains("num_slots: 80"), "{y}");
    assert!(y.contains("initial_global_assignments:"), "{y}");
    assert!(
        y.contains("\n  1: ["),
        "model layers start after the dense layer: {y}"
    );

    let sum = json(&summary);
    assert_eq!(sum["planner"], "skua");
    assert_eq!(sum["futures"], 2);
    let imb = sum["score"]["imbalance"].as_f64().expect("imbalance");
    assert!((0.0..1.0).contains(&imb), "{imb}");
}

/// A small long-format load: 2 windows × 2 layers × 8 experts, skewed.
fn long_csv(dir: &Path) -> String {
    let mut csv = String::from("window,layer,expert,count\n");
    for (w, scale) in [("w0", 1.0), ("w1", 1.5)] {
        for l in 0..2 {
            for e in 0..8 {
                let c = scale * (100.0 / (1.0 + e as f64) + 10.0 * l as f64);
                csv.push_str(&format!("{w},{l},{e},{}\n", c.round()));
            }
        }
    }
    write(dir, "load.csv", csv.as_bytes())
}

#[test]
fn replanning_from_a_current_placement_respects_the_move_budget() {
    let dir = tempfile::tempdir().unwrap();
    let load = long_csv(dir.path());
    // 4 GPUs × 3 slots; every expert once, experts 0–3 twice, no GPU holds one expert twice.
    let current = write(
        dir.path(),
        "current.json",
        br#"{"phy2log": [[0,1,2, 3,4,5, 6,7,0, 1,2,3], [0,1,2, 3,4,5, 6,7,0, 1,2,3]]}"#,
    );
    let migration = dir.path().join("migration.json");
    let eplb = dir.path().join("next.json");
    let o = run(&[
        "experts",
        "plan",
        "--load",
        &load,
        "--window",
        "w1",
        "--nodes",
        "2",
        "--gpus",
        "4",
        "--slots",
        "12",
        "--current",
        &current,
        "--move-budget",
        "2",
        "--out-migration",
        s(&migration),
        "--out-eplb",
        s(&eplb),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("slots moved"), "{stdout}");
    check_placement(&phy2log(&json(&eplb)), 12, 8, 3);
    let m = json(&migration);
    let per_layer: Vec<u64> = m["totals"]["per_layer"]
        .as_array()
        .expect("per-layer moves")
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(per_layer.len(), 2);
    assert!(per_layer.iter().all(|&n| n <= 2), "{per_layer:?}");
    assert_eq!(
        m["totals"]["slots_moved"].as_u64(),
        Some(per_layer.iter().sum())
    );
}

#[test]
fn a_flat_forecast_spreads_replicas_evenly_without_futures() {
    let law = moe_data().join("esft/law");
    let dir = tempfile::tempdir().unwrap();
    let (eplb, summary) = (dir.path().join("flat.json"), dir.path().join("sum.json"));
    let o = run(&[
        "experts",
        "plan",
        "--esft",
        s(&law),
        "--nodes",
        "2",
        "--gpus",
        "8",
        "--slots",
        "128",
        "--forecaster",
        "flat",
        "--futures",
        "4",
        "--locality-slack",
        "0",
        "--out-eplb",
        s(&eplb),
        "--json",
        s(&summary),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("locality from"),
        "slack 0 turns locality off: {}",
        text(&o)
    );
    let maps = json(&eplb);
    check_placement(&phy2log(&maps), 128, 64, 16);
    // 128 slots for 64 experts: every expert exactly twice in every layer.
    for (l, row) in maps["logcnt"]
        .as_array()
        .expect("logcnt")
        .iter()
        .enumerate()
    {
        let counts: Vec<u64> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert!(counts.iter().all(|&c| c == 2), "layer {l}: {counts:?}");
    }
    assert_eq!(json(&summary)["futures"], 0);
}

#[test]
fn evaluate_on_esft_halves_prints_both_planners_and_a_noise_floor() {
    let law = moe_data().join("esft/law");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eval.json");
    let o = run(&[
        "experts",
        "evaluate",
        "--esft",
        s(&law),
        "--split",
        "halves",
        "--nodes",
        "2",
        "--gpus",
        "8",
        "--slots",
        "80",
        "--futures",
        "2",
        "--noise-draws",
        "5",
        "--json",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "skua",
        "eplb (global)",
        "noise floor",
        "nodes/token",
        "skua vs eplb",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    let j = json(&out);
    let planners = j["planners"].as_array().expect("planners");
    assert_eq!(planners.len(), 2);
    for p in planners {
        assert!(p["error"].is_null(), "{p}");
        let test = p["test"]["imbalance"].as_f64().expect("held-out imbalance");
        let floor = p["noise_floor"]["mean_imbalance"]
            .as_f64()
            .expect("noise floor");
        assert!(floor > 0.0 && floor.is_finite(), "{floor}");
        assert!(test >= 0.0 && test.is_finite(), "{test}");
        assert!(p["test"]["nodes_per_token"].as_f64().is_some(), "{p}");
    }
    assert_eq!(j["split"], "halves");
}

#[test]
fn a_malformed_long_csv_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.csv",
        b"window,layer,expert,count\nw0,0,0,5\nw0,0,1,lots\n",
    );
    let o = run(&[
        "experts", "plan", "--load", &bad, "--nodes", "1", "--gpus", "2", "--slots", "4",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "refused input exits 3: {}",
        text(&o)
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("bad.csv"), "{stderr}");
}

#[test]
fn an_unknown_planner_is_a_usage_error() {
    let o = run(&[
        "experts",
        "plan",
        "--load",
        "whatever.csv",
        "--nodes",
        "1",
        "--gpus",
        "2",
        "--slots",
        "4",
        "--planner",
        "magic",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("magic"), "{}", text(&o));
}

#[test]
fn bench_experts_without_its_data_says_where_to_point_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let o = run(&["bench", "experts", "--data", s(&missing)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--data"), "{}", text(&o));
}
