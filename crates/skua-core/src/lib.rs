//! skua-core: the vocabulary shared by every plane, with no I/O.
//!
//! * [`series`]: regular time series with gaps ([`RegularSeries`]) and their metadata.
//! * [`forecast`]: point forecasts with quantiles ([`Forecast`]).
//! * [`metrics`]: error metrics (MAE, RMSE, MASE, sMAPE, pinball).
//! * [`window`]: time windows over a regular grid and rolling window means.
//! * [`time`]: timestamps as Unix seconds and calendar helpers (UTC).

pub mod forecast;
pub mod metrics;
pub mod series;
pub mod time;
pub mod window;

pub use forecast::{Forecast, QuantileBand, VersionStatus};
pub use series::{RegularSeries, SeriesError, SeriesMeta, Unit};
pub use time::{SECONDS_PER_DAY, SECONDS_PER_HOUR, Ts};
pub use window::TimeWindow;
