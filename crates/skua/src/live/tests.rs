//! The registry's acceptance: a failing fit, a corrupt (NaN) forecast and a distribution
//! shift each fall back to the last known good version; the registry state is read back
//! from a real store, and the alerts are received by a real HTTP server on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use skua_core::{Forecast, QuantileBand, RegularSeries, SeriesMeta, Ts};
use skua_forecast::alerts::AlertRules;
use skua_forecast::registry::{RegistryPolicy, Serve};
use skua_forecast::{FitError, FittedForecaster, Forecaster};
use skua_store::{SeriesWrite, SqliteStore, Store, VersionId, VersionStatus};

use super::*;

const DAY: i64 = 86_400;
/// 2026-09-07T00:00:00Z, a Monday.
const T0: Ts = 1_788_739_200;

/// A fit that always fails.
struct FailingFit;
impl Forecaster for FailingFit {
    fn name(&self) -> String {
        "failing_fit".into()
    }
    fn fit(&self, _: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Err(FitError::BadConfig {
            model: self.name(),
            reason: "injected failure".into(),
        })
    }
}

/// A model that fits and then forecasts NaN (a corrupt model or series).
struct NanForecast;
struct FittedNan(Ts, i64);
impl Forecaster for NanForecast {
    fn name(&self) -> String {
        "nan_forecast".into()
    }
    fn fit(&self, h: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Ok(Box::new(FittedNan(h.end(), h.step())))
    }
}
impl FittedForecaster for FittedNan {
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError> {
        Ok(Forecast {
            start: self.0,
            step: self.1,
            point: vec![f64::NAN; horizon],
            quantiles: quantiles
                .iter()
                .map(|&q| QuantileBand {
                    q,
                    values: vec![f64::NAN; horizon],
                })
                .collect(),
        })
    }
}

/// A valid but useless model: zero load, zero-width bands.
struct ZeroForecast;
struct FittedZero(Ts, i64);
impl Forecaster for ZeroForecast {
    fn name(&self) -> String {
        "zero".into()
    }
    fn fit(&self, h: &RegularSeries) -> Result<Box<dyn FittedForecaster>, FitError> {
        Ok(Box::new(FittedZero(h.end(), h.step())))
    }
}
impl FittedForecaster for FittedZero {
    fn predict(&self, horizon: usize, quantiles: &[f64]) -> Result<Forecast, FitError> {
        Ok(Forecast {
            start: self.0,
            step: self.1,
            point: vec![0.0; horizon],
            quantiles: quantiles
                .iter()
                .map(|&q| QuantileBand {
                    q,
                    values: vec![0.0; horizon],
                })
                .collect(),
        })
    }
}

/// Hourly load: level + a daily cycle + deterministic jitter; `jump` is added from `jump_at`.
fn load(days: i64, jump_at: Ts, jump: f64) -> RegularSeries {
    let values = (0..days * 24)
        .map(|i| {
            let ts = T0 + i * 3_600;
            let hour = (i % 24) as f64;
            let base = 20.0 + 8.0 * (hour / 24.0 * std::f64::consts::TAU).sin();
            let jitter = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
            base + jitter + if ts >= jump_at { jump } else { 0.0 }
        })
        .collect();
    RegularSeries::new(T0, 3_600, values).unwrap()
}

fn put(store: &mut dyn Store, id: &str, s: &RegularSeries) {
    store
        .put_series_batch(&[SeriesWrite {
            meta: SeriesMeta::simple(id),
            series: s.clone(),
        }])
        .unwrap();
}

fn resolver(name: &str) -> Option<Box<dyn Forecaster>> {
    skua_forecast::by_name(name)
}

/// Trains `model` on what the store holds for `id` and registers the version.
fn register(store: &mut dyn Store, id: &str, model: &dyn Forecaster, now: Ts) -> Served {
    let series = vec![(SeriesMeta::simple(id), store.load_series(id).unwrap())];
    let run = store.start_run("forecast", serde_json::json!({})).unwrap();
    let mut served = register_and_forecast(
        store,
        run,
        &series,
        &Training {
            model,
            resolve: &resolver,
            horizon_secs: DAY,
            now,
            policy: RegistryPolicy::default(),
        },
    )
    .unwrap();
    store
        .finish_run(run, RunStatus::Ok, serde_json::json!({}))
        .unwrap();
    served.pop().unwrap()
}

fn statuses(store: &dyn Store, id: &str) -> Vec<(String, VersionStatus)> {
    store
        .model_versions(Some(id))
        .unwrap()
        .into_iter()
        .map(|v| (v.version.model, v.version.status))
        .collect()
}

/// A one-shot HTTP server on 127.0.0.1: returns its base URL and a receiver of
/// (request line, path headers, body) of the first request; answers `status`.
fn receiver(status: u16) -> (String, mpsc::Receiver<(String, String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            headers.push_str(&line);
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        stream.flush().unwrap();
        tx.send((
            request_line.trim().to_string(),
            headers,
            String::from_utf8(body).unwrap(),
        ))
        .unwrap();
    });
    (url, rx)
}

fn cfg(now: Ts) -> LiveConfig {
    LiveConfig {
        now,
        policy: RegistryPolicy::default(),
        rules: AlertRules::default(),
    }
}

/// Runs a live evaluation, delivers to a fresh receiver and returns the parsed POST body.
fn live_and_receive(store: &mut dyn Store, now: Ts) -> (LiveReport, Vec<serde_json::Value>) {
    let report = run_live(store, &cfg(now)).unwrap();
    let (url, rx) = receiver(200);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("alerts.jsonl");
    finish_delivery(
        store,
        &report,
        &Delivery {
            jsonl: Some(&jsonl),
            alertmanager: Some(&url),
            timeout: Duration::from_secs(5),
            generator_url: "file:///tmp/skua.db?run=1".into(),
        },
        now,
    )
    .unwrap();
    if report.alerts.is_empty() {
        return (report, Vec::new());
    }
    let (line, headers, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(line, "POST /api/v2/alerts HTTP/1.1");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{headers}"
    );
    let alerts: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    // The JSON lines hold the very same alerts.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, alerts);
    (report, alerts)
}

fn find<'a>(alerts: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == name)
        .unwrap_or_else(|| panic!("no {name} alert in {alerts:#?}"))
}

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("skua.db")).unwrap();
    (dir, store)
}

#[test]
fn failing_fit_falls_back_to_the_last_known_good() {
    let (_dir, mut store) = temp_store();
    put(&mut store, "srv1", &load(20, i64::MAX, 0.0));
    let now = T0 + 20 * DAY;
    let mean7 = skua_forecast::by_name("mean_7d").unwrap();
    let first = register(&mut store, "srv1", mean7.as_ref(), now);
    assert_eq!(first.decision.serve, Serve::New);
    let good = first.new_version.unwrap();

    let failed = register(&mut store, "srv1", &FailingFit, now + 60);
    assert_eq!(failed.serving, Some(good), "serves the last known good");
    let (model, f) = failed.forecast.as_ref().expect("a fallback forecast");
    assert_eq!(model, "mean_7d");
    f.check().unwrap();
    assert_eq!(
        statuses(&store, "srv1"),
        vec![
            ("mean_7d".into(), VersionStatus::Deployed),
            ("failing_fit".into(), VersionStatus::Failed),
        ]
    );
    let failed_v = store.model_versions(Some("srv1")).unwrap()[1].clone();
    assert!(
        failed_v
            .version
            .note
            .as_deref()
            .unwrap()
            .contains("injected failure")
    );
    // The stored fallback forecast is linked to the good version.
    let linked: Vec<VersionId> = store
        .unscored_forecasts()
        .unwrap()
        .iter()
        .map(|f| f.version)
        .collect();
    assert_eq!(linked, vec![good, good]);

    let (_, alerts) = live_and_receive(&mut store, now + 120);
    let a = find(&alerts, "SkuaModelFallback");
    assert_eq!(a["labels"]["series"], "srv1");
    assert_eq!(a["labels"]["reason"], "fit_failed");
    assert_eq!(a["labels"]["severity"], "warning");
    assert_eq!(a["labels"]["model"], "failing_fit");
    assert_eq!(a["labels"]["version"], failed_v.id.0.to_string());
    assert_eq!(a["labels"]["fallback_to"], good.0.to_string());
    assert!(
        a["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("injected failure")
    );
    assert_eq!(a["startsAt"], "2026-09-27T00:01:00Z");
    assert_eq!(a["endsAt"], "2026-09-28T01:02:00Z");
    assert_eq!(a["generatorURL"], "file:///tmp/skua.db?run=1");
    // Delivered events are not sent twice.
    assert!(store.pending_events().unwrap().is_empty());
    let again = run_live(&mut store, &cfg(now + 180)).unwrap();
    assert!(
        again
            .alerts
            .iter()
            .all(|a| a.kind != skua_forecast::alerts::AlertKind::Fallback)
    );
}

#[test]
fn nan_forecast_is_refused_and_without_a_good_version_alerts_critical() {
    let (_dir, mut store) = temp_store();
    put(&mut store, "corrupt", &load(20, i64::MAX, 0.0));
    let now = T0 + 20 * DAY;
    // No version yet: nothing to fall back to.
    let first = register(&mut store, "corrupt", &NanForecast, now);
    assert_eq!(first.decision.serve, Serve::Nothing);
    assert!(first.forecast.is_none());
    assert_eq!(
        statuses(&store, "corrupt"),
        vec![("nan_forecast".into(), VersionStatus::Failed)]
    );
    // A good version, then the corrupt one again: the good one keeps serving.
    let mean7 = skua_forecast::by_name("mean_7d").unwrap();
    let good = register(&mut store, "corrupt", mean7.as_ref(), now + 60)
        .new_version
        .unwrap();
    let again = register(&mut store, "corrupt", &NanForecast, now + 120);
    assert_eq!(again.serving, Some(good));
    assert_eq!(
        statuses(&store, "corrupt"),
        vec![
            ("nan_forecast".into(), VersionStatus::Failed),
            ("mean_7d".into(), VersionStatus::Deployed),
            ("nan_forecast".into(), VersionStatus::Failed),
        ]
    );

    let (_, alerts) = live_and_receive(&mut store, now + 180);
    let fallbacks: Vec<_> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "SkuaModelFallback")
        .collect();
    assert_eq!(fallbacks.len(), 2, "{alerts:#?}");
    assert_eq!(fallbacks[0]["labels"]["severity"], "critical");
    assert_eq!(fallbacks[0]["labels"]["fallback_to"], "none");
    assert_eq!(fallbacks[0]["labels"]["reason"], "invalid_forecast");
    assert_eq!(fallbacks[1]["labels"]["severity"], "warning");
    assert_eq!(fallbacks[1]["labels"]["fallback_to"], good.0.to_string());
}

#[test]
fn distribution_shift_fails_the_deployed_version_and_redeploys_the_last_good() {
    let (_dir, mut store) = temp_store();
    // Days 0–14 follow the trained pattern; day 15 jumps by 30 points.
    let full = load(16, T0 + 15 * DAY, 30.0);
    let mean7 = skua_forecast::by_name("mean_7d").unwrap();
    put(&mut store, "shift", &full.head(14 * 24));
    let v1 = register(&mut store, "shift", mean7.as_ref(), T0 + 14 * DAY)
        .new_version
        .unwrap();
    put(&mut store, "shift", &full.head(15 * 24));
    let v2 = register(&mut store, "shift", mean7.as_ref(), T0 + 15 * DAY)
        .new_version
        .unwrap();
    assert_eq!(
        statuses(&store, "shift"),
        vec![
            ("mean_7d".into(), VersionStatus::Retired),
            ("mean_7d".into(), VersionStatus::Deployed),
        ]
    );
    let calm = run_live(&mut store, &cfg(T0 + 15 * DAY)).unwrap();
    assert_eq!(calm.scored.len(), 1, "v1's forecast of day 14");
    assert!(calm.scored[0].mae < 2.0, "{:?}", calm.scored[0]);
    assert!(calm.changes.is_empty() && calm.alerts.is_empty());
    put(&mut store, "shift", &full);
    let now = T0 + 16 * DAY;
    let (report, alerts) = live_and_receive(&mut store, now);
    assert_eq!(report.scored.len(), 1, "v2's forecast of day 15");
    assert_eq!(report.scored[0].version, v2);
    assert!(report.scored[0].mae > 25.0, "{:?}", report.scored[0]);
    assert_eq!(report.changes.len(), 1);
    assert_eq!(report.changes[0].failed, Some(v2.0));
    assert_eq!(report.changes[0].serving, Some(v1.0));
    assert_eq!(
        statuses(&store, "shift"),
        vec![
            ("mean_7d".into(), VersionStatus::Deployed),
            ("mean_7d".into(), VersionStatus::Failed),
        ]
    );
    // The track record holds both days, one per version.
    let track = store.live_scores(Some("shift")).unwrap();
    assert_eq!(
        track.iter().map(|t| (t.version, t.day)).collect::<Vec<_>>(),
        vec![(v1, T0 + 14 * DAY), (v2, T0 + 15 * DAY)]
    );
    let degraded = find(&alerts, "SkuaAccuracyDegraded");
    assert_eq!(degraded["labels"]["series"], "shift");
    assert_eq!(degraded["labels"]["version"], v2.0.to_string());
    assert!(
        degraded["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("live MAE"),
        "{degraded}"
    );
    let fb = find(&alerts, "SkuaModelFallback");
    assert_eq!(fb["labels"]["reason"], "accuracy_degraded");
    assert_eq!(fb["labels"]["fallback_to"], v1.0.to_string());
    // Evaluating again changes nothing: v1's own record is healthy.
    let after = run_live(&mut store, &cfg(now + 3_600)).unwrap();
    assert!(after.scored.is_empty() && after.changes.is_empty());
}

#[test]
fn worse_candidate_is_not_deployed() {
    let (_dir, mut store) = temp_store();
    put(&mut store, "srv", &load(20, i64::MAX, 0.0));
    let now = T0 + 20 * DAY;
    let mean7 = skua_forecast::by_name("mean_7d").unwrap();
    let good = register(&mut store, "srv", mean7.as_ref(), now)
        .new_version
        .unwrap();
    // A model that forecasts zero load is far worse than the 7-day mean.
    let cand = register(&mut store, "srv", &ZeroForecast, now + 60);
    assert_eq!(cand.serving, Some(good));
    assert_eq!(cand.forecast.as_ref().unwrap().0, "mean_7d");
    assert_eq!(
        statuses(&store, "srv"),
        vec![
            ("mean_7d".into(), VersionStatus::Deployed),
            ("zero".into(), VersionStatus::Candidate),
        ]
    );
    let kinds: Vec<String> = store
        .registry_events()
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["not_deployed"]);
}

#[test]
fn alertmanager_down_keeps_the_json_lines_and_the_events_pending() {
    let (_dir, mut store) = temp_store();
    put(&mut store, "srv", &load(20, i64::MAX, 0.0));
    let now = T0 + 20 * DAY;
    register(&mut store, "srv", &FailingFit, now);
    let report = run_live(&mut store, &cfg(now)).unwrap();
    assert_eq!(report.alerts.len(), 1);
    // A port nobody listens on: bind, read the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("alerts.jsonl");
    let url = format!("http://127.0.0.1:{port}");
    let err = finish_delivery(
        &mut store,
        &report,
        &Delivery {
            jsonl: Some(&jsonl),
            alertmanager: Some(&url),
            timeout: Duration::from_secs(2),
            generator_url: "file:///x".into(),
        },
        now,
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("cannot deliver 1 alert(s) to Alertmanager"),
        "{msg}"
    );
    assert!(msg.contains(&jsonl.display().to_string()), "{msg}");
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.contains("SkuaModelFallback"));
    assert_eq!(
        store.pending_events().unwrap().len(),
        1,
        "sent again next time"
    );

    // A receiver that answers 500 is an error too, naming the status.
    let (url, _rx) = receiver(500);
    let err = post_alertmanager(
        &url,
        &[report.alerts[0].to_alertmanager("file:///x")],
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("HTTP 500"), "{err:#}");
}
