//! Integration tests for skua-fleet (one binary so the crate links once).

mod constraints;
mod evaluate;
mod plan;
mod support;
