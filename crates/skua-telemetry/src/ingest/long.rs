//! Long CSV: one row per sample, `series,timestamp,value[,metric][,labels…]`.

use super::columns::{Header, SERIES_NAMES, VALUE_NAMES};
use super::table::{Layout, Plan};
use super::{IngestError, IngestOptions, UsedColumns, file_stem};

/// Maps the header of a long file: series, timestamp and value columns are required.
pub(crate) fn plan(h: &Header, opts: &IngestOptions) -> Result<Plan, IngestError> {
    let c = &opts.columns;
    let series = h.require(c.series.as_deref(), SERIES_NAMES, "series")?;
    let time = h.time_column(c.timestamp.as_deref())?;
    let value = h.require(c.value.as_deref(), VALUE_NAMES, "value")?;
    let metric = h.resolve(c.metric.as_deref(), &["metric"], "metric")?;
    let labels = h.labels(&c.labels)?;
    let mut used = vec![series, time, value];
    used.extend(metric);
    used.extend(labels.iter().map(|(_, i)| *i));
    Ok(Plan {
        time,
        columns: UsedColumns {
            series: Some(h.names[series].clone()),
            timestamp: h.names[time].clone(),
            values: vec![h.names[value].clone()],
            metric: metric.map(|m| h.names[m].clone()),
            labels: labels.iter().map(|(n, _)| n.clone()).collect(),
        },
        ignored: h.ignored(&used),
        units: Vec::new(),
        layout: Layout::Long {
            series,
            metric,
            value,
            value_name: h.names[value].clone(),
            labels,
            unit: opts.unit,
            file_hint: file_stem(h.path),
        },
    })
}
