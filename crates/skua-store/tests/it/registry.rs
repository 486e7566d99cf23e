//! The model registry tables: versions, versioned forecasts, the live track record, events,
//! and the migration of a version-1 store.

use skua_core::{Forecast, QuantileBand};
use skua_store::{
    ForecastBy, ForecastWrite, LiveScore, ModelVersionWrite, RegistryEventWrite, RegistryUpdate,
    SCHEMA_VERSION, SqliteStore, Store, StoreError, VersionId, VersionStatus,
};

use crate::common::{ramp, temp_store, write};

fn version(series: &str, model: &str, status: VersionStatus, at: i64) -> ModelVersionWrite {
    ModelVersionWrite {
        series_id: series.into(),
        model: model.into(),
        train_first: 0,
        train_last: at - 3_600,
        mae: 1.25,
        mase: f64::NAN,
        coverage_80: 0.8,
        regret: 0.1,
        created_at: at,
        status,
        note: None,
    }
}

fn forecast(series: &str, model: &str, start: i64) -> ForecastWrite {
    ForecastWrite {
        series_id: series.into(),
        model: model.into(),
        origin: start,
        forecast: Forecast {
            start,
            step: 3_600,
            point: vec![1.0, 2.0],
            quantiles: vec![QuantileBand {
                q: 0.5,
                values: vec![1.0, 2.0],
            }],
        },
    }
}

fn update(series: &str) -> RegistryUpdate {
    RegistryUpdate {
        series_id: series.into(),
        new_version: None,
        status_changes: Vec::new(),
        events: Vec::new(),
        forecast: None,
    }
}

#[test]
fn versions_events_and_versioned_forecasts_round_trip() {
    let (_dir, mut store) = temp_store();
    store
        .put_series_batch(&[write("a", 0, 3_600, ramp(48, 1.0))])
        .unwrap();
    let run = store.start_run("forecast", serde_json::json!({})).unwrap();
    let ids = store
        .apply_registry_updates(
            Some(run),
            &[RegistryUpdate {
                new_version: Some(version("a", "mean_7d", VersionStatus::Deployed, 100)),
                forecast: Some((forecast("a", "mean_7d", 172_800), ForecastBy::NewVersion)),
                ..update("a")
            }],
        )
        .unwrap();
    let v1 = ids[0].unwrap();
    // A failed version, an event about it, and a fallback forecast by v1.
    let ids = store
        .apply_registry_updates(
            Some(run),
            &[RegistryUpdate {
                new_version: Some(version("a", "broken", VersionStatus::Failed, 200)),
                events: vec![RegistryEventWrite {
                    kind: "fit_failed".into(),
                    version: None,
                    at: 200,
                    detail: serde_json::json!({"detail": "boom"}),
                }],
                forecast: Some((forecast("a", "mean_7d", 176_400), ForecastBy::Version(v1))),
                ..update("a")
            }],
        )
        .unwrap();
    let v2 = ids[0].unwrap();
    assert!(v2 > v1);
    let versions = store.model_versions(Some("a")).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].id, v1);
    assert_eq!(versions[0].run, Some(run));
    let w = &versions[0].version;
    assert_eq!(
        (w.model.as_str(), w.status),
        ("mean_7d", VersionStatus::Deployed)
    );
    assert_eq!((w.mae, w.coverage_80, w.regret), (1.25, 0.8, 0.1));
    assert!(w.mase.is_nan(), "NaN scores come back as NaN");
    assert_eq!(versions[1].version.status, VersionStatus::Failed);
    assert!(store.model_versions(Some("b")).unwrap().is_empty());
    assert_eq!(store.model_versions(None).unwrap().len(), 2);

    let events = store.pending_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].version,
        Some(v2),
        "None means the update's new version"
    );
    assert_eq!(events[0].detail["detail"], "boom");
    store.mark_events_alerted(&[events[0].id], 300).unwrap();
    assert!(store.pending_events().unwrap().is_empty());
    assert_eq!(store.registry_events().unwrap()[0].alerted_at, Some(300));
    assert!(matches!(
        store.mark_events_alerted(&[999], 300),
        Err(StoreError::NotFound(_))
    ));

    let unscored = store.unscored_forecasts().unwrap();
    assert_eq!(
        unscored.iter().map(|f| f.version).collect::<Vec<_>>(),
        vec![v1, v1]
    );
    assert_eq!(unscored[1].stored.forecast.point, vec![1.0, 2.0]);
    let score = LiveScore {
        forecast: unscored[0].id,
        version: v1,
        series_id: "a".into(),
        day: 172_800,
        mae: 0.5,
        regret: f64::NAN,
        observed: 2,
        scored_at: 400,
    };
    store.put_live_scores(std::slice::from_ref(&score)).unwrap();
    assert_eq!(store.unscored_forecasts().unwrap().len(), 1);
    let track = store.live_scores(Some("a")).unwrap();
    assert_eq!(track.len(), 1);
    assert!(track[0].regret.is_nan());
    assert_eq!((track[0].mae, track[0].observed), (0.5, 2));
    // A forecast is scored once.
    assert!(matches!(
        store.put_live_scores(&[score]),
        Err(StoreError::Invalid(m)) if m.contains("already scored")
    ));
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn a_second_deployed_version_fails_the_whole_batch() {
    let (_dir, mut store) = temp_store();
    store
        .put_series_batch(&[
            write("a", 0, 3_600, ramp(48, 1.0)),
            write("b", 0, 3_600, ramp(48, 1.0)),
        ])
        .unwrap();
    let ids = store
        .apply_registry_updates(
            None,
            &[RegistryUpdate {
                new_version: Some(version("a", "m", VersionStatus::Deployed, 1)),
                ..update("a")
            }],
        )
        .unwrap();
    let v1 = ids[0].unwrap();
    let err = store
        .apply_registry_updates(
            None,
            &[
                RegistryUpdate {
                    new_version: Some(version("b", "m", VersionStatus::Deployed, 2)),
                    ..update("b")
                },
                RegistryUpdate {
                    new_version: Some(version("a", "m", VersionStatus::Deployed, 2)),
                    ..update("a")
                },
            ],
        )
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref m) if m.contains("already deployed")),
        "{err}"
    );
    assert_eq!(
        store.model_versions(None).unwrap().len(),
        1,
        "nothing of b was kept"
    );
    // Retiring the incumbent in the same update makes room.
    store
        .apply_registry_updates(
            None,
            &[RegistryUpdate {
                new_version: Some(version("a", "m", VersionStatus::Deployed, 3)),
                status_changes: vec![(v1, VersionStatus::Retired)],
                ..update("a")
            }],
        )
        .unwrap();
    let st: Vec<_> = store
        .model_versions(Some("a"))
        .unwrap()
        .into_iter()
        .map(|v| (v.version.status, v.status_at))
        .collect();
    assert_eq!(
        st,
        vec![(VersionStatus::Retired, 3), (VersionStatus::Deployed, 3)]
    );
    // Unknown series and versions are refused.
    assert!(matches!(
        store.apply_registry_updates(None, &[update("zz")]),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.apply_registry_updates(
            None,
            &[RegistryUpdate {
                status_changes: vec![(VersionId(999), VersionStatus::Failed)],
                ..update("a")
            }]
        ),
        Err(StoreError::NotFound(_))
    ));
}

/// The schema skua 0.1 wrote (version 1), frozen here as a fixture.
const V1_SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE series (
    sid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, server TEXT NOT NULL, metric TEXT,
    unit TEXT NOT NULL CHECK (unit IN ('percent', 'count', 'other')), labels TEXT NOT NULL,
    step INTEGER NOT NULL CHECK (step > 0), n_samples INTEGER NOT NULL DEFAULT 0,
    first_ts INTEGER, last_ts INTEGER);
CREATE INDEX series_server ON series (server);
CREATE TABLE samples (sid INTEGER NOT NULL REFERENCES series (sid), ts INTEGER NOT NULL,
    value REAL NOT NULL, PRIMARY KEY (sid, ts)) WITHOUT ROWID;
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'rejected')),
    summary TEXT, started_at INTEGER NOT NULL, finished_at INTEGER);
CREATE TABLE validation_reports (run_id INTEGER NOT NULL REFERENCES runs (id),
    seq INTEGER NOT NULL, scope TEXT NOT NULL CHECK (scope IN ('file', 'series')),
    subject TEXT NOT NULL, report TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
CREATE TABLE forecasts (fid INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs (id),
    series_id TEXT NOT NULL REFERENCES series (id), model TEXT NOT NULL,
    origin INTEGER NOT NULL, start_ts INTEGER NOT NULL, step INTEGER NOT NULL CHECK (step > 0),
    point BLOB NOT NULL, quantile_levels BLOB NOT NULL, quantile_values BLOB NOT NULL);
CREATE INDEX forecasts_latest ON forecasts (series_id, model, origin);
CREATE INDEX forecasts_run ON forecasts (run_id);
CREATE TABLE schedules (run_id INTEGER NOT NULL REFERENCES runs (id), seq INTEGER NOT NULL,
    server TEXT NOT NULL, grp TEXT, start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL,
    predicted REAL, runner_up_start INTEGER, runner_up_predicted REAL,
    PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO series VALUES (1, 'old', 'old', 'cpu', 'percent', '{}', 3600, 2, 0, 3600);
INSERT INTO samples VALUES (1, 0, 5.0), (1, 3600, 6.0);
INSERT INTO runs VALUES (1, 'forecast', '{}', 'ok', '{}', 10, 20);
INSERT INTO forecasts VALUES (1, 1, 'old', 'mean_7d', 3600, 7200, 3600,
    X'0000000000001440', X'', X'');
";

#[test]
fn a_version_1_store_is_migrated_forward_and_keeps_its_data() {
    assert_eq!(SCHEMA_VERSION, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(V1_SCHEMA)
        .unwrap();
    let mut store = SqliteStore::open(&path).expect("a version-1 store opens");
    let v: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, "2");
    assert_eq!(store.load_series("old").unwrap().values(), &[5.0, 6.0]);
    let old = store.latest_forecast("old", "mean_7d").unwrap().unwrap();
    assert_eq!(old.forecast.point, vec![5.0]);
    assert!(
        store.unscored_forecasts().unwrap().is_empty(),
        "forecasts from before the registry have no version"
    );
    assert!(store.check_consistency().unwrap().is_ok());
    // The registry works on the migrated file, and reopening is a no-op.
    store
        .apply_registry_updates(
            None,
            &[RegistryUpdate {
                new_version: Some(version("old", "mean_7d", VersionStatus::Deployed, 30)),
                ..update("old")
            }],
        )
        .unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.model_versions(None).unwrap().len(), 1);
}
