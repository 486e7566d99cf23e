//! Readers and writers on the shared data, the hand-made fixtures, and malformed copies of both.

use std::path::{Path, PathBuf};

use skua_moe::io::esft::{EsftOptions, read_derived_counts, read_esft_task, read_esft_task_with};
use skua_moe::io::export::{
    ModelLayers, Transfer, eplb_maps, migration_plan, sglang_value, trtllm_yaml_string,
    write_migration_json, write_trtllm_yaml,
};
use skua_moe::io::golden::read_golden;
use skua_moe::io::long::{
    WindowedLoad, read_long_csv, read_token_csv, write_long_csv, write_token_csv,
};
use skua_moe::io::olmoe::{read_crosslayer_pairs, read_olmoe_counts};
use skua_moe::io::trtllm::{Dtype, Tensor, encode_safetensors, read_trtllm_statistics};
use skua_moe::{ExpertLoad, Placement};

use crate::moe_data;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "skua-moe-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

// ---------------------------------------------------------------- ESFT

#[test]
fn esft_tasks_have_the_documented_shape_and_match_the_derived_counts() {
    let derived = read_derived_counts(&moe_data("esft/derived_expert_counts.csv")).unwrap();
    assert_eq!(derived.len(), 3);
    // Tokens and lines counted independently (zcat | python) when the reader was written.
    for (task, tokens, lines) in [
        ("intent", 8222, 127),
        ("law", 8327, 33),
        ("summary", 8479, 13),
    ] {
        let t = read_esft_task(&moe_data(&format!("esft/{task}"))).unwrap();
        assert_eq!(t.name, task);
        let tr = &t.trace;
        assert_eq!(
            (tr.layers(), tr.experts(), tr.top_k()),
            (26, 64, 6),
            "{task}"
        );
        assert_eq!((tr.tokens(), tr.sequences()), (tokens, lines), "{task}");
        let w = t.gate_weights.as_ref().unwrap();
        assert_eq!(w.len(), 26 * tokens * 6);
        assert!(
            w.iter().all(|&x| (0.0..=1.0).contains(&x)),
            "{task}: gate weights in [0, 1]"
        );
        assert_eq!(
            tr.counts(),
            derived[task],
            "{task}: trace counts vs derived CSV"
        );
    }
}

/// Layer 1 and a corrupted copy as layer 2 of a two-layer task.
fn corrupt_esft(edit: impl Fn(&mut Vec<String>)) -> (Scratch, String) {
    let text = skua_moe::io::read_text(&moe_data("esft/law/expert_weights_1.txt.gz")).unwrap();
    let d = Scratch::new("esft");
    std::fs::write(d.0.join("expert_weights_1.txt"), &text).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    edit(&mut lines);
    std::fs::write(d.0.join("expert_weights_2.txt"), lines.join("\n") + "\n").unwrap();
    let opts = EsftOptions {
        layers: 2,
        ..EsftOptions::default()
    };
    let e = read_esft_task_with(&d.0, &opts).unwrap_err().to_string();
    (d, e)
}

#[test]
fn esft_malformed_copies_fail_with_file_line_and_field() {
    let (_d, e) = corrupt_esft(|l| l[2] = format!("64{}", &l[2][l[2].find('\t').unwrap()..]));
    assert!(
        e.contains("expert_weights_2.txt: line 3, field 1") && e.contains("not below 64"),
        "{e}"
    );
    let (_d, e) = corrupt_esft(|l| l[4] = l[4].replacen('\t', "\tx", 1));
    assert!(e.contains("line 5, field 2") && e.contains("`x"), "{e}");
    // Drop the last token of line 2 (its 6 ids and 6 weights): counts disagree with layer 1.
    let (_d, e) = corrupt_esft(|l| {
        let (ids, ws) = l[1].split_once("\t\t").unwrap();
        let ids: Vec<&str> = ids.split('\t').collect();
        let ws: Vec<&str> = ws.split('\t').collect();
        l[1] = format!(
            "{}\t\t{}",
            ids[..ids.len() - 6].join("\t"),
            ws[..ws.len() - 6].join("\t")
        );
    });
    assert!(
        e.contains("expert_weights_2.txt: line 2") && e.contains("on that line"),
        "{e}"
    );
    // One weight too few.
    let (_d, e) = corrupt_esft(|l| l[0] = l[0].rsplit_once('\t').unwrap().0.to_string());
    assert!(e.contains("line 1") && e.contains("gate weights"), "{e}");
    let (_d, e) = corrupt_esft(|l| l.truncate(10));
    assert!(e.contains("10 sequences (lines)"), "{e}");
}

// ---------------------------------------------------------------- OLMoE

#[test]
fn olmoe_counts_agree_with_the_independent_summary() {
    let counts = read_olmoe_counts(&moe_data("olmoe_counts/expert_counts.csv")).unwrap();
    let text = std::fs::read_to_string(moe_data("olmoe_counts/summary_stats.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    let summary = summary.as_object().unwrap();
    let mut checked = 0;
    for ((model, domain), c) in &counts {
        assert_eq!(c.layer_ids, vec![0, 7, 15], "{model}/{domain}");
        let want_experts = if model == "mistral" { 8 } else { 64 };
        assert_eq!(c.load.experts(), want_experts, "{model}/{domain}");
        for (i, l) in c.layer_ids.iter().enumerate() {
            let s = &summary[&format!("{model}/{domain}/L{l}")];
            let row = c.load.layer(i);
            let total: f64 = row.iter().sum();
            let mean = total / row.len() as f64;
            let max = row.iter().copied().fold(0.0, f64::max);
            let sd =
                (row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / row.len() as f64).sqrt();
            assert_eq!(total, s["total"].as_f64().unwrap(), "{model}/{domain}/L{l}");
            // The summary is rounded to 3 decimals; cv uses the population deviation.
            assert!((max / mean - s["max_over_mean"].as_f64().unwrap()).abs() <= 5e-4 + 1e-9);
            assert!((sd / mean - s["cv"].as_f64().unwrap()).abs() <= 5e-4 + 1e-9);
            checked += 1;
        }
    }
    assert_eq!(checked, summary.len(), "every summary entry has counts");
}

#[test]
fn olmoe_pair_marginals_are_the_layer_counts() {
    let counts = read_olmoe_counts(&moe_data("olmoe_counts/expert_counts.csv")).unwrap();
    let pairs =
        read_crosslayer_pairs(&moe_data("olmoe_counts/crosslayer_pair_counts.csv")).unwrap();
    assert_eq!(pairs.len(), 10);
    for (key, ps) in &pairs {
        let c = &counts[key];
        let pairs_of: Vec<_> = ps.iter().map(|p| (p.layer_a, p.layer_b)).collect();
        assert_eq!(pairs_of, vec![(0, 7), (7, 15)], "{key:?}");
        for p in ps {
            assert_eq!(p.experts, c.load.experts());
            // Rank-aligned pairs: every routed choice of layer_a pairs with one of layer_b.
            assert_eq!(p.row_sums(), c.layer(p.layer_a).unwrap(), "{key:?}");
            assert_eq!(p.col_sums(), c.layer(p.layer_b).unwrap(), "{key:?}");
        }
    }
}

// ---------------------------------------------------------------- long and per-token CSV

#[test]
fn long_csv_round_trips_per_sequence_windows_and_reads_gzip() {
    let t = read_esft_task(&moe_data("esft/summary")).unwrap().trace;
    let windows: Vec<String> = (0..t.sequences()).map(|s| format!("seq{s}")).collect();
    let loads: Vec<ExpertLoad> = (0..t.sequences())
        .map(|s| t.counts_in(t.sequence_range(s)))
        .collect();
    let w = WindowedLoad::new(windows, loads).unwrap();
    let d = Scratch::new("long");
    let p = d.0.join("load.csv");
    write_long_csv(&p, &w).unwrap();
    let back = read_long_csv(&p).unwrap();
    assert_eq!(back, w);
    assert_eq!(back.total(), t.counts());

    let gz = d.0.join("load.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &std::fs::read(&p).unwrap()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    assert_eq!(read_long_csv(&gz).unwrap(), w);
}

#[test]
fn long_csv_fixture_reads_as_written_by_hand() {
    let w = read_long_csv(&fixture("long_small.csv")).unwrap();
    assert_eq!(w.windows, vec!["2024-06-01T10:00", "2024-06-01T11:00"]);
    assert_eq!((w.layers(), w.experts()), (2, 4));
    assert_eq!(
        w.loads[0].rows(),
        vec![vec![5.0, 0.0, 1.0, 2.0], vec![0.0, 3.0, 3.0, 2.0]]
    );
    assert_eq!(
        w.loads[1].rows(),
        vec![vec![1.0, 1.0, 0.0, 6.0], vec![0.0, 0.0, 0.0, 8.0]]
    );
}

#[test]
fn token_csv_round_trips_an_esft_trace() {
    let t = read_esft_task(&moe_data("esft/law")).unwrap().trace;
    let t = t.select_layers(&[0, 12, 25]);
    let d = Scratch::new("tok");
    let p = d.0.join("tokens.csv");
    write_token_csv(&p, &t).unwrap();
    let back = read_token_csv(&p, Some(64)).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.sequences(), 33);
}

// ---------------------------------------------------------------- TensorRT-LLM statistics

#[test]
fn trtllm_fixture_sums_ranks_per_iteration() {
    let s = read_trtllm_statistics(&fixture("trtllm_stats")).unwrap();
    assert_eq!((s.meta.num_experts, s.meta.num_experts_per_token), (4, 2));
    assert_eq!(s.ranks, 2);
    assert_eq!(s.layer_ids, vec![1, 2]);
    assert_eq!(s.iterations(), vec![100, 101]);
    // Sums of the two ranks' counts written in make_fixture.py.
    let w = &s.per_iteration;
    assert_eq!(
        w.loads[0].rows(),
        vec![vec![4.0, 2.0, 1.0, 3.0], vec![2.0, 2.0, 3.0, 3.0]]
    );
    assert_eq!(
        w.loads[1].rows(),
        vec![vec![2.0, 4.0, 2.0, 2.0], vec![2.0, 1.0, 3.0, 4.0]]
    );
    assert_eq!(
        s.total().rows(),
        vec![vec![6.0, 6.0, 3.0, 5.0], vec![4.0, 3.0, 6.0, 7.0]]
    );
    // Every layer of an iteration routes the same tokens × top-k.
    for load in &w.loads {
        assert_eq!(load.layer_total(0), load.layer_total(1));
    }
}

fn copy_fixture(tag: &str) -> Scratch {
    let d = Scratch::new(tag);
    for f in ["meta_info.json", "rank0.safetensors", "rank1.safetensors"] {
        std::fs::copy(fixture("trtllm_stats").join(f), d.0.join(f)).unwrap();
    }
    d
}

fn counts(name: &str, dtype: Dtype, values: &[f64]) -> Tensor {
    Tensor {
        name: name.into(),
        dtype,
        shape: vec![values.len()],
        values: values.to_vec(),
    }
}

#[test]
fn trtllm_malformed_dumps_fail_clearly() {
    let err = |d: &Path| read_trtllm_statistics(d).unwrap_err().to_string();

    let d = copy_fixture("trt-trunc");
    let bytes = std::fs::read(d.0.join("rank1.safetensors")).unwrap();
    std::fs::write(d.0.join("rank1.safetensors"), &bytes[..bytes.len() - 5]).unwrap();
    let e = err(&d.0);
    assert!(
        e.contains("rank1.safetensors") && e.contains("bad data_offsets"),
        "{e}"
    );
    std::fs::write(d.0.join("rank1.safetensors"), &bytes[..20]).unwrap();
    assert!(err(&d.0).contains("truncated"), "{}", err(&d.0));

    // A rank that misses layer 2 of iteration 101 is fine while another rank has it …
    let d = copy_fixture("trt-grid");
    let partial = [
        counts("100_1", Dtype::I32, &[1.0, 0.0, 0.0, 1.0]),
        counts("100_2", Dtype::I32, &[0.0, 1.0, 1.0, 0.0]),
        counts("101_1", Dtype::I32, &[0.0, 0.0, 1.0, 1.0]),
    ];
    std::fs::write(
        d.0.join("rank2.safetensors"),
        encode_safetensors(&partial).unwrap(),
    )
    .unwrap();
    let s = read_trtllm_statistics(&d.0).unwrap();
    assert_eq!(s.ranks, 3);
    assert_eq!(s.per_iteration.loads[0].get(0, 0), 5.0);
    // … but not when no rank has it.
    std::fs::remove_file(d.0.join("rank0.safetensors")).unwrap();
    std::fs::remove_file(d.0.join("rank1.safetensors")).unwrap();
    let e = err(&d.0);
    assert!(e.contains("iteration 101 has no counts for layer 2"), "{e}");

    let d = copy_fixture("trt-shape");
    let wrong = [counts("100_1", Dtype::I64, &[1.0, 2.0, 3.0])];
    std::fs::write(
        d.0.join("rank1.safetensors"),
        encode_safetensors(&wrong).unwrap(),
    )
    .unwrap();
    assert!(
        err(&d.0).contains("shape [3], expected [4]"),
        "{}",
        err(&d.0)
    );
    let named = [counts("layer1", Dtype::I64, &[1.0, 2.0, 3.0, 4.0])];
    std::fs::write(
        d.0.join("rank1.safetensors"),
        encode_safetensors(&named).unwrap(),
    )
    .unwrap();
    assert!(
        err(&d.0).contains("not `<iteration>_<layer>`"),
        "{}",
        err(&d.0)
    );
    std::fs::write(d.0.join("meta_info.json"), "{\"num_experts\": 4}").unwrap();
    assert!(err(&d.0).contains("num_experts_per_token"), "{}", err(&d.0));
}

// ---------------------------------------------------------------- export

#[test]
fn eplb_export_reproduces_the_golden_logcnt() {
    for f in ["readme_example", "zipf_small_hier", "esft_law_8gpu_80slots"] {
        let case = read_golden(&moe_data(&format!("eplb_golden/{f}.json.gz"))).unwrap();
        let m = eplb_maps(&case.placement).unwrap();
        assert_eq!(m.logcnt, case.logcnt, "{f}");
        let slots = case.topology.slots();
        for (l, rows) in m.log2phy.iter().enumerate() {
            for (e, row) in rows.iter().enumerate() {
                assert_eq!(
                    row.len(),
                    slots - case.weight.experts() + 1,
                    "{f}: EPLB's maxlogcnt"
                );
                for &p in row.iter().filter(|&&p| p >= 0) {
                    assert_eq!(case.placement.layer(l)[p as usize] as usize, e);
                }
            }
        }
    }
}

#[test]
fn engine_files_for_an_esft_shaped_placement() {
    let case = read_golden(&moe_data("eplb_golden/esft_intent_8gpu_80slots.json.gz")).unwrap();
    let (p, topo) = (&case.placement, &case.topology);
    // DeepSeek-V2-Lite: 27 decoder layers, the first dense.
    let layers = ModelLayers::dense_first(1, 26);
    let v = sglang_value(p, topo, &layers).unwrap();
    let map = v["physical_to_logical_map"].as_array().unwrap();
    assert_eq!(map.len(), 27);
    assert_eq!(map[0][70], 70 % 64);
    assert_eq!(map[1], serde_json::json!(p.layer(0)));
    assert_eq!(
        v.as_object().unwrap().len(),
        1,
        "SGLang passes the keys as arguments"
    );

    let y = trtllm_yaml_string(p, topo, &layers, 0).unwrap();
    let lines: Vec<&str> = y.lines().collect();
    assert_eq!(lines.len(), 1 + 26 + 2);
    let first: Vec<u32> = lines[1]
        .strip_prefix("  1: [")
        .and_then(|s| s.strip_suffix(']'))
        .unwrap()
        .split(", ")
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(first, p.layer(0));
    assert_eq!(lines[28], "num_slots: 80");
    let d = Scratch::new("yaml");
    write_trtllm_yaml(&d.0.join("moe_load_balancer.yaml"), p, topo, &layers, 0).unwrap();
    assert_eq!(
        std::fs::read_to_string(d.0.join("moe_load_balancer.yaml")).unwrap(),
        y
    );
}

#[test]
fn migration_between_two_golden_placements() {
    let a = read_golden(&moe_data("eplb_golden/esft_intent_8gpu_80slots.json.gz")).unwrap();
    let b = read_golden(&moe_data("eplb_golden/esft_law_8gpu_80slots.json.gz")).unwrap();
    let topo = &a.topology;
    let (pa, pb): (&Placement, &Placement) = (&a.placement, &b.placement);
    let plan = migration_plan(pa, pb, topo, 1 << 20).unwrap();
    let want: Vec<usize> = pa.slots_moved(pb, topo);
    assert_eq!(plan.totals.per_layer, want);
    assert_eq!(plan.totals.slots_moved, want.iter().sum::<usize>());
    assert!(plan.totals.slots_moved > 0);
    assert_eq!(
        plan.totals.bytes_moved,
        plan.totals.slots_moved as u64 * (1 << 20)
    );
    for m in &plan.moves {
        assert_eq!(pa.layer(m.layer)[m.slot], m.from_expert);
        assert_eq!(pb.layer(m.layer)[m.slot], m.to_expert);
        assert_ne!(m.from_expert, m.to_expert);
        let src = m
            .source
            .expect("every expert has a replica in a valid placement");
        assert_eq!(pa.layer(m.layer)[src], m.to_expert);
        let cross = topo.node_of_slot(src) != m.node;
        assert_eq!(cross, m.transfer == Transfer::CrossNode);
    }
    let d = Scratch::new("mig");
    let f = d.0.join("plan.json");
    write_migration_json(&f, &plan).unwrap();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    assert_eq!(v["totals"]["slots_moved"], plan.totals.slots_moved);
    assert_eq!(v["moves"].as_array().unwrap().len(), plan.moves.len());
}
