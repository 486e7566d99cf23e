//! The simulator against DistServe's 37 measured runs (`distserve_ground_truth/csv`).

use std::path::PathBuf;

use skua_serving::fidelity::{ReplayConfig, System, read_runs, study};

fn serving_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/serving");
    assert!(
        dir.join("distserve_ground_truth/csv").is_dir(),
        "the shared serving data is missing at {}: the fidelity tests need ../shared/data",
        dir.display()
    );
    dir
}

#[test]
fn all_37_runs_load_with_their_systems() {
    let runs = read_runs(&serving_dir().join("distserve_ground_truth/csv")).unwrap();
    assert_eq!(runs.len(), 37);
    let vllm = runs.iter().filter(|r| r.system == System::Vllm).count();
    assert_eq!(vllm, 8);
    for r in &runs {
        // The file name's request count is what was sent; a few may be missing from a log.
        assert!(r.requests.len() as u32 <= r.requests_sent, "{}", r.name);
        assert!(
            r.requests.len() as f64 >= 0.9 * f64::from(r.requests_sent),
            "{}",
            r.name
        );
    }
}

#[test]
fn the_simulator_matches_the_measured_runs_below_the_knee() {
    let dir = serving_dir();
    let report = study(
        &dir.join("distserve_ground_truth/csv"),
        &ReplayConfig::new(&dir),
    )
    .unwrap();
    assert_eq!(report.rows.len(), 37);
    let (ttft, tpot) = report.errors_all;
    let (ttft_held, tpot_held) = report.errors_held_out;
    eprintln!(
        "calibration {:?}; median |error| TTFT p50 {ttft:.3} TPOT p50 {tpot:.3}; \
         held out {ttft_held:.3} / {tpot_held:.3}; knees {:?}",
        report.calibration, report.knees
    );
    // The bar: within 15 % on runs below the knee — on the held-out runs too.
    for e in [ttft, tpot, ttft_held, tpot_held] {
        assert!(
            e.is_finite() && e <= 0.15,
            "median |error| {e:.3} above 15 %"
        );
    }
    // Every system reaches its knee within ±0.5 req/s of the measured one.
    assert_eq!(report.knees.len(), 3, "{:?}", report.knees);
    for k in &report.knees {
        let (real, sim) = (k.real.unwrap(), k.sim.unwrap());
        assert!(
            (real - sim).abs() <= 0.5,
            "{}: knee {sim:.2} vs measured {real:.2}",
            k.system
        );
    }
}
