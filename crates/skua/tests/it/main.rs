//! End-to-end tests: the real `skua` binary on real files (../shared/data/fleet) and on
//! hand-made bad inputs. One test binary for the crate.

mod bad_input;
mod bench_serving;
mod common;
mod crash;
mod experts;
mod live;
mod pipeline;
mod simulate;
