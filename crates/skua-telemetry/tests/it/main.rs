//! Integration tests of skua-telemetry: readers, bad input, validation, real data, properties.

mod asd;
mod bad_input;
mod formats;
mod mapping;
mod props;
mod real_data;
mod robustness;
mod validation;

use std::path::{Path, PathBuf};

use skua_telemetry::ingest::{FileRead, IngestOptions, read_path};

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write fixture");
    p
}

/// Gzip-compresses bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Reads with default options, panicking with the error text.
pub fn read(p: &Path) -> FileRead {
    read_path(p, &IngestOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Reads expecting a file-level error and returns its message.
pub fn read_err(p: &Path, opts: &IngestOptions) -> String {
    match read_path(p, opts) {
        Ok(r) => panic!("expected an error for {}, got {:?}", p.display(), r.report),
        Err(e) => e.to_string(),
    }
}

/// An hourly long CSV of `hours` rows for each id, value = f(id, hour).
pub fn hourly_long(ids: &[&str], hours: usize) -> String {
    let mut s = String::from("series,timestamp,value\n");
    for (k, id) in ids.iter().enumerate() {
        for h in 0..hours {
            let ts = 1_372_636_800 + h as i64 * 3600;
            let v = (k * 10 + h % 24) as f64 / 2.0;
            s.push_str(&format!("{id},{ts},{v}\n"));
        }
    }
    s
}

/// The shared real data directory, or a loud failure.
pub fn fleet_dir() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/fleet"
    ));
    assert!(
        p.is_dir(),
        "real data missing: expected the shared data folder at {} (the repo is checked out at <x>/main \
         with <x>/shared beside it)",
        p.display()
    );
    p
}
