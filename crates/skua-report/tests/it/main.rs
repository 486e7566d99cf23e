//! Integration tests of skua-report: one binary, modules per concern.

mod fixtures;
mod html_check;
mod render;
mod snapshot;
