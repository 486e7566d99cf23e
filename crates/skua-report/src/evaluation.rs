//! The evaluation section: regret distributions per policy as horizontal box plots, the
//! comparison table with the best value per column highlighted, and results per series class.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::format::{fmt_num, fmt_pct, sort_key};
use crate::model::{EvaluationSection, PolicyKind, PolicyRow};
use crate::scale::{Linear, nice_domain, nice_ticks, tick_label};
use crate::svg::{Frame, Mark, Svg, escape, palette, text_width};

/// Colour of a policy kind.
pub fn kind_color(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Model => palette::FORECAST,
        PolicyKind::Fixed => palette::FIXED,
        PolicyKind::Random => palette::RANDOM,
    }
}

/// The `q`-quantile (linear interpolation) of sorted finite values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (i, frac) = (pos.floor() as usize, pos.fract());
            if i + 1 >= n {
                sorted[n - 1]
            } else {
                sorted[i] + (sorted[i + 1] - sorted[i]) * frac
            }
        }
    }
}

/// Five-number summary plus mean of one policy's regrets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxStats {
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Mean.
    pub mean: f64,
    /// Number of finite samples.
    pub n: usize,
}

impl BoxStats {
    /// Summary of the finite values in `samples`; `None` if there are none.
    pub fn of(samples: &[f64]) -> Option<BoxStats> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(BoxStats {
            p10: quantile(&v, 0.10),
            p25: quantile(&v, 0.25),
            p50: quantile(&v, 0.50),
            p75: quantile(&v, 0.75),
            p90: quantile(&v, 0.90),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            n: v.len(),
        })
    }
}

/// Policies ordered best first (by median regret, then name), so plot and tables agree.
fn ordered(ev: &EvaluationSection) -> Vec<&PolicyRow> {
    let mut rows: Vec<&PolicyRow> = ev.policies.iter().collect();
    rows.sort_by(|a, b| {
        a.median_regret
            .total_cmp(&b.median_regret)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}

/// Stats for a policy: from its samples when given, else a degenerate box from the table row.
fn stats_for(ev: &EvaluationSection, row: &PolicyRow) -> (BoxStats, bool) {
    let samples = ev.regret_samples.iter().find(|s| s.policy == row.name);
    match samples.and_then(|s| BoxStats::of(&s.values)) {
        Some(s) => (s, true),
        None => (
            BoxStats {
                p10: row.median_regret,
                p25: row.median_regret,
                p50: row.median_regret,
                p75: row.median_regret,
                p90: row.p90_regret,
                mean: row.mean_regret,
                n: row.n,
            },
            false,
        ),
    }
}

const ROW_H: f64 = 28.0;

/// Horizontal box plots of regret, one row per policy.
pub fn regret_svg(ev: &EvaluationSection, unit: &str) -> String {
    let rows = ordered(ev);
    let stats: Vec<(BoxStats, bool)> = rows.iter().map(|r| stats_for(ev, r)).collect();
    let label_w = rows
        .iter()
        .map(|r| text_width(&r.name, 12.0))
        .fold(60.0, f64::max)
        .min(220.0)
        + 16.0;
    let width = 600.0;
    let frame = Frame {
        x: label_w,
        y: 30.0,
        w: width - label_w - 16.0,
        h: ROW_H * rows.len().max(1) as f64,
    };
    let height = frame.bottom() + 34.0;
    let hi = stats
        .iter()
        .map(|(s, _)| s.p90.max(s.p75))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (d0, d1) = nice_domain(0.0, hi, 5);
    let x = Linear::new((d0, d1), (frame.x, frame.right()));
    let mut svg = Svg::new(
        width,
        height,
        "chart regret-chart",
        "Regret distribution per policy",
    );
    let (ticks, step) = nice_ticks(d0, d1, 5);
    svg.x_axis(frame, &x, &ticks, |v| tick_label(v, step));
    let axis = if unit.is_empty() {
        "regret (load above the day's best window; lower is better)".to_string()
    } else {
        format!("regret in {unit} (lower is better)")
    };
    svg.text(
        frame.x + frame.w / 2.0,
        height - 4.0,
        &axis,
        &format!(r#"text-anchor="middle" fill="{}""#, palette::INK),
    );
    let best = ev.best_policy.as_deref();
    for (i, (row, (s, from_samples))) in rows.iter().zip(&stats).enumerate() {
        let cy = frame.y + ROW_H * (i as f64 + 0.5);
        let color = kind_color(row.kind);
        if i % 2 == 1 {
            svg.rect(0.0, cy - ROW_H / 2.0, width, ROW_H, r##"fill="#f7f7f7""##);
        }
        let weight = if Some(row.name.as_str()) == best {
            r#" font-weight="700""#
        } else {
            ""
        };
        svg.text(
            frame.x - 8.0,
            cy + 4.0,
            &row.name,
            &format!(
                r#"text-anchor="end" font-size="12" fill="{}"{weight}"#,
                palette::INK
            ),
        );
        let clamp = |v: f64| x.map(v.clamp(d0, d1));
        let dash = if row.kind == PolicyKind::Random {
            r#" stroke-dasharray="3 2""#
        } else {
            ""
        };
        let title = format!(
            "{} ({}): p10 {} · p25 {} · median {} · p75 {} · p90 {} · mean {} · n {}",
            row.name,
            row.kind.as_str(),
            fmt_num(s.p10),
            fmt_num(s.p25),
            fmt_num(s.p50),
            fmt_num(s.p75),
            fmt_num(s.p90),
            fmt_num(s.mean),
            s.n
        );
        svg.open_group(&title);
        let stroke = format!(r#"stroke="{color}" stroke-width="1.5"{dash}"#);
        svg.line(clamp(s.p10), cy, clamp(s.p25), cy, &stroke);
        svg.line(clamp(s.p75), cy, clamp(s.p90), cy, &stroke);
        for v in [s.p10, s.p90] {
            svg.line(clamp(v), cy - 5.0, clamp(v), cy + 5.0, &stroke);
        }
        let (bx0, bx1) = (clamp(s.p25), clamp(s.p75));
        svg.rect(
            bx0,
            cy - 8.0,
            (bx1 - bx0).max(1.0),
            16.0,
            &format!(r#"class="box" fill="{color}" fill-opacity="0.3" {stroke}"#),
        );
        svg.line(
            clamp(s.p50),
            cy - 9.0,
            clamp(s.p50),
            cy + 9.0,
            &format!(r#"stroke="{color}" stroke-width="3""#),
        );
        if s.mean.is_finite() {
            svg.circle(
                clamp(s.mean),
                cy,
                3.2,
                r##"fill="#fff" stroke="#1a1a1a" stroke-width="1.3""##,
            );
        }
        if !from_samples {
            svg.text(
                frame.right() - 2.0,
                cy + 4.0,
                "table values only",
                r##"text-anchor="end" fill="#777""##,
            );
        }
        svg.close_group();
    }
    svg.rect(
        frame.x,
        frame.y,
        frame.w,
        frame.h,
        r##"fill="none" stroke="#bbb""##,
    );
    let mut items = Vec::new();
    for kind in [PolicyKind::Model, PolicyKind::Fixed, PolicyKind::Random] {
        if rows.iter().any(|r| r.kind == kind) {
            let label = match kind {
                PolicyKind::Model => "forecast policy",
                PolicyKind::Fixed => "fixed time",
                PolicyKind::Random => "random",
            };
            items.push((
                Mark::Fill {
                    color: kind_color(kind),
                    opacity: 0.5,
                },
                label,
            ));
        }
    }
    let end = svg.legend(frame.x, 16.0, &items);
    svg.circle(
        end + 4.0,
        12.0,
        3.2,
        r##"fill="#fff" stroke="#1a1a1a" stroke-width="1.3""##,
    );
    svg.text(
        end + 12.0,
        16.0,
        "mean",
        &format!(r#"fill="{}""#, palette::INK),
    );
    svg.finish()
}

/// Which direction is better for a column.
#[derive(Clone, Copy)]
enum Better {
    Low,
    High,
}

/// Index of the best finite value, if any.
fn best_index(values: &[Option<f64>], better: Better) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v.filter(|v| v.is_finite()) else {
            continue;
        };
        let wins = match (best, better) {
            (None, _) => true,
            (Some((_, b)), Better::Low) => v < b,
            (Some((_, b)), Better::High) => v > b,
        };
        if wins {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

type Column = (
    &'static str,
    Better,
    fn(&PolicyRow) -> Option<f64>,
    fn(f64) -> String,
);

fn columns(full: bool) -> Vec<Column> {
    let mut cols: Vec<Column> = vec![
        (
            "Median regret",
            Better::Low,
            |r| Some(r.median_regret),
            fmt_num,
        ),
        ("p90 regret", Better::Low, |r| Some(r.p90_regret), fmt_num),
    ];
    if full {
        cols.push(("Mean regret", Better::Low, |r| Some(r.mean_regret), fmt_num));
        cols.push((
            "Median rel. regret",
            Better::Low,
            |r| r.median_rel_regret,
            fmt_pct,
        ));
    }
    cols.push(("Hit rate", Better::High, |r| Some(r.hit_rate), fmt_pct));
    if full {
        cols.push((
            "Exact hit",
            Better::High,
            |r| Some(r.exact_hit_rate),
            fmt_pct,
        ));
        cols.push((
            "In busiest ¼",
            Better::Low,
            |r| Some(r.busiest_quarter),
            fmt_pct,
        ));
        cols.push(("Forecast MAE", Better::Low, |r| r.mae, fmt_num));
    }
    cols
}

/// The policy table; the compact form sits beside the plot, the full one below it.
pub fn policy_table(ev: &EvaluationSection, full: bool) -> String {
    let rows = ordered(ev);
    let cols = columns(full);
    let mut out = String::from(r#"<table class="num sortable"><thead><tr><th>Policy</th>"#);
    if full {
        out.push_str("<th>Kind</th><th>n</th>");
    }
    for (name, ..) in &cols {
        let _ = write!(out, "<th>{name}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    let bests: Vec<Option<usize>> = cols
        .iter()
        .map(|(_, better, get, _)| {
            best_index(&rows.iter().map(|r| get(r)).collect::<Vec<_>>(), *better)
        })
        .collect();
    for (i, r) in rows.iter().enumerate() {
        let chosen = ev.best_policy.as_deref() == Some(r.name.as_str());
        let _ = write!(
            out,
            r#"<tr{}><td class="txt"><span class="sw" style="background:{}"></span>{}{}</td>"#,
            if chosen { r#" class="chosen""# } else { "" },
            kind_color(r.kind),
            escape(&r.name),
            if chosen {
                r#" <span class="tag">best</span>"#
            } else {
                ""
            }
        );
        if full {
            let _ = write!(
                out,
                r#"<td class="txt">{}</td><td>{}</td>"#,
                r.kind.as_str(),
                r.n
            );
        }
        for ((_, _, get, fmt), best) in cols.iter().zip(&bests) {
            let v = get(r);
            let class = if *best == Some(i) {
                r#" class="best""#
            } else {
                ""
            };
            match v {
                Some(v) => {
                    let _ = write!(
                        out,
                        r#"<td{class} data-v="{}">{}</td>"#,
                        sort_key(v),
                        fmt(v)
                    );
                }
                None => out.push_str(r#"<td data-v="">–</td>"#),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// Servers in a class, and (median regret, hit rate) per policy.
type ClassCells<'a> = (usize, BTreeMap<&'a str, (f64, f64)>);

/// Per-class results pivoted: one row per class, one column per policy (median regret and hit rate).
pub fn class_table(ev: &EvaluationSection) -> String {
    let policies: Vec<&str> = ordered(ev)
        .iter()
        .map(|r| r.name.as_str())
        .filter(|p| ev.by_class.iter().any(|c| c.policy == *p))
        .collect();
    let mut classes: BTreeMap<&str, ClassCells> = BTreeMap::new();
    for c in &ev.by_class {
        let e = classes.entry(c.class.as_str()).or_default();
        e.0 = e.0.max(c.servers);
        e.1.insert(c.policy.as_str(), (c.median_regret, c.hit_rate));
    }
    let mut out = String::from(r#"<table class="num"><thead><tr><th>Class</th><th>Servers</th>"#);
    for p in &policies {
        let _ = write!(out, "<th>{}</th>", escape(p));
    }
    out.push_str("</tr></thead><tbody>");
    for (class, (servers, cells)) in &classes {
        let _ = write!(
            out,
            r#"<tr><td class="txt">{}</td><td>{servers}</td>"#,
            escape(class)
        );
        let vals: Vec<Option<f64>> = policies.iter().map(|p| cells.get(p).map(|c| c.0)).collect();
        let best = best_index(&vals, Better::Low);
        for (i, p) in policies.iter().enumerate() {
            match cells.get(p) {
                Some((reg, hit)) => {
                    let class = if best == Some(i) {
                        r#" class="best""#
                    } else {
                        ""
                    };
                    let _ = write!(
                        out,
                        r#"<td{class}>{} <span class="dim">· {}</span></td>"#,
                        fmt_num(*reg),
                        fmt_pct(*hit)
                    );
                }
                None => out.push_str("<td>–</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.25), 2.0);
        assert!((quantile(&v, 0.1) - 1.4).abs() < 1e-12);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert!(quantile(&[], 0.5).is_nan());
        let s = BoxStats::of(&[f64::NAN, 4.0, 2.0]).unwrap();
        assert_eq!((s.p50, s.mean, s.n), (3.0, 3.0, 2));
        assert!(BoxStats::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn best_index_respects_direction_and_skips_missing() {
        let v = [Some(3.0), None, Some(1.0), Some(f64::NAN)];
        assert_eq!(best_index(&v, Better::Low), Some(2));
        assert_eq!(best_index(&v, Better::High), Some(0));
        assert_eq!(best_index(&[None], Better::Low), None);
    }
}
