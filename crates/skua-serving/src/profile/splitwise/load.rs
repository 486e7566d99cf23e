//! Reading SplitwiseSim's `perf_model.csv` into (model, hardware, TP) groups.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use crate::profile::ProfileError;

/// One (model, hardware, TP) group of the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SplitwiseKey {
    /// Model as the file spells it, e.g. `llama2-70b`.
    pub model: String,
    /// Hardware as the file spells it, e.g. `a100-80gb`.
    pub hardware: String,
    /// Tensor-parallel degree.
    pub tp: u32,
}

impl std::fmt::Display for SplitwiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/tp{}/{}", self.model, self.tp, self.hardware)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PerfRow {
    pub(super) prompt: u32,
    pub(super) batch: u32,
    pub(super) tokens: u32,
    pub(super) prompt_ms: f64,
    pub(super) token_ms: f64,
    pub(super) e2e_ms: f64,
}

/// The parsed `perf_model.csv`, grouped by (model, hardware, TP), exact duplicates dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitwiseData {
    pub(super) file: String,
    pub(super) groups: BTreeMap<SplitwiseKey, Vec<PerfRow>>,
    duplicates: usize,
}

const COLUMNS: [&str; 9] = [
    "model",
    "hardware",
    "tensor_parallel",
    "prompt_size",
    "batch_size",
    "token_size",
    "prompt_time",
    "token_time",
    "e2e_time",
];

impl SplitwiseData {
    /// Reads and parses a `perf_model.csv`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| ProfileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(file, &path.display().to_string())
    }

    /// Parses CSV from a reader; `file` names it in error messages.
    pub fn from_reader(reader: impl Read, file: &str) -> Result<Self, ProfileError> {
        let csv_err = |line: u64, reason: String| ProfileError::Csv {
            file: file.to_string(),
            line,
            reason,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let header = rdr
            .headers()
            .map_err(|e| csv_err(error_line(&e).unwrap_or(1), e.to_string()))?
            .clone();
        let mut idx = [0usize; 9];
        for (slot, name) in idx.iter_mut().zip(COLUMNS) {
            *slot = header.iter().position(|h| h.trim() == name).ok_or_else(|| {
                csv_err(
                    1,
                    format!(
                        "no column `{name}` (header is `{}`); SplitwiseSim's perf_model.csv has \
                         {}",
                        header.iter().collect::<Vec<_>>().join(","),
                        COLUMNS.join(", ")
                    ),
                )
            })?;
        }
        let mut groups: BTreeMap<SplitwiseKey, Vec<PerfRow>> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut duplicates = 0;
        for record in rdr.records() {
            let record = record.map_err(|e| csv_err(error_line(&e).unwrap_or(0), e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(idx[i]).unwrap_or("").trim();
            let int = |i: usize| -> Result<u32, ProfileError> {
                let text = field(i);
                text.parse::<u32>()
                    .ok()
                    .or_else(|| {
                        // "512.0" is accepted; 512.5 is not.
                        text.parse::<f64>()
                            .ok()
                            .filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v <= f64::from(u32::MAX))
                            .map(|v| v as u32)
                    })
                    .filter(|v| *v > 0)
                    .ok_or_else(|| {
                        csv_err(
                            line,
                            format!(
                                "column `{}`: `{text}` is not a positive integer",
                                COLUMNS[i]
                            ),
                        )
                    })
            };
            let ms = |i: usize, allow_zero: bool| -> Result<f64, ProfileError> {
                let text = field(i);
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && (*v > 0.0 || (allow_zero && *v == 0.0)))
                    .ok_or_else(|| {
                        csv_err(
                            line,
                            format!(
                                "column `{}`: `{text}` is not a positive number of ms",
                                COLUMNS[i]
                            ),
                        )
                    })
            };
            let model = field(0).to_string();
            let hardware = field(1).to_string();
            if model.is_empty() || hardware.is_empty() {
                return Err(csv_err(line, "empty `model` or `hardware`".into()));
            }
            let key = SplitwiseKey {
                model,
                hardware,
                tp: int(2)?,
            };
            let row = PerfRow {
                prompt: int(3)?,
                batch: int(4)?,
                tokens: int(5)?,
                prompt_ms: ms(6, false)?,
                token_ms: ms(7, false)?,
                e2e_ms: ms(8, true)?,
            };
            let identity = (
                key.clone(),
                row.prompt,
                row.batch,
                row.tokens,
                row.prompt_ms.to_bits(),
                row.token_ms.to_bits(),
                row.e2e_ms.to_bits(),
            );
            if !seen.insert(identity) {
                duplicates += 1;
                continue;
            }
            groups.entry(key).or_default().push(row);
        }
        if groups.is_empty() {
            return Err(csv_err(1, "no data rows".into()));
        }
        Ok(Self {
            file: file.to_string(),
            groups,
            duplicates,
        })
    }

    /// The (model, hardware, TP) groups of the file.
    pub fn keys(&self) -> Vec<&SplitwiseKey> {
        self.groups.keys().collect()
    }

    /// Exact duplicate rows dropped while loading.
    pub fn duplicates_dropped(&self) -> usize {
        self.duplicates
    }
}

fn error_line(e: &csv::Error) -> Option<u64> {
    e.position().map(|p| p.line())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A synthetic group with known coefficients: prefill 20 + 0.1·T + 1e-5·Σp², decode
    /// 30 + 1e-4·ctx + 0.2·batch, every configuration twice with ±1 % noise.
    pub(in crate::profile::splitwise) fn synthetic_csv() -> String {
        let mut s = String::from(
            "model,hardware,prompt_size,batch_size,token_size,peak_power,average_power,\
             prompt_time,token_time,e2e_time,tensor_parallel\n",
        );
        let mut configs = Vec::new();
        for b in [1u32, 2, 4, 8, 16, 32] {
            configs.push((512u32, b, 128u32));
        }
        for p in [128u32, 256, 1024, 2048, 4096, 8192] {
            configs.push((p, 1, 128));
        }
        for (i, (p, b, t)) in configs.into_iter().enumerate() {
            for rep in 0..2 {
                let noise = if (i + rep) % 2 == 0 { 1.01 } else { 0.99 };
                let (pf, bf, tf) = (f64::from(p), f64::from(b), f64::from(t));
                let prompt = (20.0 + 0.1 * pf * bf + 1e-5 * bf * pf * pf) * noise;
                let token = (30.0 + 1e-4 * bf * (pf + tf / 2.0) + 0.2 * bf) * noise;
                let e2e = prompt + tf * token;
                s.push_str(&format!(
                    "llama2-70b,a100-80gb,{p},{b},{t},1,1,{prompt},{token},{e2e},4\n"
                ));
            }
        }
        s
    }

    #[test]
    fn duplicates_are_dropped() {
        let csv = synthetic_csv();
        let last = csv.lines().last().expect("has rows").to_string();
        let doubled = format!("{csv}{last}\n");
        let data = SplitwiseData::from_reader(doubled.as_bytes(), "d.csv").expect("valid");
        assert_eq!(data.duplicates_dropped(), 1);
    }

    #[test]
    fn bad_number_reports_line_and_column() {
        let mut csv = synthetic_csv();
        csv.push_str("llama2-70b,a100-80gb,512,1,128,1,1,abc,44,5000,4\n");
        let line = csv.lines().count();
        let err = SplitwiseData::from_reader(csv.as_bytes(), "bad.csv").expect_err("abc");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("bad.csv:{line}:")), "{msg}");
        assert!(
            msg.contains("prompt_time") && msg.contains("`abc`"),
            "{msg}"
        );
    }

    #[test]
    fn missing_column_is_named() {
        let err = SplitwiseData::from_reader("model,hardware\nx,y\n".as_bytes(), "h.csv")
            .expect_err("no tp column");
        assert!(err.to_string().contains("no column `tensor_parallel`"));
    }
}
