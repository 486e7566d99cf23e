//! Bitbrains GWA-T-12 raw per-VM files: `;`+tab separated, `Timestamp [ms]` header over
//! values that are in fact Unix seconds (the time detection reports the disagreement).

use skua_core::SeriesMeta;

use super::columns::Header;
use super::table::{Layout, Plan};
use super::unit::choose_unit;
use super::{IngestError, IngestOptions, UsedColumns, file_stem};

/// The value column read unless the mapping names another.
pub const DEFAULT_VALUE: &str = "CPU usage [%]";

/// Maps a Bitbrains raw header: one series (id = file stem) from the chosen column.
pub(crate) fn plan(h: &Header, opts: &IngestOptions) -> Result<Plan, IngestError> {
    let time = h.time_column(opts.columns.timestamp.as_deref(), opts.steps())?;
    let wanted = opts.columns.value.as_deref().unwrap_or(DEFAULT_VALUE);
    let value = h.require(Some(wanted), &[], "value")?;
    let id = opts.series_id.clone().unwrap_or_else(|| file_stem(h.path));
    let name = &h.names[value];
    let (unit, why) = choose_unit(opts.unit, &[("value column", name)]);
    let mut meta = SeriesMeta::simple(id);
    meta.metric = Some(metric_slug(name));
    meta.unit = unit;
    Ok(Plan {
        time,
        columns: UsedColumns {
            series: None,
            timestamp: h.names[time].clone(),
            values: vec![name.clone()],
            metric: None,
            labels: Vec::new(),
        },
        ignored: h.ignored(&[time, value]),
        units: vec![why],
        layout: Layout::Columns(vec![(value, meta)]),
    })
}

/// A metric name from a column title: `CPU usage [%]` → `cpu_usage_pct`.
pub fn metric_slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        let piece = match c {
            '%' => "pct".to_string(),
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase().to_string(),
            _ => "_".to_string(),
        };
        if piece == "_" && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push_str(&piece);
    }
    out.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(metric_slug("CPU usage [%]"), "cpu_usage_pct");
        assert_eq!(metric_slug("Memory usage [KB]"), "memory_usage_kb");
        assert_eq!(
            metric_slug("Network received throughput [KB/s]"),
            "network_received_throughput_kb_s"
        );
    }
}
