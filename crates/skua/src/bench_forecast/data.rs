//! The protocol's datasets, read through skua's ingestion: Bitbrains-500 on an hourly grid
//! from 2013-07-01 with interior gaps interpolated, and ASD (m0, m5) as hourly means of 12
//! five-minute steps (step-index timestamps, two value columns per row).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use skua_core::RegularSeries;
use skua_telemetry::{IngestOptions, TimeFormat, read_path};

/// 2013-07-01T00:00:00Z: the protocol keeps Bitbrains timestamps from here on.
const BITBRAINS_START: i64 = 1_372_636_800;
/// ASD steps per hour (5-minute steps).
const ASD_STEPS_PER_HOUR: usize = 12;

/// One protocol dataset: named series on an hourly grid.
pub(super) struct Dataset {
    pub key: &'static str,
    pub title: String,
    pub series: Vec<(String, RegularSeries)>,
    /// Unit of the values (sets the classifier's absolute floor).
    pub unit: skua_core::Unit,
}

pub(super) fn load_bitbrains(dir: &Path) -> Result<Dataset> {
    let path = dir.join("bitbrains_rnd/bitbrains_rnd_hourly_cpu.csv.gz");
    let read = read_path(&path, &IngestOptions::default())
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut series = Vec::with_capacity(read.series.len());
    for raw in read.series {
        let mut pts: Vec<(i64, f64)> = raw
            .samples
            .iter()
            .filter(|s| s.ts >= BITBRAINS_START && s.value.is_finite())
            .map(|s| (s.ts, s.value))
            .collect();
        pts.sort_by_key(|p| p.0);
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
            continue;
        };
        let (first, last) = (first.0, last.0);
        let mut v = vec![f64::NAN; ((last - first) / 3600 + 1) as usize];
        for (ts, y) in pts {
            if (ts - first) % 3600 != 0 {
                bail!("{}: {} is off the hourly grid", raw.meta.id, ts);
            }
            v[((ts - first) / 3600) as usize] = y;
        }
        interpolate_inside(&mut v);
        let s = RegularSeries::new(first, 3600, v)
            .with_context(|| format!("{}: not a series", raw.meta.id))?;
        series.push((raw.meta.id, s));
    }
    Ok(Dataset {
        key: "bitbrains",
        title: format!(
            "Bitbrains-{} (hourly CPU %, from 2013-07-01, gaps interpolated)",
            series.len()
        ),
        series,
        unit: skua_core::Unit::Percent,
    })
}

/// Fills interior NaN runs by linear interpolation between their present neighbours.
fn interpolate_inside(v: &mut [f64]) {
    let present: Vec<usize> = (0..v.len()).filter(|&i| !v[i].is_nan()).collect();
    for w in present.windows(2) {
        let (a, b) = (w[0], w[1]);
        for i in a + 1..b {
            v[i] = v[a] + (i - a) as f64 / (b - a) as f64 * (v[b] - v[a]);
        }
    }
}

/// ASD's ingestion options: step × 300 s from the epoch, one series per server and metric.
pub(super) fn asd_options() -> IngestOptions {
    let mut o = IngestOptions {
        time_format: TimeFormat::Step,
        step_secs: Some(300),
        ..Default::default()
    };
    o.columns.series = Some("unique_id".into());
    o.columns.values = vec!["m0".into(), "m5".into()];
    o
}

pub(super) fn load_asd(dir: &Path) -> Result<Dataset> {
    let path: PathBuf = dir.join("asd/asd_omi_5min.csv.gz");
    let read = read_path(&path, &asd_options())
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut series = Vec::with_capacity(read.series.len());
    for raw in read.series {
        let mut pts: Vec<(i64, f64)> = raw.samples.iter().map(|s| (s.ts, s.value)).collect();
        pts.sort_by_key(|p| p.0);
        for (i, p) in pts.iter().enumerate() {
            if p.0 != i as i64 * 300 || !p.1.is_finite() {
                bail!(
                    "{}: step {i} is missing or not finite; the protocol needs every step",
                    raw.meta.id
                );
            }
        }
        let hourly: Vec<f64> = pts
            .chunks_exact(ASD_STEPS_PER_HOUR)
            .map(|c| c.iter().map(|p| p.1).sum::<f64>() / ASD_STEPS_PER_HOUR as f64)
            .collect();
        let s = RegularSeries::new(0, 3600, hourly)
            .with_context(|| format!("{}: not a series", raw.meta.id))?;
        series.push((raw.meta.id, s));
    }
    Ok(Dataset {
        key: "asd",
        title: format!(
            "ASD (m0, m5 of 12 servers: {} series, hourly means of 12 five-minute steps)",
            series.len()
        ),
        series,
        unit: skua_core::Unit::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_gaps_are_interpolated_and_edges_kept() {
        let mut v = [f64::NAN, 1.0, f64::NAN, f64::NAN, 4.0, f64::NAN];
        interpolate_inside(&mut v);
        assert!(v[0].is_nan() && v[5].is_nan());
        assert_eq!(&v[1..5], &[1.0, 2.0, 3.0, 4.0]);
    }
}
