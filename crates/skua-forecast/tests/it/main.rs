//! Integration tests of skua-forecast (one binary, one module per area).

mod backtest;
mod classify;
mod data;
mod models;
mod models_ext;
mod props;
mod protocol;
mod real_data;
mod registry;
mod select;
