//! The workload module on the real traces in `../shared/data/serving` and on the hand-made
//! BurstGPT fixtures in `tests/fixtures`.

use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use skua_serving::workload::{
    ArrivalFamily, BurstGptOptions, Request, ServeGenClient, ServeGenOptions, ShapeSource,
    Workload, WorkloadError, load_azure, load_burstgpt, load_mooncake, read_azure, read_mooncake,
};

fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/serving")
        .join(rel);
    assert!(
        p.exists(),
        "shared data missing: {} (the serving data set must be at ../shared/data/serving)",
        p.display()
    );
    p
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn azure_path() -> PathBuf {
    data("azure_llm_2023/AzureLLMInferenceTrace_conv.csv")
}

fn mooncake_path() -> PathBuf {
    data("mooncake/conversation_trace.jsonl")
}

fn read_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

fn assert_sorted_dense(w: &Workload) {
    assert!(
        w.requests
            .windows(2)
            .all(|p| p[0].arrival_s <= p[1].arrival_s)
    );
    assert!(w.requests.iter().enumerate().all(|(i, r)| r.id == i as u64));
    assert!(
        w.requests
            .iter()
            .all(|r| r.input_tokens >= 1 && r.output_tokens >= 1)
    );
}

// ---------------------------------------------------------------- Azure

#[test]
fn azure_conv_matches_the_published_description() {
    let (w, report) = load_azure(azure_path()).expect("the Azure trace loads");
    assert_sorted_dense(&w);
    let s = w.stats();
    // README: 19,366 conversation requests over ~58 minutes (5.5 req/s).
    assert_eq!(s.count, 19_366);
    assert!(
        (57.0..59.0).contains(&(s.duration_s / 60.0)),
        "{} min",
        s.duration_s / 60.0
    );
    assert!(
        (5.4..5.7).contains(&s.mean_rate_per_s),
        "{} req/s",
        s.mean_rate_per_s
    );
    assert_eq!(report.rows, 19_366);
    assert_eq!(report.unsorted_rows, 0);
    // Rows 2 and 3 of the file: 18:15:46.6805900 and 18:15:50.9951690, 374 and 396 tokens.
    assert_eq!(w.requests[0].arrival_s, 0.0);
    assert_eq!(
        (w.requests[0].input_tokens, w.requests[0].output_tokens),
        (374, 44)
    );
    assert!((w.requests[1].arrival_s - 4.314_579).abs() < 1e-9);
    assert_eq!(w.name, "AzureLLMInferenceTrace_conv");
}

#[test]
fn azure_gzip_loads_like_plain_text() {
    let text = read_text(&azure_path());
    let head: String = text.lines().take(200).map(|l| format!("{l}\n")).collect();
    let (plain, _) = read_azure(head.as_bytes(), "head").expect("plain");
    let (zipped, _) = read_azure(gzip(head.as_bytes()).as_slice(), "head").expect("gzip");
    assert_eq!(plain, zipped);
    assert_eq!(plain.requests.len(), 199);

    let path = std::env::temp_dir().join(format!("skua-azure-head-{}.csv.gz", std::process::id()));
    std::fs::write(&path, gzip(head.as_bytes())).expect("temp file");
    let loaded = load_azure(&path);
    let _ = std::fs::remove_file(&path);
    let (from_file, _) = loaded.expect("gzip file");
    assert_eq!(from_file.requests, plain.requests);
    assert!(
        from_file.name.starts_with("skua-azure-head"),
        "{}",
        from_file.name
    );
}

/// The first `n` lines of `text`, with line `line` (1-based) replaced by `f(line)`.
fn edit_line(text: &str, n: usize, line: usize, f: impl Fn(&str) -> String) -> String {
    text.lines()
        .take(n)
        .enumerate()
        .map(|(i, l)| if i + 1 == line { f(l) } else { l.to_owned() } + "\n")
        .collect()
}

#[test]
fn azure_errors_name_the_line() {
    let text = read_text(&azure_path());
    // Line 6 with a letter in ContextTokens.
    let bad_number = edit_line(&text, 10, 6, |l| {
        let mut f: Vec<String> = l.split(',').map(str::to_owned).collect();
        f[1] = format!("{}x", f[1]);
        f.join(",")
    });
    let err = read_azure(bad_number.as_bytes(), "conv.csv").expect_err("bad number");
    assert!(
        matches!(err, WorkloadError::Parse { line: 6, ref column, .. } if column == "ContextTokens"),
        "{err}"
    );
    assert!(err.to_string().starts_with("conv.csv:6:"), "{err}");

    // Line 9 with an impossible date.
    let bad_time = edit_line(&text, 10, 9, |l| l.replacen("2023-11-16", "2023-11-31", 1));
    let err = read_azure(bad_time.as_bytes(), "conv.csv").expect_err("bad timestamp");
    assert!(
        matches!(err, WorkloadError::Parse { line: 9, ref column, .. } if column == "TIMESTAMP"),
        "{err}"
    );

    // No GeneratedTokens column.
    let no_column = edit_line(&text, 5, 1, |_| "TIMESTAMP,ContextTokens,Tokens".into());
    let err = read_azure(no_column.as_bytes(), "conv.csv").expect_err("missing column");
    assert!(
        matches!(err, WorkloadError::MissingColumn { ref column, .. } if column == "GeneratedTokens")
    );
}

// ---------------------------------------------------------------- Mooncake

#[test]
fn mooncake_conversation_matches_the_published_description() {
    let (w, report) = load_mooncake(mooncake_path()).expect("the Mooncake trace loads");
    assert_sorted_dense(&w);
    assert_eq!(w.block_tokens, 512);
    let s = w.stats();
    // README.upstream.md: 12,031 requests, average input 12,035 and output 343 tokens,
    // sampled from one hour (the data README says ~59 minutes).
    assert_eq!(s.count, 12_031);
    assert!((s.input.mean - 12_035.0).abs() < 1.0, "{}", s.input.mean);
    assert!((s.output.mean - 343.0).abs() < 1.0, "{}", s.output.mean);
    assert!(
        (58.0..60.0).contains(&(s.duration_s / 60.0)),
        "{} min",
        s.duration_s / 60.0
    );
    // The data README says "~37 %" of prompt tokens are reusable prefixes. The band allows
    // for its rounding and for definitions that count a partial last block as a whole one.
    assert!(
        (0.35..0.39).contains(&s.prefix_reuse_share),
        "{}",
        s.prefix_reuse_share
    );
    assert_eq!(
        (report.rows, report.blank_lines, report.unsorted_rows),
        (12_031, 0, 0)
    );
    // Every request carries ceil(input / 512) block ids, as the format says.
    assert!(
        w.requests
            .iter()
            .all(|r| r.prefix_blocks.len() == (r.input_tokens as usize).div_ceil(512))
    );
}

#[test]
fn mooncake_errors_name_the_line_and_blank_lines_are_skipped() {
    let text = read_text(&mooncake_path());
    let with_blanks = edit_line(&text, 20, 5, |l| format!("\n   {l}"));
    let (w, report) = read_mooncake(with_blanks.as_bytes(), "m").expect("blank lines are fine");
    assert_eq!((w.requests.len(), report.blank_lines), (20, 1));

    let bad_json = edit_line(&text, 20, 4, |l| {
        l.replacen(", \"output_length\"", " \"output_length\"", 1)
    });
    let err = read_mooncake(bad_json.as_bytes(), "conv.jsonl").expect_err("bad JSON");
    assert!(
        matches!(err, WorkloadError::Malformed { line: 4, .. }),
        "{err}"
    );
    assert!(err.to_string().starts_with("conv.jsonl:4:"), "{err}");

    let missing = edit_line(&text, 20, 7, |_| {
        "{\"timestamp\": 5, \"input_length\": 3}".into()
    });
    let err = read_mooncake(missing.as_bytes(), "m").expect_err("missing field");
    assert!(
        matches!(err, WorkloadError::MissingField { line: 7, ref field, .. } if field == "output_length")
    );

    let bad_number = edit_line(&text, 20, 11, |l| {
        l.replacen("\"input_length\": ", "\"input_length\": -", 1)
    });
    let err = read_mooncake(bad_number.as_bytes(), "m").expect_err("negative length");
    assert!(
        matches!(err, WorkloadError::Parse { line: 11, ref column, .. } if column == "input_length")
    );
}

// ---------------------------------------------------------------- BurstGPT

#[test]
fn burstgpt_v1_layout_with_filters() {
    let (w, r) =
        load_burstgpt(fixture("burstgpt_v1.csv"), &BurstGptOptions::default()).expect("v1");
    assert_sorted_dense(&w);
    // 12 rows: 2 failures clamped, 1 empty prompt clamped, the row at t=30 follows t=33.
    assert_eq!((r.rows, r.kept), (12, 12));
    assert_eq!(
        (r.zero_output_clamped, r.zero_input_clamped, r.unsorted_rows),
        (2, 1, 1)
    );
    assert_eq!(w.stats().duration_s, 91.0);

    let gpt4 = BurstGptOptions {
        model: Some("gpt-4".into()),
        drop_failed: true,
    };
    let (w, r) = load_burstgpt(fixture("burstgpt_v1.csv"), &gpt4).expect("v1 GPT-4");
    // GPT-4 rows at 20, 30, 58 (failed) and 80; re-based to 20.
    let times: Vec<f64> = w.requests.iter().map(|q| q.arrival_s).collect();
    assert_eq!(times, vec![0.0, 10.0, 60.0]);
    assert_eq!(
        (r.filtered_model, r.dropped_failed, r.zero_output_clamped),
        (8, 1, 0)
    );
}

#[test]
fn burstgpt_v2_layout_loads_by_header_name() {
    let opts = BurstGptOptions {
        model: Some("ChatGPT".into()),
        drop_failed: true,
    };
    let (w, r) = load_burstgpt(fixture("burstgpt_v2.csv"), &opts).expect("v2");
    assert_sorted_dense(&w);
    // 8 ChatGPT rows, one of them failed.
    assert_eq!(
        (r.rows, r.kept, r.filtered_model, r.dropped_failed),
        (12, 7, 4, 1)
    );
    assert_eq!(w.requests[0].input_tokens, 512);
    assert!(
        (w.requests[6].arrival_s - 44.0).abs() < 1e-9,
        "{}",
        w.requests[6].arrival_s
    );
    // Among the kept ChatGPT rows time only moves forward; with every row, 19440113.9
    // comes after 19440115.2.
    assert_eq!(r.unsorted_rows, 0);
    let (all, r) =
        load_burstgpt(fixture("burstgpt_v2.csv"), &BurstGptOptions::default()).expect("v2");
    assert_eq!(
        (all.requests.len(), r.unsorted_rows, r.zero_output_clamped),
        (12, 1, 2)
    );
    // The sort is stable: the two rows at 19440107.0 keep their file order.
    assert_eq!(
        (all.requests[2].input_tokens, all.requests[3].input_tokens),
        (1433, 77)
    );
}

// ---------------------------------------------------------------- ServeGen

fn m_large() -> ServeGenClient {
    ServeGenClient::load_chunk(data("servegen_sample/data/language/m-large"), 0)
        .expect("m-large loads")
}

fn deepseek() -> ServeGenClient {
    ServeGenClient::load_chunk(data("servegen_sample/data/reason/deepseek-r1"), 0)
        .expect("deepseek-r1 loads")
}

/// Sample CV of the gaps between consecutive arrivals.
fn gap_cv(times: &[f64]) -> f64 {
    let gaps: Vec<f64> = times.windows(2).map(|p| p[1] - p[0]).collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() / mean
}

/// Arrival times per trace window of `w` (which starts at trace time 0).
fn per_window(w: &Workload, client: &ServeGenClient) -> Vec<Vec<f64>> {
    let mut out = vec![Vec::new(); client.windows().len()];
    for r in &w.requests {
        let i = client
            .windows()
            .partition_point(|x| x.start_s <= r.arrival_s)
            - 1;
        out[i].push(r.arrival_s);
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn servegen_counts_match_each_windows_rate() {
    let client = deepseek();
    let w = client
        .generate(&ServeGenOptions::default())
        .expect("generates");
    assert_sorted_dense(&w);
    let windows = per_window(&w, &client);
    for (win, times) in client.windows().iter().zip(&windows) {
        // The trace's rate is a count over 600 s; the generator reproduces it.
        let expected = win.rate * client.window_len_s(0);
        assert!(
            (times.len() as f64 - expected).abs() < 1.0,
            "line {}: {} vs {expected}",
            win.line,
            times.len()
        );
    }
    let total: f64 = client.windows().iter().map(|x| x.rate * 600.0).sum();
    assert!((w.requests.len() as f64 - total).abs() < 1.0);
}

#[test]
fn servegen_gamma_windows_match_cv_within_sampling_error() {
    let client = deepseek();
    let w = client
        .generate(&ServeGenOptions {
            seed: 11,
            ..Default::default()
        })
        .expect("generates");
    let windows = per_window(&w, &client);
    let mut checked = 0;
    for (win, times) in client.windows().iter().zip(&windows) {
        if win.family != Some(ArrivalFamily::Gamma) || win.cv > 3.0 || times.len() < 50 {
            continue;
        }
        // Delta-method standard error of a sample CV for Gamma gaps: c·√((1+c²)/(2n)).
        let c = win.cv;
        let n = (times.len() - 1) as f64;
        let se = c * ((1.0 + c * c) / (2.0 * n)).sqrt();
        let got = gap_cv(times);
        assert!(
            (got - c).abs() < 4.0 * se,
            "line {}: cv {got} vs {c} (se {se})",
            win.line
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} windows checked");
}

#[test]
fn servegen_heavy_tailed_windows_match_cv_and_fitted_weibull_does_not() {
    let client = m_large();
    let day = |shape| ServeGenOptions {
        duration_s: Some(86_400.0),
        rate_scale: 20.0,
        seed: 5,
        shape,
        ..Default::default()
    };
    let ratios = |shape: ShapeSource, family: ArrivalFamily| {
        let w = client.generate(&day(shape)).expect("generates");
        let windows = per_window(&w, &client);
        let r: Vec<f64> = client
            .windows()
            .iter()
            .zip(&windows)
            .filter(|(win, t)| win.family == Some(family) && t.len() > 100)
            .map(|(win, t)| gap_cv(t) / win.cv)
            .collect();
        assert!(r.len() >= 15, "{family:?}: {} windows", r.len());
        median(r)
    };
    // With 20x the rate (≥ 5,000 gaps per window) the sample CV of Gamma gaps is close to
    // its population value. Weibull gaps with CV 5-19 have enormous kurtosis, so even at
    // this size their sample CV stays biased low: an independent NumPy simulation of the
    // same windows gives a median ratio of 0.87.
    let gamma = ratios(ShapeSource::MatchCv, ArrivalFamily::Gamma);
    assert!((0.9..1.1).contains(&gamma), "Gamma median CV ratio {gamma}");
    let weibull = ratios(ShapeSource::MatchCv, ArrivalFamily::Weibull);
    assert!(
        (0.75..1.1).contains(&weibull),
        "Weibull median CV ratio {weibull}"
    );
    // ServeGen's own Weibull shapes are maximum-likelihood fits whose CV is 0.27-0.61 of the
    // observed one (computed from the file with the Weibull CV formula).
    let fitted = ratios(ShapeSource::Fitted, ArrivalFamily::Weibull);
    assert!(fitted < 0.6, "fitted Weibull median CV ratio {fitted}");
}

#[test]
fn servegen_is_deterministic_per_seed_and_range_consistent() {
    let client = m_large();
    let opts = |seed, start_s, duration_s| ServeGenOptions {
        seed,
        start_s,
        duration_s: Some(duration_s),
        ..Default::default()
    };
    let a = client.generate(&opts(1, 0.0, 7_200.0)).expect("generates");
    let b = client.generate(&opts(1, 0.0, 7_200.0)).expect("generates");
    let c = client.generate(&opts(2, 0.0, 7_200.0)).expect("generates");
    assert_eq!(a, b);
    assert_ne!(a.requests, c.requests);
    let part = client
        .generate(&opts(1, 3_000.0, 1_500.0))
        .expect("generates");
    assert_eq!(
        part.requests,
        a.slice(3_000.0, 4_500.0).expect("valid").requests
    );
    assert!(!part.requests.is_empty());
}

/// Mean and standard deviation of a dict-literal distribution, parsed here independently of
/// the library: strip the braces, split on commas and colons.
fn dict_moments(literal: &str) -> (f64, f64) {
    let pairs: Vec<(f64, f64)> = literal
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once(':').expect("key: value");
            (
                k.trim().parse().expect("key"),
                v.trim().parse().expect("probability"),
            )
        })
        .collect();
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let mean = pairs.iter().map(|(k, p)| k * p).sum::<f64>() / total;
    let var = pairs
        .iter()
        .map(|(k, p)| (k - mean).powi(2) * p)
        .sum::<f64>()
        / total;
    (mean, var.sqrt())
}

#[test]
fn servegen_token_lengths_follow_the_windows_distribution() {
    let dataset: serde_json::Value = serde_json::from_str(&read_text(&data(
        "servegen_sample/data/language/m-large/chunk-0-dataset.json",
    )))
    .expect("JSON");
    let w = m_large()
        .generate(&ServeGenOptions {
            duration_s: Some(21_600.0),
            seed: 3,
            ..Default::default()
        })
        .expect("generates");
    let n = w.requests.len() as f64;
    assert!(n > 5_000.0, "{n}");
    for (field, get) in [
        (
            "input_tokens",
            (|r: &Request| r.input_tokens) as fn(&Request) -> u32,
        ),
        ("output_tokens", |r: &Request| r.output_tokens),
    ] {
        let (mean, sd) = dict_moments(dataset["0"][field].as_str().expect("a string"));
        let got = w.requests.iter().map(|r| f64::from(get(r))).sum::<f64>() / n;
        assert!(
            (got - mean).abs() < 5.0 * sd / n.sqrt(),
            "{field}: {got} vs {mean}"
        );
    }
}

/// The token-count keys of a dict-literal distribution.
fn dict_keys(literal: &str) -> Vec<u32> {
    literal
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|kv| {
            kv.split(':')
                .next()
                .expect("key")
                .trim()
                .parse()
                .expect("integer key")
        })
        .collect()
}

#[test]
fn servegen_missing_distributions_fall_back_to_the_nearest_window() {
    let dir = data("servegen_sample/data/reason/deepseek-r1");
    let client = deepseek();
    // The dataset has windows 0 and 21600 with distributions; 43200 and 64800 are empty.
    assert_eq!(
        client.token_source(50_000.0),
        (Some(21_600.0), Some(21_600.0))
    );
    assert_eq!(client.token_source(100.0), (Some(0.0), Some(0.0)));

    // All traffic of this client is before 23400 s, so empty window "0"'s input distribution
    // to see the fallback at work: window 21600 then serves every prompt.
    let mut dataset: serde_json::Value =
        serde_json::from_str(&read_text(&dir.join("chunk-0-dataset.json"))).expect("JSON");
    let allowed = dict_keys(dataset["21600"]["input_tokens"].as_str().expect("a string"));
    let own = dict_keys(dataset["0"]["input_tokens"].as_str().expect("a string"));
    dataset["0"]["input_tokens"] = serde_json::Value::String("{}".into());
    let trace = read_text(&dir.join("chunk-0-trace.csv"));
    let edited =
        ServeGenClient::from_readers(trace.as_bytes(), dataset.to_string().as_bytes(), "edited")
            .expect("edited client");
    assert_eq!(edited.token_source(100.0), (Some(21_600.0), Some(0.0)));
    let w = edited
        .generate(&ServeGenOptions::default())
        .expect("generates");
    let early: Vec<&Request> = w
        .requests
        .iter()
        .filter(|r| r.arrival_s < 21_600.0)
        .collect();
    assert!(early.len() > 1_000, "{}", early.len());
    assert!(early.iter().all(|r| allowed.contains(&r.input_tokens)));
    // Window 0's own distribution would give lengths that 21600's never does.
    assert!(own.iter().any(|k| !allowed.contains(k)));
}

// ---------------------------------------------------------------- Transforms

fn arbitrary_workload() -> impl Strategy<Value = Workload> {
    prop::collection::vec((0.0f64..1_000.0, 1u32..5_000), 0..200).prop_map(|mut rows| {
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        Workload {
            name: "p".into(),
            block_tokens: 1,
            requests: rows
                .into_iter()
                .enumerate()
                .map(|(i, (t, len))| Request {
                    id: i as u64,
                    arrival_s: t,
                    input_tokens: len,
                    output_tokens: 1,
                    prefix_blocks: Vec::new(),
                })
                .collect(),
        }
    })
}

proptest! {
    #[test]
    fn slice_keeps_exactly_the_range_in_order(
        w in arbitrary_workload(),
        a in 0.0f64..1_000.0,
        len in 0.0f64..600.0,
    ) {
        let b = a + len;
        let s = w.slice(a, b).expect("valid range");
        let expected: Vec<&Request> = w.requests.iter().filter(|r| r.arrival_s >= a && r.arrival_s < b).collect();
        prop_assert_eq!(s.requests.len(), expected.len());
        for (got, want) in s.requests.iter().zip(&expected) {
            prop_assert_eq!(got.input_tokens, want.input_tokens);
            prop_assert!((got.arrival_s - (want.arrival_s - a)).abs() < 1e-9);
            prop_assert!(got.arrival_s >= 0.0 && got.arrival_s < len + 1e-9);
        }
        assert_sorted_dense(&s);
    }

    #[test]
    fn speed_up_scales_time_and_keeps_everything_else(
        w in arbitrary_workload(),
        factor in 0.01f64..100.0,
    ) {
        let f = w.speed_up(factor).expect("valid factor");
        prop_assert_eq!(f.requests.len(), w.requests.len());
        assert_sorted_dense(&f);
        for (x, y) in f.requests.iter().zip(&w.requests) {
            prop_assert_eq!(x.input_tokens, y.input_tokens);
            prop_assert!((x.arrival_s * factor - y.arrival_s).abs() <= 1e-9 * y.arrival_s.max(1.0));
        }
        let (ds, dw) = (f.stats().duration_s, w.stats().duration_s);
        prop_assert!((ds * factor - dw).abs() <= 1e-9 * dw.max(1.0));
    }
}
