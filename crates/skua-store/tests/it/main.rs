//! Integration tests of skua-store (one test binary for the crate).

mod common;
mod crash;
mod records;
mod registry;
mod schema;
mod series;
