//! A seeded generator of a realistic demo fleet, so `skua run --demo` works on a fresh
//! machine with no data at hand.
//!
//! The fleet mixes the shapes operators see in practice (Seagull, VLDB 2021, §2; the
//! Bitbrains and Azure traces): web servers whose load follows business hours in their
//! region's local time and dips at weekends; databases with the same cycle plus a nightly
//! ETL burst (so "midnight" is *not* their quiet time); weekend batch workers (a weekly
//! cycle); flat caches; near-idle VMs. On top: noise, slow drifts, a few anomalies (spike
//! bursts, a level shift), outages (gaps of hours to days) and short sensor dropouts that
//! the repair policy can fill. Output is CPU %, clipped to 0..=100.
//!
//! The same seed always yields the same fleet (the generator is `Xoshiro256PlusPlus`,
//! whose output is fixed across `rand` versions).

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use skua_core::time::{SECONDS_PER_DAY, SECONDS_PER_HOUR, Ts, format_ts};

/// Size and shape of the generated fleet.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Number of servers.
    pub servers: usize,
    /// Days of history.
    pub days: u32,
    /// Sampling interval in seconds (must divide an hour).
    pub step_secs: i64,
    /// Seed of every random choice.
    pub seed: u64,
    /// First timestamp (UTC); the default is a Monday at 00:00.
    pub start: Ts,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            servers: 48,
            days: 35,
            step_secs: 900,
            seed: 7,
            // 2026-09-07T00:00:00Z, a Monday.
            start: 1_788_739_200,
        }
    }
}

/// What a demo server does; decides the shape of its load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Business-hours cycle in local time, weekend dip.
    Web,
    /// Business-hours cycle plus a nightly ETL burst on weekdays.
    Db,
    /// Busy at weekends (a weekly cycle), light on weekdays.
    Batch,
    /// Flat, steady load.
    Cache,
    /// Nearly idle.
    Idle,
}

impl Role {
    /// Lower-case name used as the `role` label.
    pub fn name(self) -> &'static str {
        match self {
            Role::Web => "web",
            Role::Db => "db",
            Role::Batch => "batch",
            Role::Cache => "cache",
            Role::Idle => "idle",
        }
    }
}

/// One generated server: identity, labels and its CPU % on a regular grid (NaN = no sample).
#[derive(Debug, Clone)]
pub struct DemoServer {
    /// Server id, e.g. `eu-web-03`.
    pub id: String,
    /// Cluster label.
    pub cluster: String,
    /// Region label.
    pub region: String,
    /// Role.
    pub role: Role,
    /// Timestamp of the first sample.
    pub start: Ts,
    /// Sampling interval in seconds.
    pub step: i64,
    /// CPU % per step; NaN where the server sent nothing.
    pub values: Vec<f64>,
    /// Human-readable list of what was injected (drift, anomalies, gaps), for the report.
    pub events: Vec<String>,
}

/// Regions with their UTC offset in hours (load follows local business hours).
const REGIONS: [(&str, f64); 3] = [("eu-west", 1.0), ("us-east", -5.0), ("ap-south", 5.5)];

/// Generates the fleet described by `cfg`.
pub fn generate(cfg: &DemoConfig) -> Vec<DemoServer> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    let step = cfg.step_secs.clamp(60, SECONDS_PER_HOUR);
    let n = (cfg.days as i64 * SECONDS_PER_DAY / step) as usize;
    let mut out = Vec::with_capacity(cfg.servers);
    for i in 0..cfg.servers {
        let (region, offset) = REGIONS[i % REGIONS.len()];
        let role = match rng.random_range(0..100u32) {
            0..=34 => Role::Web,
            35..=59 => Role::Db,
            60..=74 => Role::Batch,
            75..=86 => Role::Cache,
            _ => Role::Idle,
        };
        let cluster = format!("{}-{}", region, ["a", "b"][(i / REGIONS.len()) % 2]);
        let id = format!("{}-{}-{:02}", short_region(region), role.name(), i);
        let mut server = DemoServer {
            id,
            cluster,
            region: region.to_string(),
            role,
            start: cfg.start,
            step,
            values: Vec::with_capacity(n),
            events: Vec::new(),
        };
        fill_load(&mut server, n, offset, &mut rng);
        inject_events(&mut server, &mut rng);
        out.push(server);
    }
    out
}

fn short_region(region: &str) -> &str {
    match region {
        "eu-west" => "eu",
        "us-east" => "us",
        _ => "ap",
    }
}

/// Smooth business-hours profile in 0..=1: low around 04:00, peak mid-afternoon.
fn business_profile(local_hour: f64) -> f64 {
    let x = (local_hour - 4.0).rem_euclid(24.0) / 24.0 * std::f64::consts::TAU;
    // Rises through the morning, peaks ~15:00, falls in the evening.
    let base = 0.5 - 0.5 * x.cos();
    base.powf(1.6)
}

fn fill_load(s: &mut DemoServer, n: usize, utc_offset: f64, rng: &mut Xoshiro256PlusPlus) {
    let level: f64 = rng.random_range(10.0..30.0);
    let amp: f64 = rng.random_range(20.0..45.0);
    let noise_sd: f64 = match s.role {
        Role::Idle => 0.3,
        Role::Cache => 0.8,
        _ => rng.random_range(1.5..4.0),
    };
    let noise = Normal::new(0.0, noise_sd).expect("finite positive sd");
    // A tenth of the servers drift upward (growth), a few downward (decommissioning).
    let drift_per_day: f64 = match rng.random_range(0..20u32) {
        0 | 1 => rng.random_range(0.2..0.6),
        2 => -rng.random_range(0.1..0.3),
        _ => 0.0,
    };
    if drift_per_day != 0.0 {
        s.events
            .push(format!("drift {drift_per_day:+.2} CPU points per day"));
    }
    let etl_hour: f64 = rng.random_range(0.5..2.5);
    for k in 0..n {
        let ts = s.start + k as i64 * s.step;
        let day = (ts - s.start) as f64 / SECONDS_PER_DAY as f64;
        let local = ts as f64 / SECONDS_PER_HOUR as f64 + utc_offset;
        let local_hour = local.rem_euclid(24.0);
        // 1970-01-01 was a Thursday: weekday 0 = Monday.
        let weekday = ((local / 24.0).floor() as i64 + 3).rem_euclid(7);
        let weekend = weekday >= 5;
        let daily = business_profile(local_hour);
        let v = match s.role {
            Role::Web => level + amp * daily * if weekend { 0.55 } else { 1.0 },
            Role::Db => {
                let etl = if !weekend && (local_hour - etl_hour).abs() < 0.75 {
                    30.0
                } else {
                    0.0
                };
                level + 0.8 * amp * daily * if weekend { 0.7 } else { 1.0 } + etl
            }
            Role::Batch => {
                let busy = if weekend {
                    0.6 + 0.4 * daily
                } else {
                    0.15 * daily
                };
                0.5 * level + 1.4 * amp * busy
            }
            Role::Cache => 35.0 + level * 0.3,
            Role::Idle => 1.0 + 0.02 * level,
        };
        let v = v + drift_per_day * day + noise.sample(rng);
        s.values.push(v.clamp(0.0, 100.0));
    }
}

fn inject_events(s: &mut DemoServer, rng: &mut Xoshiro256PlusPlus) {
    let n = s.values.len();
    let per_hour = (SECONDS_PER_HOUR / s.step) as usize;
    let per_day = 24 * per_hour;
    if n < 4 * per_day {
        return;
    }
    let roll = rng.random_range(0..100u32);
    // Anomalies: a burst of near-saturation for a few hours, or a lasting level shift.
    if roll < 8 {
        let at = rng.random_range(per_day..n - per_day);
        let len = rng.random_range(2..6) * per_hour;
        for v in &mut s.values[at..(at + len).min(n)] {
            *v = (*v + 55.0).min(98.0);
        }
        s.events.push(format!(
            "spike burst at {}",
            format_ts(s.start + at as i64 * s.step)
        ));
    } else if roll < 11 {
        let at = rng.random_range(n / 3..2 * n / 3);
        let shift: f64 = rng.random_range(10.0..20.0);
        for v in &mut s.values[at..] {
            *v = (*v + shift).min(100.0);
        }
        s.events.push(format!(
            "level shift +{shift:.0} at {}",
            format_ts(s.start + at as i64 * s.step)
        ));
    }
    // Outages: a gap of 6–30 hours on some servers, two days on one in fifty.
    let gap_roll = rng.random_range(0..100u32);
    let gap_len = if gap_roll < 2 {
        2 * per_day
    } else if gap_roll < 17 {
        rng.random_range(6..30) * per_hour
    } else {
        0
    };
    if gap_len > 0 {
        let at = rng.random_range(per_day..n - gap_len - per_day);
        for v in &mut s.values[at..at + gap_len] {
            *v = f64::NAN;
        }
        s.events.push(format!(
            "outage of {} h from {}",
            gap_len / per_hour,
            format_ts(s.start + at as i64 * s.step)
        ));
    }
    // Sensor dropouts: a handful of 1–3 step holes the repair policy fills.
    if rng.random_range(0..100u32) < 25 {
        let holes = rng.random_range(2..6);
        for _ in 0..holes {
            let at = rng.random_range(1..n - 4);
            let len = rng.random_range(1..4);
            for v in &mut s.values[at..at + len] {
                *v = f64::NAN;
            }
        }
        s.events.push(format!("{holes} short sensor dropouts"));
    }
}

/// Writes the fleet as long-format CSV (`server,timestamp,value,cluster,region,role`,
/// RFC 3339 timestamps), one row per present sample: the same path real telemetry takes.
pub fn to_long_csv(servers: &[DemoServer]) -> String {
    let rows: usize = servers.iter().map(|s| s.values.len()).sum();
    let mut out = String::with_capacity(rows * 56 + 64);
    out.push_str("server,timestamp,value,cluster,region,role\n");
    for s in servers {
        for (k, v) in s.values.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let ts = s.start + k as i64 * s.step;
            out.push_str(&format!(
                "{},{},{:.3},{},{},{}\n",
                s.id,
                format_ts(ts),
                v,
                s.cluster,
                s.region,
                s.role.name()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn autocorr(v: &[f64], lag: usize) -> f64 {
        let pairs: Vec<(f64, f64)> = v
            .iter()
            .zip(&v[lag..])
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (*a, *b))
            .collect();
        let n = pairs.len() as f64;
        let ma = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let mb = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let cov: f64 = pairs.iter().map(|(a, b)| (a - ma) * (b - mb)).sum();
        let va: f64 = pairs.iter().map(|(a, _)| (a - ma).powi(2)).sum();
        let vb: f64 = pairs.iter().map(|(_, b)| (b - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    #[test]
    fn same_seed_same_fleet_other_seed_other_fleet() {
        let cfg = DemoConfig {
            servers: 6,
            days: 10,
            ..DemoConfig::default()
        };
        let a = to_long_csv(&generate(&cfg));
        let b = to_long_csv(&generate(&cfg));
        assert_eq!(a, b);
        let c = to_long_csv(&generate(&DemoConfig { seed: 8, ..cfg }));
        assert_ne!(a, c);
    }

    #[test]
    fn fleet_is_realistic() {
        let cfg = DemoConfig::default();
        let fleet = generate(&cfg);
        assert_eq!(fleet.len(), cfg.servers);
        let per_day = (SECONDS_PER_DAY / cfg.step_secs) as usize;
        let n = cfg.days as usize * per_day;
        for s in &fleet {
            assert_eq!(s.values.len(), n);
            assert!(
                s.values
                    .iter()
                    .all(|v| v.is_nan() || (0.0..=100.0).contains(v))
            );
        }
        let roles: std::collections::BTreeSet<_> = fleet.iter().map(|s| s.role).collect();
        assert!(roles.len() >= 4, "roles: {roles:?}");
        // Web servers have a strong daily cycle.
        let web: Vec<_> = fleet.iter().filter(|s| s.role == Role::Web).collect();
        assert!(!web.is_empty());
        for s in &web {
            let r = autocorr(&s.values, per_day);
            assert!(r > 0.6, "{} daily autocorrelation {r}", s.id);
        }
        // Batch workers repeat weekly better than daily.
        for s in fleet.iter().filter(|s| s.role == Role::Batch) {
            assert!(autocorr(&s.values, 7 * per_day) > autocorr(&s.values, per_day));
        }
        // Some servers have gaps, some anomalies, some drift; idle ones stay low.
        assert!(fleet.iter().any(|s| s.values.iter().any(|v| v.is_nan())));
        assert!(fleet.iter().any(|s| {
            s.events
                .iter()
                .any(|e| e.contains("spike") || e.contains("shift"))
        }));
        assert!(
            fleet
                .iter()
                .any(|s| s.events.iter().any(|e| e.contains("drift")))
        );
        for s in fleet.iter().filter(|s| s.role == Role::Idle) {
            let mean = s.values.iter().filter(|v| v.is_finite()).sum::<f64>()
                / s.values.iter().filter(|v| v.is_finite()).count() as f64;
            assert!(mean < 5.0, "{} mean {mean}", s.id);
        }
    }

    #[test]
    fn csv_has_header_and_skips_gaps() {
        let cfg = DemoConfig {
            servers: 3,
            days: 5,
            ..DemoConfig::default()
        };
        let fleet = generate(&cfg);
        let csv = to_long_csv(&fleet);
        let present: usize = fleet
            .iter()
            .map(|s| s.values.iter().filter(|v| !v.is_nan()).count())
            .sum();
        assert_eq!(csv.lines().count(), present + 1);
        assert!(csv.starts_with("server,timestamp,value,cluster,region,role\n"));
        assert!(csv.lines().nth(1).unwrap().contains("2026-09-07T00:00:00Z"));
    }
}
