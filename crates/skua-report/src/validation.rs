//! The validation section: series outcomes, issue counts, the fleet coverage strip, the longest
//! gaps and the per-series table (most problematic first, capped).

use std::fmt::Write as _;

use skua_core::time::format_duration;

use crate::format::{fmt_pct, fmt_ts, omitted_note, sort_key};
use crate::model::{CoverageStrip, SeriesRow, SeriesStatus, ValidationSection};
use crate::scale::{Linear, nice_ticks, tick_label, time_ticks};
use crate::svg::{Frame, Svg, band_path, escape, line_path, palette, text_width};

/// Rows of the per-series table shown at most.
pub const MAX_SERIES_ROWS: usize = 200;
/// Issue codes shown in the bar chart at most.
const MAX_ISSUES: usize = 15;
/// Longest gaps listed at most.
const MAX_GAPS: usize = 12;
/// Coverage buckets drawn at most; longer strips keep each group's minimum, so dips survive.
const MAX_STRIP_POINTS: usize = 1000;

/// Number of series per status, in display order.
pub fn status_counts(v: &ValidationSection) -> [(SeriesStatus, usize); 3] {
    let count = |s| v.series.iter().filter(|r| r.status == s).count();
    [
        (SeriesStatus::Accepted, count(SeriesStatus::Accepted)),
        (SeriesStatus::Repaired, count(SeriesStatus::Repaired)),
        (SeriesStatus::Rejected, count(SeriesStatus::Rejected)),
    ]
}

/// One slim stacked bar of accepted / repaired / rejected, in plain HTML (no chart needed).
pub fn status_bar(v: &ValidationSection) -> String {
    let counts = status_counts(v);
    let total: usize = counts.iter().map(|c| c.1).sum();
    let mut out =
        String::from(r#"<div class="stack" role="img" aria-label="Series by validation outcome">"#);
    for (status, n) in counts {
        if n > 0 {
            let _ = write!(
                out,
                r#"<span class="st-{s}" style="flex:{n}" title="{s}: {n} of {total}"></span>"#,
                s = status.as_str()
            );
        }
    }
    out.push_str("</div>");
    out
}

/// Horizontal bars of issue counts, largest first.
pub fn issues_svg(counts: &[(String, usize)]) -> String {
    let mut rows: Vec<&(String, usize)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(MAX_ISSUES);
    let label_w = rows
        .iter()
        .map(|r| text_width(&r.0, 11.0))
        .fold(40.0, f64::max)
        .min(220.0)
        + 12.0;
    let (w, row_h) = (600.0, 20.0);
    let frame = Frame {
        x: label_w,
        y: 4.0,
        w: w - label_w - 60.0,
        h: row_h * rows.len().max(1) as f64,
    };
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let x = Linear::new((0.0, max), (frame.x, frame.right()));
    let mut svg = Svg::new(
        w,
        frame.bottom() + 6.0,
        "chart issues-chart",
        "Issue counts by code",
    );
    for (i, (code, n)) in rows.iter().enumerate() {
        let y = frame.y + i as f64 * row_h;
        svg.text(
            frame.x - 6.0,
            y + 14.0,
            code,
            &format!(r#"text-anchor="end" fill="{}""#, palette::INK),
        );
        let bw = (x.map(*n as f64) - frame.x).max(1.0);
        svg.rect_titled(
            frame.x,
            y + 3.0,
            bw,
            row_h - 6.0,
            &format!(r#"fill="{}""#, palette::FORECAST),
            &format!("{code}: {n}"),
        );
        svg.text(
            frame.x + bw + 5.0,
            y + 14.0,
            &n.to_string(),
            &format!(r#"fill="{}""#, palette::INK),
        );
    }
    svg.finish()
}

/// Groups of `k` buckets reduced to their minimum finite value (NaN if none), with the group start.
fn downsample(strip: &CoverageStrip) -> (i64, Vec<f64>) {
    let n = strip.values.len();
    let k = n.div_ceil(MAX_STRIP_POINTS).max(1);
    let values = strip
        .values
        .chunks(k)
        .map(|c| {
            c.iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(f64::NAN, |m, v| if m.is_nan() { v } else { m.min(v) })
        })
        .collect();
    (strip.step * k as i64, values)
}

/// Bottom of the coverage axis: 0 when coverage ever falls below half, otherwise a round value
/// under the lowest bucket, so that a dip shared by a few servers is still visible (the tick
/// labels say where the axis starts).
fn coverage_floor(values: &[f64]) -> f64 {
    let min = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::min);
    if min < 0.5 {
        0.0
    } else {
        (((min - 0.02) * 10.0).floor() / 10.0).clamp(0.0, 0.9)
    }
}

/// The fleet coverage strip: share of series with data over time, dips marked.
pub fn coverage_svg(strip: &CoverageStrip) -> String {
    let (step, values) = downsample(strip);
    let (w, h) = (1000.0, 170.0);
    let frame = Frame {
        x: 44.0,
        y: 10.0,
        w: w - 44.0 - 14.0,
        h: h - 10.0 - 24.0,
    };
    let t0 = strip.start;
    let t1 = t0 + step * values.len() as i64;
    let x = Linear::new((t0 as f64, t1.max(t0 + 1) as f64), (frame.x, frame.right()));
    let y0 = coverage_floor(&values);
    let y = Linear::new((y0, 1.0), (frame.bottom(), frame.y));
    let mut svg = Svg::new(w, h, "chart coverage-chart", "Fleet coverage over time");
    let (yt, ystep) = nice_ticks(y0, 1.0, 4);
    svg.y_axis(frame, &y, &yt, |v| {
        format!("{} %", tick_label(v * 100.0, ystep * 100.0))
    });
    let (xt, xstep) = time_ticks(t0, t1, 10);
    svg.x_time_axis(frame, &x, &xt, xstep);
    // Buckets where under 90 % of the fleet reported get a warm background stripe.
    for (i, v) in values.iter().enumerate() {
        if v.is_finite() && *v < 0.9 {
            let (a, b) = (t0 + i as i64 * step, t0 + (i as i64 + 1) * step);
            svg.rect(
                x.map(a as f64),
                frame.y,
                x.map(b as f64) - x.map(a as f64),
                frame.h,
                &format!(r#"class="dip" fill="{}" fill-opacity="0.12""#, palette::BAD),
            );
        }
    }
    let centre = |i: usize| (t0 + i as i64 * step) as f64 + step as f64 / 2.0;
    let pts = values
        .iter()
        .enumerate()
        .map(|(i, v)| (x.map(centre(i)), y.map(y0), y.map(*v)));
    svg.path(
        &band_path(pts),
        &format!(
            r#"fill="{}" fill-opacity="0.3" stroke="none""#,
            palette::BAND
        ),
    );
    let line = line_path(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (x.map(centre(i)), y.map(*v))),
    );
    svg.path(
        &line,
        &format!(
            r#"class="coverage" fill="none" stroke="{}" stroke-width="1.4" stroke-linejoin="round""#,
            palette::FORECAST
        ),
    );
    svg.rect(
        frame.x,
        frame.y,
        frame.w,
        frame.h,
        r##"fill="none" stroke="#bbb""##,
    );
    svg.finish()
}

/// One sentence about the strip's worst bucket.
pub fn coverage_caption(strip: &CoverageStrip) -> String {
    let worst = strip
        .values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1));
    let low = strip
        .values
        .iter()
        .filter(|v| v.is_finite() && **v < 0.9)
        .count();
    match worst {
        Some((i, v)) => format!(
            "Lowest coverage {} at {} UTC; {} of {} buckets ({} each) below 90 %.",
            fmt_pct(*v),
            fmt_ts(strip.start + i as i64 * strip.step),
            low,
            strip.values.len(),
            format_duration(strip.step)
        ),
        None => "No coverage data.".into(),
    }
}

/// Sort key: rejected first, then repaired, then lowest coverage, most issues, id.
fn trouble_order(a: &SeriesRow, b: &SeriesRow) -> std::cmp::Ordering {
    let issues = |r: &SeriesRow| r.issues.iter().map(|i| i.1).sum::<usize>();
    b.status
        .cmp(&a.status)
        .then_with(|| a.coverage.total_cmp(&b.coverage))
        .then_with(|| issues(b).cmp(&issues(a)))
        .then_with(|| a.id.cmp(&b.id))
}

/// The per-series table, most problematic first, at most [`MAX_SERIES_ROWS`] rows.
pub fn series_table(series: &[SeriesRow]) -> String {
    let mut rows: Vec<&SeriesRow> = series.iter().collect();
    rows.sort_by(|a, b| trouble_order(a, b));
    let shown = rows.len().min(MAX_SERIES_ROWS);
    let mut out = String::from(
        r#"<table class="num sortable"><thead><tr><th>Series</th><th>Status</th><th>Interval</th><th>Points</th><th>Coverage</th><th>Gaps</th><th>Longest gap</th><th>Issues</th></tr></thead><tbody>"#,
    );
    for r in &rows[..shown] {
        let issues = r
            .issues
            .iter()
            .map(|(code, n)| format!("{}: {n}", escape(code)))
            .collect::<Vec<_>>()
            .join(", ");
        let cov = r.coverage.clamp(0.0, 1.0);
        let _ = write!(
            out,
            r#"<tr><td class="txt">{}</td><td class="txt" data-v="{}"><span class="st st-{}">{}</span></td><td data-v="{}">{}</td><td>{}</td><td data-v="{}"><span class="meter"><span style="width:{:.0}%"></span></span>{}</td><td>{}</td><td data-v="{}">{}</td><td class="txt">{}</td></tr>"#,
            escape(&r.id),
            r.status as u8,
            r.status.as_str(),
            r.status.as_str(),
            r.interval_secs,
            format_duration(r.interval_secs),
            r.points,
            sort_key(r.coverage),
            cov * 100.0,
            fmt_pct(r.coverage),
            r.gaps,
            r.longest_gap_secs,
            format_duration(r.longest_gap_secs),
            issues
        );
    }
    out.push_str("</tbody></table>");
    if rows.len() > shown {
        omitted_note(
            &mut out,
            rows.len() - shown,
            rows.len(),
            "series",
            "the healthiest",
        );
    }
    out
}

/// The files table.
pub fn files_table(v: &ValidationSection) -> String {
    let mut out = String::from(
        r#"<table class="num"><thead><tr><th>File</th><th>Format</th><th>Time format</th><th>Rows</th><th>Bad rows</th><th>Series</th></tr></thead><tbody>"#,
    );
    for f in &v.files {
        let reason = if f.time_format_reason.is_empty() {
            String::new()
        } else {
            format!(
                r#"<br><span class="dim">{}</span>"#,
                escape(&f.time_format_reason)
            )
        };
        let bad = if f.bad_rows > 0 {
            r#" class="warn""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<tr><td class="txt path">{}</td><td class="txt">{}</td><td class="txt">{}{reason}</td><td>{}</td><td{bad}>{}</td><td>{}</td></tr>"#,
            escape(&f.path),
            escape(&f.format),
            escape(&f.time_format),
            f.rows,
            f.bad_rows,
            f.series
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The longest gaps table.
pub fn gaps_table(v: &ValidationSection) -> String {
    let mut gaps: Vec<_> = v.longest_gaps.iter().collect();
    gaps.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then_with(|| a.series.cmp(&b.series))
    });
    let mut out = String::from(
        r#"<table class="num"><thead><tr><th>Series</th><th>From (UTC)</th><th>To (UTC)</th><th>Length</th></tr></thead><tbody>"#,
    );
    for g in gaps.iter().take(MAX_GAPS) {
        let _ = write!(
            out,
            r#"<tr><td class="txt">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&g.series),
            fmt_ts(g.start),
            fmt_ts(g.end),
            format_duration(g.end - g.start)
        );
    }
    out.push_str("</tbody></table>");
    if gaps.len() > MAX_GAPS {
        let _ = write!(
            out,
            r#"<p class="omitted">{} shorter gaps omitted.</p>"#,
            gaps.len() - MAX_GAPS
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: SeriesStatus, coverage: f64) -> SeriesRow {
        SeriesRow {
            id: id.into(),
            interval_secs: 300,
            points: 10,
            coverage,
            gaps: 0,
            longest_gap_secs: 0,
            issues: vec![],
            status,
        }
    }

    #[test]
    fn most_problematic_series_come_first() {
        let mut rows = [
            row("a", SeriesStatus::Accepted, 0.5),
            row("b", SeriesStatus::Rejected, 0.9),
            row("c", SeriesStatus::Repaired, 0.99),
            row("d", SeriesStatus::Repaired, 0.7),
        ];
        rows.sort_by(trouble_order);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b", "d", "c", "a"]);
    }

    #[test]
    fn coverage_axis_zooms_only_when_coverage_stays_high() {
        assert_eq!(coverage_floor(&[1.0, 0.3, f64::NAN]), 0.0);
        assert_eq!(coverage_floor(&[1.0, 0.958]), 0.9);
        assert_eq!(coverage_floor(&[1.0, 0.71]), 0.6);
        assert_eq!(coverage_floor(&[1.0, 1.0]), 0.9);
        assert_eq!(coverage_floor(&[]), 0.9);
    }

    #[test]
    fn downsampling_keeps_dips() {
        let mut values = vec![1.0; 5000];
        values[2501] = 0.1;
        let strip = CoverageStrip {
            start: 0,
            step: 60,
            values,
        };
        let (step, v) = downsample(&strip);
        assert_eq!(step, 300);
        assert_eq!(v.len(), 1000);
        assert_eq!(v.iter().copied().fold(f64::INFINITY, f64::min), 0.1);
    }
}
