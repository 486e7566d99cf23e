//! Reading DistServe's measured runs: file names and CSV rows.

use std::path::{Path, PathBuf};

use super::{FidelityError, MeasuredRequest, MeasuredRun, System};

/// Parses a run file name (without `.csv`).
pub fn parse_run_name(stem: &str) -> Result<(System, u32, f64), FidelityError> {
    let bad = |reason: &str| FidelityError::Name {
        file: stem.to_string(),
        reason: format!(
            "{reason}; expected <vllm|distserve>[-cXYdZW]-<requests>-<rate> (e.g. distserve-c21d11-300-9)"
        ),
    };
    let parts: Vec<&str> = stem.split('-').collect();
    let (system, n, rate) = match parts.as_slice() {
        ["vllm", n, r] => (System::Vllm, n, r),
        // No config in the name: DistServe's default OPT-13B placement, c21d11 (see the
        // module docs for the evidence).
        ["distserve", n, r] => (
            System::DistServe {
                prefill_tp: 2,
                prefill_pp: 1,
                decode_tp: 1,
                decode_pp: 1,
            },
            n,
            r,
        ),
        ["distserve", cfg, n, r] => {
            let d: Vec<u32> = cfg
                .strip_prefix('c')
                .and_then(|c| c.split_once('d'))
                .filter(|(p, d)| p.len() == 2 && d.len() == 2)
                .map(|(p, d)| {
                    p.chars()
                        .chain(d.chars())
                        .filter_map(|c| c.to_digit(10))
                        .collect()
                })
                .unwrap_or_default();
            if d.len() != 4 || d.contains(&0) {
                return Err(bad(&format!("bad parallelism config `{cfg}`")));
            }
            (
                System::DistServe {
                    prefill_tp: d[0],
                    prefill_pp: d[1],
                    decode_tp: d[2],
                    decode_pp: d[3],
                },
                n,
                r,
            )
        }
        _ => return Err(bad("unknown system or layout")),
    };
    let n: u32 = n
        .parse()
        .map_err(|_| bad(&format!("request count `{n}` is not a number")))?;
    let rate: f64 = rate
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| bad(&format!("rate `{rate}` is not a positive number")))?;
    Ok((system, n, rate))
}

/// Reads one run file.
pub fn read_run(path: &Path) -> Result<MeasuredRun, FidelityError> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (system, requests_sent, rate) = parse_run_name(&stem)?;
    let text = std::fs::read_to_string(path).map_err(|source| FidelityError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h.trim()).unwrap_or_default();
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| FidelityError::Row {
                file: file.clone(),
                line: 1,
                reason: format!("no `{name}` column in the header `{header}`"),
            })
    };
    let (ia, ip, io, it, itp) = (
        col("arrival_s")?,
        col("prompt_len")?,
        col("output_len")?,
        col("ttft_ms")?,
        col("tpot_ms")?,
    );
    let mut requests = Vec::new();
    for (i, line) in lines {
        let line_no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let row_err = |reason: String| FidelityError::Row {
            file: file.clone(),
            line: line_no,
            reason,
        };
        let get = |k: usize, name: &str| -> Result<f64, FidelityError> {
            let v = f
                .get(k)
                .ok_or_else(|| row_err(format!("missing `{name}`")))?;
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| row_err(format!("`{name}` = `{v}` is not a non-negative number")))
        };
        let prompt = get(ip, "prompt_len")?;
        let output = get(io, "output_len")?;
        if prompt < 1.0 || output < 1.0 || prompt.fract() != 0.0 || output.fract() != 0.0 {
            return Err(row_err(format!(
                "token counts must be positive integers, got prompt {prompt}, output {output}"
            )));
        }
        requests.push(MeasuredRequest {
            arrival_s: get(ia, "arrival_s")?,
            prompt_len: prompt as u32,
            output_len: output as u32,
            ttft_ms: get(it, "ttft_ms")?,
            tpot_ms: get(itp, "tpot_ms")?,
        });
    }
    if requests.is_empty() {
        return Err(FidelityError::Row {
            file,
            line: 1,
            reason: "no requests".into(),
        });
    }
    requests.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    Ok(MeasuredRun {
        name: stem,
        system,
        requests_sent,
        rate,
        requests,
    })
}

/// Reads every `*.csv` run of a directory, sorted by (system, rate, requests).
pub fn read_runs(dir: &Path) -> Result<Vec<MeasuredRun>, FidelityError> {
    let entries = std::fs::read_dir(dir).map_err(|source| FidelityError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(FidelityError::Empty(dir.to_path_buf()));
    }
    let mut runs = paths
        .iter()
        .map(|p| read_run(p))
        .collect::<Result<Vec<_>, _>>()?;
    runs.sort_by(|a, b| {
        a.system
            .cmp(&b.system)
            .then(a.rate.total_cmp(&b.rate))
            .then(a.requests_sent.cmp(&b.requests_sent))
    });
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_parse() {
        assert_eq!(
            parse_run_name("vllm-100-1").unwrap(),
            (System::Vllm, 100, 1.0)
        );
        let (s, n, r) = parse_run_name("distserve-c21d12-1400-14").unwrap();
        assert_eq!(
            s,
            System::DistServe {
                prefill_tp: 2,
                prefill_pp: 1,
                decode_tp: 1,
                decode_pp: 2
            }
        );
        assert_eq!((n, r), (1400, 14.0));
        assert_eq!(
            parse_run_name("distserve-100-1.5").unwrap().0.label(),
            "distserve-c21d11"
        );
        for bad in [
            "sglang-1-1",
            "vllm-x-1",
            "vllm-10-0",
            "distserve-c2d11-1-1",
            "vllm-1",
        ] {
            let e = parse_run_name(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("expected"), "{e}");
        }
    }
}
