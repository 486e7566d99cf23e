//! Turns the pipeline's results into the report's plain data (`skua_report::Report`).

use std::collections::HashMap;

use skua_core::time::{SECONDS_PER_DAY, SECONDS_PER_HOUR, day_start, format_duration, format_ts};
use skua_core::window::{argmin, rolling_means};
use skua_core::{RegularSeries, SeriesMeta, TimeWindow};
use skua_fleet::{EvalSummary, PlanConstraints, Schedule, SeriesEval};
use skua_forecast::SeriesClass;
use skua_report::{
    ClassRow, CoverageStrip, EvaluationSection, FileRow, GapRow, PolicyKind, PolicyRow,
    RegretSamples, Report, ScheduleRow, SeriesRow, SeriesStatus, ServerPanel, ValidationSection,
};
use skua_telemetry::{FleetSummary, Status};

use crate::cli::EvalArgs;
use crate::pipeline::{Ingested, LEVELS};

/// Everything the report is built from.
pub struct Inputs<'a> {
    pub source: &'a str,
    pub ingested: &'a Ingested,
    pub series: &'a [(SeriesMeta, RegularSeries)],
    pub evals: &'a [SeriesEval],
    pub summary: &'a EvalSummary,
    pub classes: &'a [(String, SeriesClass)],
    pub schedule: &'a Schedule,
    pub model_name: &'a str,
    pub constraints: &'a PlanConstraints,
    pub eval: &'a EvalArgs,
    pub panels: usize,
    pub warnings: Vec<String>,
}

/// Builds the report.
pub fn build(i: Inputs<'_>) -> Report {
    let reports: Vec<_> = i
        .ingested
        .outcomes
        .iter()
        .map(|o| o.report.clone())
        .collect();
    let fleet = FleetSummary::from_reports(&reports);
    let class_of: HashMap<&str, SeriesClass> =
        i.classes.iter().map(|(id, c)| (id.as_str(), *c)).collect();
    let mut summary = vec![
        ("source".to_string(), i.source.to_string()),
        (
            "rows read".into(),
            crate::output::thousands(i.ingested.rows),
        ),
        (
            "series".into(),
            format!(
                "{} ({} accepted, {} repaired, {} rejected)",
                fleet.series, fleet.accepted, fleet.repaired, fleet.rejected
            ),
        ),
    ];
    if let (Some(start), Some(end)) = (
        i.series.iter().map(|(_, s)| s.start()).min(),
        i.series.iter().map(|(_, s)| s.end()).max(),
    ) {
        summary.push((
            "history".into(),
            format!(
                "{} → {} ({})",
                format_ts(start),
                format_ts(end),
                format_duration(end - start)
            ),
        ));
    }
    let mut intervals: Vec<i64> = i.series.iter().map(|(_, s)| s.step()).collect();
    intervals.sort_unstable();
    intervals.dedup();
    summary.push((
        "sampling interval".into(),
        intervals
            .iter()
            .map(|s| format_duration(*s))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, c) in i.classes {
        *counts.entry(c.as_str()).or_default() += 1;
    }
    let mut cv: Vec<_> = counts.into_iter().collect();
    cv.sort();
    summary.push((
        "server classes".into(),
        cv.iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    if let Some(b) = &i.summary.best {
        summary.push((
            "best policy (evaluation)".into(),
            format!("{} — median regret {:.3}", b.policy, b.abs_regret_median),
        ));
    }
    summary.push((
        "plan".into(),
        format!(
            "{} jobs of {} with {}, from {}{}",
            i.schedule.entries.len(),
            format_duration(i.constraints.duration),
            i.model_name,
            format_ts(i.schedule.origin),
            match (&i.constraints.group_by, i.constraints.max_concurrent) {
                (Some(g), Some(m)) => format!("; at most {m} at once per {g}"),
                _ => String::new(),
            }
        ),
    ));

    let mut notes = vec![format!(
        "Evaluation: for every day with at least {} days of history, each policy picks a {} window \
         from data up to the previous midnight (UTC) and is scored on that day's actual load. \
         Regret is in the units of the data (CPU points for CPU %).",
        i.eval.min_history_days,
        format_duration(i.constraints.duration)
    )];
    if let Some(note) = mixed_units_note(i.series) {
        notes.push(note);
    }
    notes.extend(i.warnings.iter().take(50).cloned());

    Report {
        title: "skua fleet report".into(),
        generated_at: format_ts(jiff::Timestamp::now().as_second()),
        source: i.source.to_string(),
        unit: unit_label(i.series),
        summary,
        validation: validation(i.ingested, &fleet, i.series),
        evaluation: Some(evaluation(i.evals, i.summary)),
        servers: panels(&i, &class_of),
        schedule: i
            .schedule
            .entries
            .iter()
            .map(|e| ScheduleRow {
                server: e.server.clone(),
                group: e.group.clone(),
                start: e.start,
                end: e.end,
                predicted: e.predicted_mean,
                runner_up_start: e.runner_up.as_ref().map(|r| r.start),
                runner_up_predicted: e.runner_up.as_ref().map(|r| r.predicted_mean),
            })
            .collect(),
        notes,
    }
}

/// When the fleet mixes units (CPU %, bytes, request counts), absolute regrets pooled over
/// all series mix units too; relative regret is the comparable figure.
pub fn mixed_units_note(series: &[(SeriesMeta, RegularSeries)]) -> Option<String> {
    let units: std::collections::BTreeSet<String> = series
        .iter()
        .map(|(m, _)| format!("{:?}", m.unit).to_lowercase())
        .collect();
    (units.len() > 1).then(|| {
        format!(
            "This fleet mixes units ({}): absolute regrets pooled over all series mix units as \
             well, so compare policies by relative regret (regret / the day's range of window \
             means), which is unit-free and is what picks the best policy.",
            units.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

fn unit_label(series: &[(SeriesMeta, RegularSeries)]) -> String {
    if series
        .iter()
        .all(|(m, _)| m.unit == skua_core::Unit::Percent)
    {
        "CPU %".into()
    } else {
        "load".into()
    }
}

fn validation(
    ing: &Ingested,
    fleet: &FleetSummary,
    series: &[(SeriesMeta, RegularSeries)],
) -> ValidationSection {
    let files = ing
        .files
        .iter()
        .map(|f| FileRow {
            path: f.path.clone(),
            format: format!("{}{}", f.format, if f.gzip { " (gz)" } else { "" }),
            time_format: f.time_format.to_string(),
            time_format_reason: f.time_reason.clone(),
            rows: f.rows_read,
            bad_rows: f.bad_rows,
            series: f.series_found,
        })
        .chain(ing.failures.iter().map(|f| FileRow {
            path: f.path.clone(),
            format: "unreadable".into(),
            time_format: String::new(),
            time_format_reason: f.error.clone(),
            rows: 0,
            bad_rows: 0,
            series: 0,
        }))
        .collect();
    let rows = ing
        .outcomes
        .iter()
        .map(|o| {
            let r = &o.report;
            SeriesRow {
                id: r.id.clone(),
                interval_secs: r.interval_secs.unwrap_or(0),
                points: r.points as usize,
                coverage: r.coverage_pct,
                gaps: r.gaps.count as usize,
                longest_gap_secs: r.gaps.longest_secs,
                issues: r
                    .issues
                    .iter()
                    .map(|x| (x.code.as_str().to_string(), x.count as usize))
                    .collect(),
                status: match r.status {
                    Status::Accepted => SeriesStatus::Accepted,
                    Status::Repaired => SeriesStatus::Repaired,
                    Status::Rejected => SeriesStatus::Rejected,
                },
            }
        })
        .collect();
    let mut gaps: Vec<GapRow> = ing
        .outcomes
        .iter()
        .flat_map(|o| {
            o.report.gaps.longest.iter().map(|g| GapRow {
                series: o.meta.id.clone(),
                start: g.start,
                end: g.end,
            })
        })
        .collect();
    gaps.sort_by_key(|g| std::cmp::Reverse(g.end - g.start));
    gaps.truncate(20);
    ValidationSection {
        files,
        series: rows,
        issue_counts: fleet
            .issues
            .iter()
            .map(|(code, t)| (code.as_str().to_string(), t.series as usize))
            .collect(),
        coverage: coverage(series),
        longest_gaps: gaps,
    }
}

/// Share of the fleet's series with at least one sample in each bucket (an hour, or the
/// coarsest step if coarser), so gaps many servers share show up as dips.
fn coverage(series: &[(SeriesMeta, RegularSeries)]) -> Option<CoverageStrip> {
    let start = series.iter().map(|(_, s)| s.start()).min()?;
    let end = series.iter().map(|(_, s)| s.end()).max()?;
    let coarsest = series.iter().map(|(_, s)| s.step()).max()?;
    let mut bucket = coarsest.max(SECONDS_PER_HOUR);
    // Keep the strip at a few thousand buckets at most.
    while (end - start) / bucket > 4_000 {
        bucket *= 2;
    }
    let start = start - start.rem_euclid(bucket);
    let n = ((end - start + bucket - 1) / bucket) as usize;
    let mut present = vec![0u32; n];
    for (_, s) in series {
        let mut last = usize::MAX;
        for (k, v) in s.values().iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let b = ((s.ts_at(k) - start) / bucket) as usize;
            if b != last && b < n {
                present[b] += 1;
                last = b;
            }
        }
    }
    let total = series.len() as f64;
    Some(CoverageStrip {
        start,
        step: bucket,
        values: present.iter().map(|&c| c as f64 / total).collect(),
    })
}

fn evaluation(evals: &[SeriesEval], s: &EvalSummary) -> EvaluationSection {
    let kind = |k: skua_fleet::PolicyKind| match k {
        skua_fleet::PolicyKind::Model => PolicyKind::Model,
        skua_fleet::PolicyKind::Fixed => PolicyKind::Fixed,
        skua_fleet::PolicyKind::Random => PolicyKind::Random,
    };
    let policies = s
        .policies
        .iter()
        .map(|p| PolicyRow {
            name: p.policy.clone(),
            kind: kind(p.kind),
            n: p.n,
            median_regret: p.abs_regret_median,
            p90_regret: p.abs_regret_p90,
            mean_regret: p.abs_regret_mean,
            median_rel_regret: Some(p.rel_regret_median),
            hit_rate: p.hit_rate,
            exact_hit_rate: p.exact_hit_rate,
            busiest_quarter: p.busiest_quarter_rate,
            mae: p.mae,
        })
        .collect();
    let mut samples: Vec<RegretSamples> = s
        .policies
        .iter()
        .map(|p| RegretSamples {
            policy: p.policy.clone(),
            values: Vec::new(),
        })
        .collect();
    for e in evals {
        for d in &e.days {
            for (k, sc) in d.scores.iter().enumerate() {
                if let Some(name) = e.policies.get(k).map(|l| &l.name)
                    && let Some(rs) = samples.iter_mut().find(|r| &r.policy == name)
                {
                    rs.values.push(sc.abs_regret);
                }
            }
        }
    }
    let by_class = s
        .classes
        .iter()
        .flat_map(|c| {
            c.policies.iter().map(move |p| ClassRow {
                class: c.class.clone(),
                policy: p.policy.clone(),
                servers: c.series,
                median_regret: p.abs_regret_median,
                hit_rate: p.hit_rate,
            })
        })
        .collect();
    EvaluationSection {
        policies,
        regret_samples: samples,
        best_policy: s.best.as_ref().map(|b| b.policy.clone()),
        verdict: crate::commands::verdict(s),
        hit_rule: "a day is a hit when the chosen window's actual mean load is within 10 % of the \
                   day's load range of the best window (the lowest-load bucket)"
            .into(),
        by_class,
    }
}

/// One candidate panel: the last complete day of a series, forecast from the day before.
struct PanelCand {
    panel: ServerPanel,
    regret: f64,
    range: f64,
}

fn panel_for(
    meta: &SeriesMeta,
    s: &RegularSeries,
    model: &dyn skua_forecast::Forecaster,
    duration: i64,
    class: Option<SeriesClass>,
) -> Option<PanelCand> {
    let spd = s.steps_per_day()?;
    // The last complete UTC day of the series.
    let cut = day_start(s.end() - 1)
        + if day_start(s.end()) == s.end() {
            0
        } else {
            -SECONDS_PER_DAY
        };
    let idx = s.index_at_or_after(cut);
    if idx < 2 * spd || idx + spd > s.len() {
        return None;
    }
    let history = s.head(idx);
    let f = model.fit(&history).ok()?.predict(spd, &LEVELS).ok()?;
    let actual = s.values()[idx..idx + spd].to_vec();
    let w = ((duration + s.step() - 1) / s.step()).max(1) as usize;
    let pred_means = rolling_means(&f.point, w);
    let act_means = rolling_means(&actual, w);
    let chosen = argmin(&pred_means)?;
    let best = argmin(&act_means)?;
    // The runner-up is the best window that does not overlap the chosen one: the real
    // alternative if the chosen window is taken.
    let mut order: Vec<usize> = (0..pred_means.len())
        .filter(|&k| k + w <= chosen || k >= chosen + w)
        .collect();
    order.sort_by(|a, b| pred_means[*a].total_cmp(&pred_means[*b]));
    let runner = order.first().copied();
    let regret = act_means[chosen] - act_means[best];
    let lo = actual
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = actual
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let hist_from = idx.saturating_sub(3 * spd);
    let win = |k: usize| TimeWindow {
        start: f.start + k as i64 * f.step,
        end: f.start + (k + w) as i64 * f.step,
    };
    let caption = format!(
        "{} forecast from history up to {}.",
        model.name(),
        format_ts(f.start)
    );
    let band = |q: f64| f.quantile(q).map(|v| v.to_vec());
    Some(PanelCand {
        panel: ServerPanel {
            id: meta.id.clone(),
            class: class.map(|c| c.as_str().to_string()),
            step: s.step(),
            history_start: s.ts_at(hist_from),
            history: s.values()[hist_from..idx].to_vec(),
            forecast_start: f.start,
            point: f.point.clone(),
            lower: band(0.1),
            upper: band(0.9),
            actual: Some(actual),
            window: win(chosen),
            runner_up: runner.map(win),
            caption,
        },
        regret: if regret.is_finite() { regret } else { 0.0 },
        range: if hi > lo { hi - lo } else { 0.0 },
    })
}

/// A bounded, informative selection: the servers with the most load at stake, the worst
/// misses, and one of every other class, so the reader sees successes and failures.
fn panels(i: &Inputs<'_>, class_of: &HashMap<&str, SeriesClass>) -> Vec<ServerPanel> {
    let Ok(model) = crate::pipeline::model(i.model_name) else {
        return Vec::new();
    };
    use rayon::prelude::*;
    let cands: Vec<PanelCand> = i
        .series
        .par_iter()
        .filter_map(|(m, s)| {
            panel_for(
                m,
                s,
                model.as_ref(),
                i.constraints.duration,
                class_of.get(m.id.as_str()).copied(),
            )
        })
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    let take = |chosen: &mut Vec<usize>, order: Vec<usize>, k: usize| {
        let fresh: Vec<usize> = order
            .into_iter()
            .filter(|x| !chosen.contains(x))
            .take(k)
            .collect();
        chosen.extend(fresh);
    };
    let n = i.panels;
    let mut by_range: Vec<usize> = (0..cands.len()).collect();
    by_range.sort_by(|a, b| cands[*b].range.total_cmp(&cands[*a].range));
    take(&mut chosen, by_range, n / 2);
    let mut by_regret: Vec<usize> = (0..cands.len()).collect();
    by_regret.sort_by(|a, b| cands[*b].regret.total_cmp(&cands[*a].regret));
    take(&mut chosen, by_regret, n / 4);
    for class in ["weekly", "stable", "unpredictable", "daily"] {
        let of_class: Vec<usize> = (0..cands.len())
            .filter(|k| cands[*k].panel.class.as_deref() == Some(class))
            .collect();
        take(&mut chosen, of_class, 1);
    }
    let rest: Vec<usize> = (0..cands.len()).collect();
    let left = n.saturating_sub(chosen.len());
    take(&mut chosen, rest, left);
    chosen.truncate(n);
    chosen.into_iter().map(|k| cands[k].panel.clone()).collect()
}
