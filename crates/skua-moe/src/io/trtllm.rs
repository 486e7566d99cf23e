//! TensorRT-LLM's expert-statistic dump (<https://github.com/NVIDIA/TensorRT-LLM>: written by
//! `tensorrt_llm/_torch/expert_statistic.py`, read by
//! `examples/ep_load_balancer/utils.py::load_expert_statistic`), written when
//! `EXPERT_STATISTIC_ITER_RANGE=<start>-<stop>` is set, into `$EXPERT_STATISTIC_PATH`:
//!
//! - `meta_info.json` (written by rank 0): `{"num_experts": E, "num_experts_per_token": K}`,
//!   newer versions optionally add `ep_size` and `experts_per_rank`;
//! - `rank<r>.safetensors`, one per rank: one 1-D tensor of `E` token counts (torch `bincount`,
//!   so `I64`) per (iteration, MoE layer), named `"<iteration>_<layer>"` with the model's layer
//!   number. The counts of all ranks are summed (each rank counts its own tokens);
//! - `cooccurrence_rank<r>.safetensors` and `rank<r>_numtokens.json` may also be present; they
//!   are ignored here.
//!
//! The safetensors container (<https://github.com/huggingface/safetensors>): an 8-byte
//! little-endian header length `N`, `N` bytes of JSON `{name: {dtype, shape, data_offsets:
//! [begin, end]}, "__metadata__": {..}}` (offsets relative to the byte after the header), then
//! the raw little-endian, row-major data. Read here without a safetensors crate.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::MoeError;
use crate::io::long::WindowedLoad;
use crate::load::ExpertLoad;

/// Element types of a safetensors tensor that hold numbers skua can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 64-bit float.
    F64,
    /// 32-bit float.
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// Signed 64-bit integer.
    I64,
    /// Signed 32-bit integer.
    I32,
    /// Signed 16-bit integer.
    I16,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 64-bit integer.
    U64,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 8-bit integer.
    U8,
}

impl Dtype {
    /// The safetensors name (`"I64"`, `"BF16"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "F64",
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I64 => "I64",
            Dtype::I32 => "I32",
            Dtype::I16 => "I16",
            Dtype::I8 => "I8",
            Dtype::U64 => "U64",
            Dtype::U32 => "U32",
            Dtype::U16 => "U16",
            Dtype::U8 => "U8",
        }
    }

    /// Parses a safetensors dtype name.
    pub fn from_name(s: &str) -> Option<Self> {
        const ALL: [Dtype; 12] = [
            Dtype::F64,
            Dtype::F32,
            Dtype::F16,
            Dtype::BF16,
            Dtype::I64,
            Dtype::I32,
            Dtype::I16,
            Dtype::I8,
            Dtype::U64,
            Dtype::U32,
            Dtype::U16,
            Dtype::U8,
        ];
        ALL.into_iter().find(|d| d.name() == s)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 | Dtype::U16 => 2,
            Dtype::I8 | Dtype::U8 => 1,
        }
    }

    fn decode(self, b: &[u8]) -> f64 {
        let a2 = |b: &[u8]| [b[0], b[1]];
        let a4 = |b: &[u8]| [b[0], b[1], b[2], b[3]];
        let a8 = |b: &[u8]| [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match self {
            Dtype::F64 => f64::from_le_bytes(a8(b)),
            Dtype::F32 => f64::from(f32::from_le_bytes(a4(b))),
            Dtype::F16 => f16_to_f64(u16::from_le_bytes(a2(b))),
            Dtype::BF16 => f64::from(f32::from_bits(u32::from(u16::from_le_bytes(a2(b))) << 16)),
            Dtype::I64 => i64::from_le_bytes(a8(b)) as f64,
            Dtype::I32 => f64::from(i32::from_le_bytes(a4(b))),
            Dtype::I16 => f64::from(i16::from_le_bytes(a2(b))),
            Dtype::I8 => f64::from(b[0] as i8),
            Dtype::U64 => u64::from_le_bytes(a8(b)) as f64,
            Dtype::U32 => f64::from(u32::from_le_bytes(a4(b))),
            Dtype::U16 => f64::from(u16::from_le_bytes(a2(b))),
            Dtype::U8 => f64::from(b[0]),
        }
    }
}

/// IEEE 754 binary16 → f64 (subnormals, infinities and NaN included).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// One tensor of a safetensors file, its values widened to `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The tensor's name in the header.
    pub name: String,
    /// The stored element type.
    pub dtype: Dtype,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f64>,
}

/// Reads every tensor of a safetensors file, in name order.
pub fn read_safetensors(path: &Path) -> Result<Vec<Tensor>, MoeError> {
    let bytes = std::fs::read(path).map_err(|source| MoeError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_safetensors(&bytes, &path.display().to_string())
}

/// Parses a safetensors byte buffer; `origin` names the source in errors.
pub fn parse_safetensors(bytes: &[u8], origin: &str) -> Result<Vec<Tensor>, MoeError> {
    let err = |at: &str, message: String| MoeError::Parse {
        path: origin.to_string(),
        at: at.to_string(),
        message,
    };
    let Some(len) = bytes.get(..8) else {
        return Err(err(
            "header",
            format!(
                "truncated: {} bytes, shorter than the 8-byte header length",
                bytes.len()
            ),
        ));
    };
    let n = u64::from_le_bytes([
        len[0], len[1], len[2], len[3], len[4], len[5], len[6], len[7],
    ]);
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(8))
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            err(
                "header",
                format!(
                    "truncated: the header length says {n} bytes, only {} follow",
                    bytes.len() - 8
                ),
            )
        })?;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..end])
        .map_err(|e| err("header", format!("the JSON header does not parse: {e}")))?;
    let serde_json::Value::Object(header) = header else {
        return Err(err("header", "the JSON header is not an object".into()));
    };
    let data = &bytes[end..];
    let mut out = Vec::with_capacity(header.len());
    for (name, info) in &header {
        if name == "__metadata__" {
            continue;
        }
        let at = format!("tensor `{name}`");
        let bad = |what: &str| err(&at, what.to_string());
        let dtype_name = info
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| bad("no `dtype` string"))?;
        let dtype = Dtype::from_name(dtype_name).ok_or_else(|| {
            err(
                &at,
                format!(
                    "unknown or unsupported dtype `{dtype_name}` (readable: F64, F32, F16, BF16, \
                     I64, I32, I16, I8, U64, U32, U16, U8)"
                ),
            )
        })?;
        let ints = |key: &str| -> Result<Vec<usize>, MoeError> {
            info.get(key)
                .and_then(|v| v.as_array())
                .and_then(|a| {
                    a.iter()
                        .map(|x| x.as_u64().and_then(|x| usize::try_from(x).ok()))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| err(&at, format!("`{key}` is not a list of integers ≥ 0")))
        };
        let shape = ints("shape")?;
        let offsets = ints("data_offsets")?;
        let [begin, stop] = offsets[..] else {
            return Err(bad("`data_offsets` needs exactly [begin, end]"));
        };
        if begin > stop || stop > data.len() {
            return Err(err(
                &at,
                format!(
                    "bad data_offsets [{begin}, {stop}]: the data section has {} bytes",
                    data.len()
                ),
            ));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad("the shape overflows"))?;
        if count.checked_mul(dtype.size()) != Some(stop - begin) {
            return Err(err(
                &at,
                format!(
                    "bad data_offsets [{begin}, {stop}]: {} bytes for shape {shape:?} of {}",
                    stop - begin,
                    dtype.name()
                ),
            ));
        }
        let values = data[begin..stop]
            .chunks_exact(dtype.size())
            .map(|b| dtype.decode(b))
            .collect();
        out.push(Tensor {
            name: name.clone(),
            dtype,
            shape,
            values,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Encodes tensors as a safetensors buffer (header padded with spaces to 8 bytes, as the
/// reference writer does). Integer and F32/F64 dtypes only; values must fit the dtype.
pub fn encode_safetensors(tensors: &[Tensor]) -> Result<Vec<u8>, MoeError> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for t in tensors {
        let count: usize = t.shape.iter().product();
        if count != t.values.len() {
            return Err(MoeError::Shape(format!(
                "tensor {}: {} values for shape {:?}",
                t.name,
                t.values.len(),
                t.shape
            )));
        }
        let begin = data.len();
        for &v in &t.values {
            encode(t, v, &mut data)?;
        }
        header.insert(
            t.name.clone(),
            serde_json::json!({
                "dtype": t.dtype.name(),
                "shape": t.shape,
                "data_offsets": [begin, data.len()],
            }),
        );
    }
    let mut head = serde_json::Value::Object(header).to_string().into_bytes();
    while head.len() % 8 != 0 {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + data.len());
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&data);
    Ok(out)
}

fn encode(t: &Tensor, v: f64, out: &mut Vec<u8>) -> Result<(), MoeError> {
    let misfit = || {
        MoeError::Shape(format!(
            "tensor {}: {v} does not fit {}",
            t.name,
            t.dtype.name()
        ))
    };
    let int = |lo: f64, hi: f64| {
        (v.fract() == 0.0 && v >= lo && v <= hi)
            .then_some(v)
            .ok_or_else(misfit)
    };
    match t.dtype {
        Dtype::F64 => out.extend_from_slice(&v.to_le_bytes()),
        Dtype::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
        Dtype::I64 => out.extend_from_slice(&(int(-9.007e15, 9.007e15)? as i64).to_le_bytes()),
        Dtype::I32 => {
            out.extend_from_slice(&(int(-2_147_483_648.0, 2_147_483_647.0)? as i32).to_le_bytes())
        }
        Dtype::I16 => out.extend_from_slice(&(int(-32768.0, 32767.0)? as i16).to_le_bytes()),
        Dtype::I8 => out.extend_from_slice(&(int(-128.0, 127.0)? as i8).to_le_bytes()),
        Dtype::U64 => out.extend_from_slice(&(int(0.0, 9.007e15)? as u64).to_le_bytes()),
        Dtype::U32 => out.extend_from_slice(&(int(0.0, 4_294_967_295.0)? as u32).to_le_bytes()),
        Dtype::U16 => out.extend_from_slice(&(int(0.0, 65535.0)? as u16).to_le_bytes()),
        Dtype::U8 => out.push(int(0.0, 255.0)? as u8),
        Dtype::F16 | Dtype::BF16 => {
            return Err(MoeError::Shape(format!(
                "tensor {}: writing {} is not supported",
                t.name,
                t.dtype.name()
            )));
        }
    }
    Ok(())
}

/// `meta_info.json` of a TensorRT-LLM expert-statistic dump (unknown keys are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TrtllmMeta {
    /// Routed experts per layer.
    pub num_experts: usize,
    /// Experts chosen per token.
    pub num_experts_per_token: usize,
    /// Expert-parallel ranks, when recorded.
    #[serde(default)]
    pub ep_size: Option<usize>,
    /// Experts per rank, when recorded.
    #[serde(default)]
    pub experts_per_rank: Option<usize>,
}

/// A TensorRT-LLM expert-statistic dump, summed over ranks.
#[derive(Debug, Clone, PartialEq)]
pub struct TrtllmStatistics {
    /// The dump's `meta_info.json`.
    pub meta: TrtllmMeta,
    /// Number of `rank<r>.safetensors` files read.
    pub ranks: usize,
    /// The model's MoE layer numbers, ascending; row `i` of every load is layer `layer_ids[i]`.
    pub layer_ids: Vec<usize>,
    /// One window per iteration (labelled with the iteration number), ascending.
    pub per_iteration: WindowedLoad,
}

impl TrtllmStatistics {
    /// The iterations, ascending.
    pub fn iterations(&self) -> Vec<usize> {
        self.per_iteration
            .windows
            .iter()
            .filter_map(|w| w.parse().ok())
            .collect()
    }

    /// Counts summed over all iterations.
    pub fn total(&self) -> ExpertLoad {
        self.per_iteration.total()
    }
}

/// Reads a TensorRT-LLM expert-statistic directory (`meta_info.json` + `rank*.safetensors`).
/// Every (iteration, layer) seen on any rank must be present on at least one rank for every
/// iteration and layer, as TensorRT-LLM's own reader requires.
pub fn read_trtllm_statistics(dir: &Path) -> Result<TrtllmStatistics, MoeError> {
    let meta_path = dir.join("meta_info.json");
    let meta_text = super::read_text(&meta_path)?;
    let meta: TrtllmMeta = serde_json::from_str(&meta_text).map_err(|e| MoeError::Parse {
        path: meta_path.display().to_string(),
        at: format!("line {}, column {}", e.line(), e.column()),
        message: e.to_string(),
    })?;
    if meta.num_experts == 0 {
        return Err(MoeError::Parse {
            path: meta_path.display().to_string(),
            at: "num_experts".into(),
            message: "must be positive".into(),
        });
    }
    let io = |source| MoeError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut ranks: Vec<(usize, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rank = name
            .strip_prefix("rank")
            .and_then(|s| s.strip_suffix(".safetensors"))
            .and_then(|s| s.parse::<usize>().ok());
        if let Some(r) = rank {
            ranks.push((r, path));
        }
    }
    ranks.sort();
    if ranks.is_empty() {
        return Err(MoeError::Parse {
            path: dir.display().to_string(),
            at: "directory".into(),
            message: "no rank<r>.safetensors files".into(),
        });
    }
    let e = meta.num_experts;
    let mut sums: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    for (_, path) in &ranks {
        let origin = path.display().to_string();
        for t in read_safetensors(path)? {
            let err = |message: String| MoeError::Parse {
                path: origin.clone(),
                at: format!("tensor `{}`", t.name),
                message,
            };
            let key = t
                .name
                .split_once('_')
                .and_then(|(i, l)| Some((i.parse::<usize>().ok()?, l.parse::<usize>().ok()?)))
                .ok_or_else(|| err("the name is not `<iteration>_<layer>`".into()))?;
            if t.shape != [e] {
                return Err(err(format!(
                    "shape {:?}, expected [{e}] (num_experts in meta_info.json)",
                    t.shape
                )));
            }
            if let Some(v) = t.values.iter().find(|v| !v.is_finite() || **v < 0.0) {
                return Err(err(format!("count {v} is not a non-negative number")));
            }
            let s = sums.entry(key).or_insert_with(|| vec![0.0; e]);
            for (a, b) in s.iter_mut().zip(&t.values) {
                *a += b;
            }
        }
    }
    let mut iterations: Vec<usize> = sums.keys().map(|k| k.0).collect();
    iterations.dedup();
    let mut layer_ids: Vec<usize> = sums.keys().map(|k| k.1).collect();
    layer_ids.sort_unstable();
    layer_ids.dedup();
    let mut loads = Vec::with_capacity(iterations.len());
    for &it in &iterations {
        let mut load = ExpertLoad::zeros(layer_ids.len(), e);
        for (i, &l) in layer_ids.iter().enumerate() {
            let counts = sums.get(&(it, l)).ok_or_else(|| MoeError::Parse {
                path: dir.display().to_string(),
                at: format!("tensor `{it}_{l}`"),
                message: format!(
                    "iteration {it} has no counts for layer {l} on any rank (other iterations do)"
                ),
            })?;
            load.layer_mut(i).copy_from_slice(counts);
        }
        loads.push(load);
    }
    if loads.is_empty() {
        return Err(MoeError::Parse {
            path: dir.display().to_string(),
            at: "directory".into(),
            message: "the rank files hold no counts".into(),
        });
    }
    let windows = iterations.iter().map(ToString::to_string).collect();
    Ok(TrtllmStatistics {
        meta,
        ranks: ranks.len(),
        layer_ids,
        per_iteration: WindowedLoad::new(windows, loads)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors buffer built by hand from a header string and raw data.
    fn raw(header: &str, data: &[u8]) -> Vec<u8> {
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn decodes_every_count_dtype() {
        // 3.0 and 0.5 in each dtype (integers: 3 and 0 — 7 for the second).
        let cases: [(&str, Vec<u8>, [f64; 2]); 6] = [
            (
                "F32",
                [3f32.to_le_bytes(), 0.5f32.to_le_bytes()].concat(),
                [3.0, 0.5],
            ),
            ("F16", vec![0x00, 0x42, 0x00, 0x38], [3.0, 0.5]),
            ("BF16", vec![0x40, 0x40, 0x00, 0x3f], [3.0, 0.5]),
            (
                "I64",
                [3i64.to_le_bytes(), 7i64.to_le_bytes()].concat(),
                [3.0, 7.0],
            ),
            (
                "I32",
                [3i32.to_le_bytes(), (-7i32).to_le_bytes()].concat(),
                [3.0, -7.0],
            ),
            ("U8", vec![3, 7], [3.0, 7.0]),
        ];
        for (dtype, data, want) in cases {
            let header = format!(
                r#"{{"__metadata__":{{"format":"pt"}},"x":{{"dtype":"{dtype}","shape":[2],"data_offsets":[0,{}]}}}}"#,
                data.len()
            );
            let t = parse_safetensors(&raw(&header, &data), "t").unwrap();
            assert_eq!(t.len(), 1, "{dtype}");
            assert_eq!(t[0].values, want, "{dtype}");
        }
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
    }

    #[test]
    fn malformed_buffers_fail_clearly() {
        let ok = r#"{"x":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![1, 0, 0], "shorter than the 8-byte header length"),
            (
                [100u64.to_le_bytes().to_vec(), b"{}".to_vec()].concat(),
                "the header length says 100 bytes",
            ),
            (raw("{not json", &[]), "does not parse"),
            (raw(ok, &[0; 4]), "bad data_offsets [0, 8]"),
            (
                raw(
                    r#"{"x":{"dtype":"I32","shape":[3],"data_offsets":[0,8]}}"#,
                    &[0; 8],
                ),
                "8 bytes for shape [3]",
            ),
            (
                raw(
                    r#"{"x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#,
                    &[0],
                ),
                "unknown or unsupported dtype `F8_E4M3`",
            ),
            (
                raw(
                    r#"{"x":{"dtype":"I32","shape":[1],"data_offsets":[4,0]}}"#,
                    &[0; 4],
                ),
                "bad data_offsets [4, 0]",
            ),
        ];
        for (bytes, msg) in cases {
            let s = parse_safetensors(&bytes, "f.safetensors")
                .unwrap_err()
                .to_string();
            assert!(s.contains("f.safetensors") && s.contains(msg), "{msg}: {s}");
        }
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let ts = vec![
            Tensor {
                name: "a".into(),
                dtype: Dtype::I64,
                shape: vec![2, 2],
                values: vec![1.0, 2.0, 3.0, 4.0],
            },
            Tensor {
                name: "b".into(),
                dtype: Dtype::F32,
                shape: vec![1],
                values: vec![0.25],
            },
        ];
        let bytes = encode_safetensors(&ts).unwrap();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(header_len % 8, 0, "header padded to 8 bytes");
        assert_eq!(parse_safetensors(&bytes, "t").unwrap(), ts);
        let bad = Tensor {
            name: "c".into(),
            dtype: Dtype::U8,
            shape: vec![1],
            values: vec![300.0],
        };
        assert!(encode_safetensors(&[bad]).is_err());
    }
}
