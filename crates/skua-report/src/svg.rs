//! A small SVG toolkit: text escaping, linear scales with nice ticks, UTC time ticks, path data
//! that breaks at gaps, and a builder that writes self-contained elements (presentation
//! attributes inline, so a chart also works outside the report page).

use std::fmt::Write as _;

use skua_core::Ts;
use skua_core::time::{SECONDS_PER_DAY, format_ts, second_of_day};

/// Colour-blind-safe palette (Okabe & Ito), plus neutrals.
pub mod palette {
    /// Observed history.
    pub const HISTORY: &str = "#8a8a8a";
    /// Forecast line and model policies.
    pub const FORECAST: &str = "#0072B2";
    /// 10–90 % band.
    pub const BAND: &str = "#56B4E9";
    /// Actual load over the horizon.
    pub const ACTUAL: &str = "#1a1a1a";
    /// The chosen window.
    pub const CHOSEN: &str = "#009E73";
    /// The runner-up window.
    pub const RUNNER_UP: &str = "#D55E00";
    /// Fixed-time policies.
    pub const FIXED: &str = "#E69F00";
    /// Random policies.
    pub const RANDOM: &str = "#CC79A7";
    /// Rejected / bad things.
    pub const BAD: &str = "#D55E00";
    /// Axis text.
    pub const INK: &str = "#333333";
    /// Grid lines.
    pub const GRID: &str = "#e3e3e3";
}

/// Escapes text for HTML and SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Formats a coordinate with at most one decimal (`12`, `12.5`); keeps the markup small.
pub fn coord(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A linear map from a data domain onto a pixel range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Linear {
    /// Maps `domain.0 → range.0` and `domain.1 → range.1` (either may be decreasing).
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Linear {
            d0: domain.0,
            d1: domain.1,
            r0: range.0,
            r1: range.1,
        }
    }

    /// Pixel position of `v`; the middle of the range for an empty domain.
    pub fn map(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }

    /// The data domain.
    pub fn domain(&self) -> (f64, f64) {
        (self.d0, self.d1)
    }
}

/// The 1-2-5 step closest above `raw` (`0.37 → 0.5`, `13 → 20`); 1 for non-positive input.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Widens `(lo, hi)` so it is non-empty and finite.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// Extends `(lo, hi)` outwards to multiples of a nice step giving about `target` intervals.
pub fn nice_domain(lo: f64, hi: f64, target: usize) -> (f64, f64) {
    let (lo, hi) = widen(lo, hi);
    let step = nice_step((hi - lo) / target.max(1) as f64);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// About `target` evenly spaced round values inside `[lo, hi]`, with their step.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = widen(lo, hi);
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step).collect();
    (ticks, step)
}

/// Formats a tick value with as many decimals as its step needs.
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Candidate time-tick steps, in seconds.
const TIME_STEPS: [i64; 14] = [
    60, 300, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800, 345_600, 604_800,
    1_209_600,
];

/// UTC ticks at multiples of a round step, at most about `target` of them, inside `[t0, t1]`.
pub fn time_ticks(t0: Ts, t1: Ts, target: usize) -> (Vec<Ts>, i64) {
    let span = (t1 - t0).max(1);
    let target = target.max(1) as i64;
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| span / s <= target)
        .unwrap_or_else(|| (span / target).div_euclid(SECONDS_PER_DAY).max(1) * SECONDS_PER_DAY);
    let first = t0.div_euclid(step) * step + if t0.rem_euclid(step) == 0 { 0 } else { step };
    let ticks = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= t1)
        .collect();
    (ticks, step)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC date as `Jul 1`.
pub fn date_label(ts: Ts) -> String {
    let s = format_ts(ts);
    match (s.get(5..7), s.get(8..10)) {
        (Some(m), Some(d)) => {
            let month = m.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1)));
            match (month, d.parse::<u32>()) {
                (Some(name), Ok(day)) => format!("{name} {day}"),
                _ => s,
            }
        }
        _ => s,
    }
}

/// A UTC time of day as `06:00`.
pub fn clock_label(ts: Ts) -> String {
    let s = format_ts(ts);
    s.get(11..16).map(str::to_string).unwrap_or(s)
}

/// A tick label: the date at midnight or for day-sized steps, otherwise the time of day.
pub fn time_label(ts: Ts, step: i64) -> String {
    if step >= SECONDS_PER_DAY || second_of_day(ts) == 0 {
        date_label(ts)
    } else {
        clock_label(ts)
    }
}

/// Path data through `(x, y)` points. A non-finite `y` ends the current run, so gaps stay gaps;
/// a lone point between gaps becomes a tiny segment (drawn as a dot with round caps).
pub fn line_path(points: impl IntoIterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    let mut run = 0usize;
    for (x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            if run == 1 {
                d.push_str("h0.1");
            }
            run = 0;
            continue;
        }
        let cmd = match run {
            0 => "M",
            1 => "L",
            _ => " ",
        };
        let _ = write!(d, "{cmd}{} {}", coord(x), coord(y));
        run += 1;
    }
    if run == 1 {
        d.push_str("h0.1");
    }
    d
}

/// Path data of a filled band between `lo` and `hi` at each `x`, one closed shape per run of
/// points where both edges are finite.
pub fn band_path(points: impl IntoIterator<Item = (f64, f64, f64)>) -> String {
    let mut d = String::new();
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64, f64)>, d: &mut String| {
        if run.len() >= 2 {
            for (i, (x, _, hi)) in run.iter().enumerate() {
                let cmd = if i == 0 { "M" } else { "L" };
                let _ = write!(d, "{cmd}{} {}", coord(*x), coord(*hi));
            }
            for (x, lo, _) in run.iter().rev() {
                let _ = write!(d, "L{} {}", coord(*x), coord(*lo));
            }
            d.push('Z');
        }
        run.clear();
    };
    for (x, lo, hi) in points {
        if x.is_finite() && lo.is_finite() && hi.is_finite() {
            run.push((x, lo, hi));
        } else {
            flush(&mut run, &mut d);
        }
    }
    flush(&mut run, &mut d);
    d
}

/// The plotting area inside a chart's margins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Frame {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
}

/// An SVG document under construction. Attribute strings passed in are trusted markup built
/// by this crate; every piece of text goes through [`escape`].
#[derive(Debug)]
pub struct Svg {
    out: String,
}

impl Svg {
    /// Starts a responsive `<svg>` of the given intrinsic size with an accessible label.
    pub fn new(width: f64, height: f64, class: &str, label: &str) -> Self {
        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            r#"<svg class="{}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" font-family="system-ui,-apple-system,'Segoe UI',Roboto,sans-serif" font-size="11">"#,
            escape(class),
            coord(width),
            coord(height),
            coord(width),
            coord(height),
            escape(label)
        );
        Svg { out }
    }

    /// Appends raw, trusted markup.
    pub fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// Opens a group whose elements share a hover tooltip; close with [`Svg::close_group`].
    pub fn open_group(&mut self, title: &str) {
        let _ = write!(self.out, "<g><title>{}</title>", escape(title));
    }

    /// Closes the group opened last.
    pub fn close_group(&mut self) {
        self.out.push_str("</g>");
    }

    /// A rectangle; `attrs` is extra trusted markup such as `fill="…"`.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" {attrs}/>"#,
            coord(x),
            coord(y),
            coord(w.max(0.0)),
            coord(h.max(0.0))
        );
    }

    /// A rectangle with a hover tooltip.
    pub fn rect_titled(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str, title: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" {attrs}><title>{}</title></rect>"#,
            coord(x),
            coord(y),
            coord(w.max(0.0)),
            coord(h.max(0.0)),
            escape(title)
        );
    }

    /// A straight line.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &str) {
        let _ = write!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {attrs}/>"#,
            coord(x1),
            coord(y1),
            coord(x2),
            coord(y2)
        );
    }

    /// A circle.
    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, attrs: &str) {
        let _ = write!(
            self.out,
            r#"<circle cx="{}" cy="{}" r="{}" {attrs}/>"#,
            coord(cx),
            coord(cy),
            coord(r)
        );
    }

    /// Text at `(x, y)` (baseline), escaped.
    pub fn text(&mut self, x: f64, y: f64, text: &str, attrs: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{}" y="{}" {attrs}>{}</text>"#,
            coord(x),
            coord(y),
            escape(text)
        );
    }

    /// A path; nothing is written for empty path data.
    pub fn path(&mut self, d: &str, attrs: &str) {
        if !d.is_empty() {
            let _ = write!(self.out, r#"<path d="{d}" {attrs}/>"#);
        }
    }

    /// Horizontal grid lines and value labels on the left of `frame`.
    pub fn y_axis(&mut self, frame: Frame, scale: &Linear, ticks: &[f64], label: impl Fn(f64) -> String) {
        for &t in ticks {
            let y = scale.map(t);
            self.line(frame.x, y, frame.right(), y, &format!(r#"stroke="{}""#, palette::GRID));
            self.text(
                frame.x - 5.0,
                y + 3.5,
                &label(t),
                &format!(r#"text-anchor="end" fill="{}""#, palette::INK),
            );
        }
    }

    /// Vertical grid lines and UTC labels under `frame`; midnights get a darker line.
    pub fn x_time_axis(&mut self, frame: Frame, scale: &Linear, ticks: &[Ts], step: i64) {
        for &t in ticks {
            let x = scale.map(t as f64);
            let midnight = second_of_day(t) == 0;
            let stroke = if midnight { "#c4c4c4" } else { palette::GRID };
            self.line(x, frame.y, x, frame.bottom(), &format!(r#"stroke="{stroke}""#));
            let weight = if midnight && step < SECONDS_PER_DAY {
                r#" font-weight="600""#
            } else {
                ""
            };
            // Labels at the very edges are anchored inwards so they are not clipped.
            let anchor = if x > frame.right() - 18.0 {
                "end"
            } else if x < frame.x + 18.0 {
                "start"
            } else {
                "middle"
            };
            self.text(
                x,
                frame.bottom() + 14.0,
                &time_label(t, step),
                &format!(r#"text-anchor="{anchor}" fill="{}"{weight}"#, palette::INK),
            );
        }
        self.line(
            frame.x,
            frame.bottom(),
            frame.right(),
            frame.bottom(),
            r##"stroke="#999""##,
        );
    }

    /// Vertical grid lines and value labels under `frame`.
    pub fn x_axis(&mut self, frame: Frame, scale: &Linear, ticks: &[f64], label: impl Fn(f64) -> String) {
        for &t in ticks {
            let x = scale.map(t);
            self.line(x, frame.y, x, frame.bottom(), &format!(r#"stroke="{}""#, palette::GRID));
            self.text(
                x,
                frame.bottom() + 14.0,
                &label(t),
                &format!(r#"text-anchor="middle" fill="{}""#, palette::INK),
            );
        }
    }

    /// A one-line legend starting at `(x, y)`; returns the x after the last item.
    pub fn legend(&mut self, mut x: f64, y: f64, items: &[(Mark, &str)]) -> f64 {
        for (mark, label) in items {
            match mark {
                Mark::Line { color, dash } => {
                    let dash = if *dash { r#" stroke-dasharray="4 3""# } else { "" };
                    self.line(x, y - 4.0, x + 16.0, y - 4.0, &format!(r#"stroke="{color}" stroke-width="2"{dash}"#));
                }
                Mark::Fill { color, opacity } => {
                    self.rect(x, y - 9.0, 16.0, 10.0, &format!(r#"fill="{color}" fill-opacity="{opacity}""#));
                }
                Mark::Outline { color } => {
                    self.rect(
                        x + 1.0,
                        y - 8.0,
                        14.0,
                        8.0,
                        &format!(r#"fill="none" stroke="{color}" stroke-width="1.5" stroke-dasharray="3 2""#),
                    );
                }
            }
            self.text(x + 20.0, y, label, &format!(r#"fill="{}""#, palette::INK));
            x += 20.0 + text_width(label, 11.0) + 14.0;
        }
        x
    }

    /// Closes the `<svg>` and returns the markup.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A legend swatch.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A line sample.
    Line {
        /// Stroke colour.
        color: &'static str,
        /// Dashed or solid.
        dash: bool,
    },
    /// A filled box.
    Fill {
        /// Fill colour.
        color: &'static str,
        /// Fill opacity.
        opacity: f64,
    },
    /// A dashed outline.
    Outline {
        /// Stroke colour.
        color: &'static str,
    },
}

/// Rough width of `text` in pixels at `size` px (no font metrics offline; good enough for layout).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain-id_07"), "plain-id_07");
    }

    #[test]
    fn nice_steps_follow_one_two_five() {
        assert_eq!(nice_step(0.37), 0.5);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(6.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn ticks_are_round_and_inside() {
        let (ticks, step) = nice_ticks(0.0, 87.0, 5);
        assert_eq!(step, 20.0);
        assert_eq!(ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        let (ticks, _) = nice_ticks(0.13, 0.91, 4);
        assert_eq!(ticks.len(), 4);
        assert!((ticks[0] - 0.2).abs() < 1e-12);
        // Degenerate domains still give ticks.
        let (ticks, _) = nice_ticks(5.0, 5.0, 4);
        assert!(!ticks.is_empty());
        assert_eq!(nice_domain(3.0, 87.0, 5), (0.0, 100.0));
        assert_eq!(tick_label(0.30000000000000004, 0.1), "0.3");
        assert_eq!(tick_label(-0.0, 1.0), "0");
        assert_eq!(tick_label(40.0, 20.0), "40");
    }

    #[test]
    fn scale_maps_both_directions() {
        let s = Linear::new((0.0, 100.0), (200.0, 0.0));
        assert_eq!(s.map(0.0), 200.0);
        assert_eq!(s.map(25.0), 150.0);
        let flat = Linear::new((1.0, 1.0), (0.0, 10.0));
        assert_eq!(flat.map(1.0), 5.0);
    }

    #[test]
    fn time_ticks_align_to_utc() {
        // 2013-07-01T05:30Z .. three days later: 12 h ticks at 00:00 and 12:00 UTC.
        let t0 = 1_372_656_600;
        let (ticks, step) = time_ticks(t0, t0 + 3 * SECONDS_PER_DAY, 8);
        assert_eq!(step, 43_200);
        assert!(ticks.iter().all(|t| t % 43_200 == 0 && *t >= t0));
        assert_eq!(time_label(ticks[0], step), "12:00");
        assert_eq!(time_label(ticks[1], step), "Jul 2");
        assert_eq!(clock_label(t0), "05:30");
        assert_eq!(date_label(t0), "Jul 1");
        let (ticks, step) = time_ticks(0, 30 * SECONDS_PER_DAY, 6);
        assert!(step >= SECONDS_PER_DAY && ticks.len() <= 7);
    }

    #[test]
    fn nan_breaks_line_into_runs() {
        let pts = [(0.0, 1.0), (1.0, 2.0), (2.0, f64::NAN), (3.0, 3.0), (4.0, 4.0), (5.0, 5.0)];
        let d = line_path(pts);
        assert_eq!(d, "M0 1L1 2M3 3L4 4 5 5");
        assert_eq!(d.matches('M').count(), 2);
        // A lone point becomes a dot, and all-NaN gives nothing.
        assert_eq!(line_path([(0.0, f64::NAN), (1.0, 2.0), (2.0, f64::NAN)]), "M1 2h0.1");
        assert_eq!(line_path([(0.0, f64::NAN)]), "");
    }

    #[test]
    fn band_breaks_at_gaps_and_closes() {
        let d = band_path([
            (0.0, 1.0, 2.0),
            (1.0, 1.0, 3.0),
            (2.0, f64::NAN, 3.0),
            (3.0, 0.0, 1.0),
            (4.0, 0.0, 1.0),
        ]);
        assert_eq!(d, "M0 2L1 3L1 1L0 1ZM3 1L4 1L4 0L3 0Z");
    }

    #[test]
    fn coordinates_are_compact() {
        assert_eq!(coord(12.0), "12");
        assert_eq!(coord(12.345), "12.3");
        assert_eq!(coord(-0.04), "0");
    }
}
