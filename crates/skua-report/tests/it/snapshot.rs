//! Snapshot of one small panel, so any change to the chart markup is reviewed.

use skua_core::TimeWindow;
use skua_report::{ServerPanel, panel_svg};

#[test]
fn small_panel_svg() {
    let day = 86_400;
    let base = 1_376_265_600; // 2013-08-12T00:00Z
    let hist: Vec<f64> = (0..12)
        .map(|i| [8.0, 6.0, 3.0, 2.0, 5.0, 9.0][i % 6])
        .collect();
    let mut history = hist.clone();
    history[4] = f64::NAN;
    let point = vec![7.5, 5.5, 2.5, 2.0, 4.5, 8.5];
    let p = ServerPanel {
        id: "db<1>".into(),
        class: Some("daily".into()),
        step: 4 * 3600,
        history_start: base,
        history,
        forecast_start: base + 2 * day,
        lower: Some(point.iter().map(|v| v - 1.0).collect()),
        upper: Some(point.iter().map(|v| v + 1.5).collect()),
        actual: Some(vec![8.0, 6.0, 3.0, 1.5, 5.0, 9.0]),
        point,
        window: TimeWindow {
            start: base + 2 * day + 12 * 3600,
            end: base + 2 * day + 16 * 3600,
        },
        runner_up: Some(TimeWindow {
            start: base + 2 * day + 8 * 3600,
            end: base + 2 * day + 12 * 3600,
        }),
        caption: String::new(),
    };
    insta::assert_snapshot!(panel_svg(&p, "CPU %").replace("><", ">\n<"));
}
