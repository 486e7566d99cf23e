//! Real data: Bitbrains Rnd, hourly CPU % of 500 VMs (see the fleet benchmark protocol).

use std::collections::BTreeMap;

use skua_forecast::classify::{SeriesClass, classify};

use crate::data::bitbrains;

#[test]
fn bitbrains_loads_500_vms_on_an_hourly_grid() {
    let vms = bitbrains();
    assert_eq!(vms.len(), 500);
    for vm in vms {
        assert!(
            vm.series.start() >= crate::data::BITBRAINS_START,
            "{}",
            vm.id
        );
        assert!(vm.series.present() > 24 * 30, "{} is too short", vm.id);
    }
}

// The protocol reference figures (tol2, areg2, busiest quarter of the baselines) are
// checked with `skua_forecast::protocol` in `protocol.rs`.

#[test]
fn bitbrains_class_counts() {
    let mut counts: BTreeMap<SeriesClass, usize> = BTreeMap::new();
    for vm in bitbrains() {
        *counts.entry(classify(&vm.series).class).or_default() += 1;
    }
    println!("Bitbrains-500 classes (gaps as NaN): {counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 500);
    // A real fleet is a mix: no class should swallow everything.
    assert!(counts.values().all(|&c| c < 450), "{counts:?}");
    assert!(counts.len() >= 3, "{counts:?}");
}
