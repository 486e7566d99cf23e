use std::collections::BTreeMap;

use proptest::prelude::*;
use skua_core::time::hour_of_day;
use skua_core::{SECONDS_PER_DAY, SECONDS_PER_HOUR, Ts};
use skua_fleet::{PlanConstraints, PlanError, Schedule, ServerForecast, plan};

use crate::support::server;

/// 2024-01-01T00:00:00Z.
const ORIGIN: Ts = 1_704_067_200;
const H: i64 = SECONDS_PER_HOUR;

/// An hourly forecast with load `10 + |h - trough|`: lowest at `trough`, rising away from it.
fn v_shape(trough: usize) -> Vec<f64> {
    (0..24)
        .map(|h| 10.0 + (h as f64 - trough as f64).abs())
        .collect()
}

fn constraints(toml: &str) -> PlanConstraints {
    PlanConstraints::from_toml(toml).unwrap()
}

/// Largest number of jobs running at one instant, per group.
fn peak_per_group(s: &Schedule) -> BTreeMap<String, usize> {
    let mut events: BTreeMap<String, Vec<(Ts, i32)>> = BTreeMap::new();
    for e in &s.entries {
        if let Some(g) = &e.group {
            let ev = events.entry(g.clone()).or_default();
            ev.push((e.start, 1));
            ev.push((e.end, -1));
        }
    }
    events
        .into_iter()
        .map(|(g, mut ev)| {
            // Ends sort before starts at the same instant: [a, b) and [b, c) do not overlap.
            ev.sort();
            let (mut cur, mut peak) = (0i32, 0i32);
            for (_, d) in ev {
                cur += d;
                peak = peak.max(cur);
            }
            (g, peak as usize)
        })
        .collect()
}

#[test]
fn picks_the_trough_of_a_hand_made_forecast() {
    let mut point = vec![50.0; 24];
    point[13] = 20.0;
    point[14] = 5.0;
    point[15] = 4.0;
    point[16] = 30.0;
    let c = constraints("duration = \"2h\"");
    let s = plan(&[server("a", None, ORIGIN, H, point)], &c, ORIGIN).unwrap();
    let e = s.entry("a").unwrap();
    assert_eq!(e.start, ORIGIN + 14 * H);
    assert_eq!(e.end, ORIGIN + 16 * H);
    assert!((e.predicted_mean - 4.5).abs() < 1e-12);
    // Next best two-hour window: 13–15 (12.5) beats 15–17 (17.0).
    let r = e.runner_up.unwrap();
    assert_eq!(r.start, ORIGIN + 13 * H);
    assert!((r.predicted_mean - 12.5).abs() < 1e-12);
    assert!(!e.displaced);
}

#[test]
fn allowed_hours_are_respected() {
    let c = constraints("allowed_hours = \"0-6,22-23\"");
    let s = plan(&[server("a", None, ORIGIN, H, v_shape(12))], &c, ORIGIN).unwrap();
    // Closest allowed hours to the trough at 12 are 6 (|6-12| = 6) and 22 (10): 06:00.
    assert_eq!(s.entries[0].start, ORIGIN + 6 * H);
    // A 2 h job may not start at 06:00, since 07:00 is not allowed.
    let c = constraints("allowed_hours = \"0-6,22-23\"\nduration = \"2h\"");
    let s = plan(&[server("a", None, ORIGIN, H, v_shape(12))], &c, ORIGIN).unwrap();
    assert_eq!(s.entries[0].start, ORIGIN + 5 * H);
}

#[test]
fn per_server_rules_override_hours() {
    let c = constraints(
        "allowed_hours = \"0-6\"\n[[servers]]\nmatch = \"db-*\"\nallowed_hours = \"20-23\"",
    );
    let s = plan(
        &[
            server("db-1", None, ORIGIN, H, v_shape(12)),
            server("web-1", None, ORIGIN, H, v_shape(12)),
        ],
        &c,
        ORIGIN,
    )
    .unwrap();
    assert_eq!(s.entry("db-1").unwrap().start, ORIGIN + 20 * H);
    assert_eq!(s.entry("web-1").unwrap().start, ORIGIN + 6 * H);
}

#[test]
fn deadline_is_respected_relative_and_clock() {
    let s = plan(
        &[server("a", None, ORIGIN, H, v_shape(20))],
        &constraints("deadline = \"+12h\""),
        ORIGIN,
    )
    .unwrap();
    assert_eq!(s.entries[0].start, ORIGIN + 12 * H);
    // Origin at 02:00: "06:00" means today 06:00, four hours later.
    let origin = ORIGIN + 2 * H;
    let s = plan(
        &[server("a", None, origin, H, v_shape(20))],
        &constraints("deadline = \"06:00\""),
        origin,
    )
    .unwrap();
    assert_eq!(s.entries[0].start, ORIGIN + 6 * H);
}

#[test]
fn group_limit_is_respected_and_runner_up_reported() {
    let c =
        constraints("group_by = \"cluster\"\nmax_concurrent = 2\n[groups.eu]\nmax_concurrent = 1");
    let servers = vec![
        server("a", Some("us"), ORIGIN, H, v_shape(3)),
        server("b", Some("us"), ORIGIN, H, v_shape(3)),
        server("c", Some("us"), ORIGIN, H, v_shape(3)),
        server("d", Some("eu"), ORIGIN, H, v_shape(3)),
        server("e", Some("eu"), ORIGIN, H, v_shape(3)),
        server("f", None, ORIGIN, H, v_shape(3)),
        server("g", None, ORIGIN, H, v_shape(3)),
    ];
    let s = plan(&servers, &c, ORIGIN).unwrap();
    let peaks = peak_per_group(&s);
    assert_eq!(peaks["us"], 2);
    assert_eq!(peaks["eu"], 1);
    let at_trough = |ids: &[&str]| {
        ids.iter()
            .filter(|id| s.entry(id).unwrap().start == ORIGIN + 3 * H)
            .count()
    };
    assert_eq!(at_trough(&["a", "b", "c"]), 2);
    assert_eq!(at_trough(&["d", "e"]), 1);
    assert_eq!(
        at_trough(&["f", "g"]),
        2,
        "ungrouped servers are not limited"
    );
    for e in &s.entries {
        let at_best = e.start == ORIGIN + 3 * H;
        assert_eq!(e.displaced, !at_best, "{}", e.server);
        if at_best {
            assert!((e.predicted_mean - 10.0).abs() < 1e-12);
        } else {
            // Displaced servers land next to the trough (cost 11).
            assert!((e.predicted_mean - 11.0).abs() < 1e-12, "{e:?}");
        }
        let r = e.runner_up.expect("every server has an alternative");
        assert_ne!(r.start, e.start);
        assert!(r.predicted_mean >= e.predicted_mean || e.displaced);
    }
    // In a full group the trough's runner-up is the best slot still free: 11.
    let eu_best = ["d", "e"]
        .iter()
        .map(|id| s.entry(id).unwrap())
        .find(|e| !e.displaced)
        .unwrap();
    assert!((eu_best.runner_up.unwrap().predicted_mean - 11.0).abs() < 1e-12);
    assert_eq!(s.entry("f").unwrap().group, None);
    assert_eq!(s.entry("a").unwrap().group.as_deref(), Some("us"));
}

#[test]
fn groups_share_one_timeline_across_steps() {
    // A 5-minute server and an hourly one, both best at 03:00, one slot: they must not overlap.
    let five: Vec<f64> = (0..288)
        .map(|k| 10.0 + (k as f64 / 12.0 - 3.0).abs())
        .collect();
    let servers = vec![
        server("fast", Some("k"), ORIGIN, 300, five),
        server("slow", Some("k"), ORIGIN, H, v_shape(3)),
    ];
    let s = plan(
        &servers,
        &constraints("group_by = \"cluster\"\nmax_concurrent = 1"),
        ORIGIN,
    )
    .unwrap();
    assert_eq!(peak_per_group(&s)["k"], 1);
    let (a, b) = (s.entry("fast").unwrap(), s.entry("slow").unwrap());
    assert!(a.end <= b.start || b.end <= a.start, "{a:?} {b:?}");
}

#[test]
fn regret_ordering_keeps_the_steep_server_at_its_trough() {
    // Both best at 05:00. "flat" barely cares; "steep" loses a lot elsewhere.
    let flat: Vec<f64> = (0..24).map(|h| if h == 5 { 10.0 } else { 10.1 }).collect();
    let steep: Vec<f64> = (0..24).map(|h| if h == 5 { 0.0 } else { 90.0 }).collect();
    let c = constraints("group_by = \"cluster\"\nmax_concurrent = 1");
    let s = plan(
        &[
            server("flat", Some("k"), ORIGIN, H, flat),
            server("steep", Some("k"), ORIGIN, H, steep),
        ],
        &c,
        ORIGIN,
    )
    .unwrap();
    assert_eq!(s.entry("steep").unwrap().start, ORIGIN + 5 * H);
    assert!(s.entry("flat").unwrap().displaced);
}

#[test]
fn local_improvement_repairs_a_greedy_mistake() {
    // Regret ordering places c (06:00), then a (05:00, its regret is only 1), leaving b
    // only 100-cost hours. Moving a to 10:00 (+1) frees 05:00 for b (-100).
    let hours = |pairs: &[(usize, f64)]| -> Vec<f64> {
        (0..24)
            .map(|h| pairs.iter().find(|p| p.0 == h).map_or(100.0, |p| p.1))
            .collect()
    };
    let servers = vec![
        server(
            "a",
            Some("k"),
            ORIGIN,
            H,
            hours(&[(5, 0.0), (6, 5.0), (10, 1.0)]),
        ),
        server("b", Some("k"), ORIGIN, H, hours(&[(5, 0.0), (6, 0.5)])),
        server("c", Some("k"), ORIGIN, H, hours(&[(6, 0.0)])),
    ];
    let s = plan(
        &servers,
        &constraints("group_by = \"cluster\"\nmax_concurrent = 1"),
        ORIGIN,
    )
    .unwrap();
    let starts: Vec<i64> = ["a", "b", "c"]
        .iter()
        .map(|id| (s.entry(id).unwrap().start - ORIGIN) / H)
        .collect();
    assert_eq!(starts, vec![10, 5, 6]);
    let total: f64 = s.entries.iter().map(|e| e.predicted_mean).sum();
    assert!((total - 1.0).abs() < 1e-12);
}

#[test]
fn infeasible_group_names_group_and_hours() {
    let c = constraints(
        "group_by = \"cluster\"\n[groups.eu-west]\nmax_concurrent = 1\n\
         [[servers]]\nmatch = \"db-*\"\nallowed_hours = \"1-3\"",
    );
    let servers: Vec<ServerForecast> = (1..=5)
        .map(|i| server(&format!("db-{i}"), Some("eu-west"), ORIGIN, H, v_shape(i)))
        .collect();
    let err = plan(&servers, &c, ORIGIN).unwrap_err();
    let PlanError::Infeasible { group, hour, .. } = &err else {
        panic!("expected Infeasible, got {err:?}");
    };
    assert_eq!(group, "eu-west");
    assert_eq!(hour, "01:00–04:00");
    insta::assert_snapshot!("infeasible_group", err.to_string());
}

#[test]
fn server_without_any_window_is_named_with_its_hours() {
    let c =
        constraints("deadline = \"+30m\"\n[[servers]]\nmatch = \"db-7\"\nallowed_hours = \"1-2\"");
    let servers = vec![
        server("db-7", None, ORIGIN, H, v_shape(1)),
        server("web", None, ORIGIN, H, v_shape(1)),
    ];
    let err = plan(&servers, &c, ORIGIN).unwrap_err();
    let PlanError::NoWindow { server, hours, .. } = &err else {
        panic!("expected NoWindow, got {err:?}");
    };
    assert_eq!((server.as_str(), hours.as_str()), ("db-7", "01:00–03:00"));
    insta::assert_snapshot!("no_window", err.to_string());
}

#[test]
fn schedule_json_and_csv() {
    let c = constraints("group_by = \"cluster\"\nmax_concurrent = 1\nduration = \"2h\"");
    let servers = vec![
        server("a", Some("k"), ORIGIN, H, v_shape(2)),
        server("b", Some("k"), ORIGIN, H, v_shape(2)),
        server(
            "c",
            None,
            ORIGIN,
            1800,
            (0..48).map(|k| (k as f64 - 40.0).abs()).collect(),
        ),
    ];
    let s = plan(&servers, &c, ORIGIN).unwrap();
    insta::assert_snapshot!("schedule_csv", s.to_csv());
    insta::assert_json_snapshot!("schedule_json", s);
}

#[test]
fn output_does_not_depend_on_input_order() {
    let c = constraints("group_by = \"cluster\"\nmax_concurrent = 2");
    let mut servers: Vec<ServerForecast> = (0..12)
        .map(|i| {
            server(
                &format!("s{i}"),
                Some(if i % 2 == 0 { "x" } else { "y" }),
                ORIGIN,
                H,
                v_shape(i % 4),
            )
        })
        .collect();
    let a = plan(&servers, &c, ORIGIN).unwrap();
    servers.reverse();
    let b = plan(&servers, &c, ORIGIN).unwrap();
    assert_eq!(a, b);
}

fn arb_server(i: usize) -> impl Strategy<Value = (ServerForecast, Option<u32>)> {
    let step = prop_oneof![Just(300i64), Just(900), Just(1800), Just(3600)];
    (step, 0..4usize, prop::option::of(0..24u32), any::<u64>()).prop_flat_map(
        move |(step, g, restrict, seed)| {
            let n = (SECONDS_PER_DAY / step) as usize;
            prop::collection::vec(0.0..100.0f64, n).prop_map(move |point| {
                let cluster = ["a", "b", "c"].get(g).copied();
                // Forecast grids start a little before the origin at times, to test the horizon.
                let start = ORIGIN - (seed % 2) as i64 * step;
                (
                    server(&format!("s{i:03}"), cluster, start, step, point),
                    restrict,
                )
            })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn schedules_never_break_a_constraint(
        servers in (1..30usize).prop_flat_map(|n| (0..n).map(arb_server).collect::<Vec<_>>()),
        cap in 1..4usize,
        dur_h in 1..4i64,
        deadline_h in 4..24i64,
    ) {
        // Servers whose generated hour is Some get a 12-hour window starting there.
        let mut toml = format!(
            "group_by = \"cluster\"\nmax_concurrent = {cap}\nduration = \"{dur_h}h\"\n\
             deadline = \"+{deadline_h}h\"\nallowed_hours = \"0-23\"\n"
        );
        for (s, restrict) in &servers {
            if let Some(h) = restrict {
                toml.push_str(&format!(
                    "[[servers]]\nmatch = \"{}\"\nallowed_hours = \"{}-{}\"\n",
                    s.server, h, (h + 11) % 24
                ));
            }
        }
        let c = PlanConstraints::from_toml(&toml).unwrap();
        let input: Vec<ServerForecast> = servers.iter().map(|(s, _)| s.clone()).collect();
        match plan(&input, &c, ORIGIN) {
            Err(PlanError::Infeasible { .. }) | Err(PlanError::NoWindow { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
            Ok(s) => {
                prop_assert_eq!(s.entries.len(), input.len());
                for p in peak_per_group(&s).values() {
                    prop_assert!(*p <= cap);
                }
                for e in &s.entries {
                    let sc = c.for_server(&e.server);
                    prop_assert!(e.start >= ORIGIN && e.end <= ORIGIN + SECONDS_PER_DAY);
                    prop_assert_eq!(e.end - e.start, dur_h * H);
                    prop_assert!(e.start <= ORIGIN + deadline_h * H);
                    let mut t = e.start;
                    while t < e.end {
                        prop_assert!(sc.allowed_hours.contains(hour_of_day(t)), "{:?}", e);
                        t += 60;
                    }
                    if let Some(r) = e.runner_up {
                        prop_assert!(r.start != e.start);
                    }
                }
            }
        }
    }

    #[test]
    fn unlimited_groups_give_every_server_its_own_optimum(
        servers in (1..10usize).prop_flat_map(|n| (0..n).map(arb_server).collect::<Vec<_>>()),
    ) {
        let input: Vec<ServerForecast> = servers.iter().map(|(s, _)| s.clone()).collect();
        let c = PlanConstraints::from_toml("group_by = \"cluster\"").unwrap();
        let s = plan(&input, &c, ORIGIN).unwrap();
        for e in &s.entries {
            prop_assert!(!e.displaced);
            if let Some(r) = e.runner_up {
                prop_assert!(r.predicted_mean >= e.predicted_mean);
            }
        }
    }
}
