//! skua-telemetry: telemetry readers, validation and the demo fleet generator.
pub mod demo;
