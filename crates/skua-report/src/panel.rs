//! The per-server panel: recent history, the forecast with its band, the actual load when
//! known, and the chosen and runner-up maintenance windows.

use std::fmt::Write as _;

use skua_core::Ts;
use skua_core::window::rolling_means;

use crate::format::{fmt_num, window_label};
use crate::model::ServerPanel;
use crate::scale::{Linear, nice_domain, nice_ticks, tick_label, time_ticks};
use crate::svg::{Frame, Mark, Svg, band_path, escape, line_path, palette};

/// Intrinsic width of a panel chart (it scales to the page width).
pub const PANEL_WIDTH: f64 = 1000.0;
/// Intrinsic height of a panel chart.
pub const PANEL_HEIGHT: f64 = 260.0;

const FRAME: Frame = Frame {
    x: 46.0,
    y: 30.0,
    w: PANEL_WIDTH - 46.0 - 16.0,
    h: PANEL_HEIGHT - 30.0 - 24.0,
};

/// Timestamps at the centre of each grid cell, so a window `[start, end)` covers exactly the
/// samples drawn inside its rectangle.
fn xs(start: Ts, step: i64, n: usize) -> impl Iterator<Item = f64> {
    (0..n).map(move |i| (start + i as i64 * step) as f64 + step as f64 / 2.0)
}

/// Time span shown by a panel: the history, the horizon and both windows.
fn time_span(p: &ServerPanel) -> (Ts, Ts) {
    let step = p.step.max(1);
    let f_end = p.forecast_start + p.point.len() as i64 * step;
    let mut t0 = if p.history.is_empty() {
        p.forecast_start
    } else {
        p.history_start.min(p.forecast_start)
    };
    let mut t1 = f_end.max(p.history_start + p.history.len() as i64 * step);
    for w in std::iter::once(&p.window).chain(p.runner_up.as_ref()) {
        t0 = t0.min(w.start);
        t1 = t1.max(w.end);
    }
    (t0, t1.max(t0 + 1))
}

/// Every finite load value the panel draws, for the y domain.
fn value_range(p: &ServerPanel) -> (f64, f64) {
    let all = p
        .history
        .iter()
        .chain(&p.point)
        .chain(p.lower.iter().flatten())
        .chain(p.upper.iter().flatten())
        .chain(p.actual.iter().flatten())
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return (0.0, 1.0);
    }
    // Loads are mostly non-negative: anchor the axis at zero so heights compare honestly.
    (lo.min(0.0), hi)
}

/// The panel chart as a standalone `<svg>`.
pub fn panel_svg(p: &ServerPanel, unit: &str) -> String {
    let step = p.step.max(1);
    let (t0, t1) = time_span(p);
    let (lo, hi) = value_range(p);
    let (y0, y1) = nice_domain(lo, hi, 4);
    let x = Linear::new((t0 as f64, t1 as f64), (FRAME.x, FRAME.right()));
    let y = Linear::new((y0, y1), (FRAME.bottom(), FRAME.y));
    let label = format!("Load of {} with forecast and maintenance window", p.id);
    let mut svg = Svg::new(PANEL_WIDTH, PANEL_HEIGHT, "chart panel-chart", &label);

    // The forecast horizon gets a faint background so "past" and "future" read at a glance.
    let fx = x.map(p.forecast_start as f64).clamp(FRAME.x, FRAME.right());
    svg.rect(
        fx,
        FRAME.y,
        FRAME.right() - fx,
        FRAME.h,
        r##"fill="#f2f6fa""##,
    );

    let win = &p.window;
    let (wx0, wx1) = (x.map(win.start as f64), x.map(win.end as f64));
    svg.rect_titled(
        wx0,
        FRAME.y,
        wx1 - wx0,
        FRAME.h,
        &format!(
            r#"class="win-chosen" data-start="{}" data-end="{}" fill="{}" fill-opacity="0.22""#,
            win.start,
            win.end,
            palette::CHOSEN
        ),
        &format!("chosen window {}", window_label(win.start, win.end)),
    );

    let (yt, ystep) = nice_ticks(y0, y1, 4);
    svg.y_axis(FRAME, &y, &yt, |v| tick_label(v, ystep));
    let (xt, xstep) = time_ticks(t0, t1, 12);
    svg.x_time_axis(FRAME, &x, &xt, xstep);

    if let Some(r) = &p.runner_up {
        let (rx0, rx1) = (x.map(r.start as f64), x.map(r.end as f64));
        svg.rect_titled(
            rx0,
            FRAME.y + 1.0,
            rx1 - rx0,
            FRAME.h - 2.0,
            &format!(
                r#"class="win-runner" fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="5 3""#,
                palette::RUNNER_UP
            ),
            &format!("runner-up window {}", window_label(r.start, r.end)),
        );
    }

    if let (Some(lower), Some(upper)) = (&p.lower, &p.upper) {
        let pts = xs(p.forecast_start, step, lower.len().min(upper.len()))
            .zip(lower.iter().zip(upper))
            .map(|(t, (l, u))| (x.map(t), y.map(*l), y.map(*u)));
        svg.path(
            &band_path(pts),
            &format!(
                r#"class="band" fill="{}" fill-opacity="0.35" stroke="none""#,
                palette::BAND
            ),
        );
    }

    let line = |values: &[f64], start: Ts| {
        line_path(
            xs(start, step, values.len())
                .zip(values)
                .map(|(t, v)| (x.map(t), y.map(*v))),
        )
    };
    svg.path(
        &line(&p.history, p.history_start),
        &format!(
            r#"class="history" fill="none" stroke="{}" stroke-width="1.3" stroke-linejoin="round" stroke-linecap="round""#,
            palette::HISTORY
        ),
    );
    if let Some(actual) = &p.actual {
        svg.path(
            &line(actual, p.forecast_start),
            &format!(
                r#"class="actual" fill="none" stroke="{}" stroke-width="1.3" stroke-linejoin="round" stroke-linecap="round""#,
                palette::ACTUAL
            ),
        );
    }
    svg.path(
        &line(&p.point, p.forecast_start),
        &format!(
            r#"class="forecast" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round""#,
            palette::FORECAST
        ),
    );

    // A solid strip along the bottom edge keeps a short window easy to spot on a long axis.
    svg.rect(
        wx0,
        FRAME.bottom() - 5.0,
        (wx1 - wx0).max(3.0),
        5.0,
        &format!(r#"fill="{}""#, palette::CHOSEN),
    );
    svg.rect(
        FRAME.x,
        FRAME.y,
        FRAME.w,
        FRAME.h,
        r##"class="plot-area" fill="none" stroke="#bbb""##,
    );
    if fx > FRAME.x && fx < FRAME.right() {
        svg.line(
            fx,
            FRAME.y,
            fx,
            FRAME.bottom(),
            r##"stroke="#777" stroke-dasharray="2 2""##,
        );
    }

    let mut items = vec![
        (
            Mark::Line {
                color: palette::HISTORY,
                dash: false,
            },
            "history",
        ),
        (
            Mark::Line {
                color: palette::FORECAST,
                dash: false,
            },
            "forecast",
        ),
    ];
    if p.lower.is_some() && p.upper.is_some() {
        items.push((
            Mark::Fill {
                color: palette::BAND,
                opacity: 0.35,
            },
            "10–90 %",
        ));
    }
    if p.actual.is_some() {
        items.push((
            Mark::Line {
                color: palette::ACTUAL,
                dash: false,
            },
            "actual",
        ));
    }
    items.push((
        Mark::Fill {
            color: palette::CHOSEN,
            opacity: 0.3,
        },
        "chosen window",
    ));
    if p.runner_up.is_some() {
        items.push((
            Mark::Outline {
                color: palette::RUNNER_UP,
            },
            "runner-up",
        ));
    }
    svg.legend(FRAME.x, 16.0, &items);
    if !unit.is_empty() {
        svg.text(
            4.0,
            FRAME.y - 8.0,
            unit,
            &format!(r#"fill="{}""#, palette::INK),
        );
    }
    svg.finish()
}

/// Mean of the finite values of `values` (starting at `start`) inside `[from, to)`.
fn mean_in(values: &[f64], start: Ts, step: i64, from: Ts, to: Ts) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, v) in values.iter().enumerate() {
        let t = start + i as i64 * step;
        if t >= from && t < to && v.is_finite() {
            sum += v;
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// The caption under a panel, as HTML: class, window times and the numbers behind the choice.
pub fn panel_caption(p: &ServerPanel) -> String {
    let step = p.step.max(1);
    let w = &p.window;
    let mut parts = Vec::new();
    if let Some(c) = &p.class {
        parts.push(format!("class <b>{}</b>", escape(c)));
    }
    let predicted = mean_in(&p.point, p.forecast_start, step, w.start, w.end);
    let mut chosen = format!("window <b>{}</b>", escape(&window_label(w.start, w.end)));
    if let Some(v) = predicted {
        let _ = write!(chosen, ", predicted mean {}", fmt_num(v));
    }
    parts.push(chosen);
    if let Some(r) = &p.runner_up {
        let mut s = format!("runner-up {}", escape(&window_label(r.start, r.end)));
        if let Some(v) = mean_in(&p.point, p.forecast_start, step, r.start, r.end) {
            let _ = write!(s, " ({})", fmt_num(v));
        }
        parts.push(s);
    }
    if let Some(actual) = &p.actual {
        let got = mean_in(actual, p.forecast_start, step, w.start, w.end);
        let len = ((w.end - w.start) / step).max(1) as usize;
        let best = rolling_means(actual, len)
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        if let Some(got) = got {
            let mut s = format!("actual in window {}", fmt_num(got));
            if best.is_finite() {
                let _ = write!(
                    s,
                    ", best possible {} → regret <b>{}</b>",
                    fmt_num(best),
                    fmt_num((got - best).max(0.0))
                );
            }
            parts.push(s);
        }
    }
    if !p.caption.is_empty() {
        parts.push(escape(&p.caption));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use skua_core::TimeWindow;

    fn panel() -> ServerPanel {
        ServerPanel {
            id: "db-01".into(),
            class: Some("daily".into()),
            step: 3600,
            history_start: 0,
            history: vec![5.0; 24],
            forecast_start: 86_400,
            point: (0..24)
                .map(|h| if (2..4).contains(&h) { 1.0 } else { 6.0 })
                .collect(),
            lower: None,
            upper: None,
            actual: Some(
                (0..24)
                    .map(|h| if (3..5).contains(&h) { 0.5 } else { 6.0 })
                    .collect(),
            ),
            window: TimeWindow {
                start: 86_400 + 2 * 3600,
                end: 86_400 + 4 * 3600,
            },
            runner_up: None,
            caption: "a & b".into(),
        }
    }

    #[test]
    fn caption_reports_window_numbers_and_regret() {
        let c = panel_caption(&panel());
        assert!(c.contains("class <b>daily</b>"), "{c}");
        assert!(c.contains("Jan 2 02:00–04:00 UTC"), "{c}");
        assert!(c.contains("predicted mean 1.00"), "{c}");
        // Actual in window: hours 2 and 3 → (6 + 0.5)/2; best is hours 3–4 at 0.5.
        assert!(c.contains("actual in window 3.25"), "{c}");
        assert!(c.contains("best possible 0.50 → regret <b>2.75</b>"), "{c}");
        assert!(c.ends_with("a &amp; b"), "{c}");
    }

    #[test]
    fn span_covers_history_horizon_and_windows() {
        let mut p = panel();
        assert_eq!(time_span(&p), (0, 2 * 86_400));
        p.history.clear();
        assert_eq!(time_span(&p), (86_400, 2 * 86_400));
    }
}
