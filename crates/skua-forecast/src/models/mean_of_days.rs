//! `mean_<k>d`: the mean of the last k days at the same time of day (`mean_7d` for k = 7).

use skua_core::RegularSeries;

use crate::model::{FitError, FittedForecaster, Forecaster};
use crate::models::seasonal::FittedSeasonal;

/// Forecasts each step as the mean of the present values at the same time of day over the
/// last `k` days (fallbacks for missing values as in [`crate::models::seasonal`]). Needs a
/// step that divides a day and at least one day of history; uses fewer days if that is all
/// there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeanOfDays {
    /// Number of days averaged (at least 1).
    pub k: usize,
}

impl Default for MeanOfDays {
    fn default() -> Self {
        MeanOfDays { k: 7 }
    }
}

impl MeanOfDays {
    /// Fits and returns the concrete fitted type.
    pub fn fit_seasonal(&self, history: &RegularSeries) -> Result<FittedSeasonal, FitError> {
        let day = history
            .steps_per_day()
            .ok_or(FitError::IrregularStep(history.step()))?;
        FittedSeasonal::fit(self.name(), history, day, self.k)
    }

    /// Parses a name of the form `mean_<k>d` (k ≥ 1).
    pub fn from_name(name: &str) -> Option<Self> {
        let k: usize = name
            .strip_prefix("mean_")?
            .strip_suffix('d')?
            .parse()
            .ok()?;
        (k >= 1).then_some(MeanOfDays { k })
    }
}

impl Forecaster for MeanOfDays {
    fn name(&self) -> String {
        format!("mean_{}d", self.k)
    }

    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Ok(Box::new(self.fit_seasonal(history)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_the_same_hour_and_skips_missing_days() {
        // Day d has value d + hour/100 at every hour; day 5 is a hole.
        let mut v: Vec<f64> = (0..24 * 10)
            .map(|t| (t / 24) as f64 + (t % 24) as f64 / 100.0)
            .collect();
        for x in &mut v[24 * 5..24 * 6] {
            *x = f64::NAN;
        }
        let s = RegularSeries::new(0, 3600, v).unwrap();
        let f = MeanOfDays { k: 3 }.fit_predict(&s, 24, &[]).unwrap();
        for (h, p) in f.point.iter().enumerate() {
            let expected = (7.0 + 8.0 + 9.0) / 3.0 + h as f64 / 100.0;
            assert!((p - expected).abs() < 1e-12);
        }
        let f = MeanOfDays { k: 5 }.fit_predict(&s, 24, &[]).unwrap();
        let expected = (6.0 + 7.0 + 8.0 + 9.0) / 4.0;
        assert!(
            (f.point[0] - expected).abs() < 1e-12,
            "the hole is skipped, not zero"
        );
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(MeanOfDays::default().name(), "mean_7d");
        assert_eq!(
            MeanOfDays::from_name("mean_14d"),
            Some(MeanOfDays { k: 14 })
        );
        assert_eq!(MeanOfDays::from_name("mean_0d"), None);
        assert_eq!(MeanOfDays::from_name("mean_d"), None);
        assert_eq!(MeanOfDays::from_name("mean_7"), None);
    }

    #[test]
    fn zero_days_is_a_config_error() {
        let s = RegularSeries::new(0, 3600, vec![1.0; 48]).unwrap();
        assert!(matches!(
            MeanOfDays { k: 0 }.fit(&s).err(),
            Some(FitError::BadConfig { .. })
        ));
    }
}
