//! `skua simulate`: the real binary on the shared serving data (../shared/data/serving) and on
//! hand-made bad input.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{run, text, write};

/// `../shared/data/serving`, or a loud failure: these tests must not pass on missing data.
fn serving_data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/serving");
    assert!(
        p.is_dir(),
        "the shared serving data is missing: expected {} (CI checks out ../shared beside the repo)",
        p.display()
    );
    p.canonicalize().expect("canonical data path")
}

/// Runs `skua simulate <args> --data <shared> --json <tmp>`, asserts success and returns the JSON.
fn simulate_json(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let data = serving_data();
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    all.extend([
        "--data",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = run(&all);
    assert!(out.status.success(), "{all:?} failed:\n{}", text(&out));
    serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("valid JSON")
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {x}"))
}

#[test]
fn azure_run_conserves_requests_and_reports_latency() {
    let j = simulate_json(&["run", "--trace", "azure", "--take", "2000"]);
    let s = &j["summary"];
    assert_eq!(num(s, &["offered"]), 2000.0);
    assert_eq!(
        num(s, &["finished"]) + num(s, &["rejected"]) + num(s, &["unfinished"]),
        2000.0,
        "{s}"
    );
    assert_eq!(
        j["conservation"]["ok"],
        Value::Bool(true),
        "{}",
        j["conservation"]
    );
    assert!(num(s, &["ttft_ms", "p50"]) > 0.0, "{s}");
    assert!(
        num(s, &["ttft_ms", "p50"]) <= num(s, &["ttft_ms", "p99"]),
        "{s}"
    );
    let attainment = num(s, &["slo_attainment"]);
    assert!((0.0..=1.0).contains(&attainment), "{attainment}");
    // The protocol's default cluster for the Azure trace: 8 mixed instances of OPT-13B.
    assert_eq!(j["cluster"]["profile"], "opt-13b:tp1@a100");
    assert_eq!(j["instances"].as_array().map(Vec::len), Some(8));
    assert!(
        j.get("requests").is_none(),
        "per-request rows need --per-request"
    );
}

#[test]
fn four_times_the_arrival_rate_does_not_lower_ttft_p99() {
    let base = simulate_json(&["run", "--trace", "azure", "--take", "2000"]);
    let fast = simulate_json(&[
        "run",
        "--trace",
        "azure",
        "--take",
        "2000",
        "--speedup",
        "4",
    ]);
    // The same requests, arrivals compressed fourfold.
    let rate = |j: &Value| num(j, &["workload", "stats", "mean_rate_per_s"]);
    assert!((rate(&fast) / rate(&base) - 4.0).abs() < 1e-9);
    let p99 = |j: &Value| num(j, &["summary", "ttft_ms", "p99"]);
    assert!(
        p99(&fast) >= p99(&base),
        "TTFT p99 at 4×: {} ms, at 1×: {} ms",
        p99(&fast),
        p99(&base)
    );
}

#[test]
fn disaggregated_cluster_has_its_roles_and_moves_kv() {
    let j = simulate_json(&["run", "--trace", "azure", "--take", "300", "--pd", "2:6"]);
    let roles: Vec<&str> = j["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["role"].as_str().expect("role"))
        .collect();
    assert_eq!(
        roles,
        [
            "prefill", "prefill", "decode", "decode", "decode", "decode", "decode", "decode"
        ]
    );
    assert_eq!(j["cluster"]["router"], "pd_pair");
    // Every request with more than one output token decodes on another instance.
    assert!(num(&j, &["summary", "kv_transfers"]) > 0.0);
    assert_eq!(j["conservation"]["ok"], Value::Bool(true));
}

#[test]
fn per_request_rows_agree_with_the_summary() {
    let j = simulate_json(&["run", "--trace", "azure", "--take", "300", "--per-request"]);
    let rows = j["requests"].as_array().expect("per-request rows");
    assert_eq!(rows.len(), 300);
    let finished = rows.iter().filter(|r| r["status"] == "finished").count();
    assert_eq!(finished as f64, num(&j, &["summary", "finished"]));
    let met = rows
        .iter()
        .filter(|r| r["slo_met"] == Value::Bool(true))
        .count();
    let attainment = num(&j, &["summary", "slo_attainment"]);
    assert!(
        (met as f64 / 300.0 - attainment).abs() < 1e-12,
        "{met} vs {attainment}"
    );
}

#[test]
fn a_catalog_policy_sets_roles_controller_and_staleness() {
    let j = simulate_json(&[
        "run", "--trace", "azure", "--take", "300", "--router", "skua_pd",
    ]);
    let prefill = j["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter(|i| i["role"] == "prefill")
        .count();
    // skua_pd starts at 1:1 on the 8 default instances (roles reported at the end may differ
    // after flips, but the cluster line reports the starting split).
    assert_eq!(num(&j, &["cluster", "prefill"]), 4.0);
    assert_eq!(num(&j, &["cluster", "decode"]), 4.0);
    assert!((1..=7).contains(&prefill), "{prefill}");
    assert_eq!(j["cluster"]["router"], "skua_pd");
    assert_eq!(j["cluster"]["controller"], "skua_flow");
    assert_eq!(j["conservation"]["ok"], Value::Bool(true));
    let pstack = simulate_json(&[
        "run",
        "--trace",
        "azure",
        "--take",
        "100",
        "--router",
        "production_stack_loadaware",
    ]);
    assert_eq!(num(&pstack, &["cluster", "staleness_ms"]), 30_000.0);
}

#[test]
fn an_unknown_policy_is_a_usage_error_that_lists_the_known_ones() {
    let out = run(&["simulate", "run", "--trace", "azure", "--router", "bogus"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(msg.contains("bogus") && msg.contains("dynamo_kv"), "{msg}");
}

#[test]
fn bad_pd_is_a_usage_error() {
    let out = run(&["simulate", "run", "--trace", "azure", "--pd", "0:x"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(msg.contains("--pd") && msg.contains("P:D"), "{msg}");
}

#[test]
fn malformed_trace_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write(
        dir.path(),
        "broken.csv",
        b"TIMESTAMP,ContextTokens,GeneratedTokens\n\
          2023-11-16 18:15:46.6805900,374,44\n\
          2023-11-16 18:15:47.0000000,lots,44\n\
          2023-11-16 18:15:48.0000000,91,16\n",
    );
    let data = serving_data();
    let out = run(&[
        "simulate",
        "run",
        "--trace",
        &trace,
        "--data",
        data.to_str().unwrap(),
    ]);
    let msg = text(&out);
    // Refused input, as for `skua ingest` of a bad file: exit code 3.
    assert_eq!(out.status.code(), Some(3), "{msg}");
    assert!(msg.contains("broken.csv:3"), "{msg}");
    assert!(msg.contains("lots"), "{msg}");
}

#[test]
fn missing_data_folder_says_where_it_looked_and_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-serving-data");
    let out = run(&[
        "simulate",
        "run",
        "--trace",
        "azure",
        "--data",
        missing.to_str().unwrap(),
    ]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("no-serving-data"), "{msg}");
    assert!(
        msg.contains("--data") && msg.contains("SKUA_SERVING_DATA"),
        "{msg}"
    );
}

#[test]
fn profiles_lists_the_default() {
    let out = run(&["simulate", "profiles"]);
    let msg = text(&out);
    assert!(out.status.success(), "{msg}");
    assert!(
        msg.contains("opt-13b:tp1@a100") && msg.contains("(default)"),
        "{msg}"
    );
    assert!(msg.contains("llama2-70b:tp4@a100"), "{msg}");
}

#[test]
fn fidelity_replays_every_measured_run() {
    let j = simulate_json(&["fidelity"]);
    let runs = j["runs"].as_array().expect("runs");
    // DistServe's alignment data: 37 CSV files.
    assert_eq!(runs.len(), 37);
    let systems: BTreeSet<&str> = runs
        .iter()
        .map(|r| r["system"].as_str().expect("system"))
        .collect();
    let knee_systems: BTreeSet<&str> = j["knees"]
        .as_array()
        .expect("knees")
        .iter()
        .map(|k| k["system"].as_str().expect("system"))
        .collect();
    assert_eq!(knee_systems, systems, "one knee per system");
    for s in ["vllm", "distserve-c21d11", "distserve-c21d12"] {
        assert!(systems.contains(s), "{s} missing from {systems:?}");
    }
    for r in runs {
        assert!(num(r, &["requests"]) > 0.0, "{r}");
        assert!(num(r, &["simulated_ttft_p50_ms"]) > 0.0, "{r}");
    }
    // Every other run of each system tunes the calibration; the rest are held out.
    let tuning = runs
        .iter()
        .filter(|r| r["tuning"] == Value::Bool(true))
        .count();
    assert!(tuning > 0 && tuning < 37, "{tuning} tuning runs");
    assert_eq!(j["calibration"]["calibrated"], Value::Bool(true));
    let h = &j["headline"];
    assert_eq!(num(h, &["runs"]), 37.0);
    assert_eq!(num(h, &["error_bar"]), 0.15);
    for set in ["all", "held_out"] {
        let met = num(h, &[set, "ttft_p50_median_abs_error"]) <= 0.15
            && num(h, &[set, "tpot_p50_median_abs_error"]) <= 0.15;
        assert_eq!(h[set]["met"], Value::Bool(met), "{set}: {}", h[set]);
    }
    assert!(num(h, &["held_out", "runs_below_knee"]) < num(h, &["all", "runs_below_knee"]));

    // Uncalibrated: the published profiles, factors of exactly 1.
    let raw = simulate_json(&["fidelity", "--uncalibrated"]);
    assert_eq!(raw["calibration"]["calibrated"], Value::Bool(false));
    for engine in ["vllm", "distserve"] {
        for part in ["prefill", "decode"] {
            assert_eq!(num(&raw, &["calibration", engine, part]), 1.0);
        }
    }
    assert_eq!(raw["runs"].as_array().map(Vec::len), Some(37));
}
