//! The peer of `skua bench forecast`: `bench/forecast_peer.py` (statsforecast 2.1.1) run or
//! read back, and its per-series sums aggregated per class with skua's classes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{Line, cpu_stats};
use crate::cli::BenchForecastArgs;

#[derive(Debug, Deserialize)]
pub(super) struct PeerOut {
    version: String,
    pub datasets: BTreeMap<String, PeerDataset>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PeerDataset {
    pub series: usize,
    pub sample: Vec<String>,
    pub sample_seed: u64,
    models: BTreeMap<String, PeerModel>,
    #[serde(skip)]
    pub version: String,
}

#[derive(Debug, Deserialize)]
struct PeerModel {
    scope: String,
    per_series: BTreeMap<String, PeerAcc>,
    cpu_ms: Vec<f64>,
    #[serde(default)]
    wall_s: Option<f64>,
}

#[derive(Debug, Deserialize, Default, Clone)]
struct PeerAcc {
    n: usize,
    flat: usize,
    tol: Vec<f64>,
    areg: Vec<f64>,
    busiest: Vec<f64>,
    hit: Vec<f64>,
    mae: f64,
    cov: f64,
    n_cov: usize,
}

/// Peer lines, `all` first then per class (skua's classes, from the same history).
pub(super) fn peer_lines(p: &PeerDataset, classes: &HashMap<String, String>) -> Vec<Line> {
    let mut out = Vec::new();
    for (name, m) in &p.models {
        let mut groups: BTreeMap<String, (usize, PeerAcc)> = BTreeMap::new();
        for (id, acc) in &m.per_series {
            let class = classes.get(id).cloned().unwrap_or_else(|| "unknown".into());
            for key in ["all".to_string(), class] {
                let g = groups.entry(key).or_default();
                g.0 += 1;
                add(&mut g.1, acc);
            }
        }
        let fixed = m.cpu_ms.is_empty();
        let (med, p95) = cpu_stats(m.cpu_ms.clone());
        let mut keys: Vec<String> = groups.keys().cloned().collect();
        keys.sort_by_key(|k| k != "all");
        for k in keys {
            let (series, acc) = &groups[&k];
            let n = acc.n.max(1) as f64;
            let all = k == "all";
            out.push(Line {
                tool: "statsforecast".into(),
                model: name.clone(),
                class: k.clone(),
                scope: m.scope.clone(),
                series: *series,
                n: acc.n,
                flat: acc.flat,
                tol2: acc.tol.first().copied().unwrap_or(f64::NAN) / n,
                areg2: acc.areg.first().copied().unwrap_or(f64::NAN) / n,
                busiest2: acc.busiest.first().copied().unwrap_or(f64::NAN) / n,
                hit2: acc.hit.first().copied().unwrap_or(f64::NAN) / n,
                mae: (!fixed).then_some(acc.mae / n),
                coverage_80: (acc.n_cov > 0).then(|| acc.cov / acc.n_cov as f64),
                fits: if all { m.cpu_ms.len() } else { 0 },
                cpu_median_ms: if all { med } else { None },
                cpu_p95_ms: if all { p95 } else { None },
                wall_s: if all { m.wall_s } else { None },
            });
        }
    }
    // fixed_00h first, then the peer's own order is alphabetical: keep it stable.
    out.sort_by_key(|l| l.model != "fixed_00h");
    out
}

fn add(into: &mut PeerAcc, a: &PeerAcc) {
    into.n += a.n;
    into.flat += a.flat;
    into.mae += a.mae;
    into.cov += a.cov;
    into.n_cov += a.n_cov;
    for (dst, src) in [
        (&mut into.tol, &a.tol),
        (&mut into.areg, &a.areg),
        (&mut into.busiest, &a.busiest),
        (&mut into.hit, &a.hit),
    ] {
        if dst.len() < src.len() {
            dst.resize(src.len(), 0.0);
        }
        for (d, s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }
}

pub(super) fn read_peer(path: &Path) -> Result<PeerOut> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the peer output {}", path.display()))?;
    parse_peer(&text).with_context(|| format!("{} is not the peer's JSON", path.display()))
}

pub(super) fn parse_peer(text: &str) -> Result<PeerOut> {
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let mut out: PeerOut = serde_json::from_str(last)?;
    for d in out.datasets.values_mut() {
        d.version = out.version.clone();
    }
    Ok(out)
}

pub(super) fn run_peer(a: &BenchForecastArgs) -> Result<PeerOut> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/forecast_peer.py");
    eprintln!(
        "bench: running the peer {} (slow models on {} series per dataset; several minutes) …",
        script.display(),
        a.peer_sample
    );
    let out = Command::new(&a.python)
        .arg(&script)
        .arg("--data-dir")
        .arg(&a.data_dir)
        .arg("--peer-sample")
        .arg(a.peer_sample.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", a.python))?;
    if !out.status.success() {
        bail!("the peer script {} failed (see above)", script.display());
    }
    parse_peer(&String::from_utf8_lossy(&out.stdout)).context("the peer printed no valid JSON")
}

#[cfg(test)]
mod tests {
    use super::super::comparison;
    use super::*;

    #[test]
    fn peer_sums_aggregate_per_class_and_pair_with_skua() {
        let json = r#"{"version":"2.1.1","datasets":{"asd":{"series":2,"sample":["a"],"sample_seed":0,
          "models":{"SeasonalNaive(24)":{"scope":"all","cpu_ms":[1.0,3.0],"wall_s":0.1,
          "per_series":{"a":{"n":2,"flat":0,"failed":0,"tol":[2,1,0],"areg":[0.5,0,0],"busiest":[0,0,0],
          "hit":[1,0,0],"mae":0.4,"cov":1.0,"n_cov":2},
          "b":{"n":2,"flat":1,"failed":0,"tol":[0,0,0],"areg":[1.5,0,0],"busiest":[1,0,0],
          "hit":[0,0,0],"mae":0.8,"cov":0.5,"n_cov":2}}}}}}}"#;
        let p = parse_peer(&json.replace('\n', "")).unwrap();
        let d = &p.datasets["asd"];
        assert_eq!(d.version, "2.1.1");
        let classes: HashMap<String, String> = [("a", "daily"), ("b", "stable")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        let lines = peer_lines(d, &classes);
        let all = &lines[0];
        assert_eq!((all.class.as_str(), all.n, all.flat), ("all", 4, 1));
        assert_eq!(
            (all.tol2, all.areg2, all.busiest2, all.hit2),
            (0.5, 0.5, 0.25, 0.25)
        );
        assert!((all.mae.unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(all.coverage_80, Some(0.375));
        assert_eq!(all.cpu_median_ms, Some(2.0));
        let daily = lines.iter().find(|l| l.class == "daily").unwrap();
        assert_eq!((daily.tol2, daily.cpu_median_ms), (1.0, None));
        let mut skua = all.clone();
        skua.model = "previous_day".into();
        skua.tool = "skua".into();
        skua.tol2 = 0.75;
        skua.cpu_median_ms = Some(0.01);
        let pairs = comparison(std::slice::from_ref(&skua), &[], &lines);
        let p = pairs
            .iter()
            .find(|p| p.peer == "SeasonalNaive(24)")
            .unwrap();
        assert_eq!(p.skua, "previous_day");
        assert!((p.tol2_diff - 0.25).abs() < 1e-12);
        assert!((p.cpu_ratio.unwrap() - 200.0).abs() < 1e-9);
    }
}
