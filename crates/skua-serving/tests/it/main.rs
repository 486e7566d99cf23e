//! Integration tests of skua-serving on the real traces in `../shared/data/serving`.
mod bench;
mod fidelity;
mod profile;
mod sim;
mod workload;
