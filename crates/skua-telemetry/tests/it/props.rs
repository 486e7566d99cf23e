//! Property: under repair, an accepted series is a valid regular series of the detected
//! step whose present values all lie in the unit's range.

use proptest::prelude::*;
use skua_core::{SeriesMeta, Unit};
use skua_telemetry::ingest::{RawSample, RawSeries};
use skua_telemetry::validate::{Policy, ValidateConfig, validate};

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -50.0..150.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
    ]
}

fn unit() -> impl Strategy<Value = Unit> {
    prop_oneof![Just(Unit::Percent), Just(Unit::Count), Just(Unit::Other)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn repaired_output_is_valid(
        step in prop_oneof![Just(60i64), Just(300), Just(3600)],
        unit in unit(),
        // (steps since previous, jitter seconds, value)
        rows in prop::collection::vec((0i64..4, -20i64..20, value()), 2..400),
        swaps in prop::collection::vec((0usize..400, 0usize..400), 0..5),
        max_fill in 0usize..5,
    ) {
        let mut ts = 1_400_000_000i64;
        let mut samples: Vec<RawSample> = rows
            .iter()
            .enumerate()
            .map(|(i, &(k, jitter, value))| {
                ts += k * step;
                RawSample { ts: ts + jitter, value, line: i as u64 + 2, source: 0 }
            })
            .collect();
        for (a, b) in swaps {
            let n = samples.len();
            samples.swap(a % n, b % n);
        }
        let mut meta = SeriesMeta::simple("p");
        meta.unit = unit;
        let mut raw = RawSeries::new(meta, "p.csv");
        raw.samples = samples;
        let cfg = ValidateConfig {
            policy: Policy::Repair,
            max_fill_steps: max_fill,
            min_history_secs: 0,
            ..Default::default()
        };
        let out = validate(raw, &cfg);
        if let Some(s) = out.series {
            prop_assert_eq!(Some(s.step()), out.report.interval_secs);
            prop_assert!(s.step() > 0);
            prop_assert_eq!(s.start().rem_euclid(s.step()), 0);
            prop_assert!(!s.is_empty());
            prop_assert_eq!(s.len() as u64, out.report.points);
            prop_assert!(!s.values()[0].is_nan() && !s.values()[s.len() - 1].is_nan());
            for v in s.values().iter().filter(|v| !v.is_nan()) {
                prop_assert!(v.is_finite());
                match unit {
                    Unit::Percent => prop_assert!((0.0..=100.0).contains(v), "{}", v),
                    Unit::Count => prop_assert!(*v >= 0.0, "{}", v),
                    Unit::Other => {}
                }
            }
        } else {
            prop_assert!(out.report.errors() > 0);
        }
    }
}
