//! Aggregates of day-by-day evaluations: per policy, per class, and which forecasting
//! policy is best.
//!
//! The best forecasting policy is the one with the lowest median *relative* regret (scale
//! free, so CPU % and connection counts can share a fleet), ties broken by the lowest mean
//! absolute regret and then by name. It "beats" a baseline when it is strictly better by
//! the same key.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use skua_core::metrics::quantile;

use crate::evaluate::{PolicyKind, PolicyLabel, SeriesEval, SkipCounts};

/// Scores of one policy over a set of (series, day) pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicySummary {
    /// Policy name.
    pub policy: String,
    /// Policy kind.
    pub kind: PolicyKind,
    /// Number of scored (series, day) pairs.
    pub n: usize,
    /// Median absolute regret.
    pub abs_regret_median: f64,
    /// 90th percentile of absolute regret.
    pub abs_regret_p90: f64,
    /// Mean absolute regret (the protocol's `areg`).
    pub abs_regret_mean: f64,
    /// Median relative regret.
    pub rel_regret_median: f64,
    /// 90th percentile of relative regret.
    pub rel_regret_p90: f64,
    /// Share of lowest-bucket hits (the protocol's `tol`).
    pub hit_rate: f64,
    /// Share of exact hits.
    pub exact_hit_rate: f64,
    /// Share of windows in the busiest quarter.
    pub busiest_quarter_rate: f64,
    /// Mean daily forecast MAE (forecasting policies only).
    pub mae: Option<f64>,
}

/// The per-policy summary restricted to one server class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassSummary {
    /// Class name (e.g. `daily`).
    pub class: String,
    /// Series in the class that had at least one scored day.
    pub series: usize,
    /// One summary per policy.
    pub policies: Vec<PolicySummary>,
}

/// The best forecasting policy and how it compares with the baselines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestPolicy {
    /// Policy name.
    pub policy: String,
    /// Its median relative regret.
    pub rel_regret_median: f64,
    /// Its median absolute regret.
    pub abs_regret_median: f64,
    /// Strictly better than the (first) fixed policy; `None` if there is none.
    pub beats_fixed: Option<bool>,
    /// Strictly better than the (first) random policy; `None` if there is none.
    pub beats_random: Option<bool>,
}

/// Summary of an evaluation run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalSummary {
    /// Series evaluated.
    pub series: usize,
    /// Series that could not be evaluated at all.
    pub unusable_series: usize,
    /// Days skipped, by reason, over all series.
    pub skipped: SkipCounts,
    /// One summary per policy over all series.
    pub policies: Vec<PolicySummary>,
    /// The same per class, classes sorted by name; unclassified series appear only above.
    pub classes: Vec<ClassSummary>,
    /// The best forecasting policy, if any policy is a model with scored days.
    pub best: Option<BestPolicy>,
}

#[derive(Default)]
struct Acc {
    abs: Vec<f64>,
    rel: Vec<f64>,
    hits: usize,
    exact: usize,
    busy: usize,
    mae_sum: f64,
    mae_n: usize,
}

impl Acc {
    fn summary(&self, label: &PolicyLabel) -> PolicySummary {
        let n = self.abs.len();
        let rate = |k: usize| {
            if n == 0 {
                f64::NAN
            } else {
                k as f64 / n as f64
            }
        };
        PolicySummary {
            policy: label.name.clone(),
            kind: label.kind,
            n,
            abs_regret_median: quantile(&self.abs, 0.5),
            abs_regret_p90: quantile(&self.abs, 0.9),
            abs_regret_mean: if n == 0 {
                f64::NAN
            } else {
                self.abs.iter().sum::<f64>() / n as f64
            },
            rel_regret_median: quantile(&self.rel, 0.5),
            rel_regret_p90: quantile(&self.rel, 0.9),
            hit_rate: rate(self.hits),
            exact_hit_rate: rate(self.exact),
            busiest_quarter_rate: rate(self.busy),
            mae: (self.mae_n > 0).then(|| self.mae_sum / self.mae_n as f64),
        }
    }
}

/// A set of accumulators, one per policy name, in first-seen order.
#[derive(Default)]
struct Table {
    labels: Vec<PolicyLabel>,
    accs: Vec<Acc>,
    series: usize,
}

impl Table {
    fn add(&mut self, e: &SeriesEval) {
        if e.days.is_empty() {
            return;
        }
        self.series += 1;
        for (k, label) in e.policies.iter().enumerate() {
            let slot = match self.labels.iter().position(|l| l.name == label.name) {
                Some(s) => s,
                None => {
                    self.labels.push(label.clone());
                    self.accs.push(Acc::default());
                    self.labels.len() - 1
                }
            };
            let acc = &mut self.accs[slot];
            for d in &e.days {
                let s = &d.scores[k];
                acc.abs.push(s.abs_regret);
                acc.rel.push(s.rel_regret);
                acc.hits += usize::from(s.hit);
                acc.exact += usize::from(s.exact_hit);
                acc.busy += usize::from(s.busiest_quarter);
                if let Some(m) = s.mae.filter(|m| m.is_finite()) {
                    acc.mae_sum += m;
                    acc.mae_n += 1;
                }
            }
        }
    }

    fn summaries(&self) -> Vec<PolicySummary> {
        self.labels
            .iter()
            .zip(&self.accs)
            .map(|(l, a)| a.summary(l))
            .collect()
    }
}

/// Ranking key: lower is better.
fn key(p: &PolicySummary) -> (f64, f64) {
    (p.rel_regret_median, p.abs_regret_mean)
}

fn better(a: &PolicySummary, b: &PolicySummary) -> bool {
    let (ka, kb) = (key(a), key(b));
    ka.0 < kb.0 || (ka.0 == kb.0 && ka.1 < kb.1)
}

/// Summarises evaluations per policy and per class (`class_of` maps a series id to its
/// class; `None` leaves the series out of the class tables).
pub fn summarize(evals: &[SeriesEval], class_of: &dyn Fn(&str) -> Option<String>) -> EvalSummary {
    let mut all = Table::default();
    let mut classes: BTreeMap<String, Table> = BTreeMap::new();
    let mut skipped = SkipCounts::default();
    let mut unusable = 0;
    for e in evals {
        skipped.add(&e.skipped);
        unusable += usize::from(e.unusable.is_some());
        all.add(e);
        if let Some(c) = class_of(&e.id) {
            classes.entry(c).or_default().add(e);
        }
    }
    let policies = all.summaries();
    let best = policies
        .iter()
        .filter(|p| p.kind == PolicyKind::Model && p.n > 0)
        .fold(None::<&PolicySummary>, |acc, p| match acc {
            Some(b) if !better(p, b) => Some(b),
            _ => Some(p),
        })
        .map(|b| {
            let beats = |kind| {
                policies
                    .iter()
                    .find(|p| p.kind == kind && p.n > 0)
                    .map(|base| better(b, base))
            };
            BestPolicy {
                policy: b.policy.clone(),
                rel_regret_median: b.rel_regret_median,
                abs_regret_median: b.abs_regret_median,
                beats_fixed: beats(PolicyKind::Fixed),
                beats_random: beats(PolicyKind::Random),
            }
        });
    EvalSummary {
        series: evals.len(),
        unusable_series: unusable,
        skipped,
        classes: classes
            .into_iter()
            .filter(|(_, t)| t.series > 0)
            .map(|(class, t)| ClassSummary {
                class,
                series: t.series,
                policies: t.summaries(),
            })
            .collect(),
        policies,
        best,
    }
}

impl EvalSummary {
    /// An aligned text table: all series, then one block per class, then the verdict.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} series ({} unusable); days skipped: {} incomplete, {} flat, {} fit failed",
            self.series,
            self.unusable_series,
            self.skipped.incomplete,
            self.skipped.flat,
            self.skipped.fit_failed
        );
        out.push('\n');
        out.push_str("all series\n");
        out.push_str(&render_block(&self.policies));
        for c in &self.classes {
            let _ = writeln!(out, "\nclass {} ({} series)", c.class, c.series);
            out.push_str(&render_block(&c.policies));
        }
        out.push('\n');
        match &self.best {
            None => out.push_str("best forecasting policy: none (no model scored any day)\n"),
            Some(b) => {
                let verdict = |v: Option<bool>| match v {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "n/a",
                };
                let _ = writeln!(
                    out,
                    "best forecasting policy: {} (median rel. regret {:.3}, median abs. regret {:.3}); \
                     beats fixed: {}; beats random: {}",
                    b.policy,
                    b.rel_regret_median,
                    b.abs_regret_median,
                    verdict(b.beats_fixed),
                    verdict(b.beats_random)
                );
            }
        }
        out
    }
}

fn render_block(rows: &[PolicySummary]) -> String {
    let header = [
        "policy",
        "n",
        "areg_med",
        "areg_p90",
        "areg_mean",
        "rreg_med",
        "rreg_p90",
        "hit",
        "exact",
        "busy_q",
        "mae",
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for p in rows {
        cells.push(vec![
            p.policy.clone(),
            p.n.to_string(),
            format!("{:.3}", p.abs_regret_median),
            format!("{:.3}", p.abs_regret_p90),
            format!("{:.3}", p.abs_regret_mean),
            format!("{:.3}", p.rel_regret_median),
            format!("{:.3}", p.rel_regret_p90),
            format!("{:.3}", p.hit_rate),
            format!("{:.3}", p.exact_hit_rate),
            format!("{:.3}", p.busiest_quarter_rate),
            p.mae.map_or("-".into(), |m| format!("{m:.3}")),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c == 0 {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{DayScore, PolicyScore};

    fn eval(id: &str, regrets: &[(f64, f64)]) -> SeriesEval {
        let score = |r: f64, model: bool| PolicyScore {
            start: 0,
            actual_mean: r,
            abs_regret: r,
            rel_regret: r / 10.0,
            hit: r < 1.0,
            exact_hit: r == 0.0,
            busiest_quarter: r > 5.0,
            mae: model.then_some(2.0),
        };
        SeriesEval {
            id: id.into(),
            policies: vec![
                PolicyLabel {
                    name: "m".into(),
                    kind: PolicyKind::Model,
                },
                PolicyLabel {
                    name: "fixed_00h".into(),
                    kind: PolicyKind::Fixed,
                },
            ],
            days: regrets
                .iter()
                .enumerate()
                .map(|(d, &(m, f))| DayScore {
                    day: d as i64,
                    best_start: 0,
                    best_mean: 0.0,
                    scores: vec![score(m, true), score(f, false)],
                })
                .collect(),
            skipped: SkipCounts {
                incomplete: 1,
                flat: 0,
                fit_failed: 0,
            },
            unusable: None,
        }
    }

    #[test]
    fn aggregates_per_policy_and_class() {
        let evals = vec![
            eval("a", &[(0.0, 6.0), (2.0, 2.0)]),
            eval("b", &[(0.5, 8.0)]),
        ];
        let s = summarize(&evals, &|id: &str| (id == "a").then(|| "daily".to_string()));
        assert_eq!(s.skipped.incomplete, 2);
        let m = &s.policies[0];
        assert_eq!(m.n, 3);
        assert!((m.abs_regret_median - 0.5).abs() < 1e-12);
        assert!((m.abs_regret_mean - 2.5 / 3.0).abs() < 1e-12);
        assert!((m.hit_rate - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.exact_hit_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.mae, Some(2.0));
        assert_eq!(s.policies[1].mae, None);
        assert!((s.policies[1].busiest_quarter_rate - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.classes.len(), 1);
        assert_eq!(s.classes[0].policies[0].n, 2);
        let best = s.best.as_ref().unwrap();
        assert_eq!(best.policy, "m");
        assert_eq!(best.beats_fixed, Some(true));
        assert_eq!(best.beats_random, None);
        let table = s.render_table();
        assert!(table.contains("class daily (1 series)"), "{table}");
        assert!(table.contains("beats fixed: yes"), "{table}");
    }
}
