//! The registry policy and the alert rules (pure): deployment margin, fallbacks on a failed
//! fit, an invalid forecast and degraded live accuracy, and the alerts' wire shape.

use skua_forecast::alerts::{self, AlertKind, AlertRules, RejectedSeries, Severity};
use skua_forecast::registry::{
    EventKind, LiveRecord, RegistryPolicy, Scores, Serve, TrainOutcome, Version, VersionStatus,
    decide_live, decide_new, last_known_good,
};

const DAY: i64 = 86_400;

fn scores(mae: f64) -> Scores {
    Scores {
        mae,
        ..Scores::UNKNOWN
    }
}

fn v(id: i64, status: VersionStatus, mae: f64) -> Version {
    Version {
        id,
        model: format!("m{id}"),
        status,
        scores: scores(mae),
    }
}

#[test]
fn the_first_valid_version_is_deployed() {
    let d = decide_new(
        &[],
        "mean_7d",
        &TrainOutcome::Trained(scores(f64::NAN)),
        None,
        &RegistryPolicy::default(),
    );
    assert_eq!(d.new_status, Some(VersionStatus::Deployed));
    assert_eq!(d.serve, Serve::New);
    assert!(d.changes.is_empty() && d.events.is_empty());
}

#[test]
fn a_candidate_is_deployed_only_within_the_margin() {
    let p = RegistryPolicy::default();
    let versions = [
        v(1, VersionStatus::Retired, 1.0),
        v(2, VersionStatus::Deployed, 2.0),
    ];
    // 4.9 % worse than the incumbent's score on the same windows: deployed, incumbent retired.
    let d = decide_new(
        &versions,
        "x",
        &TrainOutcome::Trained(scores(2.098)),
        None,
        &p,
    );
    assert_eq!(d.new_status, Some(VersionStatus::Deployed));
    assert_eq!(d.changes, vec![(2, VersionStatus::Retired)]);
    // 5.1 % worse: kept as a candidate, the incumbent serves.
    let d = decide_new(
        &versions,
        "x",
        &TrainOutcome::Trained(scores(2.102)),
        None,
        &p,
    );
    assert_eq!(d.new_status, Some(VersionStatus::Candidate));
    assert_eq!(d.serve, Serve::Existing(2));
    assert!(d.changes.is_empty());
    assert_eq!(d.events[0].kind, EventKind::NotDeployed);
    // The incumbent re-scored on the candidate's windows is the reference when given.
    let d = decide_new(
        &versions,
        "x",
        &TrainOutcome::Trained(scores(2.102)),
        Some(&scores(3.0)),
        &p,
    );
    assert_eq!(d.new_status, Some(VersionStatus::Deployed));
    // A candidate without a score never replaces a scored incumbent.
    let d = decide_new(
        &versions,
        "x",
        &TrainOutcome::Trained(scores(f64::NAN)),
        None,
        &p,
    );
    assert_eq!(d.new_status, Some(VersionStatus::Candidate));
}

#[test]
fn failed_fits_and_invalid_forecasts_fall_back_to_the_last_known_good() {
    let p = RegistryPolicy::default();
    for (outcome, kind) in [
        (TrainOutcome::FitFailed("boom".into()), EventKind::FitFailed),
        (
            TrainOutcome::InvalidForecast("NaN at step 3".into()),
            EventKind::InvalidForecast,
        ),
    ] {
        let versions = [
            v(1, VersionStatus::Retired, 1.0),
            v(2, VersionStatus::Deployed, 1.0),
        ];
        let d = decide_new(&versions, "bad", &outcome, None, &p);
        assert_eq!(d.new_status, Some(VersionStatus::Failed));
        assert_eq!(d.serve, Serve::Existing(2));
        assert!(d.changes.is_empty());
        assert_eq!(d.events.len(), 1);
        let e = &d.events[0];
        assert_eq!((e.kind, e.fallback_to, e.version), (kind, Some(2), None));
        assert_eq!(e.fallback_model.as_deref(), Some("m2"));
        // With no deployed version, the newest retired one is redeployed.
        let versions = [
            v(1, VersionStatus::Retired, 1.0),
            v(3, VersionStatus::Retired, 1.0),
            v(4, VersionStatus::Failed, 1.0),
        ];
        let d = decide_new(&versions, "bad", &outcome, None, &p);
        assert_eq!(d.serve, Serve::Existing(3));
        assert_eq!(d.changes, vec![(3, VersionStatus::Deployed)]);
        // With nothing good at all, nothing serves.
        let d = decide_new(
            &[v(4, VersionStatus::Failed, 1.0)],
            "bad",
            &outcome,
            None,
            &p,
        );
        assert_eq!(d.serve, Serve::Nothing);
        assert_eq!(d.events[0].fallback_to, None);
    }
}

#[test]
fn degraded_live_accuracy_fails_the_deployed_version() {
    let p = RegistryPolicy::default();
    let now = 100 * DAY;
    let versions = [
        v(1, VersionStatus::Retired, 1.0),
        v(2, VersionStatus::Candidate, 1.0),
        v(3, VersionStatus::Deployed, 1.0),
    ];
    let rec = |version, day, mae| LiveRecord {
        version,
        day: now - day * DAY,
        mae,
    };
    // 1.4× the backtest MAE: healthy.
    assert!(decide_live(&versions, &[rec(3, 1, 1.4)], now, &p).is_none());
    // 1.6× but only 0.6 above: degraded (the floor is 0.5).
    let d = decide_live(&versions, &[rec(3, 1, 1.6)], now, &p).expect("degraded");
    assert_eq!(
        d.changes,
        vec![(3, VersionStatus::Failed), (1, VersionStatus::Deployed)]
    );
    assert_eq!(
        d.serve,
        Serve::Existing(1),
        "the candidate never served: not a fallback"
    );
    let e = &d.events[0];
    assert_eq!(e.kind, EventKind::AccuracyDegraded);
    assert_eq!((e.version, e.fallback_to), (Some(3), Some(1)));
    assert_eq!((e.live_mae, e.backtest_mae), (Some(1.6), Some(1.0)));
    // The mean over the window decides; older days and other versions do not count.
    let mixed = [
        rec(3, 1, 2.0),
        rec(3, 2, 1.0),
        rec(3, 10, 50.0),
        rec(1, 1, 50.0),
    ];
    assert!(decide_live(&versions, &mixed, now, &p).is_none());
    // Below the absolute floor: an idle server's tiny error doubling is not an alarm.
    let idle = [v(3, VersionStatus::Deployed, 0.1)];
    assert!(decide_live(&idle, &[rec(3, 1, 0.4)], now, &p).is_none());
    // Without a last known good, the version still fails and nothing serves.
    let alone = [v(3, VersionStatus::Deployed, 1.0)];
    let d = decide_live(&alone, &[rec(3, 1, 5.0)], now, &p).unwrap();
    assert_eq!((d.serve, d.events[0].fallback_to), (Serve::Nothing, None));
    // No live day, no judgement.
    assert!(decide_live(&versions, &[], now, &p).is_none());
    assert_eq!(last_known_good(&versions).map(|v| v.id), Some(3));
}

#[test]
fn alerts_from_events_have_the_alertmanager_shape() {
    let rules = AlertRules::default();
    let versions = [
        v(1, VersionStatus::Retired, 1.0),
        v(3, VersionStatus::Deployed, 1.0),
    ];
    let now = 1_788_739_200; // 2026-09-07T00:00:00Z
    let rec = LiveRecord {
        version: 3,
        day: now - DAY,
        mae: 4.0,
    };
    let d = decide_live(&versions, &[rec], now, &RegistryPolicy::default()).unwrap();
    let list = alerts::from_event("srv-1/cpu", &d.events[0], Some(3), now, now, &rules);
    assert_eq!(
        list.iter().map(|a| a.kind).collect::<Vec<_>>(),
        vec![AlertKind::AccuracyDegraded, AlertKind::Fallback]
    );
    let wire = serde_json::to_value(list[1].to_alertmanager("http://skua/run/4")).unwrap();
    assert_eq!(
        wire,
        serde_json::json!({
            "labels": {
                "alertname": "SkuaModelFallback", "severity": "warning", "service": "skua",
                "series": "srv-1/cpu", "model": "m3", "reason": "accuracy_degraded",
                "version": "3", "fallback_to": "1"
            },
            "annotations": {
                "summary": "srv-1/cpu fell back to its last known good model m1 (v1)",
                "description": d.events[0].detail,
            },
            "startsAt": "2026-09-07T00:00:00Z",
            "endsAt": "2026-09-08T01:00:00Z",
            "generatorURL": "http://skua/run/4"
        })
    );
    assert!(
        d.events[0].detail.contains("4.0× its backtest MAE"),
        "{}",
        d.events[0].detail
    );
    // Keeping the incumbent is not an alert.
    let kept = decide_new(
        &versions,
        "x",
        &TrainOutcome::Trained(scores(9.0)),
        None,
        &RegistryPolicy::default(),
    );
    assert!(alerts::from_event("s", &kept.events[0], None, now, now, &rules).is_empty());
}

#[test]
fn stale_data_and_validation_failures() {
    let rules = AlertRules {
        stale_after: 2 * DAY,
        ..AlertRules::default()
    };
    let now = 10 * DAY;
    let series = [
        ("fresh".to_string(), Some(now - DAY)),
        ("edge".to_string(), Some(now - 2 * DAY)),
        ("stale".to_string(), Some(now - 5 * DAY)),
        ("empty".to_string(), None),
    ];
    let stale = alerts::stale_data(&series, now, &rules);
    assert_eq!(
        stale
            .iter()
            .map(|a| a.series.as_deref().unwrap())
            .collect::<Vec<_>>(),
        vec!["stale", "empty"]
    );
    assert_eq!(
        stale[0].starts_at,
        now - 3 * DAY,
        "stale since the limit passed"
    );
    assert!(
        stale[0].description.contains("5d before"),
        "{}",
        stale[0].description
    );
    assert_eq!(stale[0].severity, Severity::Warning);

    let rejected = [RejectedSeries {
        series: "bad".into(),
        issues: vec!["non_finite".into(), "too_short".into()],
    }];
    let v = alerts::validation_failures(&rejected, 7, now - 60, now, &rules);
    assert_eq!(v.len(), 1);
    let wire = v[0].to_alertmanager("x");
    assert_eq!(wire.labels["alertname"], "SkuaValidationFailed");
    assert_eq!(wire.labels["ingest_run"], "7");
    assert!(wire.annotations["description"].contains("non_finite, too_short"));
}
