//! Baseline forecasters, one file each, all built on the shared seasonal engine in
//! [`seasonal`]. Names are stable snake_case strings used by the registry and reports.

pub mod mean_of_days;
pub mod previous_day;
pub mod previous_week;
pub mod seasonal;
pub mod seasonal_naive;

pub use mean_of_days::MeanOfDays;
pub use previous_day::PreviousDay;
pub use previous_week::PreviousWeek;
pub use seasonal::FittedSeasonal;
pub use seasonal_naive::{Period, SeasonalNaive};

use crate::model::Forecaster;

/// The baseline models, in report order: `previous_day`, `previous_week`,
/// `seasonal_naive` (detected period), `mean_7d`.
pub fn baselines() -> Vec<Box<dyn Forecaster>> {
    vec![
        Box::new(PreviousDay),
        Box::new(PreviousWeek),
        Box::new(SeasonalNaive::default()),
        Box::new(MeanOfDays { k: 7 }),
    ]
}

/// The baseline called `name` (`previous_day`, `previous_week`, `seasonal_naive`, or
/// `mean_<k>d` for any k ≥ 1), if any.
pub fn by_name(name: &str) -> Option<Box<dyn Forecaster>> {
    match name {
        PreviousDay::NAME => Some(Box::new(PreviousDay)),
        PreviousWeek::NAME => Some(Box::new(PreviousWeek)),
        SeasonalNaive::NAME => Some(Box::new(SeasonalNaive::default())),
        _ => MeanOfDays::from_name(name).map(|m| Box::new(m) as Box<dyn Forecaster>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_baseline_is_found_by_its_name() {
        for m in baselines() {
            let found = by_name(&m.name()).expect("baseline name resolves");
            assert_eq!(found.name(), m.name());
        }
        assert_eq!(
            baselines().iter().map(|m| m.name()).collect::<Vec<_>>(),
            ["previous_day", "previous_week", "seasonal_naive", "mean_7d"]
        );
        assert_eq!(by_name("mean_3d").unwrap().name(), "mean_3d");
        assert!(by_name("prophet").is_none());
    }
}
