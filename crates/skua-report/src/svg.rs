//! A small SVG toolkit: text escaping, path data that breaks at gaps, axes, legends, and a builder that writes self-contained elements (presentation
//! attributes inline, so a chart also works outside the report page).

use std::fmt::Write as _;

use skua_core::Ts;
use skua_core::time::{SECONDS_PER_DAY, second_of_day};

use crate::scale::{Linear, time_label};

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
    pub fn y_axis(
        &mut self,
        frame: Frame,
        scale: &Linear,
        ticks: &[f64],
        label: impl Fn(f64) -> String,
    ) {
        for &t in ticks {
            let y = scale.map(t);
            self.line(
                frame.x,
                y,
                frame.right(),
                y,
                &format!(r#"stroke="{}""#, palette::GRID),
            );
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
            self.line(
                x,
                frame.y,
                x,
                frame.bottom(),
                &format!(r#"stroke="{stroke}""#),
            );
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
    pub fn x_axis(
        &mut self,
        frame: Frame,
        scale: &Linear,
        ticks: &[f64],
        label: impl Fn(f64) -> String,
    ) {
        for &t in ticks {
            let x = scale.map(t);
            self.line(
                x,
                frame.y,
                x,
                frame.bottom(),
                &format!(r#"stroke="{}""#, palette::GRID),
            );
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
                    let dash = if *dash {
                        r#" stroke-dasharray="4 3""#
                    } else {
                        ""
                    };
                    self.line(
                        x,
                        y - 4.0,
                        x + 16.0,
                        y - 4.0,
                        &format!(r#"stroke="{color}" stroke-width="2"{dash}"#),
                    );
                }
                Mark::Fill { color, opacity } => {
                    self.rect(
                        x,
                        y - 9.0,
                        16.0,
                        10.0,
                        &format!(r#"fill="{color}" fill-opacity="{opacity}""#),
                    );
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
    fn nan_breaks_line_into_runs() {
        let pts = [
            (0.0, 1.0),
            (1.0, 2.0),
            (2.0, f64::NAN),
            (3.0, 3.0),
            (4.0, 4.0),
            (5.0, 5.0),
        ];
        let d = line_path(pts);
        assert_eq!(d, "M0 1L1 2M3 3L4 4 5 5");
        assert_eq!(d.matches('M').count(), 2);
        // A lone point becomes a dot, and all-NaN gives nothing.
        assert_eq!(
            line_path([(0.0, f64::NAN), (1.0, 2.0), (2.0, f64::NAN)]),
            "M1 2h0.1"
        );
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
