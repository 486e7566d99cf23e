//! No input panics: arbitrary bytes and mutated real-looking files go through every reader and
//! validation, and come out as a result or an error (never a panic, never an infinite value).

use std::io::Write;

use proptest::prelude::*;
use skua_telemetry::{IngestOptions, Policy, ValidateConfig, read_path, validate};

const CLEAN: &str = "series,timestamp,value\n\
a,2024-01-01 00:00:00,1.5\na,2024-01-01 01:00:00,2.5\na,2024-01-01 02:00:00,3.5\n\
b,2024-01-01T00:00:00Z,10\nb,2024-01-01T01:00:00Z,11\nb,2024-01-01T02:00:00Z,12\n";

fn check(bytes: &[u8], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    if let Ok(read) = read_path(&path, &IngestOptions::default()) {
        for raw in read.series {
            for policy in [Policy::Reject, Policy::Repair] {
                let cfg = ValidateConfig {
                    policy,
                    ..Default::default()
                };
                let out = validate(raw.clone(), &cfg);
                if let Some(s) = out.series {
                    assert!(s.values().iter().all(|v| !v.is_infinite()));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes, "random.csv");
    }

    #[test]
    fn mutated_csv_never_panics(
        edits in proptest::collection::vec((0usize..CLEAN.len(), any::<u8>()), 1..12),
        cut in 0usize..CLEAN.len(),
    ) {
        let mut bytes = CLEAN.as_bytes().to_vec();
        for (at, b) in edits {
            bytes[at] = b;
        }
        bytes.truncate(cut.max(1));
        check(&bytes, "mutated.csv");
    }

    #[test]
    fn mutated_gzip_never_panics(flips in proptest::collection::vec((0usize..4096, any::<u8>()), 0..8)) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(CLEAN.as_bytes()).unwrap();
        let mut bytes = gz.finish().unwrap();
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] ^= b;
        }
        check(&bytes, "mutated.csv.gz");
    }
}
