//! Helpers: run the binary, locate the shared data, inspect a store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skua_store::{SqliteStore, Store};

/// The `skua` binary under test.
pub fn skua() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skua"));
    c.arg("--quiet");
    c
}

/// Runs `skua` with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    skua().args(args).output().expect("the skua binary runs")
}

/// stdout + stderr as one string.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `../shared/data/fleet`, or a loud failure: these tests must not pass on missing data.
pub fn fleet_data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fleet");
    assert!(
        p.is_dir(),
        "the shared data is missing: expected {} (CI checks out ../shared beside the repo)",
        p.display()
    );
    p.canonicalize().expect("canonical data path")
}

/// Number of series and samples in a store file.
pub fn store_counts(db: &Path) -> (usize, u64) {
    let s = SqliteStore::open(db).expect("store opens");
    let sums = s.series_summaries().expect("summaries");
    (sums.len(), sums.iter().map(|x| x.n_samples).sum())
}

/// Writes `bytes` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("fixture written");
    p.display().to_string()
}
