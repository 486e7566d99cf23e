//! ServeGen's `chunk-<i>-trace.csv`: one row per window, no header,
//! `window_start_s,rate,cv,arrival_family,p1,p2`.

use std::io::Read;

use serde::Serialize;

use crate::workload::error::WorkloadError;
use crate::workload::load::{Cell, csv_error};

/// The inter-arrival distribution family named in a trace row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ArrivalFamily {
    /// Gamma gaps; `p1` = shape, `p2` = scale (a moment fit: CV = 1/√p1).
    Gamma,
    /// Weibull gaps; `p1` = shape, `p2` = scale (a maximum-likelihood fit).
    Weibull,
    /// Exponential gaps (a Poisson process).
    Exponential,
}

/// One window of a ServeGen client trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceWindow {
    /// Window start, seconds since the trace start.
    pub start_s: f64,
    /// Observed requests per second in the window.
    pub rate: f64,
    /// Observed coefficient of variation of the inter-arrival times.
    pub cv: f64,
    /// The fitted family; `None` for a window without requests.
    pub family: Option<ArrivalFamily>,
    /// First fitted parameter (shape).
    pub p1: f64,
    /// Second fitted parameter (scale, seconds).
    pub p2: f64,
    /// Line of the row in the file.
    pub line: u64,
}

const COLUMNS: [&str; 6] = ["window_start_s", "rate", "cv", "arrival_family", "p1", "p2"];

/// Reads a trace; windows must start at strictly increasing times.
pub(crate) fn parse_trace<R: Read>(
    reader: R,
    file: &str,
) -> Result<Vec<TraceWindow>, WorkloadError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut windows: Vec<TraceWindow> = Vec::new();
    let mut record = csv::StringRecord::new();
    while csv
        .read_record(&mut record)
        .map_err(|e| csv_error(e, file))?
    {
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        // Tolerate a header row, though ServeGen writes none.
        if windows.is_empty()
            && record
                .get(0)
                .is_some_and(|f| f.trim().eq_ignore_ascii_case(COLUMNS[0]))
        {
            continue;
        }
        if record.len() != COLUMNS.len() {
            return Err(WorkloadError::Malformed {
                file: file.to_owned(),
                line,
                reason: format!(
                    "{} fields; a ServeGen trace row is {}",
                    record.len(),
                    COLUMNS.join(",")
                ),
            });
        }
        let cell = |i: usize| Cell {
            file,
            line,
            column: COLUMNS[i],
        };
        let number = |i: usize, min: f64| {
            let text = &record[i];
            match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= min => Ok(v),
                _ => Err(cell(i).error(text, format!("expected a finite number ≥ {min}"))),
            }
        };
        let start_s = number(0, 0.0)?;
        let rate = number(1, 0.0)?;
        let cv = number(2, 0.0)?;
        let family = match record[3].trim().to_ascii_lowercase().as_str() {
            "" => None,
            "gamma" => Some(ArrivalFamily::Gamma),
            "weibull" => Some(ArrivalFamily::Weibull),
            "exponential" | "poisson" => Some(ArrivalFamily::Exponential),
            _ => {
                return Err(cell(3).error(
                    &record[3],
                    "unknown arrival family; expected Gamma, Weibull, Exponential or empty",
                ));
            }
        };
        let (p1, p2) = (number(4, 0.0)?, number(5, 0.0)?);
        if matches!(family, Some(ArrivalFamily::Gamma | ArrivalFamily::Weibull)) && p1 <= 0.0 {
            return Err(cell(4).error(&record[4], "a Gamma or Weibull shape must be > 0"));
        }
        if let Some(prev) = windows.last() {
            if start_s <= prev.start_s {
                return Err(cell(0).error(
                    &record[0],
                    format!(
                        "window starts must increase (previous window starts at {})",
                        prev.start_s
                    ),
                ));
            }
        }
        windows.push(TraceWindow {
            start_s,
            rate,
            cv,
            family,
            p1,
            p2,
            line,
        });
    }
    if windows.is_empty() {
        return Err(WorkloadError::Empty {
            file: file.to_owned(),
            detail: "the trace has no windows".into(),
        });
    }
    Ok(windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_including_empty_windows() {
        let text =
            "0,1.33,8.6,Weibull,0.375,0.397\n600,0,0,,0,0\n1200,0.15,4.07,Gamma,0.06,103.6\n";
        let w = parse_trace(text.as_bytes(), "t").expect("valid");
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].family, Some(ArrivalFamily::Weibull));
        assert_eq!(w[1].family, None);
        assert_eq!((w[2].start_s, w[2].line), (1200.0, 3));
    }

    #[test]
    fn errors_name_line_and_column() {
        let bad_rate = "0,1,1,Gamma,1,1\n600,fast,1,Gamma,1,1\n";
        let err = parse_trace(bad_rate.as_bytes(), "t").expect_err("bad rate");
        assert!(
            matches!(err, WorkloadError::Parse { line: 2, ref column, .. } if column == "rate")
        );

        let bad_family = "0,1,1,Lognormal,1,1\n";
        let err = parse_trace(bad_family.as_bytes(), "t").expect_err("bad family");
        assert!(err.to_string().contains("arrival_family"), "{err}");

        let backwards = "600,1,1,Gamma,1,1\n0,1,1,Gamma,1,1\n";
        let err = parse_trace(backwards.as_bytes(), "t").expect_err("unsorted");
        assert_eq!(err.line(), Some(2));

        let short = "0,1,1,Gamma,1\n";
        let err = parse_trace(short.as_bytes(), "t").expect_err("short");
        assert!(matches!(err, WorkloadError::Malformed { line: 1, .. }));
    }
}
