//! The self-contained HTML report of `skua bench serving`: per workload, the policy table, an SVG
//! line plot of attainment against arrival speed-up (one line per policy, the 90 % bar dashed)
//! and SVG goodput bars. No script, no external resource.
//!
//! `skua-report`'s SVG helpers (`svg.rs`, `scale.rs`) are private to that crate, so the few
//! primitives needed here (escaping, a log₂ x axis, 0–100 % y ticks) are written out below.

use std::fmt::Write as _;

use super::render::{comparison_line, comparison_text, goodput_cell, pct, times};
use super::report::{Report, TraceReport};

/// Line colours, cycled (Tableau 20); skua's policies are drawn thicker, the oracle dotted.
const PALETTE: [&str; 20] = [
    "#4e79a7", "#a0cbe8", "#f28e2b", "#ffbe7d", "#59a14f", "#8cd17d", "#b6992d", "#f1ce63",
    "#499894", "#86bcb6", "#e15759", "#ff9d9a", "#79706e", "#bab0ac", "#d37295", "#fabfd2",
    "#b07aa1", "#d4a6c8", "#9d7660", "#d7b5a6",
];

/// Escapes text for HTML and SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let p = &r.protocol;
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>skua bench serving</title><style>\
         body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1400px;color:#222}\
         .wide{overflow-x:auto}\
         table{border-collapse:collapse;margin:.8em 0}td,th{padding:.2em .6em;border-bottom:1px solid #ddd}\
         td.n{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left;background:#f4f4f4}\
         tr.skua td{font-weight:600}.note{color:#555}svg{margin:.5em 1em .5em 0;vertical-align:top}\
         svg text{font:11px system-ui,sans-serif}</style></head><body>\n",
    );
    out.push_str("<h1>skua bench serving</h1>\n<p class=\"note\">");
    let _ = write!(
        out,
        "SLO: {}.<br>Attainment: {}.<br>Goodput: {}.<br>Seed {}.",
        esc(&p.slo_rule),
        esc(p.attainment_rule),
        esc(&p.goodput_rule),
        p.seed
    );
    out.push_str("</p>\n");
    for t in &r.traces {
        trace(&mut out, t, p.goodput_range, &p.speedups);
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">Generated in {:.1} s.</p></body></html>",
        r.elapsed_s
    );
    out
}

fn trace(out: &mut String, t: &TraceReport, range: (f64, f64), speedups: &[f64]) {
    let i = &t.info;
    let c = &i.cluster;
    let _ = writeln!(out, "<h2>{}</h2>", esc(&i.name));
    let _ = write!(
        out,
        "<p class=\"note\">{} — {} requests over {:.0} s ({:.2} req/s at ×1), mean {:.0} in / \
         {:.0} out tokens.<br>Cluster: {} × {} ({}), KV {} tokens per instance.",
        esc(&i.source),
        i.requests,
        i.span_s,
        i.rate_per_s,
        i.mean_input_tokens,
        i.mean_output_tokens,
        c.instances,
        esc(&c.profile),
        esc(&c.model),
        c.kv_capacity_tokens
    );
    if let Some(note) = c.note {
        let _ = write!(out, "<br>{}", esc(note));
    }
    if let Some(s) = &i.scenario {
        let _ = write!(out, "<br>{}", esc(&s.description));
    }
    out.push_str("</p>\n");
    table(out, t, range, speedups);
    let _ = write!(
        out,
        "<p><b>{}</b>",
        esc(&comparison_line(t.comparison.as_ref()))
    );
    let best = t.comparison.as_ref().map(|c| c.skua.as_str());
    for c in t
        .comparisons
        .iter()
        .filter(|c| Some(c.skua.as_str()) != best)
    {
        let _ = write!(
            out,
            "<br>{} vs best baseline: {}",
            esc(&c.skua),
            esc(&comparison_text(c))
        );
    }
    out.push_str("</p>\n");
    out.push_str(&attainment_svg(t, speedups));
    out.push_str(&goodput_svg(t, range));
    out.push('\n');
}

fn table(out: &mut String, t: &TraceReport, range: (f64, f64), speedups: &[f64]) {
    out.push_str("<div class=\"wide\"><table><tr><th>policy</th>");
    for s in speedups {
        let _ = write!(out, "<th>attainment {}</th>", times(*s));
    }
    out.push_str(
        "<th>goodput ×</th><th>req/s</th><th>TTFT p50 ms</th><th>TTFT p99 ms</th>\
         <th>TPOT p50 ms</th><th>TPOT p99 ms</th><th>TTFT/SLO p99</th><th>rejected</th>\
         <th>flips</th><th>makespan s</th><th>staleness ms</th></tr>\n",
    );
    for p in &t.policies {
        let b = &p.at_1;
        let _ = write!(
            out,
            "<tr{}><td title=\"{}\">{}{}</td>",
            if p.skua { " class=\"skua\"" } else { "" },
            esc(&p.description),
            esc(&p.name),
            if p.oracle { " (oracle)" } else { "" }
        );
        for s in speedups {
            let cell = p
                .attainment
                .iter()
                .find(|a| a.scale == *s)
                .map_or("-".into(), |a| pct(a.attainment));
            let _ = write!(out, "<td class=\"n\">{cell}</td>");
        }
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        for cell in [
            goodput_cell(p, range),
            format!("{:.2}", p.goodput.req_per_s),
            ms(b.ttft_ms.map(|m| m.p50)),
            ms(b.ttft_ms.map(|m| m.p99)),
            ms(b.tpot_ms.map(|m| m.p50)),
            ms(b.tpot_ms.map(|m| m.p99)),
            b.ttft_over_slo
                .map_or("-".into(), |m| format!("{:.2}", m.p99)),
            b.rejected.to_string(),
            b.role_flips.to_string(),
            format!("{:.0}", b.makespan_s),
            format!("{}", p.staleness_ms),
        ] {
            let _ = write!(out, "<td class=\"n\">{}</td>", esc(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
}

/// Attainment (0–100 %) against speed-up on a log₂ axis, one line per policy.
fn attainment_svg(t: &TraceReport, speedups: &[f64]) -> String {
    let w = 720.0;
    let h = (44.0 + 14.0 * t.policies.len() as f64).max(300.0);
    let (left, right, top, bottom) = (48.0, 210.0, 16.0, 36.0);
    let (x0, x1) = (left, w - right - 16.0);
    let (y0, y1) = (h - bottom, top);
    let logs: Vec<f64> = speedups.iter().map(|s| s.log2()).collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let x = |s: f64| {
        if hi > lo {
            x0 + (s.log2() - lo) / (hi - lo) * (x1 - x0)
        } else {
            (x0 + x1) / 2.0
        }
    };
    let y = |a: f64| y0 + a.clamp(0.0, 1.0) * (y1 - y0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"SLO attainment against arrival speed-up, {}\">",
        esc(&t.info.name)
    );
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            s,
            "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}%</text>",
            tick * 100.0,
            yy = y(tick),
            tx = x0 - 4.0,
            ty = y(tick) + 4.0
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#888\" \
         stroke-dasharray=\"4 3\"/><text x=\"{tx}\" y=\"{ty:.1}\">90 %</text>",
        yy = y(0.9),
        tx = x1 + 3.0,
        ty = y(0.9) + 4.0
    );
    for &sp in speedups {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(sp),
            y0 + 16.0,
            esc(&times(sp))
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">arrival speed-up</text>",
        (x0 + x1) / 2.0,
        h - 4.0
    );
    for (k, p) in t.policies.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let pts: Vec<String> = p
            .attainment
            .iter()
            .map(|a| format!("{:.1},{:.1}", x(a.scale), y(a.attainment)))
            .collect();
        let width = if p.skua { 3.0 } else { 1.5 };
        let dash = if p.oracle {
            " stroke-dasharray=\"2 2\""
        } else {
            ""
        };
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"{dash} points=\"{}\">\
             <title>{}</title></polyline>",
            pts.join(" "),
            esc(&p.name)
        );
        let ly = top + 12.0 + 14.0 * k as f64;
        let _ = write!(
            s,
            "<line x1=\"{a}\" x2=\"{b}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"{color}\" \
             stroke-width=\"{width}\"/><text x=\"{tx}\" y=\"{ty}\">{}</text>",
            esc(&p.name),
            a = x1 + 40.0,
            b = x1 + 56.0,
            yy = ly - 4.0,
            tx = x1 + 60.0,
            ty = ly
        );
    }
    s.push_str("</svg>");
    s
}

/// Goodput scale per policy as horizontal bars; bounds are labelled `≥` / `<`.
fn goodput_svg(t: &TraceReport, range: (f64, f64)) -> String {
    let row = 18.0;
    let (label_w, bar_w, value_w) = (180.0, 260.0, 160.0);
    let h = 24.0 + row * t.policies.len() as f64;
    let w = label_w + bar_w + value_w;
    let max = t
        .policies
        .iter()
        .map(|p| p.goodput.scale)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"goodput per policy, {}\"><text x=\"0\" y=\"12\">goodput (× the trace's \
         arrival rate, attainment ≥ 90 %)</text>",
        esc(&t.info.name)
    );
    for (k, p) in t.policies.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let yy = 20.0 + row * k as f64;
        let len = bar_w * p.goodput.scale / max;
        let _ = write!(
            s,
            "<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{yy}\" width=\"{len:.1}\" height=\"{bh}\" fill=\"{color}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{} ({:.2} req/s)</text>",
            esc(&p.name),
            esc(&goodput_cell(p, range)),
            p.goodput.req_per_s,
            tx = label_w - 6.0,
            ty = yy + 12.0,
            bh = row - 4.0,
            vx = label_w + len + 4.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
