//! The engine profiles on the real DistServe and Splitwise files.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::Value;
use skua_serving::profile::{
    DistServeFile, Iteration, LatencyModel, ProfileError, ProfileSpec, SloSpec, SplitwiseData, list,
};

fn serving_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/serving");
    assert!(
        dir.join("distserve_profile").is_dir() && dir.join("splitwise_perf_model").is_dir(),
        "the serving data is missing: expected {} with distserve_profile/ and \
         splitwise_perf_model/ (see shared/data/README.md)",
        dir.display()
    );
    dir
}

fn distserve_path(name: &str) -> PathBuf {
    serving_dir().join("distserve_profile").join(name)
}

fn splitwise_path() -> PathBuf {
    serving_dir().join("splitwise_perf_model/perf_model.csv")
}

/// The raw JSON, parsed independently of the code under test.
fn raw_json(name: &str) -> Value {
    let text = std::fs::read_to_string(distserve_path(name)).expect("profile JSON readable");
    serde_json::from_str(&text).expect("profile JSON parses")
}

fn coef(v: &Value, model: &str, tp: &str, field: &str) -> [f64; 3] {
    let arr = v[model][tp][field].as_array().expect("coefficient array");
    [0, 1, 2].map(|i| arr[i].as_f64().expect("number"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

static SPLITWISE: LazyLock<SplitwiseData> =
    LazyLock::new(|| SplitwiseData::load(splitwise_path()).expect("perf_model.csv loads"));

#[test]
fn opt_13b_tp1_prefill_of_512_tokens_is_a_plus_512b_plus_512_squared_c() {
    let raw = raw_json("profiler-a100-80g.distserve.json");
    let [a, b, c] = coef(&raw, "facebook/opt-13b", "1", "prefill");
    let expected = a + 512.0 * b + 512.0 * 512.0 * c;

    let model = ProfileSpec::default()
        .build(&serving_dir())
        .expect("default profile builds");
    assert_eq!(model.name(), "opt-13b/tp1/a100-80g");
    assert!(
        close(model.idle_ttft_ms(512), expected),
        "{} vs {expected}",
        model.idle_ttft_ms(512)
    );

    let file =
        DistServeFile::load(distserve_path("profiler-a100-80g.distserve.json")).expect("loads");
    let profile = file.profile("facebook/opt-13b", 1).expect("present");
    // Two prompts: DistServe sums per-request squares, it does not square the total.
    let two = a + 1024.0 * b + 2.0 * 512.0 * 512.0 * c;
    assert!(close(profile.published_prefill_ms(&[512, 512]), two));
    assert!(
        profile.adjustments().is_empty(),
        "the default file has no negative coefficient"
    );
}

#[test]
fn decode_switches_from_small_to_large_coefficients_at_the_threshold() {
    let raw = raw_json("profiler-a100-80g.distserve.json");
    let threshold = raw["facebook/opt-13b"]["1"]["decoding_large_small_bs_threshold"]
        .as_u64()
        .expect("threshold") as u32;
    let small = coef(&raw, "facebook/opt-13b", "1", "decoding_smallbs");
    let large = coef(&raw, "facebook/opt-13b", "1", "decoding_largebs");
    let lin = |[a, b, c]: [f64; 3], batch: u32, ctx: u64| a + b * ctx as f64 + c * f64::from(batch);

    let file =
        DistServeFile::load(distserve_path("profiler-a100-80g.distserve.json")).expect("loads");
    let p = file.profile("opt-13b", 1).expect("present");
    let below = threshold - 1;
    let ctx_below = u64::from(below) * 1000;
    let ctx_at = u64::from(threshold) * 1000;
    assert!(close(
        p.published_decode_ms(below, ctx_below),
        lin(small, below, ctx_below)
    ));
    assert!(close(
        p.published_decode_ms(threshold, ctx_at),
        lin(large, threshold, ctx_at)
    ));

    // The published switch lets one more sequence cost less; iteration_ms does not.
    assert!(p.published_decode_ms(threshold, ctx_at) < p.published_decode_ms(below, ctx_below));
    let it = |batch, ctx| Iteration {
        decode_batch: batch,
        decode_context: ctx,
        ..Iteration::default()
    };
    let at = p.iteration_ms(&it(threshold, ctx_at));
    assert!(at >= p.iteration_ms(&it(below, ctx_below)));
    assert!(close(
        at,
        lin(large, threshold, ctx_at).max(lin(small, below, ctx_at))
    ));
    // Far above the threshold the large-batch fit rules and iteration_ms is the published value.
    assert!(close(
        p.iteration_ms(&it(256, 256 * 200)),
        lin(large, 256, 256 * 200)
    ));
}

#[test]
fn the_vllm_file_has_the_same_entries_with_different_coefficients() {
    let ds = raw_json("profiler-a100-80g.distserve.json");
    let vl = raw_json("profiler-a100-80g.vllm.json");
    let vllm = DistServeFile::load(distserve_path("profiler-a100-80g.vllm.json")).expect("loads");
    assert_eq!(vllm.models(), vec!["facebook/opt-13b", "facebook/opt-66b"]);
    for model in ["facebook/opt-13b", "facebook/opt-66b"] {
        let tps = vllm.tps(model).expect("present");
        let keys: Vec<u32> = ds[model]
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.parse().expect("tp"))
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(tps, keys, "{model}: same TP degrees in both files");
        for tp in tps {
            let c = vllm.coefficients(model, tp).expect("present");
            let t = tp.to_string();
            assert_eq!(c.prefill, coef(&vl, model, &t, "prefill"));
            for field in ["prefill", "decoding_smallbs", "decoding_largebs"] {
                let (a, b) = (coef(&ds, model, &t, field), coef(&vl, model, &t, field));
                assert!(
                    a.iter().zip(&b).all(|(x, y)| x != y),
                    "{model} tp{tp} {field}"
                );
            }
        }
    }
    // vLLM is the slower engine: OPT-13B TP1, 512-token prompt.
    let spec: ProfileSpec = "opt-13b+vllm".parse().expect("valid");
    let v = spec.build(&serving_dir()).expect("builds");
    let d = ProfileSpec::default()
        .build(&serving_dir())
        .expect("builds");
    assert!(v.idle_ttft_ms(512) > 1.2 * d.idle_ttft_ms(512));
    assert_eq!(v.name(), "opt-13b/tp1/a100-80g/vllm");
    // Its OPT-66B TP2 prefill has a negative quadratic term, clamped.
    let p = vllm.profile("opt-66b", 2).expect("present");
    assert!(p.coefficients().prefill[2] < 0.0);
    assert_eq!(p.adjustments().len(), 1);
}

#[test]
fn the_7057aef_file_adds_opt_175b_with_negative_coefficients() {
    let name = "profiler-a100-80g.distserve.7057aef-with-opt175b.json";
    let old = DistServeFile::load(distserve_path(name)).expect("loads");
    let cur =
        DistServeFile::load(distserve_path("profiler-a100-80g.distserve.json")).expect("loads");
    assert_eq!(old.tps("opt-175b").expect("present"), vec![1, 2, 4, 8]);
    let (o, c) = (
        old.coefficients("opt-13b", 1).expect("present"),
        cur.coefficients("opt-13b", 1).expect("present"),
    );
    assert_eq!(o.decode_small, c.decode_small);
    assert!(o.prefill[1] < c.prefill[1]);
    let p175 = old.profile("opt-175b", 8).expect("fits on 8 GPUs");
    assert!(!p175.adjustments().is_empty());
    assert!(matches!(
        old.profile("opt-175b", 1),
        Err(ProfileError::DoesNotFit { .. })
    ));
}

#[test]
fn kv_bytes_and_capacity_follow_the_architecture() {
    let opt = ProfileSpec::default()
        .build(&serving_dir())
        .expect("builds");
    assert_eq!(opt.kv_bytes_per_token(), 2 * 40 * 5120 * 2);
    assert_eq!(opt.kv_bytes_per_token(), 819_200);
    let gib = f64::from(1u32 << 30);
    let expected = (80.0 * gib * 0.9 - 2.0 * 12_853_473_280.0 - 2.0 * gib) / 819_200.0;
    assert_eq!(opt.kv_capacity_tokens(), expected.floor() as u64);

    // Llama2-70B TP2 on A100: Splitwise's batch-32 runs (32 × 640 tokens) fit the pool, its
    // batch-64 runs (64 × 640) failed — the pool must lie between the two.
    let llama = "llama2-70b:tp2@a100".parse::<ProfileSpec>().expect("valid");
    let llama = llama.build(&serving_dir()).expect("builds");
    assert_eq!(llama.kv_bytes_per_token(), 2 * 80 * 8 * 128 * 2);
    let cap = llama.kv_capacity_tokens();
    assert!(cap > 32 * 640 && cap < 64 * 640, "capacity {cap}");

    let capped = ProfileSpec::default()
        .build_with_kv_capacity(&serving_dir(), 12_345)
        .expect("builds");
    assert_eq!(capped.kv_capacity_tokens(), 12_345);
}

/// Bars on every (model, hardware, TP) group of Splitwise's file.
///
/// Prefill: R² ≥ 0.95 on the kept rows and median relative error ≤ 10 % on every screened row.
/// Prefill times span 45 ms to 13 s, so a model that explains < 95 % of that variance misses
/// whole regimes. The file's own replicate noise (pooled relative s.d. of the 5 repeats of each
/// configuration) reaches 6 %, and its batch sweep and prompt sweep disagree by ~20 % per token
/// (64 × 512-token prompts cost 0.34 ms/token, one 8,192-token prompt 0.28 ms/token on Llama2
/// TP4 A100), which no smooth model of batch tokens reconciles; 10 % is below that gap.
///
/// Decode: R² ≥ 0.9 and median relative error ≤ 2 %: the worst group's replicate noise is
/// 1.2 %, and decode times vary only 37–75 ms within a group, so noise is a larger share of the
/// variance than for prefill. One group is held to a looser bar, R² ≥ 0.65 and ≤ 5 %:
/// Llama2-70B TP2 on A100 measures 54–57 ms for every batch-1, 128-token run and 60 ms for
/// batch 2 or ≥ 256 tokens at the same context — a 9 % step that a model linear in context and
/// batch cannot follow, so its median error sits near half the step.
#[test]
fn splitwise_fits_meet_the_bars_on_every_group() {
    let keys = SPLITWISE.keys();
    assert_eq!(keys.len(), 12, "3 BLOOM + 9 Llama2 groups");
    assert_eq!(
        SPLITWISE.duplicates_dropped(),
        120,
        "the 512/1/128 runs repeated by 3 sweeps"
    );
    for key in keys {
        let fit = SPLITWISE
            .fit(&key.model, &key.hardware, key.tp)
            .expect("fits");
        let (p, d) = (fit.prefill().quality, fit.decode().quality);
        assert!(p.r_squared >= 0.95, "{key}: prefill R² {}", p.r_squared);
        assert!(
            p.median_rel_error <= 0.10,
            "{key}: prefill error {}",
            p.median_rel_error
        );
        let step = key.model == "llama2-70b" && key.tp == 2 && key.hardware == "a100-80gb";
        let (r2_bar, err_bar) = if step { (0.65, 0.05) } else { (0.9, 0.02) };
        assert!(d.r_squared >= r2_bar, "{key}: decode R² {}", d.r_squared);
        assert!(
            d.median_rel_error <= err_bar,
            "{key}: decode error {}",
            d.median_rel_error
        );
        assert!(
            fit.prefill()
                .coef
                .iter()
                .chain(&fit.decode().coef)
                .all(|c| *c >= 0.0)
        );
        // Llama2-70B TP2's batch-64 runs ran out of KV and are screened out; nothing else is.
        let failed: &[(u32, u32, u32)] = if key.model == "llama2-70b" && key.tp == 2 {
            &[(512, 64, 128)]
        } else {
            &[]
        };
        assert_eq!(fit.screened_out(), failed, "{key}");
        assert_eq!(fit.max_measured_prompt(), 8192);
        assert!(fit.extrapolates(8193) && !fit.extrapolates(8192));
    }
}

#[test]
fn splitwise_prefill_bends_upward_sooner_than_flops_alone_predict() {
    // Counting FLOPs, Llama2-70B's attention term equals its linear term at
    // params / (layers × hidden) = 68.98e9 / (80 × 8192) ≈ 105k tokens. The fits' quadratic
    // crossover comes earlier, so extrapolated long prompts err on the slow side.
    for key in SPLITWISE
        .keys()
        .into_iter()
        .filter(|k| k.model == "llama2-70b")
    {
        let fit = SPLITWISE
            .fit(&key.model, &key.hardware, key.tp)
            .expect("fits");
        if let Some(p_star) = fit.quadratic_crossover_tokens() {
            assert!(p_star < 105_000.0, "{key}: crossover {p_star}");
        }
        // Extrapolation never bends down: 4× the longest measured prompt costs ≥ 4× as much.
        let at = |p| fit.idle_ttft_ms(p);
        assert!(at(32_768) >= 4.0 * at(8192) - 1e-9, "{key}");
    }
}

#[test]
fn malformed_json_is_reported_with_its_line() {
    let text = std::fs::read_to_string(distserve_path("profiler-a100-80g.distserve.json"))
        .expect("readable");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let target = lines
        .iter()
        .position(|l| l.contains("0.1019122572698738"))
        .expect("the OPT-13B TP1 prefill slope is in the file");
    lines[target] = lines[target].replace("0.1019122572698738", "0.10x");
    let err = DistServeFile::parse(&lines.join("\n"), "corrupt.json").expect_err("bad number");
    match &err {
        ProfileError::Json { line, .. } => assert_eq!(*line, target + 1),
        other => panic!("expected a JSON error, got {other}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("corrupt.json:{}:", target + 1))
    );
}

#[test]
fn malformed_csv_is_reported_with_its_line() {
    let text = std::fs::read_to_string(splitwise_path()).expect("readable");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[16].split(',').map(str::to_string).collect();
    fields[7] = "n/a".into(); // prompt_time
    lines[16] = fields.join(",");
    let err = SplitwiseData::from_reader(lines.join("\n").as_bytes(), "corrupt.csv")
        .expect_err("bad number");
    let msg = err.to_string();
    assert!(msg.starts_with("corrupt.csv:17:"), "{msg}");
    assert!(msg.contains("prompt_time") && msg.contains("n/a"), "{msg}");

    // A short row is a CSV error on its own line too.
    let mut short = text.lines().map(str::to_string).collect::<Vec<_>>();
    short[9] = "llama2-70b,a100-80gb,512".into();
    let err = SplitwiseData::from_reader(short.join("\n").as_bytes(), "short.csv")
        .expect_err("too few fields");
    assert!(err.to_string().starts_with("short.csv:10:"), "{err}");
}

#[test]
fn missing_files_name_the_path() {
    let err = DistServeFile::load("/nonexistent/profile.json").expect_err("absent");
    assert!(err.to_string().contains("/nonexistent/profile.json"));
    let err = ProfileSpec::default()
        .build(Path::new("/nonexistent"))
        .expect_err("absent");
    assert!(
        err.to_string().contains("profiler-a100-80g.distserve.json"),
        "{err}"
    );
}

#[test]
fn every_listed_profile_builds_and_costs_its_parts() {
    for info in list() {
        let spec: ProfileSpec = info.spec.parse().expect("listed specs parse");
        let model = spec
            .build(&serving_dir())
            .unwrap_or_else(|e| panic!("{}: {e}", info.spec));
        // OPT-66B TP2 is the tightest: ~8k tokens after 131 GB of weights on 2 × 80 GB.
        assert!(model.kv_capacity_tokens() > 4096, "{}", info.spec);
        assert_eq!(model.iteration_ms(&Iteration::default()), 0.0);
        let ttft = model.idle_ttft_ms(1024);
        let tpot = model.idle_tpot_ms(1024);
        assert!(
            ttft > tpot && tpot > 5.0,
            "{}: ttft {ttft}, tpot {tpot}",
            info.spec
        );
    }
}

#[test]
fn slo_thresholds_follow_the_protocol() {
    let raw = raw_json("profiler-a100-80g.distserve.json");
    let [pa, pb, pc] = coef(&raw, "facebook/opt-13b", "1", "prefill");
    let [da, db, dc] = coef(&raw, "facebook/opt-13b", "1", "decoding_smallbs");
    let model = ProfileSpec::default()
        .build(&serving_dir())
        .expect("builds");
    let slo = SloSpec::default();

    let t = slo.for_request(model.as_ref(), 1024, 200);
    let idle_ttft = pa + 1024.0 * pb + 1024.0 * 1024.0 * pc;
    assert!(close(t.ttft_ms, (5.0 * idle_ttft).max(200.0)));
    assert!(t.ttft_ms > 200.0, "a 1k prompt is above the floor");
    let idle_tpot = da + db * (1024.0 + 100.0) + dc;
    assert!(close(t.tpot_ms, 5.0 * idle_tpot));
    // A short prompt hits the 200 ms floor.
    assert_eq!(slo.ttft_ms(model.as_ref(), 16), 200.0);
}

static MODELS: LazyLock<Vec<Box<dyn LatencyModel>>> = LazyLock::new(|| {
    let mut models: Vec<Box<dyn LatencyModel>> = list()
        .iter()
        .map(|i| {
            let spec: ProfileSpec = i.spec.parse().expect("listed specs parse");
            spec.build(&serving_dir()).expect("listed specs build")
        })
        .collect();
    // Plus the profile with the most negative published coefficients.
    let old = DistServeFile::load(distserve_path(
        "profiler-a100-80g.distserve.7057aef-with-opt175b.json",
    ))
    .expect("loads");
    models.push(Box::new(old.profile("opt-175b", 8).expect("fits")));
    models
});

fn iteration() -> impl Strategy<Value = Iteration> {
    (
        prop::collection::vec((0u32..8192, 0u32..65_536), 0..6),
        0u32..400,
        0u64..2_000_000,
    )
        .prop_map(|(prefill, decode_batch, decode_context)| Iteration {
            prefill,
            decode_batch,
            decode_context,
        })
}

/// A grown copy of `it`: more new or cached tokens per chunk, maybe one more chunk, more decode
/// sequences and/or context.
fn grow(
    it: &Iteration,
    extra: &[(u32, u32)],
    new_chunk: Option<(u32, u32)>,
    more_batch: u32,
    more_ctx: u64,
) -> Iteration {
    let mut g = it.clone();
    for (c, (dn, dk)) in g.prefill.iter_mut().zip(extra) {
        c.0 += dn;
        c.1 += dk;
    }
    g.prefill.extend(new_chunk);
    g.decode_batch += more_batch;
    g.decode_context += more_ctx;
    g
}

proptest! {
    #[test]
    fn more_tokens_never_cost_less(
        it in iteration(),
        extra in prop::collection::vec((0u32..2048, 0u32..8192), 6),
        new_chunk in prop::option::of((0u32..4096, 0u32..8192)),
        more_batch in 0u32..50,
        more_ctx in 0u64..100_000,
    ) {
        let bigger = grow(&it, &extra, new_chunk, more_batch, more_ctx);
        for m in MODELS.iter() {
            let (a, b) = (m.iteration_ms(&it), m.iteration_ms(&bigger));
            prop_assert!(b >= a - 1e-9 * a.abs().max(1.0), "{}: {a} → {b}\n{it:?}\n{bigger:?}", m.name());
        }
    }

    #[test]
    fn a_mixed_iteration_costs_at_least_each_part(it in iteration()) {
        let prefill_only = Iteration { prefill: it.prefill.clone(), ..Iteration::default() };
        let decode_only = Iteration { prefill: Vec::new(), ..it.clone() };
        for m in MODELS.iter() {
            let all = m.iteration_ms(&it);
            let slack = 1e-9 * all.abs().max(1.0);
            prop_assert!(all >= m.iteration_ms(&prefill_only) - slack, "{}", m.name());
            prop_assert!(all >= m.iteration_ms(&decode_only) - slack, "{}", m.name());
            prop_assert!(all >= 0.0);
        }
    }
}
