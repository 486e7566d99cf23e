//! Integration tests of the expert plane on the real data in `../shared/data/moe`.

mod forecast;
mod golden;
mod io;
mod planner;
mod synth;

use std::path::PathBuf;

/// A file under `../shared/data/moe`; panics with a clear message when the shared data is missing.
pub fn moe_data(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/moe")
        .join(rel);
    assert!(
        p.exists(),
        "shared data missing: {} (check out ../shared beside the repository)",
        p.display()
    );
    p
}
