//! Forecasts: a point path plus quantile bands on the same grid.

use serde::{Deserialize, Serialize};

use crate::time::Ts;

/// Lifecycle state of a trained model version in the registry (shared by the registry's
/// policy in `skua-forecast` and its storage in `skua-store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// Trained and scored, not serving.
    Candidate,
    /// Serving its series (at most one per series).
    Deployed,
    /// Served before, replaced by a newer version: a "last known good" to fall back to.
    Retired,
    /// Failed to fit, forecast invalid values, or degraded live: never served again.
    Failed,
}

impl VersionStatus {
    /// The stable lower-case name (`candidate`, `deployed`, `retired`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Candidate => "candidate",
            VersionStatus::Deployed => "deployed",
            VersionStatus::Retired => "retired",
            VersionStatus::Failed => "failed",
        }
    }

    /// Parses a name written by [`VersionStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "candidate" => VersionStatus::Candidate,
            "deployed" => VersionStatus::Deployed,
            "retired" => VersionStatus::Retired,
            "failed" => VersionStatus::Failed,
            _ => return None,
        })
    }
}

/// One quantile of a forecast, e.g. `q = 0.9` with one value per horizon step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileBand {
    /// Quantile level in (0, 1).
    pub q: f64,
    /// One value per horizon step.
    pub values: Vec<f64>,
}

/// A forecast of `point.len()` steps starting at `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Timestamp of the first forecast step.
    pub start: Ts,
    /// Grid step in seconds.
    pub step: i64,
    /// Point forecast (the median or mean, as the model defines it).
    pub point: Vec<f64>,
    /// Quantile bands, sorted by `q`.
    pub quantiles: Vec<QuantileBand>,
}

impl Forecast {
    /// Number of horizon steps.
    pub fn horizon(&self) -> usize {
        self.point.len()
    }

    /// The band for quantile `q`, if present (matched within 1e-9).
    pub fn quantile(&self, q: f64) -> Option<&[f64]> {
        self.quantiles
            .iter()
            .find(|b| (b.q - q).abs() < 1e-9)
            .map(|b| b.values.as_slice())
    }

    /// Checks the forecast's shape: every value finite, every band as long as the point path,
    /// bands sorted by `q` and non-crossing (`lower ≤ upper` at every step).
    pub fn check(&self) -> Result<(), String> {
        if let Some(i) = self.point.iter().position(|v| !v.is_finite()) {
            return Err(format!("point forecast is not finite at step {i}"));
        }
        for b in &self.quantiles {
            if !(b.q > 0.0 && b.q < 1.0) {
                return Err(format!("quantile level {} outside (0, 1)", b.q));
            }
            if b.values.len() != self.point.len() {
                return Err(format!(
                    "quantile {} has {} values, point has {}",
                    b.q,
                    b.values.len(),
                    self.point.len()
                ));
            }
            if let Some(i) = b.values.iter().position(|v| !v.is_finite()) {
                return Err(format!("quantile {} is not finite at step {i}", b.q));
            }
        }
        for w in self.quantiles.windows(2) {
            if w[0].q >= w[1].q {
                return Err("quantile bands are not sorted by level".into());
            }
            if let Some(i) = (0..self.point.len()).find(|&i| w[0].values[i] > w[1].values[i] + 1e-9)
            {
                return Err(format!(
                    "quantiles {} and {} cross at step {i}",
                    w[0].q, w[1].q
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_catches_crossing_and_nan() {
        let mut f = Forecast {
            start: 0,
            step: 3600,
            point: vec![1.0, 2.0],
            quantiles: vec![
                QuantileBand {
                    q: 0.1,
                    values: vec![0.5, 1.5],
                },
                QuantileBand {
                    q: 0.9,
                    values: vec![1.5, 2.5],
                },
            ],
        };
        assert!(f.check().is_ok());
        assert_eq!(f.quantile(0.9), Some(&[1.5, 2.5][..]));
        f.quantiles[1].values[1] = 1.0;
        assert!(f.check().unwrap_err().contains("cross"));
        f.point[0] = f64::NAN;
        assert!(f.check().unwrap_err().contains("not finite"));
    }
}
