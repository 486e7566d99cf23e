//! Synthetic reports for the tests and the `sample_report` example (which includes this file).
//! Deterministic: a tiny xorshift generator with a fixed seed, no external crates.

#![allow(dead_code)]

use skua_core::TimeWindow;
use skua_core::window::rolling_means;
use skua_report::{
    ClassRow, CoverageStrip, EvaluationSection, FileRow, GapRow, PolicyKind, PolicyRow,
    RegretSamples, Report, ScheduleRow, SeriesRow, SeriesStatus, ServerPanel, ValidationSection,
};

/// 2013-08-12T00:00:00Z, a Monday inside the Bitbrains trace period.
pub const BASE: i64 = 1_376_265_600;
const DAY: i64 = 86_400;

/// Deterministic pseudo-random numbers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of uniforms).
    pub fn n(&mut self) -> f64 {
        (0..6).map(|_| self.f()).sum::<f64>() - 3.0
    }
}

/// A daily load profile with a trough near `trough_hour`.
fn profile(t: i64, level: f64, amp: f64, trough_hour: f64) -> f64 {
    let hour = (t.rem_euclid(DAY)) as f64 / 3600.0;
    let phase = (hour - trough_hour) / 24.0 * std::f64::consts::TAU;
    level + amp * (1.0 - phase.cos()) / 2.0 + 0.15 * amp * (2.0 * phase).sin().max(0.0)
}

/// The best window of `len` steps in `values`, and the best one not overlapping it.
fn best_windows(values: &[f64], len: usize) -> (usize, Option<usize>) {
    let means = rolling_means(values, len);
    let order = |skip: Option<usize>| {
        means
            .iter()
            .enumerate()
            .filter(|(i, v)| v.is_finite() && skip.is_none_or(|s| i + len <= s || s + len <= *i))
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    };
    let best = order(None).unwrap_or(0);
    (best, order(Some(best)))
}

/// One server panel: `days` of history at `step` seconds, a 24 h forecast, actuals, windows.
pub fn panel(id: &str, seed: u64, step: i64, days: i64, gaps: bool) -> ServerPanel {
    let mut rng = Rng::new(seed);
    let level = 5.0 + 30.0 * rng.f();
    let amp = 10.0 + 40.0 * rng.f();
    let trough = 1.0 + 6.0 * rng.f();
    let n_hist = (days * DAY / step) as usize;
    let n_fc = (DAY / step) as usize;
    let f_start = BASE + days * DAY;
    let mut history: Vec<f64> = (0..n_hist)
        .map(|i| (profile(BASE + i as i64 * step, level, amp, trough) + 3.0 * rng.n()).max(0.0))
        .collect();
    if gaps {
        let a = n_hist / 3;
        let len = (4 * 3600 / step) as usize;
        for v in &mut history[a..a + len] {
            *v = f64::NAN;
        }
    }
    let point: Vec<f64> = (0..n_fc)
        .map(|i| profile(f_start + i as i64 * step, level, amp * 0.95, trough + 0.3))
        .collect();
    let spread: Vec<f64> = (0..n_fc)
        .map(|i| 3.0 + 0.1 * amp * (i as f64 / n_fc as f64))
        .collect();
    let lower = point
        .iter()
        .zip(&spread)
        .map(|(p, s)| (p - s).max(0.0))
        .collect();
    let upper = point.iter().zip(&spread).map(|(p, s)| p + s).collect();
    let actual = (0..n_fc)
        .map(|i| (profile(f_start + i as i64 * step, level, amp, trough) + 3.0 * rng.n()).max(0.0))
        .collect();
    let len = (2 * 3600 / step) as usize;
    let (best, runner) = best_windows(&point, len);
    let win = |i: usize| TimeWindow {
        start: f_start + i as i64 * step,
        end: f_start + (i + len) as i64 * step,
    };
    ServerPanel {
        id: id.to_string(),
        class: Some(
            ["daily", "stable", "weekly", "unpredictable"][(seed % 4) as usize].to_string(),
        ),
        step,
        history_start: BASE,
        history,
        forecast_start: f_start,
        point,
        lower: Some(lower),
        upper: Some(upper),
        actual: Some(actual),
        window: win(best),
        runner_up: runner.map(win),
        caption: String::new(),
    }
}

fn policy(
    name: &str,
    kind: PolicyKind,
    rng: &mut Rng,
    scale: f64,
    n: usize,
) -> (PolicyRow, RegretSamples) {
    let mut v: Vec<f64> = (0..n)
        .map(|_| -scale * (1.0 - rng.f()).ln() * rng.f().sqrt())
        .collect();
    let values = v.clone();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
    let hit = (0.9 - scale / 25.0).clamp(0.05, 0.95);
    (
        PolicyRow {
            name: name.into(),
            kind,
            n,
            median_regret: q(0.5),
            p90_regret: q(0.9),
            mean_regret: v.iter().sum::<f64>() / n as f64,
            median_rel_regret: Some(q(0.5) / 20.0),
            hit_rate: hit,
            exact_hit_rate: hit / 3.0,
            busiest_quarter: (scale / 60.0).min(0.3),
            mae: (kind == PolicyKind::Model).then(|| 2.0 + scale / 2.0),
        },
        RegretSamples {
            policy: name.into(),
            values,
        },
    )
}

/// A whole report: `n_servers` in tables and schedule, the first `n_panels` with panels.
pub fn report(n_servers: usize, n_panels: usize, step: i64) -> Report {
    let mut rng = Rng::new(42);
    let ids: Vec<String> = (0..n_servers).map(|i| format!("vm-{i:03}")).collect();
    let servers: Vec<ServerPanel> = ids
        .iter()
        .take(n_panels)
        .enumerate()
        .map(|(i, id)| panel(id, 1000 + i as u64, step, 3, i % 3 == 1))
        .collect();
    let series: Vec<SeriesRow> = ids
        .iter()
        .map(|id| {
            let r = rng.f();
            let status = if r < 0.04 {
                SeriesStatus::Rejected
            } else if r < 0.25 {
                SeriesStatus::Repaired
            } else {
                SeriesStatus::Accepted
            };
            let coverage = if status == SeriesStatus::Accepted {
                0.97 + 0.03 * rng.f()
            } else {
                0.4 + 0.5 * rng.f()
            };
            let mut issues = Vec::new();
            if status != SeriesStatus::Accepted {
                issues.push(("gap".to_string(), 1 + (rng.f() * 5.0) as usize));
                if rng.f() < 0.4 {
                    issues.push(("duplicate_ts".to_string(), 1 + (rng.f() * 30.0) as usize));
                }
            }
            SeriesRow {
                id: id.clone(),
                interval_secs: 300,
                points: (8640.0 * coverage) as usize,
                coverage,
                gaps: issues.first().map(|i| i.1).unwrap_or(0),
                longest_gap_secs: if status == SeriesStatus::Accepted {
                    600
                } else {
                    86_700
                },
                issues,
                status,
            }
        })
        .collect();
    let coverage: Vec<f64> = (0..30 * 24)
        .map(|h| {
            if (455..480).contains(&h) {
                0.25 + 0.05 * rng.f()
            } else if h == 100 {
                f64::NAN
            } else {
                0.95 + 0.05 * rng.f()
            }
        })
        .collect();
    let n = n_servers.max(1) * 7;
    let specs = [
        ("forecast: mstl", PolicyKind::Model, 2.5),
        ("forecast: seasonal-naive", PolicyKind::Model, 3.5),
        ("fixed 02:00", PolicyKind::Fixed, 7.0),
        ("fixed 00:00", PolicyKind::Fixed, 9.0),
        ("random", PolicyKind::Random, 15.0),
    ];
    let (policies, regret_samples): (Vec<_>, Vec<_>) = specs
        .iter()
        .map(|(name, kind, s)| policy(name, *kind, &mut rng, *s, n))
        .unzip();
    let by_class = ["daily", "stable", "unpredictable"]
        .iter()
        .flat_map(|c| {
            policies.iter().map(move |p| ClassRow {
                class: c.to_string(),
                policy: p.name.clone(),
                servers: n_servers / 3,
                median_regret: p.median_regret * if *c == "unpredictable" { 2.0 } else { 1.0 },
                hit_rate: p.hit_rate,
            })
        })
        .collect();
    let schedule = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let start = BASE + 3 * DAY + ((i * 7919) % 8) as i64 * 3600 + 3600;
            ScheduleRow {
                server: id.clone(),
                group: Some(format!("rack-{}", i % 12)),
                start,
                end: start + 7200,
                predicted: 5.0 + 20.0 * rng.f(),
                runner_up_start: Some(start + 4 * 3600),
                runner_up_predicted: Some(8.0 + 20.0 * rng.f()),
            }
        })
        .collect();
    Report {
        title: "skua run — synthetic fleet".into(),
        generated_at: "2013-08-15T06:00:00Z".into(),
        source: "tests/fixtures/synthetic/*.csv".into(),
        unit: "CPU %".into(),
        summary: vec![
            ("Servers".into(), n_servers.to_string()),
            ("Horizon".into(), "24 h".into()),
            ("Window".into(), "2 h".into()),
            ("Best policy".into(), "forecast: mstl".into()),
            ("Hit rate".into(), "81.3 %".into()),
        ],
        validation: ValidationSection {
            files: vec![FileRow {
                path: "fastStorage/2013-8/1.csv".into(),
                format: "csv".into(),
                time_format: "unix seconds".into(),
                time_format_reason: "all values between 1e9 and 2e9".into(),
                rows: 8_640 * n_servers as u64,
                bad_rows: 3,
                series: n_servers,
            }],
            series,
            issue_counts: vec![
                ("gap".into(), 310),
                ("duplicate_ts".into(), 95),
                ("out_of_range".into(), 12),
                ("flatline".into(), 7),
            ],
            coverage: Some(CoverageStrip {
                start: BASE - 19 * DAY,
                step: 3600,
                values: coverage,
            }),
            longest_gaps: (0..30i64)
                .map(|i| GapRow {
                    series: format!("vm-{:03}", i as usize * 7 % n_servers.max(1)),
                    start: BASE - DAY + i * 600,
                    end: BASE + 300 - i * 1200,
                })
                .collect(),
        },
        evaluation: Some(EvaluationSection {
            policies,
            regret_samples,
            best_policy: Some("forecast: mstl".into()),
            verdict: "Forecast-driven windows beat the fixed 02:00 slot: median regret 1.6 vs 4.9 CPU %, and 81 % of windows landed in the lowest-load bucket.".into(),
            hit_rule: "the window's actual mean load is within 10 % of the day's load range above the best window".into(),
            by_class,
        }),
        servers,
        schedule,
        notes: vec!["Windows are 2 h long; at most 40 jobs per rack at once.".into()],
    }
}
