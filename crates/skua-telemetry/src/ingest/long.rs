//! Long CSV: one row per sample, `series,timestamp,value[,metric][,labels…]`, or one row per
//! time step with several value columns (`[columns] values = ["m0", "m5"]`, ASD): each value
//! column then makes its own series `server/column`.

use super::columns::{Header, SERIES_NAMES, VALUE_NAMES};
use super::table::{Layout, Plan};
use super::{IngestError, IngestOptions, UsedColumns, file_stem};

/// Maps the header of a long file: series, timestamp and value column(s) are required.
pub(crate) fn plan(h: &Header, opts: &IngestOptions) -> Result<Plan, IngestError> {
    let c = &opts.columns;
    let series = h.require(c.series.as_deref(), SERIES_NAMES, "series")?;
    let time = h.time_column(c.timestamp.as_deref(), opts.steps())?;
    let metric = h.resolve(c.metric.as_deref(), &["metric"], "metric")?;
    let per_column = !c.values.is_empty();
    let values: Vec<usize> = if per_column {
        if c.value.is_some() {
            return Err(h.error(
                "both `value` and `values` are set in the mapping; give one value column or a list"
                    .into(),
            ));
        }
        if let Some(m) = metric {
            return Err(h.error(format!(
                "several value columns make one series per column, which a metric column `{}` \
                 cannot also name; drop one of them from the mapping",
                h.names[m]
            )));
        }
        let mut idx = Vec::with_capacity(c.values.len());
        for v in &c.values {
            let i = h.find(v).ok_or_else(|| {
                h.error(format!(
                    "the value column `{v}` set in the mapping is not in the header"
                ))
            })?;
            if idx.contains(&i) {
                return Err(h.error(format!("the value column `{v}` is listed twice")));
            }
            idx.push(i);
        }
        idx
    } else {
        vec![h.require(c.value.as_deref(), VALUE_NAMES, "value")?]
    };
    let labels = h.labels(&c.labels)?;
    let mut used = vec![series, time];
    used.extend(&values);
    used.extend(metric);
    used.extend(labels.iter().map(|(_, i)| *i));
    Ok(Plan {
        time,
        columns: UsedColumns {
            series: Some(h.names[series].clone()),
            timestamp: h.names[time].clone(),
            values: values.iter().map(|&i| h.names[i].clone()).collect(),
            metric: metric.map(|m| h.names[m].clone()),
            labels: labels.iter().map(|(n, _)| n.clone()).collect(),
        },
        ignored: h.ignored(&used),
        units: Vec::new(),
        layout: Layout::Long {
            series,
            metric,
            values: values.iter().map(|&i| (i, h.names[i].clone())).collect(),
            per_column,
            labels,
            unit: opts.unit,
            file_hint: file_stem(h.path),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn header(names: &[&str]) -> Header<'static> {
        Header {
            path: Path::new("asd.csv"),
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    const ASD: &[&str] = &["unique_id", "step", "split", "m0", "m5"];

    fn err(h: &Header, opts: &IngestOptions) -> String {
        match plan(h, opts) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn asd_options(values: &[&str]) -> IngestOptions {
        let mut o = IngestOptions {
            step_secs: Some(300),
            ..Default::default()
        };
        o.columns.values = values.iter().map(|v| v.to_string()).collect();
        o
    }

    #[test]
    fn several_value_columns_are_mapped_in_order() {
        let p = plan(&header(ASD), &asd_options(&["M5", "m0"])).unwrap();
        assert_eq!(p.columns.values, ["m5", "m0"]);
        assert_eq!(p.columns.timestamp, "step");
        assert_eq!(p.ignored, ["split"]);
        let Layout::Long {
            values, per_column, ..
        } = p.layout
        else {
            panic!("long layout expected")
        };
        assert!(per_column);
        assert_eq!(values, [(4, "m5".to_string()), (3, "m0".to_string())]);
    }

    #[test]
    fn conflicting_value_mappings_are_refused() {
        let with_metric = header(&["unique_id", "step", "m0", "metric"]);
        let e = err(&with_metric, &asd_options(&["m0"]));
        assert!(e.contains("metric column `metric`"), "{e}");
        let h = header(ASD);
        let mut o = asd_options(&["m0"]);
        o.columns.value = Some("m0".into());
        assert!(err(&h, &o).contains("both `value` and `values`"));
        assert!(err(&h, &asd_options(&["m0", "m9"])).contains("`m9`"));
        assert!(err(&h, &asd_options(&["m0", "M0"])).contains("listed twice"));
    }
}
