//! skua's canonical CSV formats for expert load (gzip is detected on read):
//!
//! - the long format `window,layer,expert,count`: one row per (window, layer, expert) cell,
//!   layers and experts numbered from 0, windows any label (kept in first-seen order);
//! - the per-token format `token,layer,topk_0,…,topk_{k-1}[,sequence]`: one row per
//!   (token, layer) with the experts the router chose, `k` taken from the header.
//!
//! Both are skua's own (no external spec); the long format is the tidy layout of
//! Wickham, "Tidy Data" (JSS 2014). Parquet is not supported yet: CSV only.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use crate::MoeError;
use crate::load::{ExpertLoad, TokenTrace};

/// Expert load per time window: `loads[i]` is the load of window `windows[i]`; all loads share
/// one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowedLoad {
    /// Window labels, in order.
    pub windows: Vec<String>,
    /// One load per window, all `layers × experts`.
    pub loads: Vec<ExpertLoad>,
}

impl WindowedLoad {
    /// Checks that there is one load per label, at least one window, and one shape for all.
    pub fn new(windows: Vec<String>, loads: Vec<ExpertLoad>) -> Result<Self, MoeError> {
        if windows.len() != loads.len() || loads.is_empty() {
            return Err(MoeError::Shape(format!(
                "{} window labels for {} loads (need the same number, at least one)",
                windows.len(),
                loads.len()
            )));
        }
        let (l, e) = (loads[0].layers(), loads[0].experts());
        if let Some(i) = loads
            .iter()
            .position(|x| x.layers() != l || x.experts() != e)
        {
            return Err(MoeError::Shape(format!(
                "window {} is {}×{}, window {} is {l}×{e}",
                windows[i],
                loads[i].layers(),
                loads[i].experts(),
                windows[0]
            )));
        }
        Ok(Self { windows, loads })
    }

    /// Number of layers (of every window).
    pub fn layers(&self) -> usize {
        self.loads.first().map_or(0, ExpertLoad::layers)
    }

    /// Number of experts per layer (of every window).
    pub fn experts(&self) -> usize {
        self.loads.first().map_or(0, ExpertLoad::experts)
    }

    /// The sum over all windows.
    pub fn total(&self) -> ExpertLoad {
        let mut t = ExpertLoad::zeros(self.layers(), self.experts());
        for w in &self.loads {
            for l in 0..w.layers() {
                for (a, b) in t.layer_mut(l).iter_mut().zip(w.layer(l)) {
                    *a += b;
                }
            }
        }
        t
    }
}

/// Reads a long-format CSV (`window,layer,expert,count`; extra columns are ignored). The shape
/// is the largest layer and expert index + 1 over the file; missing cells are 0.
pub fn read_long_csv(path: &Path) -> Result<WindowedLoad, MoeError> {
    parse_long_csv(super::open(path)?, &path.display().to_string())
}

/// Parses long-format CSV from a reader; `origin` names the source in errors.
pub fn parse_long_csv(input: impl BufRead, origin: &str) -> Result<WindowedLoad, MoeError> {
    let err = |at: String, message: String| super::parse_error(origin, at, message);
    let (mut rdr, header) = super::csv_with_header(input, origin)?;
    let col = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            err(
                "line 1".into(),
                format!(
                    "no `{name}` column (header `{}`; expected window,layer,expert,count)",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            )
        })
    };
    let (cw, cl, ce, cc) = (col("window")?, col("layer")?, col("expert")?, col("count")?);
    let mut windows: Vec<String> = Vec::new();
    let mut window_index: HashMap<String, usize> = HashMap::new();
    // (window, layer, expert) → (count, line)
    let mut cells: HashMap<(usize, usize, usize), (f64, u64)> = HashMap::new();
    let (mut layers, mut experts) = (0, 0);
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(csv_at(&e), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let at = |c: &str| format!("line {line}, column {c}");
        let field = |i: usize, name: &str| {
            rec.get(i)
                .ok_or_else(|| err(at(name), "missing field".into()))
        };
        let w = field(cw, "window")?;
        if w.is_empty() {
            return Err(err(at("window"), "empty window label".into()));
        }
        let index = |i: usize, name: &str| -> Result<usize, MoeError> {
            let s = field(i, name)?;
            s.parse()
                .map_err(|_| err(at(name), format!("`{s}` is not an index ≥ 0")))
        };
        let l = index(cl, "layer")?;
        let e = index(ce, "expert")?;
        let s = field(cc, "count")?;
        let c: f64 = s
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| err(at("count"), format!("`{s}` is not a non-negative number")))?;
        let wi = match window_index.get(w) {
            Some(&i) => i,
            None => {
                window_index.insert(w.to_string(), windows.len());
                windows.push(w.to_string());
                windows.len() - 1
            }
        };
        if let Some((_, first)) = cells.insert((wi, l, e), (c, line)) {
            return Err(err(
                format!("line {line}"),
                format!("window {w} layer {l} expert {e} is also on line {first}"),
            ));
        }
        layers = layers.max(l + 1);
        experts = experts.max(e + 1);
    }
    if windows.is_empty() {
        return Err(err("file".into(), "no data rows".into()));
    }
    let mut loads = vec![ExpertLoad::zeros(layers, experts); windows.len()];
    for ((w, l, e), (c, _)) in cells {
        loads[w].add(l, e, c);
    }
    WindowedLoad::new(windows, loads)
}

/// The long-format CSV text of `load`: every cell, zeros included, window-major.
pub fn long_csv_string(load: &WindowedLoad) -> String {
    let mut s = String::from("window,layer,expert,count\n");
    for (w, x) in load.windows.iter().zip(&load.loads) {
        let w = csv_field(w);
        for l in 0..x.layers() {
            for (e, c) in x.layer(l).iter().enumerate() {
                s.push_str(&format!("{w},{l},{e},{c}\n"));
            }
        }
    }
    s
}

/// Writes `load` as long-format CSV, atomically.
pub fn write_long_csv(path: &Path, load: &WindowedLoad) -> Result<(), MoeError> {
    super::write_atomic(path, long_csv_string(load).as_bytes())
}

/// Reads a per-token CSV (`token,layer,topk_0,…[,sequence]`) into a trace. Every (token, layer)
/// must appear exactly once, tokens `0..T` and layers `0..L` without gaps. `experts` is the
/// number of routed experts; `None` takes the largest id + 1. Without a `sequence` column the
/// trace is one sequence; with one, consecutive tokens with the same value form a sequence.
pub fn read_token_csv(path: &Path, experts: Option<usize>) -> Result<TokenTrace, MoeError> {
    parse_token_csv(super::open(path)?, &path.display().to_string(), experts)
}

/// Parses per-token CSV from a reader; `origin` names the source in errors.
pub fn parse_token_csv(
    input: impl BufRead,
    origin: &str,
    experts: Option<usize>,
) -> Result<TokenTrace, MoeError> {
    let err = |at: String, message: String| super::parse_error(origin, at, message);
    let (mut rdr, header) = super::csv_with_header(input, origin)?;
    let find = |name: &str| header.iter().position(|h| h == name);
    let missing = |name: &str| {
        err(
            "line 1".into(),
            format!(
                "no `{name}` column (header `{}`; expected token,layer,topk_0,…)",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        )
    };
    let ct = find("token").ok_or_else(|| missing("token"))?;
    let cl = find("layer").ok_or_else(|| missing("layer"))?;
    let cs = find("sequence");
    let mut ck = Vec::new();
    while let Some(i) = find(&format!("topk_{}", ck.len())) {
        ck.push(i);
    }
    if ck.is_empty() {
        return Err(missing("topk_0"));
    }
    let k = ck.len();
    // (token, layer) → (choices, line); token → (sequence, line)
    let mut rows: HashMap<(usize, usize), (Vec<u16>, u64)> = HashMap::new();
    let mut seq: HashMap<usize, (String, u64)> = HashMap::new();
    let (mut tokens, mut layers, mut max_id) = (0, 0, 0u16);
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(csv_at(&e), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let at = |c: &str| format!("line {line}, column {c}");
        let get = |i: usize| rec.get(i).unwrap_or("");
        let index = |i: usize| -> Result<usize, MoeError> {
            get(i)
                .parse()
                .map_err(|_| err(at(&header[i]), format!("`{}` is not an index ≥ 0", get(i))))
        };
        let (t, l) = (index(ct)?, index(cl)?);
        let mut choice = Vec::with_capacity(k);
        for &i in &ck {
            let id: u16 = get(i)
                .parse()
                .map_err(|_| err(at(&header[i]), format!("`{}` is not an expert id", get(i))))?;
            if experts.is_some_and(|n| usize::from(id) >= n) {
                return Err(err(
                    at(&header[i]),
                    format!(
                        "expert id {id} is not below {} experts",
                        experts.unwrap_or(0)
                    ),
                ));
            }
            max_id = max_id.max(id);
            choice.push(id);
        }
        if let Some(i) = cs {
            let s = get(i).to_string();
            match seq.get(&t) {
                Some((prev, first)) if *prev != s => {
                    return Err(err(
                        at("sequence"),
                        format!("token {t} is in sequence `{s}` here, `{prev}` on line {first}"),
                    ));
                }
                Some(_) => {}
                None => {
                    seq.insert(t, (s, line));
                }
            }
        }
        if let Some((_, first)) = rows.insert((t, l), (choice, line)) {
            return Err(err(
                format!("line {line}"),
                format!("token {t} layer {l} is also on line {first}"),
            ));
        }
        tokens = tokens.max(t + 1);
        layers = layers.max(l + 1);
    }
    if rows.is_empty() {
        return Err(err("file".into(), "no data rows".into()));
    }
    if rows.len() != tokens * layers {
        let (t, l) = (0..tokens)
            .flat_map(|t| (0..layers).map(move |l| (t, l)))
            .find(|key| !rows.contains_key(key))
            .unwrap_or((0, 0));
        return Err(err(
            "file".into(),
            format!(
                "token {t} layer {l} is missing ({} rows for {tokens} tokens × {layers} layers)",
                rows.len()
            ),
        ));
    }
    let mut choices = vec![0u16; layers * tokens * k];
    for ((t, l), (c, _)) in rows {
        let at = (l * tokens + t) * k;
        choices[at..at + k].copy_from_slice(&c);
    }
    let mut starts = vec![0];
    if cs.is_some() {
        for t in 1..tokens {
            if seq.get(&t).map(|s| &s.0) != seq.get(&(t - 1)).map(|s| &s.0) {
                starts.push(t);
            }
        }
    }
    let experts = experts.unwrap_or(usize::from(max_id) + 1);
    TokenTrace::new(experts, k, layers, choices, starts)
}

/// The per-token CSV text of `trace`, token-major, with a `sequence` column (sequence index).
pub fn token_csv_string(trace: &TokenTrace) -> String {
    let k = trace.top_k();
    let mut s = String::from("token,layer");
    for i in 0..k {
        s.push_str(&format!(",topk_{i}"));
    }
    s.push_str(",sequence\n");
    for q in 0..trace.sequences() {
        for t in trace.sequence_range(q) {
            for l in 0..trace.layers() {
                s.push_str(&format!("{t},{l}"));
                for e in trace.choice(l, t) {
                    s.push_str(&format!(",{e}"));
                }
                s.push_str(&format!(",{q}\n"));
            }
        }
    }
    s
}

/// Writes `trace` as per-token CSV, atomically.
pub fn write_token_csv(path: &Path, trace: &TokenTrace) -> Result<(), MoeError> {
    super::write_atomic(path, token_csv_string(trace).as_bytes())
}

/// Where a CSV error happened, for `MoeError::Parse::at`.
fn csv_at(e: &csv::Error) -> String {
    e.position()
        .map_or_else(|| "record".into(), |p| format!("line {}", p.line()))
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(text: &str) -> Result<WindowedLoad, MoeError> {
        parse_long_csv(text.as_bytes(), "t.csv")
    }

    #[test]
    fn long_keeps_window_order_and_fills_gaps() {
        let w = long("window,layer,expert,count\nb,0,1,5\na,1,2,3\nb,1,0,2.5\n").unwrap();
        assert_eq!(w.windows, vec!["b", "a"]);
        assert_eq!((w.layers(), w.experts()), (2, 3));
        assert_eq!(
            w.loads[0].rows(),
            vec![vec![0.0, 5.0, 0.0], vec![2.5, 0.0, 0.0]]
        );
        assert_eq!(w.loads[1].get(1, 2), 3.0);
        assert_eq!(w.total().get(1, 0), 2.5);
    }

    #[test]
    fn long_errors_say_line_and_column() {
        let cases = [
            (
                "window,layer,expert,count\n1,0,0,1\n1,0,0,2\n",
                "line 3",
                "also on line 2",
            ),
            (
                "window,layer,expert,count\n1,0,0,-1\n",
                "line 2, column count",
                "`-1`",
            ),
            (
                "window,layer,expert,count\n1,0,x,1\n",
                "line 2, column expert",
                "`x`",
            ),
            (
                "window,layer,expert,count\n1,0,0,nan\n",
                "line 2, column count",
                "`nan`",
            ),
            (
                "window,layer,count\n1,0,1\n",
                "line 1",
                "no `expert` column",
            ),
            ("window,layer,expert,count\n", "file", "no data rows"),
        ];
        for (text, at, msg) in cases {
            let s = long(text).unwrap_err().to_string();
            assert!(s.contains(at) && s.contains(msg), "{text:?}: {s}");
        }
    }

    #[test]
    fn long_round_trips_with_awkward_labels() {
        let a = ExpertLoad::from_rows(vec![vec![1.0, 0.0], vec![0.25, 7.0]]).unwrap();
        let b = ExpertLoad::from_rows(vec![vec![0.0, 3.0], vec![1e-3, 12345.0]]).unwrap();
        let w =
            WindowedLoad::new(vec!["x, \"y\"".into(), "2024-01-01".into()], vec![a, b]).unwrap();
        let back = long(&long_csv_string(&w)).unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn token_csv_round_trips_with_sequences() {
        let t = TokenTrace::new(
            5,
            2,
            2,
            vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1],
            vec![0, 2],
        )
        .unwrap();
        let text = token_csv_string(&t);
        assert!(text.starts_with("token,layer,topk_0,topk_1,sequence\n0,0,0,1,0\n0,1,1,2,0\n"));
        let back = parse_token_csv(text.as_bytes(), "t.csv", Some(5)).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn token_csv_without_sequence_is_one_sequence_and_infers_experts() {
        let text = "layer,token,topk_0\n0,1,3\n0,0,1\n";
        let t = parse_token_csv(text.as_bytes(), "t.csv", None).unwrap();
        assert_eq!((t.tokens(), t.sequences(), t.experts()), (2, 1, 4));
        assert_eq!(t.choice(0, 0), &[1]);
    }

    #[test]
    fn token_csv_errors() {
        let cases = [
            (
                "token,layer,topk_0\n0,0,1\n0,0,2\n",
                "line 3",
                "also on line 2",
            ),
            ("token,layer,topk_0\n0,0,1\n1,1,2\n", "file", "missing"),
            (
                "token,layer,topk_0\n0,0,9\n",
                "line 2, column topk_0",
                "not below 4",
            ),
            (
                "token,layer,topk_0\n0,0,-1\n",
                "line 2, column topk_0",
                "`-1`",
            ),
            ("token,layer\n0,0\n", "line 1", "topk_0"),
            (
                "token,layer,topk_0,sequence\n0,0,1,a\n0,1,1,b\n",
                "line 3, column sequence",
                "line 2",
            ),
        ];
        for (text, at, msg) in cases {
            let s = parse_token_csv(text.as_bytes(), "t.csv", Some(4))
                .unwrap_err()
                .to_string();
            assert!(s.contains(at) && s.contains(msg), "{text:?}: {s}");
        }
    }
}
