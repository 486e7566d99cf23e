//! OLMoE routing statistics (Muennighoff et al., "OLMoE: Open Mixture-of-Experts Language
//! Models", 2024; <https://github.com/allenai/OLMoE>, `scripts/routing_output`, pickles converted
//! to CSV in `../shared/data/moe/olmoe_counts`):
//!
//! - `expert_counts.csv`: `model,domain,layer,expert,count`, aggregated over a domain's tokens,
//!   for a few sparse layers (0, 7, 15);
//! - `crosslayer_pair_counts.csv`: `model,domain,layer_a,layer_b,expert_a,expert_b,count`, how
//!   often a token's `i`-th choice in `layer_a` was expert `a` and its `i`-th choice in `layer_b`
//!   was expert `b` (rank-aligned pairs).

use std::collections::BTreeMap;
use std::path::Path;

use crate::MoeError;
use crate::load::ExpertLoad;

/// `(model, domain)`, the key of both OLMoE files.
pub type ModelDomain = (String, String);

/// Counts of a model on a domain for a sparse set of layers: row `i` of `load` is layer
/// `layer_ids[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayeredCounts {
    /// The model's layer numbers, ascending.
    pub layer_ids: Vec<usize>,
    /// One row per entry of `layer_ids`; experts = largest expert id + 1 seen for this key.
    pub load: ExpertLoad,
}

impl LayeredCounts {
    /// The row of model layer `layer`, if it was recorded.
    pub fn layer(&self, layer: usize) -> Option<&[f64]> {
        self.layer_ids
            .iter()
            .position(|&l| l == layer)
            .map(|i| self.load.layer(i))
    }
}

/// Rank-aligned pair counts between two layers: `get(a, b)` tokens whose choice of a given rank
/// was expert `a` in `layer_a` and expert `b` in `layer_b`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCounts {
    /// The earlier layer.
    pub layer_a: usize,
    /// The later layer.
    pub layer_b: usize,
    /// Matrix side: largest expert id + 1 seen on either side for this key and layer pair.
    pub experts: usize,
    counts: Vec<f64>,
}

impl PairCounts {
    /// The count of pair (`a` in `layer_a`, `b` in `layer_b`); 0 outside the matrix.
    pub fn get(&self, a: usize, b: usize) -> f64 {
        if a < self.experts && b < self.experts {
            self.counts[a * self.experts + b]
        } else {
            0.0
        }
    }

    /// Per expert of `layer_a`, the sum over `layer_b`'s experts.
    pub fn row_sums(&self) -> Vec<f64> {
        self.counts
            .chunks(self.experts)
            .map(|r| r.iter().sum())
            .collect()
    }

    /// Per expert of `layer_b`, the sum over `layer_a`'s experts.
    pub fn col_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.experts];
        for r in self.counts.chunks(self.experts) {
            for (a, b) in s.iter_mut().zip(r) {
                *a += b;
            }
        }
        s
    }

    /// All pairs.
    pub fn total(&self) -> f64 {
        self.counts.iter().sum()
    }
}

/// Reads `expert_counts.csv` into one [`LayeredCounts`] per (model, domain).
pub fn read_olmoe_counts(path: &Path) -> Result<BTreeMap<ModelDomain, LayeredCounts>, MoeError> {
    let rows = read_rows(path, &["model", "domain", "layer", "expert", "count"])?;
    let mut by_key: BTreeMap<ModelDomain, Vec<Row>> = BTreeMap::new();
    for r in rows {
        by_key.entry(r.key.clone()).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    for (key, rows) in by_key {
        let mut layer_ids: Vec<usize> = rows.iter().map(|r| r.ints[0]).collect();
        layer_ids.sort_unstable();
        layer_ids.dedup();
        let experts = rows.iter().map(|r| r.ints[1]).max().unwrap_or(0) + 1;
        let mut load = ExpertLoad::zeros(layer_ids.len(), experts);
        let mut seen: BTreeMap<(usize, usize), u64> = BTreeMap::new();
        for r in &rows {
            let (layer, expert) = (r.ints[0], r.ints[1]);
            if let Some(first) = seen.insert((layer, expert), r.line) {
                return Err(dup(
                    path,
                    r,
                    &format!("layer {layer} expert {expert}"),
                    first,
                ));
            }
            let i = layer_ids.partition_point(|&l| l < layer);
            load.add(i, expert, r.count);
        }
        out.insert(key, LayeredCounts { layer_ids, load });
    }
    Ok(out)
}

/// Reads `crosslayer_pair_counts.csv`: per (model, domain), one [`PairCounts`] per layer pair,
/// ordered by `(layer_a, layer_b)`.
pub fn read_crosslayer_pairs(
    path: &Path,
) -> Result<BTreeMap<ModelDomain, Vec<PairCounts>>, MoeError> {
    let rows = read_rows(
        path,
        &[
            "model", "domain", "layer_a", "layer_b", "expert_a", "expert_b", "count",
        ],
    )?;
    let mut groups: BTreeMap<(ModelDomain, usize, usize), Vec<Row>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.key.clone(), r.ints[0], r.ints[1]))
            .or_default()
            .push(r);
    }
    let mut out: BTreeMap<ModelDomain, Vec<PairCounts>> = BTreeMap::new();
    for ((key, layer_a, layer_b), rows) in groups {
        let experts = rows
            .iter()
            .map(|r| r.ints[2].max(r.ints[3]))
            .max()
            .unwrap_or(0)
            + 1;
        let mut counts = vec![0.0; experts * experts];
        let mut seen: BTreeMap<(usize, usize), u64> = BTreeMap::new();
        for r in &rows {
            let (a, b) = (r.ints[2], r.ints[3]);
            if let Some(first) = seen.insert((a, b), r.line) {
                let what = format!("layers {layer_a}→{layer_b} experts {a}→{b}");
                return Err(dup(path, r, &what, first));
            }
            counts[a * experts + b] += r.count;
        }
        out.entry(key).or_default().push(PairCounts {
            layer_a,
            layer_b,
            experts,
            counts,
        });
    }
    Ok(out)
}

/// One data row: the (model, domain) key, the integer columns in header order, the count.
struct Row {
    key: ModelDomain,
    ints: Vec<usize>,
    count: f64,
    line: u64,
}

fn dup(path: &Path, r: &Row, what: &str, first: u64) -> MoeError {
    MoeError::Parse {
        path: path.display().to_string(),
        at: format!("line {}", r.line),
        message: format!("{}/{} {what} is also on line {first}", r.key.0, r.key.1),
    }
}

/// Reads a CSV whose header is exactly `columns`: two text keys, integer indices, a count last.
fn read_rows(path: &Path, columns: &[&str]) -> Result<Vec<Row>, MoeError> {
    let err =
        |at: String, message: String| super::parse_error(&path.display().to_string(), at, message);
    let (mut rdr, header) =
        super::csv_with_header(super::open(path)?, &path.display().to_string())?;
    if !header.iter().eq(columns.iter().copied()) {
        return Err(err(
            "line 1".into(),
            format!(
                "header is `{}`, expected `{}`",
                header.iter().collect::<Vec<_>>().join(","),
                columns.join(",")
            ),
        ));
    }
    let n = columns.len();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let at = e
                .position()
                .map_or_else(|| "record".into(), |p| format!("line {}", p.line()));
            err(at, e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let at = |i: usize| format!("line {line}, column {}", columns[i]);
        let mut ints = Vec::with_capacity(n - 3);
        for i in 2..n - 1 {
            ints.push(
                rec[i]
                    .parse()
                    .map_err(|_| err(at(i), format!("`{}` is not an index ≥ 0", &rec[i])))?,
            );
        }
        let count: f64 = rec[n - 1]
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| {
                err(
                    at(n - 1),
                    format!("`{}` is not a non-negative count", &rec[n - 1]),
                )
            })?;
        rows.push(Row {
            key: (rec[0].to_string(), rec[1].to_string()),
            ints,
            count,
            line,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("skua-moe-olmoe-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn sparse_layers_keep_their_ids() {
        let p = write(
            "counts.csv",
            "model,domain,layer,expert,count\r\nm,d,15,1,4\r\nm,d,0,0,2\r\nm,d,7,2,1\r\nx,d,0,0,9\r\n",
        );
        let c = read_olmoe_counts(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let m = &c[&("m".to_string(), "d".to_string())];
        assert_eq!(m.layer_ids, vec![0, 7, 15]);
        assert_eq!(m.load.experts(), 3);
        assert_eq!(m.layer(15), Some(&[0.0, 4.0, 0.0][..]));
        assert_eq!(m.layer(3), None);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn pairs_and_errors() {
        let p = write(
            "pairs.csv",
            "model,domain,layer_a,layer_b,expert_a,expert_b,count\nm,d,0,7,0,1,3\nm,d,0,7,1,1,2\n",
        );
        let c = read_crosslayer_pairs(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let v = &c[&("m".to_string(), "d".to_string())];
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].get(0, 1), 3.0);
        assert_eq!(v[0].row_sums(), vec![3.0, 2.0]);
        assert_eq!(v[0].col_sums(), vec![0.0, 5.0]);
        assert_eq!(v[0].total(), 5.0);

        for (text, want) in [
            (
                "model,domain,layer,expert,count\nm,d,0,0,1\nm,d,0,0,1\n",
                "line 3",
            ),
            (
                "model,domain,layer,expert,count\nm,d,0,0,-4\n",
                "line 2, column count",
            ),
            (
                "model,domain,layer,expert,count\nm,d,a,0,4\n",
                "line 2, column layer",
            ),
            ("model,domain,layer,count\nm,d,0,4\n", "line 1"),
        ] {
            let p = write("bad.csv", text);
            let e = read_olmoe_counts(&p).unwrap_err().to_string();
            std::fs::remove_file(&p).unwrap();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
