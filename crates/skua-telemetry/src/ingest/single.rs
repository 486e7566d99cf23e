//! One series per file (NAB): `timestamp,value`; the id is the file stem.

use skua_core::SeriesMeta;

use super::columns::{Header, VALUE_NAMES};
use super::table::{Layout, Plan};
use super::unit::choose_unit;
use super::{IngestError, IngestOptions, UsedColumns, file_stem};

/// Maps a single-series header: the value column is mapped, recognised, or the only other one.
pub(crate) fn plan(h: &Header, opts: &IngestOptions) -> Result<Plan, IngestError> {
    let c = &opts.columns;
    let time = h.time_column(c.timestamp.as_deref(), opts.steps())?;
    let labels = h.labels(&c.labels)?;
    let value = match h.resolve(c.value.as_deref(), VALUE_NAMES, "value")? {
        Some(v) => v,
        None => {
            let others: Vec<usize> = (0..h.names.len())
                .filter(|&i| i != time && !labels.iter().any(|(_, l)| *l == i))
                .collect();
            match others.as_slice() {
                [only] => *only,
                _ => {
                    return Err(h.error(format!(
                        "no value column (looked for {}); name it with `[columns] value = \"…\"`",
                        VALUE_NAMES.join(", ")
                    )));
                }
            }
        }
    };
    let stem = file_stem(h.path);
    let id = opts.series_id.clone().unwrap_or_else(|| stem.clone());
    let (unit, why) = choose_unit(
        opts.unit,
        &[("value column", &h.names[value]), ("file name", &stem)],
    );
    let mut meta = SeriesMeta::simple(id);
    meta.unit = unit;
    Ok(Plan {
        time,
        columns: UsedColumns {
            series: None,
            timestamp: h.names[time].clone(),
            values: vec![h.names[value].clone()],
            metric: None,
            labels: Vec::new(),
        },
        ignored: h.ignored(&[time, value]),
        units: vec![why],
        layout: Layout::Columns(vec![(value, meta)]),
    })
}
