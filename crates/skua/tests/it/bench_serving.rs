//! `skua bench serving`: the real binary on the shared Azure trace (../shared/data/serving) and
//! on hand-made bad input.

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

fn finite(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x.is_finite(), "{what} = {x}");
    x
}

#[test]
fn two_policies_on_the_azure_trace_give_finite_figures_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let html = dir.path().join("out.html");
    let data = serving_data();
    let out = run(&[
        "bench",
        "serving",
        "--trace",
        "azure",
        "--take",
        "300",
        "--policies",
        "round_robin,least_outstanding",
        "--speedups",
        "1,2",
        "--data",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("skua vs best baseline"), "{printed}");
    let j: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("valid JSON");
    let traces = j["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 1);
    let t = &traces[0];
    assert_eq!(t["info"]["requests"], 300);
    assert_eq!(t["info"]["cluster"]["profile"], "opt-13b:tp1@a100");
    assert_eq!(t["info"]["cluster"]["instances"], 8);
    let policies = t["policies"].as_array().expect("policies");
    let names: Vec<&str> = policies.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["round_robin", "least_outstanding"]);
    for p in policies {
        let att = p["attainment"].as_array().expect("attainment per speed-up");
        let scales: Vec<f64> = att.iter().map(|a| finite(&a["scale"], "scale")).collect();
        assert_eq!(scales, [1.0, 2.0]);
        for a in att {
            let x = finite(&a["attainment"], "attainment");
            assert!((0.0..=1.0).contains(&x), "{x}");
        }
        let g = &p["goodput"];
        assert!(finite(&g["scale"], "goodput scale") >= 0.0);
        assert!(finite(&g["req_per_s"], "goodput req/s") >= 0.0);
        let b = &p["at_1"];
        assert_eq!(b["offered"], 300);
        for k in ["ttft_ms", "tpot_ms"] {
            let (p50, p99) = (finite(&b[k]["p50"], "p50"), finite(&b[k]["p99"], "p99"));
            assert!(0.0 < p50 && p50 <= p99, "{k}: {p50} {p99}");
        }
        assert!(finite(&b["makespan_s"], "makespan") > 0.0);
        assert_eq!(b["utilisation"].as_array().map(Vec::len), Some(8));
        assert!(finite(&p["staleness_ms"], "staleness") >= 0.0);
    }
    let page = std::fs::read_to_string(&html).expect("HTML written");
    assert!(page.contains("<svg") && page.contains("least_outstanding"));
    assert!(
        !page.contains("<script") && !page.contains("http://cdn") && !page.contains("https://")
    );
}

#[test]
fn an_unknown_policy_is_a_usage_error_naming_the_known_ones() {
    let out = run(&["bench", "serving", "--policies", "round_robin,nope"]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("unknown policy `nope`") && msg.contains("least_outstanding"),
        "{msg}"
    );
}

#[test]
fn a_bad_trace_line_is_refused_input_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("azure_llm_2023")).unwrap();
    write(
        &dir.path().join("azure_llm_2023"),
        "AzureLLMInferenceTrace_conv.csv",
        b"TIMESTAMP,ContextTokens,GeneratedTokens\n\
          2023-11-16 18:15:46.6805900,374,44\n\
          2023-11-16 18:15:50.9951690,not-a-number,23\n",
    );
    let out = run(&[
        "bench",
        "serving",
        "--trace",
        "azure",
        "--policies",
        "round_robin",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(3), "{msg}");
    assert!(msg.contains("AzureLLMInferenceTrace_conv.csv:3"), "{msg}");
    // A missing data folder is an error (1) that says how to point skua at it.
    let out = run(&[
        "bench",
        "serving",
        "--policies",
        "round_robin",
        "--data",
        dir.path().join("nowhere").to_str().unwrap(),
    ]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("SKUA_SERVING_DATA"), "{msg}");
}
