//! Runs, validation reports, forecasts and schedules.

use serde_json::json;
use skua_core::{Forecast, QuantileBand};
use skua_store::{
    ForecastWrite, ReportScope, RunId, RunStatus, ScheduleRow, StoreError, ValidationReport,
};

use crate::common::{temp_store, write};

#[test]
fn runs_start_finish_and_list() {
    let (_dir, mut store) = temp_store();
    let a = store
        .start_run("ingest", json!({"files": ["a.csv"]}))
        .unwrap();
    let b = store.start_run("evaluate", json!({})).unwrap();
    assert!(b > a);

    let r = store.run(a).unwrap().unwrap();
    assert_eq!(r.kind, "ingest");
    assert_eq!(r.params, json!({"files": ["a.csv"]}));
    assert_eq!(r.status, RunStatus::Running);
    assert_eq!((r.summary.clone(), r.finished_at), (None, None));
    assert!(r.started_at > 1_600_000_000);
    assert_eq!(
        store.check_consistency().unwrap().unfinished_runs,
        vec![a, b]
    );

    store
        .finish_run(a, RunStatus::Ok, json!({"series": 3}))
        .unwrap();
    store
        .finish_run(b, RunStatus::Rejected, json!({"mase": 0.8}))
        .unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].status, RunStatus::Ok);
    assert_eq!(runs[0].summary, Some(json!({"series": 3})));
    assert!(runs[0].finished_at.is_some());
    assert_eq!(runs[1].status, RunStatus::Rejected);
    assert_eq!(runs[1].summary, Some(json!({"mase": 0.8})));
    assert!(
        store
            .check_consistency()
            .unwrap()
            .unfinished_runs
            .is_empty()
    );

    assert!(matches!(
        store.finish_run(a, RunStatus::Failed, json!(null)),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.finish_run(RunId(99), RunStatus::Ok, json!(null)),
        Err(StoreError::NotFound(_))
    ));
    let c = store.start_run("plan", json!(null)).unwrap();
    assert!(matches!(
        store.finish_run(c, RunStatus::Running, json!(null)),
        Err(StoreError::Invalid(_))
    ));
    assert!(store.run(RunId(99)).unwrap().is_none());
}

#[test]
fn validation_reports_round_trip_in_order_per_run() {
    let (_dir, mut store) = temp_store();
    let run = store.start_run("ingest", json!({})).unwrap();
    let other = store.start_run("ingest", json!({})).unwrap();
    let file = ValidationReport {
        scope: ReportScope::File,
        subject: "data/a.csv".into(),
        report: json!({"rows": 10, "issues": [{"severity": "warning", "line": 3}]}),
    };
    let series = ValidationReport {
        scope: ReportScope::Series,
        subject: "db-03/cpu".into(),
        report: json!({"gaps": 2, "coverage": 0.97}),
    };
    store
        .put_validation_reports(run, std::slice::from_ref(&file))
        .unwrap();
    store
        .put_validation_reports(run, std::slice::from_ref(&series))
        .unwrap();
    store
        .put_validation_reports(other, std::slice::from_ref(&series))
        .unwrap();
    assert_eq!(
        store.validation_reports(run).unwrap(),
        vec![file, series.clone()]
    );
    assert_eq!(
        store.validation_reports(other).unwrap(),
        vec![series.clone()]
    );
    assert!(matches!(
        store.put_validation_reports(RunId(42), &[series]),
        Err(StoreError::NotFound(_))
    ));
}

fn forecast(start: i64, base: f64) -> Forecast {
    Forecast {
        start,
        step: 3600,
        point: vec![base, base + 0.1, base + 1.0 / 3.0],
        quantiles: vec![
            QuantileBand {
                q: 0.1,
                values: vec![base - 1.0, base - 0.9, base - 0.7],
            },
            QuantileBand {
                q: 0.9,
                values: vec![base + 1.0, base + 1.1, base + 1.0 / 7.0 + 1.0],
            },
        ],
    }
}

#[test]
fn forecasts_round_trip_and_latest_by_origin() {
    let (_dir, mut store) = temp_store();
    store
        .put_series_batch(&[
            write("a", 0, 3600, vec![1.0]),
            write("b", 0, 3600, vec![1.0]),
        ])
        .unwrap();
    let run1 = store.start_run("forecast", json!({})).unwrap();
    let run2 = store.start_run("forecast", json!({})).unwrap();
    let w = |series: &str, model: &str, origin, base| ForecastWrite {
        series_id: series.into(),
        model: model.into(),
        origin,
        forecast: forecast(origin + 3600, base),
    };
    store
        .put_forecasts(
            run1,
            &[
                w("a", "snaive", 86_400, 1.0),
                w("a", "ets", 86_400, 2.0),
                w("b", "snaive", 86_400, 3.0),
            ],
        )
        .unwrap();
    // A later origin, then an older one written afterwards: latest is by origin.
    store
        .put_forecasts(
            run2,
            &[w("a", "snaive", 172_800, 4.0), w("a", "snaive", 0, 5.0)],
        )
        .unwrap();

    let latest = store.latest_forecast("a", "snaive").unwrap().unwrap();
    assert_eq!(latest.run, run2);
    assert_eq!(latest.origin, 172_800);
    assert_eq!(latest.forecast, forecast(172_800 + 3600, 4.0));
    let ets = store.latest_forecast("a", "ets").unwrap().unwrap();
    assert_eq!(ets.forecast, forecast(86_400 + 3600, 2.0));
    assert!(store.latest_forecast("b", "ets").unwrap().is_none());

    // Same origin written again: the later write wins.
    store
        .put_forecasts(run2, &[w("a", "ets", 86_400, 6.0)])
        .unwrap();
    let ets = store.latest_forecast("a", "ets").unwrap().unwrap();
    assert_eq!(ets.forecast.point[0], 6.0);

    let by_run = store.forecasts(run1).unwrap();
    assert_eq!(by_run.len(), 3);
    assert_eq!(
        (by_run[2].series_id.as_str(), by_run[2].model.as_str()),
        ("b", "snaive")
    );
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn bad_forecasts_write_nothing() {
    let (_dir, mut store) = temp_store();
    store
        .put_series_batch(&[write("a", 0, 3600, vec![1.0])])
        .unwrap();
    let run = store.start_run("forecast", json!({})).unwrap();
    let good = ForecastWrite {
        series_id: "a".into(),
        model: "m".into(),
        origin: 0,
        forecast: forecast(3600, 1.0),
    };
    let mut unknown = good.clone();
    unknown.series_id = "ghost".into();
    assert!(matches!(
        store.put_forecasts(run, &[good.clone(), unknown]),
        Err(StoreError::NotFound(_))
    ));
    let mut ragged = good.clone();
    ragged.forecast.quantiles[0].values.pop();
    assert!(matches!(
        store.put_forecasts(run, &[good, ragged]),
        Err(StoreError::Invalid(_))
    ));
    assert!(store.forecasts(run).unwrap().is_empty());
    assert!(store.latest_forecast("a", "m").unwrap().is_none());
}

#[test]
fn schedules_round_trip_and_replace() {
    let (_dir, mut store) = temp_store();
    let run = store.start_run("plan", json!({})).unwrap();
    let other = store.start_run("plan", json!({})).unwrap();
    let rows = vec![
        ScheduleRow {
            server: "db-01".into(),
            group: Some("rack-a".into()),
            start: 7200,
            end: 10_800,
            predicted: 12.5,
            runner_up_start: Some(14_400),
            runner_up_predicted: Some(13.25),
        },
        ScheduleRow {
            server: "db-02".into(),
            group: None,
            start: 0,
            end: 3600,
            predicted: f64::NAN,
            runner_up_start: None,
            runner_up_predicted: None,
        },
    ];
    store.put_schedule(run, &rows).unwrap();
    let back = store.schedule(run).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0], rows[0]);
    assert!(back[1].predicted.is_nan());
    assert_eq!(
        (
            back[1].group.clone(),
            back[1].runner_up_start,
            back[1].runner_up_predicted
        ),
        (None, None, None)
    );
    assert!(store.schedule(other).unwrap().is_empty());

    store.put_schedule(run, &rows[..1]).unwrap();
    assert_eq!(store.schedule(run).unwrap(), rows[..1].to_vec());
    assert!(matches!(
        store.put_schedule(RunId(77), &rows),
        Err(StoreError::NotFound(_))
    ));
}
