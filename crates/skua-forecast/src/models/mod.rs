//! Forecasters, one file each. The baselines are built on the shared seasonal engine in
//! [`seasonal`]; the stronger models of issue 3 (`wmean_<k>d`, `median_<k>d`,
//! `seasonal_ets`, `mstl`, `ensemble`) share the day-ahead error bands of [`bands`]. Names are
//! stable snake_case strings used by the registry and reports.

pub mod bands;
pub mod ensemble;
pub mod ets;
pub mod mean_of_days;
pub mod mstl;
pub mod nelder_mead;
pub mod previous_day;
pub mod previous_week;
pub mod seasonal;
pub mod seasonal_naive;
pub mod window_average;

pub use mean_of_days::MeanOfDays;
pub use previous_day::PreviousDay;
pub use previous_week::PreviousWeek;
pub use seasonal::FittedSeasonal;
pub use seasonal_naive::{Period, SeasonalNaive};

pub use ensemble::Ensemble;
pub use ets::SeasonalEts;
pub use mstl::Mstl;
pub use window_average::{MedianOfDays, WeightedMeanOfDays};

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

/// Every model in report order: the [`baselines`], then `wmean_7d`, `median_7d`,
/// `seasonal_ets`, `mstl` and `ensemble`.
pub fn all_models() -> Vec<Box<dyn Forecaster>> {
    let mut models = baselines();
    models.extend([
        Box::new(WeightedMeanOfDays { k: 7 }) as Box<dyn Forecaster>,
        Box::new(MedianOfDays { k: 7 }),
        Box::new(SeasonalEts::default()),
        Box::new(Mstl::default()),
        Box::new(Ensemble::default()),
    ]);
    models
}

/// The model called `name`, if any: `previous_day`, `previous_week`, `seasonal_naive`,
/// `seasonal_ets`, `mstl`, `ensemble`, or `mean_<k>d` / `wmean_<k>d` / `median_<k>d` for
/// any k ≥ 1.
pub fn by_name(name: &str) -> Option<Box<dyn Forecaster>> {
    match name {
        PreviousDay::NAME => Some(Box::new(PreviousDay)),
        PreviousWeek::NAME => Some(Box::new(PreviousWeek)),
        SeasonalNaive::NAME => Some(Box::new(SeasonalNaive::default())),
        SeasonalEts::NAME => Some(Box::new(SeasonalEts::default())),
        Mstl::NAME => Some(Box::new(Mstl::default())),
        Ensemble::NAME => Some(Box::new(Ensemble::default())),
        _ => MeanOfDays::from_name(name)
            .map(|m| Box::new(m) as Box<dyn Forecaster>)
            .or_else(|| {
                WeightedMeanOfDays::from_name(name).map(|m| Box::new(m) as Box<dyn Forecaster>)
            })
            .or_else(|| MedianOfDays::from_name(name).map(|m| Box::new(m) as Box<dyn Forecaster>)),
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
        for m in all_models() {
            let found = by_name(&m.name()).expect("model name resolves");
            assert_eq!(found.name(), m.name());
        }
        assert_eq!(all_models().len(), 9);
        assert_eq!(by_name("median_3d").unwrap().name(), "median_3d");
        assert_eq!(by_name("wmean_14d").unwrap().name(), "wmean_14d");
    }
}
