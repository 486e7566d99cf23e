//! Integration tests of skua-forecast (one binary, one module per area).

mod backtest;
mod classify;
mod data;
mod models;
mod props;
mod real_data;
