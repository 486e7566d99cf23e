//! The text `skua bench serving` prints: a header with the rules and the policies, then per
//! workload its description, one table with every policy side by side, and the ratio line.

use super::report::{ComparisonReport, PolicyReport, Report, TraceReport};
use crate::output::{table, thousands};

/// A share as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A speed-up, e.g. `×2`, `×0.5`.
pub fn times(x: f64) -> String {
    format!("×{}", trim(x))
}

/// A number with up to 3 decimals, trailing zeros dropped.
fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The goodput cell: the scale, `≥hi` when the bar held at the top of the range, `<lo` when it
/// failed at the bottom.
pub fn goodput_cell(p: &PolicyReport, range: (f64, f64)) -> String {
    match p.goodput.bound {
        "at_least_range_top" => format!("≥{}", trim(range.1)),
        "below_range" => format!("<{}", trim(range.0)),
        _ => format!("{:.2}", p.goodput.scale),
    }
}

/// The ratio line of one workload: skua's best policy against the best baseline.
pub fn comparison_line(c: Option<&ComparisonReport>) -> String {
    match c {
        Some(c) => format!("skua vs best baseline: {}", comparison_text(c)),
        None => {
            "skua vs best baseline: not compared (the run has no skua policy or no baseline)".into()
        }
    }
}

/// Goodput ratio and attainment gaps of one comparison.
pub fn comparison_text(c: &ComparisonReport) -> String {
    let ratio = match c.goodput_ratio {
        Some(r) if c.bounded => {
            format!("goodput {r:.2}× (a bound: a goodput hit the search range)")
        }
        Some(r) => format!("goodput {r:.2}×"),
        None => "goodput n/a (the best baseline's goodput is 0)".into(),
    };
    let gaps: Vec<String> = c
        .attainment
        .iter()
        .map(|g| {
            format!(
                "{} pts at {} (vs {} {})",
                points(g.points),
                times(g.scale),
                g.baseline,
                pct(g.baseline_attainment)
            )
        })
        .collect();
    format!(
        "{ratio} ({} {} vs {} {}); attainment {}",
        c.skua,
        times(c.skua_goodput),
        c.baseline,
        times(c.baseline_goodput),
        gaps.join(", ")
    )
}

/// Signed percentage points with one decimal, never `-0.0`.
fn points(x: f64) -> String {
    // Adding 0.0 turns a rounded −0.0 into +0.0.
    format!("{:+.1}", (x * 10.0).round() / 10.0 + 0.0)
}

impl Report {
    /// Everything printed on stdout.
    pub fn render(&self) -> String {
        let p = &self.protocol;
        let mut out = String::new();
        out.push_str("skua bench serving — the serving benchmark protocol\n");
        out.push_str(&format!("SLO        {}\n", p.slo_rule));
        out.push_str(&format!("attainment {}\n", p.attainment_rule));
        out.push_str(&format!("goodput    {}\n", p.goodput_rule));
        out.push_str(&format!("seed       {}\n\n", p.seed));
        if let Some(first) = self.traces.first() {
            let rows: Vec<Vec<String>> = first
                .policies
                .iter()
                .map(|q| {
                    vec![
                        label(q),
                        q.router.clone(),
                        q.controller.clone(),
                        format!("{} ms", trim(q.staleness_ms)),
                        q.description.clone(),
                    ]
                })
                .collect();
            out.push_str(&table(
                &["policy", "router", "roles", "staleness", "what it does"],
                &rows,
            ));
            out.push('\n');
        }
        for t in &self.traces {
            out.push_str(&render_trace(t, p.goodput_range, &p.speedups));
            out.push('\n');
        }
        out.push_str(&format!(
            "done in {:.1} s ({} threads)\n",
            self.elapsed_s, p.threads
        ));
        out
    }
}

/// A policy's name with its kind.
fn label(p: &PolicyReport) -> String {
    if p.oracle {
        format!("{} (oracle)", p.name)
    } else {
        p.name.clone()
    }
}

fn render_trace(t: &TraceReport, range: (f64, f64), speedups: &[f64]) -> String {
    let i = &t.info;
    let c = &i.cluster;
    let mut out = format!("== {} ==\n", i.name);
    let mut cut = Vec::new();
    if let Some((s, e)) = i.slice_s {
        cut.push(match e {
            Some(e) => format!("slice {s}–{e} s"),
            None => format!("slice {s} s to the end"),
        });
    }
    if let Some(n) = i.take {
        cut.push(format!("first {}", thousands(n)));
    }
    let cut = if cut.is_empty() {
        String::new()
    } else {
        format!(", {}", cut.join(", "))
    };
    out.push_str(&format!(
        "workload  {} ({} of {} requests{cut}; {:.0} s, {:.2} req/s at ×1; mean {:.0} in / {:.0} out tokens)\n",
        i.source,
        thousands(i.requests as u64),
        thousands(i.requests_loaded as u64),
        i.span_s,
        i.rate_per_s,
        i.mean_input_tokens,
        i.mean_output_tokens,
    ));
    out.push_str(&format!(
        "cluster   {} × {} ({}), KV {} tokens/instance at {} B/token\n",
        c.instances,
        c.profile,
        c.model,
        thousands(c.kv_capacity_tokens),
        thousands(c.kv_bytes_per_token)
    ));
    if let Some(note) = c.note {
        out.push_str(&format!("          {note}\n"));
    }
    if let Some(max) = c
        .max_measured_prompt
        .filter(|_| i.prompts_beyond_measured > 0)
    {
        out.push_str(&format!(
            "note      {} of {} prompts exceed the longest measured prompt ({} tokens); their \
             prefill time is the fitted quadratic extrapolated\n",
            thousands(i.prompts_beyond_measured as u64),
            thousands(i.requests as u64),
            thousands(u64::from(max))
        ));
    }
    if let Some(s) = &i.scenario {
        out.push_str(&format!("scenario  {}\n", s.description));
    }
    let mut header: Vec<String> = vec!["policy".into()];
    header.extend(speedups.iter().map(|s| format!("att {}", times(*s))));
    header.extend(
        [
            "goodput ×",
            "goodput req/s",
            "TTFT p50 ms",
            "TTFT p99 ms",
            "TPOT p50 ms",
            "TPOT p99 ms",
            "TTFT/SLO p99",
            "rejected",
            "flips",
            "makespan s",
        ]
        .map(String::from),
    );
    let rows: Vec<Vec<String>> = t
        .policies
        .iter()
        .map(|p| {
            let mut r = vec![label(p)];
            r.extend(speedups.iter().map(|s| {
                p.attainment
                    .iter()
                    .find(|a| a.scale == *s)
                    .map_or("-".into(), |a| pct(a.attainment))
            }));
            let b = &p.at_1;
            let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
            r.extend([
                goodput_cell(p, range),
                format!("{:.2}", p.goodput.req_per_s),
                ms(b.ttft_ms.map(|m| m.p50)),
                ms(b.ttft_ms.map(|m| m.p99)),
                ms(b.tpot_ms.map(|m| m.p50)),
                ms(b.tpot_ms.map(|m| m.p99)),
                b.ttft_over_slo
                    .map_or("-".into(), |m| format!("{:.2}", m.p99)),
                thousands(b.rejected as u64),
                thousands(b.role_flips),
                format!("{:.0}", b.makespan_s),
            ]);
            r
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str(&table(&header, &rows));
    let rejections: Vec<String> = t
        .policies
        .iter()
        .filter(|p| !p.at_1.rejected_by_reason.is_empty())
        .map(|p| {
            let reasons: Vec<String> = p
                .at_1
                .rejected_by_reason
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            format!("{} ({})", p.name, reasons.join(", "))
        })
        .collect();
    if !rejections.is_empty() {
        out.push_str(&format!("rejections at ×1: {}\n", rejections.join("; ")));
    }
    out.push_str(&comparison_line(t.comparison.as_ref()));
    out.push('\n');
    let best = t.comparison.as_ref().map(|c| c.skua.as_str());
    for c in t
        .comparisons
        .iter()
        .filter(|c| Some(c.skua.as_str()) != best)
    {
        out.push_str(&format!(
            "  {} vs best baseline: {}\n",
            c.skua,
            comparison_text(c)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(times(2.0), "×2");
        assert_eq!(times(0.03125), "×0.031");
        assert_eq!(times(1.5), "×1.5");
        assert_eq!(pct(0.9234), "92.3%");
        assert!(comparison_line(None).contains("not compared"));
        assert_eq!(points(-0.04), "+0.0");
        assert_eq!(points(-2.06), "-2.1");
        assert_eq!(points(35.1), "+35.1");
    }

    #[test]
    fn the_ratio_line_has_the_goodput_ratio_and_signed_points() {
        let c = ComparisonReport {
            skua: "skua_x".into(),
            baseline: "least_kv".into(),
            skua_goodput: 2.5,
            baseline_goodput: 2.0,
            goodput_ratio: Some(1.25),
            bounded: false,
            attainment: vec![super::super::report::GapReport {
                scale: 2.0,
                skua: 0.9,
                baseline: "least_kv".into(),
                baseline_attainment: 0.92,
                points: -2.0,
            }],
        };
        let line = comparison_line(Some(&c));
        assert!(
            line.starts_with("skua vs best baseline: goodput 1.25×"),
            "{line}"
        );
        assert!(
            line.contains("-2.0 pts at ×2 (vs least_kv 92.0%)"),
            "{line}"
        );
    }
}
