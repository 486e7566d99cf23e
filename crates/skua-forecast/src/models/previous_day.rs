//! `previous_day`: Seagull's persistent forecast — tomorrow repeats today.

use skua_core::RegularSeries;

use crate::model::{FitError, FittedForecaster, Forecaster};
use crate::models::seasonal::FittedSeasonal;

/// Forecasts each step as the value one day earlier (fallbacks for missing values as in
/// [`crate::models::seasonal`]). Needs a step that divides a day and one day of history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreviousDay;

impl PreviousDay {
    /// Stable name in reports and the registry.
    pub const NAME: &'static str = "previous_day";

    /// Fits and returns the concrete fitted type.
    pub fn fit_seasonal(&self, history: &RegularSeries) -> Result<FittedSeasonal, FitError> {
        let day = history
            .steps_per_day()
            .ok_or(FitError::IrregularStep(history.step()))?;
        FittedSeasonal::fit(Self::NAME.into(), history, day, 1)
    }
}

impl Forecaster for PreviousDay {
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
    fn repeats_yesterday_and_fills_a_missing_hour_from_the_day_before() {
        let mut v: Vec<f64> = (0..72).map(|t| (t * t % 17) as f64).collect();
        v[70] = f64::NAN;
        let s = RegularSeries::new(0, 3600, v.clone()).unwrap();
        let f = PreviousDay.fit_predict(&s, 24, &[]).unwrap();
        for h in 0..24 {
            let expected = if h == 22 { v[46] } else { v[48 + h] };
            assert_eq!(f.point[h], expected, "step {h}");
        }
        assert_eq!(f.start, 72 * 3600);
    }

    #[test]
    fn rejects_steps_that_do_not_divide_a_day() {
        let s = RegularSeries::new(0, 7, vec![1.0; 100_000]).unwrap();
        assert_eq!(PreviousDay.fit(&s).err(), Some(FitError::IrregularStep(7)));
    }
}
