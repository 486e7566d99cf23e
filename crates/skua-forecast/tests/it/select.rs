//! Window selection on real data, with the fleet benchmark protocol. The thresholds are the
//! figures measured when the selectors were written, rounded *down* (or up for regrets and
//! the busiest-quarter rate), so a regression fails.

use skua_forecast::classify::{ClassifyThresholds, classify_with};
use skua_forecast::protocol::{
    DecisionPolicy, ProtocolConfig, ProtocolSummary, SeriesResult, run_series, summarize,
};
use skua_forecast::select::{HindsightSelector, ModelPolicy};
use skua_forecast::{MeanOfDays, PreviousDay};

use crate::data::{asd, bitbrains};
use crate::protocol::{baseline, run_bitbrains};

fn hindsight(selector: HindsightSelector) -> ModelPolicy {
    ModelPolicy {
        model: Box::new(MeanOfDays { k: 7 }),
        selector: Box::new(selector),
    }
}

/// The ASD series are normalised to [0, 1], so the classifier's absolute stability threshold
/// (one CPU point) would call every one of them stable; ASD classes use the relative
/// threshold only.
fn run_asd_relative_classes(policies: &[&dyn DecisionPolicy]) -> ProtocolSummary {
    let cfg = ProtocolConfig::default();
    let thresholds = ClassifyThresholds {
        stable_absolute_spread: 0.0,
        ..ClassifyThresholds::default()
    };
    let mut classes = std::collections::HashMap::new();
    let mut results: Vec<SeriesResult> = Vec::new();
    for s in asd() {
        let first = s.series.len() - cfg.horizon * cfg.windows;
        let class = classify_with(&s.series.head(first), &thresholds).class;
        classes.insert(s.id.clone(), class.as_str().to_string());
        for p in policies {
            results.push(run_series(&s.id, &s.series, *p, &cfg));
        }
    }
    summarize(&results, &|id| classes.get(id).cloned())
}

/// On Bitbrains-500 the long-memory hindsight selector meets the targets (tol2 ≥
/// 0.65, areg2 ≤ 1.2, busiest quarter ≤ 12 %) and is never worse than previous day on a
/// class.
#[test]
fn long_memory_selector_beats_the_targets_on_bitbrains() {
    let pd = baseline("previous_day");
    let m7 = baseline("mean_7d");
    let long = hindsight(HindsightSelector::long_memory());
    let recent = hindsight(HindsightSelector::recent());
    let s = run_bitbrains(&[&pd, &m7, &long, &recent]);
    println!("{}", s.render_table());
    let name = long.name();
    let all = s.row(&name, "all").expect("row").headline();
    assert!(all.tol >= 0.665, "tol2 {}", all.tol);
    assert!(all.areg <= 1.06, "areg2 {}", all.areg);
    assert!(all.busiest <= 0.097, "busiest {}", all.busiest);
    for class in ["stable", "daily", "weekly", "unpredictable"] {
        let ours = s.row(&name, class).expect("class row").headline().tol;
        let theirs = s
            .row("previous_day", class)
            .expect("class row")
            .headline()
            .tol;
        assert!(ours >= theirs, "{class}: {ours} < previous_day {theirs}");
    }
}

/// On ASD the short-memory selector is the better rule; it beats the 7-day mean overall.
#[test]
fn recent_selector_on_asd() {
    let pd = ModelPolicy {
        model: Box::new(PreviousDay),
        selector: Box::new(skua_forecast::select::LowestMean),
    };
    let m7 = baseline("mean_7d");
    let long = hindsight(HindsightSelector::long_memory());
    let recent = hindsight(HindsightSelector::recent());
    let s = run_asd_relative_classes(&[&pd, &m7, &long, &recent]);
    println!("{}", s.render_table());
    let name = recent.name();
    let all = s.row(&name, "all").expect("row").headline();
    let m7_all = s.row("mean_7d", "all").expect("row").headline().tol;
    assert!(
        all.tol >= 0.795 && all.tol > m7_all,
        "tol2 {} vs mean_7d {m7_all}",
        all.tol
    );
    let daily = s.row(&name, "daily").expect("daily row").headline().tol;
    assert!(daily >= 0.92, "daily tol2 {daily}");
    for class in ["daily", "unpredictable"] {
        let ours = s.row(&name, class).expect("class row").headline().tol;
        let theirs = s
            .row("previous_day", class)
            .expect("class row")
            .headline()
            .tol;
        assert!(ours >= theirs, "{class}: {ours} < previous_day {theirs}");
    }
    assert_eq!(bitbrains().len(), 500);
}
