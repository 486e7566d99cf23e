//! Test helpers: synthetic series and the Bitbrains real-data loader.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use skua_core::RegularSeries;

/// A small deterministic generator (64-bit LCG) so that tests need no RNG crate.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed
            .wrapping_mul(2862933555777941757)
            .wrapping_add(3037000493))
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

pub fn hourly(values: Vec<f64>) -> RegularSeries {
    RegularSeries::new(0, 3600, values).expect("finite values")
}

/// `level + amp·sin(2π t / 24) + sigma·N(0, 1)` for `days` days.
pub fn daily_sine(days: usize, level: f64, amp: f64, sigma: f64, seed: u64) -> Vec<f64> {
    let mut rng = Lcg::new(seed);
    (0..days * 24)
        .map(|t| {
            level + amp * (std::f64::consts::TAU * t as f64 / 24.0).sin() + sigma * rng.normal()
        })
        .collect()
}

pub const BITBRAINS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/fleet/bitbrains_rnd/bitbrains_rnd_hourly_cpu.csv.gz"
);

/// 2013-07-01T00:00:00Z: the protocol keeps Bitbrains timestamps from here on.
pub const BITBRAINS_START: i64 = 1_372_636_800;

/// Days since 1970-01-01 of a proleptic Gregorian date (civil-from-days inverse).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD HH:MM:SS` (UTC) to Unix seconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let days = days_from_civil(n(0..4)?, n(5..7)?, n(8..10)?);
    Some(days * 86_400 + n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?)
}

/// One Bitbrains VM: its id and its hourly CPU % from 2013-07-01 on, with NaN in the gaps.
pub struct Vm {
    pub id: String,
    pub series: RegularSeries,
}

impl Vm {
    /// The series with interior gaps filled by linear interpolation (the protocol's grid).
    pub fn interpolated(&self) -> RegularSeries {
        let mut v = self.series.values().to_vec();
        let present: Vec<usize> = (0..v.len()).filter(|&i| !v[i].is_nan()).collect();
        for w in present.windows(2) {
            let (a, b) = (w[0], w[1]);
            for i in a + 1..b {
                let f = (i - a) as f64 / (b - a) as f64;
                v[i] = v[a] + f * (v[b] - v[a]);
            }
        }
        RegularSeries::new(self.series.start(), 3600, v).expect("finite")
    }
}

/// All 500 Bitbrains VMs in file order, loaded once per test binary.
pub fn bitbrains() -> &'static [Vm] {
    static DATA: OnceLock<Vec<Vm>> = OnceLock::new();
    DATA.get_or_init(load_bitbrains)
}

/// Opens a gzipped CSV from the shared data (failing loudly if it is missing) and returns a
/// reader over its records plus a lookup of column indices by header name.
fn open_gz_csv(
    path: &'static str,
) -> (
    csv::Reader<std::io::Cursor<Vec<u8>>>,
    impl Fn(&str) -> usize,
) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| {
        panic!(
            "real-data test needs {path} ({e}); the shared data directory must sit next to the \
             repository (../shared/data relative to the workspace root)"
        )
    });
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("{path} is not valid gzip: {e}"));
    let mut reader = csv::Reader::from_reader(std::io::Cursor::new(bytes));
    let headers = reader.headers().expect("header row").clone();
    let col = move |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name} missing from {path}"))
    };
    (reader, col)
}

fn load_bitbrains() -> Vec<Vm> {
    let (mut reader, col) = open_gz_csv(BITBRAINS);
    let (id_col, ds_col, y_col) = (col("unique_id"), col("ds"), col("y"));
    let mut order: Vec<String> = Vec::new();
    let mut points: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.unwrap_or_else(|e| panic!("{BITBRAINS}:{}: {e}", line + 2));
        let ts = parse_ts(&rec[ds_col]).unwrap_or_else(|| panic!("bad ds at line {}", line + 2));
        if ts < BITBRAINS_START {
            continue;
        }
        let y: f64 = rec[y_col].parse().unwrap_or(f64::NAN);
        let id = &rec[id_col];
        if !points.contains_key(id) {
            order.push(id.to_string());
        }
        points.entry(id.to_string()).or_default().push((ts, y));
    }
    order
        .into_iter()
        .map(|id| {
            let pts = &points[&id];
            let first = pts.iter().map(|p| p.0).min().expect("non-empty");
            let last = pts.iter().map(|p| p.0).max().expect("non-empty");
            let mut v = vec![f64::NAN; ((last - first) / 3600 + 1) as usize];
            for &(ts, y) in pts {
                if y.is_finite() {
                    v[((ts - first) / 3600) as usize] = y;
                }
            }
            let series = RegularSeries::new(first, 3600, v).expect("finite");
            Vm { id, series }
        })
        .collect()
}

#[test]
fn timestamps_parse() {
    assert_eq!(parse_ts("2013-07-01 00:00:00"), Some(BITBRAINS_START));
    assert_eq!(parse_ts("1970-01-01 01:00:05"), Some(3605));
    assert_eq!(parse_ts("2000-03-01 00:00:00"), Some(951_868_800));
    assert_eq!(parse_ts("garbage"), None);
}

pub const ASD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/fleet/asd/asd_omi_5min.csv.gz"
);

/// 2020-01-01T00:00:00Z: ASD has steps, not timestamps; the protocol only needs hour 0 of the
/// series to be hour 0 of a day, so any day-aligned origin will do.
pub const ASD_ORIGIN: i64 = 1_577_836_800;

/// One ASD series: `<server>/<metric>` (e.g. `omi-1/m0`) and its hourly means.
pub struct AsdSeries {
    pub id: String,
    pub series: RegularSeries,
}

/// The protocol's 24 ASD series (metrics m0 and m5 of the 12 servers, in file order, m0 then
/// m5 per server): hourly means of 12 consecutive 5-minute steps from step 0, an incomplete
/// last hour dropped, loaded once per test binary.
pub fn asd() -> &'static [AsdSeries] {
    static DATA: OnceLock<Vec<AsdSeries>> = OnceLock::new();
    DATA.get_or_init(load_asd)
}

fn load_asd() -> Vec<AsdSeries> {
    let (mut reader, col) = open_gz_csv(ASD);
    let (id_col, step_col) = (col("unique_id"), col("step"));
    let metrics = [("m0", col("m0")), ("m5", col("m5"))];
    let mut order: Vec<String> = Vec::new();
    // Per server: (step, [m0, m5]).
    let mut rows: HashMap<String, Vec<(usize, [f64; 2])>> = HashMap::new();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.unwrap_or_else(|e| panic!("{ASD}:{}: {e}", line + 2));
        let step: usize = rec[step_col]
            .parse()
            .unwrap_or_else(|e| panic!("{ASD}:{}: bad step: {e}", line + 2));
        let value = |c: usize| -> f64 {
            rec[c]
                .parse()
                .unwrap_or_else(|e| panic!("{ASD}:{}: bad value: {e}", line + 2))
        };
        let id = &rec[id_col];
        if !rows.contains_key(id) {
            order.push(id.to_string());
        }
        rows.entry(id.to_string())
            .or_default()
            .push((step, [value(metrics[0].1), value(metrics[1].1)]));
    }
    let mut out = Vec::new();
    for server in order {
        let mut r = rows.remove(&server).expect("known server");
        r.sort_by_key(|p| p.0);
        for (i, p) in r.iter().enumerate() {
            assert_eq!(p.0, i, "{server}: steps must run 0, 1, 2, … without gaps");
        }
        for (m, (metric, _)) in metrics.iter().enumerate() {
            let hourly: Vec<f64> = r
                .chunks_exact(12)
                .map(|c| c.iter().map(|p| p.1[m]).sum::<f64>() / 12.0)
                .collect();
            out.push(AsdSeries {
                id: format!("{server}/{metric}"),
                series: RegularSeries::new(ASD_ORIGIN, 3600, hourly).expect("finite"),
            });
        }
    }
    out
}
