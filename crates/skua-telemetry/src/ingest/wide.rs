//! Wide CSV: a time column plus one numeric column per series (id = column name).

use csv::ByteRecord;
use skua_core::SeriesMeta;

use super::columns::Header;
use super::table::{Layout, Plan, parse_value};
use super::unit::choose_unit;
use super::{IngestError, IngestOptions, UsedColumns, file_stem};

/// Maps a wide header: every column whose first values are all numbers is a series; other
/// columns (text, labels) are reported as ignored.
pub(crate) fn plan(
    h: &Header,
    sniff: &[ByteRecord],
    opts: &IngestOptions,
) -> Result<Plan, IngestError> {
    let time = h.time_column(opts.columns.timestamp.as_deref(), opts.steps())?;
    let stem = file_stem(h.path);
    let candidates: Vec<usize> = match opts.columns.value.as_deref() {
        Some(v) => vec![h.require(Some(v), &[], "value")?],
        None => (0..h.names.len())
            .filter(|&i| {
                i != time
                    && !opts
                        .columns
                        .labels
                        .iter()
                        .any(|l| h.names[i].eq_ignore_ascii_case(l))
            })
            .collect(),
    };
    let numeric: Vec<usize> = candidates
        .into_iter()
        .filter(|&i| {
            let mut seen = false;
            sniff
                .iter()
                .all(|r| match r.get(i).map(<[u8]>::trim_ascii) {
                    Some(v) if !v.is_empty() => {
                        seen = true;
                        parse_value(v).is_some()
                    }
                    _ => true,
                })
                && seen
        })
        .collect();
    if numeric.is_empty() {
        return Err(h.error("no numeric value column in the first rows of this wide file".into()));
    }
    let mut units = Vec::new();
    let cols = numeric
        .iter()
        .map(|&i| {
            let (unit, why) =
                choose_unit(opts.unit, &[("column", &h.names[i]), ("file name", &stem)]);
            if !units.contains(&why) {
                units.push(why);
            }
            let mut meta = SeriesMeta::simple(h.names[i].clone());
            meta.unit = unit;
            (i, meta)
        })
        .collect();
    let mut used = numeric.clone();
    used.push(time);
    Ok(Plan {
        time,
        columns: UsedColumns {
            series: None,
            timestamp: h.names[time].clone(),
            values: numeric.iter().map(|&i| h.names[i].clone()).collect(),
            metric: None,
            labels: Vec::new(),
        },
        ignored: h.ignored(&used),
        units,
        layout: Layout::Columns(cols),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn only_numeric_columns_become_series() {
        let h = Header {
            path: Path::new("w.csv"),
            names: ["time", "a", "b", "label"].map(String::from).to_vec(),
        };
        let rows = [
            ByteRecord::from(vec!["0", "1", "", "x"]),
            ByteRecord::from(vec!["1", "2", "3", "y"]),
        ];
        let plan = plan(&h, &rows, &IngestOptions::default()).unwrap();
        assert_eq!(plan.columns.values, ["a", "b"]);
        assert_eq!(plan.ignored, ["label"]);
        let only_text = [ByteRecord::from(vec!["0", "x", "y", "z"])];
        assert!(plan_err(&h, &only_text).contains("no numeric value column"));
    }

    fn plan_err(h: &Header, rows: &[ByteRecord]) -> String {
        match plan(h, rows, &IngestOptions::default()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}
