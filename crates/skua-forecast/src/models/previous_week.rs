//! `previous_week`: next week repeats this week.

use skua_core::RegularSeries;

use crate::model::{FitError, FittedForecaster, Forecaster};
use crate::models::seasonal::FittedSeasonal;

/// Forecasts each step as the value one week earlier (fallbacks for missing values as in
/// [`crate::models::seasonal`]). Needs a step that divides a day and one week of history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreviousWeek;

impl PreviousWeek {
    /// Stable name in reports and the registry.
    pub const NAME: &'static str = "previous_week";

    /// Fits and returns the concrete fitted type.
    pub fn fit_seasonal(&self, history: &RegularSeries) -> Result<FittedSeasonal, FitError> {
        let day = history
            .steps_per_day()
            .ok_or(FitError::IrregularStep(history.step()))?;
        FittedSeasonal::fit(Self::NAME.into(), history, 7 * day, 1)
    }
}

impl Forecaster for PreviousWeek {
    fn name(&self) -> String {
        Self::NAME.into()
    }

    fn fit(&self, history: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Ok(Box::new(self.fit_seasonal(history)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_last_week() {
        let v: Vec<f64> = (0..24 * 15).map(|t| ((t * 31) % 101) as f64).collect();
        let s = RegularSeries::new(0, 3600, v.clone()).unwrap();
        let f = PreviousWeek.fit_predict(&s, 48, &[0.1, 0.9]).unwrap();
        assert_eq!(f.point[..], v[v.len() - 168..v.len() - 120]);
        f.check().unwrap();
    }

    #[test]
    fn needs_a_week() {
        let s = RegularSeries::new(0, 3600, vec![1.0; 100]).unwrap();
        assert!(matches!(
            PreviousWeek.fit(&s).err(),
            Some(FitError::TooShort {
                needed: 168,
                have: 100,
                ..
            })
        ));
    }
}
