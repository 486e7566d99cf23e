//! ServeGen's `chunk-<i>-dataset.json`: window start (a string) → per-field token-length
//! distributions, each a *string* holding a Python dict literal `{224: 0.0003, …}` (value →
//! probability). A JSON object `{"224": 0.0003}` is accepted too. Fields other than
//! `input_tokens` and `output_tokens` (e.g. `reason_ratio`) are ignored.

use std::collections::BTreeMap;
use std::io::Read;

use rand::{Rng, RngExt};
use serde_json::Value;

use crate::workload::error::WorkloadError;

/// A discrete token-length distribution, ready for inverse-CDF sampling.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LengthPmf {
    values: Vec<u32>,
    /// Cumulative probabilities, normalised so the last is 1.
    cdf: Vec<f64>,
}

impl LengthPmf {
    /// Builds from (value, weight) pairs; `None` when the weights sum to 0.
    fn new(mut pairs: Vec<(u32, f64)>) -> Option<Self> {
        pairs.sort_by_key(|p| p.0);
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        let mut acc = 0.0;
        let (values, cdf) = pairs
            .into_iter()
            .filter(|p| p.1 > 0.0)
            .map(|(v, w)| {
                acc += w;
                (v, acc / total)
            })
            .unzip();
        Some(Self { values, cdf })
    }

    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let u: f64 = rng.random();
        let i = self.cdf.partition_point(|&c| c <= u);
        self.values[i.min(self.values.len() - 1)]
    }

    /// The distribution's mean.
    #[cfg(test)]
    pub fn mean(&self) -> f64 {
        let mut prev = 0.0;
        self.values
            .iter()
            .zip(&self.cdf)
            .map(|(&v, &c)| {
                let p = c - prev;
                prev = c;
                f64::from(v) * p
            })
            .sum()
    }
}

/// The distributions of one dataset window (`None` = absent or empty in the file).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DatasetWindow {
    pub start_s: f64,
    pub input: Option<LengthPmf>,
    pub output: Option<LengthPmf>,
}

/// Reads a dataset file; windows come back sorted by start.
pub(crate) fn parse_dataset<R: Read>(
    reader: R,
    file: &str,
) -> Result<Vec<DatasetWindow>, WorkloadError> {
    let root: BTreeMap<String, Value> = serde_json::from_reader(reader).map_err(|e| {
        if e.is_io() {
            WorkloadError::Io {
                path: file.into(),
                source: e.into(),
            }
        } else {
            WorkloadError::Malformed {
                file: file.to_owned(),
                line: e.line() as u64,
                reason: format!("not a JSON object of windows ({e})"),
            }
        }
    })?;
    let mut windows = Vec::with_capacity(root.len());
    for (key, fields) in &root {
        let err = |field: &str, reason: String| WorkloadError::Distribution {
            file: file.to_owned(),
            window: key.clone(),
            field: field.to_owned(),
            reason,
        };
        let start_s = key
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| {
                err(
                    "(window)",
                    "the window key is not a start time in seconds".into(),
                )
            })?;
        let Value::Object(fields) = fields else {
            return Err(err(
                "(window)",
                "expected an object of distributions".into(),
            ));
        };
        let field = |name: &str| -> Result<Option<LengthPmf>, WorkloadError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(LengthPmf::new(
                    parse_dict_literal(text).map_err(|reason| err(name, reason))?,
                )),
                Some(Value::Object(map)) => {
                    let pairs = map
                        .iter()
                        .map(|(k, v)| {
                            let key = token_key(k).map_err(|reason| err(name, reason))?;
                            let p = v
                                .as_f64()
                                .filter(|p| p.is_finite() && *p >= 0.0)
                                .ok_or_else(|| {
                                    err(name, format!("probability {v} of {k} is not a number ≥ 0"))
                                })?;
                            Ok((key, p))
                        })
                        .collect::<Result<Vec<_>, WorkloadError>>()?;
                    Ok(LengthPmf::new(pairs))
                }
                Some(other) => Err(err(
                    name,
                    format!("expected a dict literal string, found {other}"),
                )),
            }
        };
        windows.push(DatasetWindow {
            start_s,
            input: field("input_tokens")?,
            output: field("output_tokens")?,
        });
    }
    windows.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Ok(windows)
}

/// Parses `{k: p, k: p, …}` (Python dict literal; a trailing comma is allowed) into
/// (token count, probability) pairs. The error says what was expected at which character.
pub(crate) fn parse_dict_literal(text: &str) -> Result<Vec<(u32, f64)>, String> {
    let b = text.as_bytes();
    let mut pos = 0;
    let skip_ws = |pos: &mut usize| {
        while *pos < b.len() && b[*pos].is_ascii_whitespace() {
            *pos += 1;
        }
    };
    let expect = |pos: usize, what: &str| {
        let found = text.get(pos..).and_then(|s| s.chars().next());
        match found {
            Some(c) => format!("at character {pos}: expected {what}, found `{c}`"),
            None => format!("at character {pos}: expected {what}, found the end of the text"),
        }
    };
    let number = |pos: &mut usize| {
        let start = *pos;
        while *pos < b.len() && matches!(b[*pos], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
            *pos += 1;
        }
        (start, &text[start..*pos])
    };
    skip_ws(&mut pos);
    if b.get(pos) != Some(&b'{') {
        return Err(expect(pos, "`{`"));
    }
    pos += 1;
    let mut pairs = Vec::new();
    loop {
        skip_ws(&mut pos);
        if b.get(pos) == Some(&b'}') {
            pos += 1;
            break;
        }
        let (at, key_text) = number(&mut pos);
        if key_text.is_empty() {
            return Err(expect(at, "a token count or `}`"));
        }
        let key = token_key(key_text).map_err(|r| format!("at character {at}: {r}"))?;
        skip_ws(&mut pos);
        if b.get(pos) != Some(&b':') {
            return Err(expect(pos, "`:`"));
        }
        pos += 1;
        skip_ws(&mut pos);
        let (at, p_text) = number(&mut pos);
        let p = p_text
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| expect(at, "a probability ≥ 0"))?;
        pairs.push((key, p));
        skip_ws(&mut pos);
        match b.get(pos) {
            Some(b',') => pos += 1,
            Some(b'}') => {
                pos += 1;
                break;
            }
            _ => return Err(expect(pos, "`,` or `}`")),
        }
    }
    skip_ws(&mut pos);
    if pos != b.len() {
        return Err(expect(pos, "nothing after the closing `}`"));
    }
    Ok(pairs)
}

/// A dict key as a token count: a whole number (`224` or `224.0`) in `0..=u32::MAX`.
fn token_key(text: &str) -> Result<u32, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => Ok(v as u32),
        _ => Err(format!("key `{text}` is not a whole number of tokens")),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    #[test]
    fn dict_literal_forms() {
        assert_eq!(parse_dict_literal("{}"), Ok(vec![]));
        assert_eq!(
            parse_dict_literal(" {224: 0.25, 225: 7.5e-01,} "),
            Ok(vec![(224, 0.25), (225, 0.75)])
        );
        assert_eq!(parse_dict_literal("{3.0:1}"), Ok(vec![(3, 1.0)]));
    }

    #[test]
    fn dict_literal_errors_say_where() {
        let err = parse_dict_literal("{224: 0.5 225: 0.5}").expect_err("missing comma");
        assert!(
            err.contains("character 10") && err.contains("`,` or `}`"),
            "{err}"
        );
        assert!(
            parse_dict_literal("{224 0.5}")
                .expect_err("colon")
                .contains("`:`")
        );
        assert!(
            parse_dict_literal("{0.5: 1}")
                .expect_err("fraction")
                .contains("whole number")
        );
        assert!(
            parse_dict_literal("{1: -0.5}")
                .expect_err("negative")
                .contains("probability")
        );
        assert!(
            parse_dict_literal("{1: 0.5")
                .expect_err("unclosed")
                .contains("end of the text")
        );
        assert!(
            parse_dict_literal("[1, 2]")
                .expect_err("list")
                .contains("`{`")
        );
        assert!(
            parse_dict_literal("{1: 1} x")
                .expect_err("trailing")
                .contains("after")
        );
    }

    #[test]
    fn pmf_samples_follow_the_weights() {
        let pmf = LengthPmf::new(vec![(10, 1.0), (20, 3.0), (30, 0.0)]).expect("positive");
        assert!((pmf.mean() - 17.5).abs() < 1e-12);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let n = 40_000;
        let twenties = (0..n).filter(|_| pmf.sample(&mut rng) == 20).count();
        // Binomial(n, 0.75): standard deviation ≈ 87.
        assert!(
            (twenties as f64 - 0.75 * n as f64).abs() < 500.0,
            "{twenties}"
        );
        assert!(LengthPmf::new(vec![(1, 0.0)]).is_none());
    }

    #[test]
    fn dataset_windows_parse_and_sort() {
        let json = r#"{"600": {"input_tokens": "{5: 1.0}", "output_tokens": {"7": 1.0}, "reason_ratio": "{0.5: 1.0}"},
                       "0": {"input_tokens": "{}", "output_tokens": "{3: 1}"}}"#;
        let w = parse_dataset(json.as_bytes(), "d").expect("valid");
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].start_s, 0.0);
        assert!(
            w[0].input.is_none(),
            "an empty dict is a missing distribution"
        );
        assert_eq!(w[1].output.as_ref().map(LengthPmf::mean), Some(7.0));

        let bad = r#"{"0": {"input_tokens": "{5: x}"}}"#;
        let err = parse_dataset(bad.as_bytes(), "d.json").expect_err("bad value");
        let msg = err.to_string();
        assert!(
            msg.contains("window 0") && msg.contains("input_tokens") && msg.contains("character 4"),
            "{msg}"
        );

        let not_json = "{\n\"0\": [\n";
        let err = parse_dataset(not_json.as_bytes(), "d").expect_err("truncated");
        assert!(matches!(err, WorkloadError::Malformed { .. }));
    }
}
