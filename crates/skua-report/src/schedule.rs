//! The schedule section: the planned windows (capped table) and jobs running per hour of day.

use std::fmt::Write as _;

use skua_core::time::{SECONDS_PER_HOUR, format_duration, hour_of_day};

use crate::format::{fmt_num, fmt_ts, omitted_note, sort_key, window_label};
use crate::model::ScheduleRow;
use crate::scale::{Linear, nice_domain, nice_ticks, tick_label};
use crate::svg::{Frame, Svg, escape, palette};

/// Schedule rows shown at most.
pub const MAX_SCHEDULE_ROWS: usize = 300;

/// For each UTC hour of day, how many jobs run at some point during it.
pub fn jobs_per_hour(rows: &[ScheduleRow]) -> [usize; 24] {
    let mut counts = [0usize; 24];
    for r in rows {
        if r.end <= r.start {
            continue;
        }
        let mut touched = [false; 24];
        let mut t = r.start.div_euclid(SECONDS_PER_HOUR) * SECONDS_PER_HOUR;
        while t < r.end && !touched.iter().all(|x| *x) {
            touched[hour_of_day(t) as usize] = true;
            t += SECONDS_PER_HOUR;
        }
        for (c, hit) in counts.iter_mut().zip(touched) {
            *c += usize::from(hit);
        }
    }
    counts
}

/// A few facts beside the hours chart: peak hour, typical window length and predicted load.
pub fn schedule_facts(rows: &[ScheduleRow]) -> String {
    let counts = jobs_per_hour(rows);
    let (peak_hour, peak) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(h, n)| (h, *n))
        .unwrap_or((0, 0));
    let mut lens: Vec<i64> = rows.iter().map(|r| r.end - r.start).collect();
    lens.sort_unstable();
    let mut preds: Vec<f64> = rows
        .iter()
        .map(|r| r.predicted)
        .filter(|v| v.is_finite())
        .collect();
    preds.sort_by(f64::total_cmp);
    let groups: std::collections::BTreeSet<&str> =
        rows.iter().filter_map(|r| r.group.as_deref()).collect();
    let mut out = String::from("<ul class=\"facts-list\">");
    let _ = write!(out, "<li><b>{}</b> windows planned", rows.len());
    if !groups.is_empty() {
        let _ = write!(out, " across <b>{}</b> groups", groups.len());
    }
    out.push_str("</li>");
    let _ = write!(
        out,
        "<li>Busiest hour: <b>{peak_hour:02}:00 UTC</b> with <b>{peak}</b> jobs running</li>"
    );
    if let Some(len) = lens.get(lens.len() / 2) {
        let _ = write!(
            out,
            "<li>Typical window length: <b>{}</b></li>",
            format_duration(*len)
        );
    }
    if let Some(p) = preds.get(preds.len() / 2) {
        let _ = write!(
            out,
            "<li>Median predicted load in the window: <b>{}</b></li>",
            fmt_num(*p)
        );
    }
    out.push_str("</ul>");
    out
}

/// Bar chart of [`jobs_per_hour`].
pub fn hours_svg(rows: &[ScheduleRow]) -> String {
    let counts = jobs_per_hour(rows);
    let (w, h) = (600.0, 200.0);
    let frame = Frame {
        x: 40.0,
        y: 12.0,
        w: w - 40.0 - 10.0,
        h: h - 12.0 - 36.0,
    };
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    let (_, d1) = nice_domain(0.0, max.max(1.0), 4);
    let y = Linear::new((0.0, d1), (frame.bottom(), frame.y));
    let mut svg = Svg::new(
        w,
        h,
        "chart hours-chart",
        "Maintenance jobs per hour of day",
    );
    let (ticks, step) = nice_ticks(0.0, d1, 4);
    let ticks: Vec<f64> = ticks.into_iter().filter(|t| t.fract() == 0.0).collect();
    svg.y_axis(frame, &y, &ticks, |v| tick_label(v, step.max(1.0)));
    let bw = frame.w / 24.0;
    for (hour, &n) in counts.iter().enumerate() {
        let x = frame.x + hour as f64 * bw;
        let top = y.map(n as f64);
        svg.rect_titled(
            x + 1.5,
            top,
            bw - 3.0,
            frame.bottom() - top,
            &format!(r#"fill="{}""#, palette::CHOSEN),
            &format!("{hour:02}:00–{:02}:00 UTC: {n} jobs", (hour + 1) % 24),
        );
        if hour % 3 == 0 {
            svg.text(
                x + bw / 2.0,
                frame.bottom() + 14.0,
                &format!("{hour:02}"),
                &format!(r#"text-anchor="middle" fill="{}""#, palette::INK),
            );
        }
    }
    svg.line(
        frame.x,
        frame.bottom(),
        frame.right(),
        frame.bottom(),
        r##"stroke="#999""##,
    );
    svg.text(
        frame.x + frame.w / 2.0,
        h - 4.0,
        "hour of day (UTC)",
        &format!(r#"text-anchor="middle" fill="{}""#, palette::INK),
    );
    svg.finish()
}

/// The schedule table, by start time, at most [`MAX_SCHEDULE_ROWS`] rows.
pub fn schedule_table(rows: &[ScheduleRow]) -> String {
    let mut sorted: Vec<&ScheduleRow> = rows.iter().collect();
    sorted.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.server.cmp(&b.server)));
    let shown = sorted.len().min(MAX_SCHEDULE_ROWS);
    let mut out = String::from(
        r#"<table class="num sortable"><thead><tr><th>Server</th><th>Group</th><th>Window (UTC)</th><th>Length</th><th>Predicted</th><th>Runner-up start</th><th>Runner-up predicted</th></tr></thead><tbody>"#,
    );
    for r in &sorted[..shown] {
        let runner = r.runner_up_start.map(fmt_ts).unwrap_or_else(|| "–".into());
        let runner_pred = r
            .runner_up_predicted
            .map(fmt_num)
            .unwrap_or_else(|| "–".into());
        let _ = write!(
            out,
            r#"<tr><td class="txt">{}</td><td class="txt">{}</td><td class="txt" data-v="{}">{}</td><td data-v="{}">{}</td><td data-v="{}">{}</td><td data-v="{}">{}</td><td data-v="{}">{}</td></tr>"#,
            escape(&r.server),
            escape(r.group.as_deref().unwrap_or("–")),
            r.start,
            escape(&window_label(r.start, r.end)),
            r.end - r.start,
            format_duration(r.end - r.start),
            sort_key(r.predicted),
            fmt_num(r.predicted),
            r.runner_up_start.map(|t| t.to_string()).unwrap_or_default(),
            runner,
            r.runner_up_predicted.map(sort_key).unwrap_or_default(),
            runner_pred
        );
    }
    out.push_str("</tbody></table>");
    if sorted.len() > shown {
        omitted_note(
            &mut out,
            sorted.len() - shown,
            sorted.len(),
            "windows",
            "latest starts",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(start: i64, end: i64) -> ScheduleRow {
        ScheduleRow {
            server: "s".into(),
            group: None,
            start,
            end,
            predicted: 1.0,
            runner_up_start: None,
            runner_up_predicted: None,
        }
    }

    #[test]
    fn counts_hours_a_job_touches_once() {
        let h = SECONDS_PER_HOUR;
        // 02:30–04:00 touches hours 2 and 3; 23:00–01:00 wraps to 23 and 0; a 2-day job counts once per hour.
        let counts = jobs_per_hour(&[
            job(2 * h + 1800, 4 * h),
            job(23 * h, 25 * h),
            job(0, 48 * h),
        ]);
        assert_eq!(counts[2], 2);
        assert_eq!(counts[3], 2);
        assert_eq!(counts[4], 1);
        assert_eq!(counts[23], 2);
        assert_eq!(counts[0], 2);
        assert_eq!(jobs_per_hour(&[job(5, 5)]), [0; 24]);
    }
}
