//! The baseline policies of the benchmark, reproduced from their public documentation.

use super::catalog::{PolicyContext, PolicyError, PolicySetup};

/// Baseline names, in report order.
pub const NAMES: &[&str] = &[];

/// Builds baseline `name`, or `Ok(None)` when `name` is not a baseline.
pub fn build(name: &str, ctx: &PolicyContext) -> Result<Option<PolicySetup>, PolicyError> {
    let _ = (name, ctx);
    Ok(None)
}
