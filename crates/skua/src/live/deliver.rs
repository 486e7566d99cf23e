//! Where alerts go: JSON lines (a file, appended, or stdout) and Alertmanager's v2 API.
//!
//! JSON lines are written (and fsynced) before any POST, so an Alertmanager that is down
//! loses nothing: the lines are there, the error says so, and registry events stay pending
//! so the next run sends them again.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use skua_forecast::alerts::AlertmanagerAlert;

/// Appends one JSON object per alert to `path` (created if missing) and fsyncs it; with no
/// path, prints them on stdout.
pub fn write_jsonl(path: Option<&Path>, alerts: &[AlertmanagerAlert]) -> Result<()> {
    let mut text = String::new();
    for a in alerts {
        text.push_str(&serde_json::to_string(a).context("cannot serialise an alert")?);
        text.push('\n');
    }
    match path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create directory {}", dir.display()))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open the alerts file {}", p.display()))?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write the alerts file {}", p.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write alerts to stdout")
        }
    }
}

/// `base` (e.g. `http://127.0.0.1:9093`) with Alertmanager's alerts endpoint appended,
/// unless it already ends with it.
pub fn alerts_endpoint(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/api/v2/alerts") {
        base.to_string()
    } else {
        format!("{base}/api/v2/alerts")
    }
}

/// POSTs `alerts` as one JSON array to Alertmanager's `POST /api/v2/alerts`. Errors (refused
/// connection, timeout, non-2xx status) name the URL and what to check; never panics.
pub fn post_alertmanager(
    base: &str,
    alerts: &[AlertmanagerAlert],
    timeout: Duration,
) -> Result<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let url = alerts_endpoint(base);
    if !url.starts_with("http://") {
        bail!(
            "Alertmanager URL {url} is not plain http://: skua sends alerts to a local \
             Alertmanager without TLS (use e.g. http://127.0.0.1:9093)"
        );
    }
    let body = serde_json::to_string(alerts).context("cannot serialise the alerts")?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let response = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send(body.as_str())
        .with_context(|| {
            format!(
                "cannot deliver {} alert(s) to Alertmanager at {url} (is it running and \
                 reachable? timeout {} s)",
                alerts.len(),
                timeout.as_secs_f64()
            )
        })?;
    let status = response.status();
    if !status.is_success() {
        let text = response
            .into_body()
            .read_to_string()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>();
        bail!(
            "Alertmanager at {url} refused {} alert(s): HTTP {status}: {}",
            alerts.len(),
            text.trim()
        );
    }
    Ok(())
}
