//! Planning constraints: a TOML file parsed into a raw, `deny_unknown_fields` struct and
//! converted once into a validated [`PlanConstraints`].
//!
//! ```toml
//! duration = "1h"               # job length (default 1h)
//! horizon = "24h"               # plan this far after the origin (default 24h)
//! group_by = "cluster"          # label that defines groups (default: no groups)
//! max_concurrent = 2            # jobs running at once per group (default: unlimited)
//! allowed_hours = "0-6,22-23"   # UTC hours a job may touch (default: all day)
//! deadline = "+20h"             # latest start: "+<duration>" after the origin, or "HH:MM"
//!                               # (UTC), the first such clock time strictly after the origin
//!
//! [groups.eu-west]              # per-group override of max_concurrent
//! max_concurrent = 1
//!
//! [[servers]]                   # per-server overrides; the FIRST matching rule wins
//! match = "db-*"                # glob on the server id (`*` any run, `?` one character)
//! allowed_hours = "1-5"
//! deadline = "06:00"
//! ```
//!
//! Hour sets are comma-separated hours (`7`) or inclusive ranges (`0-6`); a range may wrap
//! midnight (`22-2` = 22, 23, 0, 1, 2). A job is inside the allowed hours when every second
//! of `[start, start + duration)` falls in an allowed hour of the UTC day.
//!
//! Servers that lack the `group_by` label belong to no group and are not limited by
//! `max_concurrent`: a group of one server can never exceed a limit of at least one, so
//! "no group" and "a group of their own" are the same thing.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use skua_core::time::{SECONDS_PER_DAY, SECONDS_PER_HOUR, format_duration, parse_duration};
use skua_core::{Ts, time::second_of_day};

/// Errors reading a constraints file. Every invalid field is reported, not just the first.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConstraintsError {
    /// The TOML did not parse into the expected shape (unknown key, wrong type, bad syntax).
    #[error("constraints file: {0}")]
    Toml(String),
    /// One or more fields hold invalid values.
    #[error("invalid constraints:\n{}", format_issues(.0))]
    Invalid(Vec<FieldIssue>),
}

/// One invalid field of a constraints file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldIssue {
    /// Dotted path of the field, e.g. `servers[2].allowed_hours`.
    pub field: String,
    /// The offending value as written.
    pub value: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

fn format_issues(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {} = {:?}: {}", i.field, i.value, i.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A set of UTC hours of the day (0..24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HourSet(u32);

impl HourSet {
    /// Every hour of the day.
    pub const ALL: HourSet = HourSet((1 << 24) - 1);

    /// Parses `"0-6,22-23"`: hours and inclusive ranges, ranges may wrap midnight.
    pub fn parse(text: &str) -> Result<HourSet, String> {
        let mut mask = 0u32;
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err("empty item; expected hours such as \"0-6,22-23\"".into());
            }
            let hour = |s: &str| -> Result<u32, String> {
                match s.trim().parse::<u32>() {
                    Ok(h) if h < 24 => Ok(h),
                    _ if s.trim().is_empty() => Err(format!("{part:?} is missing an hour")),
                    _ => Err(format!("{:?} is not an hour in 0..=23", s.trim())),
                }
            };
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (hour(a)?, hour(b)?),
                None => {
                    let h = hour(part)?;
                    (h, h)
                }
            };
            let mut h = a;
            loop {
                mask |= 1 << h;
                if h == b {
                    break;
                }
                h = (h + 1) % 24;
            }
        }
        Ok(HourSet(mask))
    }

    /// True if `hour` (0..24) is in the set.
    pub fn contains(&self, hour: u32) -> bool {
        hour < 24 && self.0 & (1 << hour) != 0
    }

    /// Union of two sets.
    pub fn union(self, other: HourSet) -> HourSet {
        HourSet(self.0 | other.0)
    }

    /// True if every second of `[start, end)` lies in an allowed hour.
    pub fn covers(&self, start: Ts, end: Ts) -> bool {
        let mut t = start;
        while t < end {
            let sod = second_of_day(t);
            if !self.contains((sod / SECONDS_PER_HOUR) as u32) {
                return false;
            }
            t += SECONDS_PER_HOUR - sod % SECONDS_PER_HOUR;
        }
        true
    }
}

impl fmt::Display for HourSet {
    /// Clock ranges with exclusive ends: hours 1-3 print as `01:00–04:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("(no hours)");
        }
        let mut ranges = Vec::new();
        let mut h = 0;
        while h < 24 {
            if self.contains(h) {
                let start = h;
                while h < 24 && self.contains(h) {
                    h += 1;
                }
                ranges.push(format!("{start:02}:00–{h:02}:00"));
            }
            h += 1;
        }
        f.write_str(&ranges.join(", "))
    }
}

/// The latest allowed start of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Deadline {
    /// At most this many seconds after the plan origin (`"+20h"`).
    After(i64),
    /// The first occurrence of this UTC second-of-day strictly after the origin (`"06:00"`).
    ClockTime(i64),
}

impl Deadline {
    /// Parses `"+20h"` or `"06:00"`.
    pub fn parse(text: &str) -> Result<Deadline, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix('+') {
            return match parse_duration(rest) {
                Some(s) if s >= 0 => Ok(Deadline::After(s)),
                _ => Err("expected \"+<duration>\" such as \"+20h\" or \"+90m\"".into()),
            };
        }
        if let Some((h, m)) = text.split_once(':') {
            if let (Ok(h), Ok(m)) = (h.parse::<i64>(), m.parse::<i64>()) {
                if (0..24).contains(&h) && (0..60).contains(&m) {
                    return Ok(Deadline::ClockTime(h * SECONDS_PER_HOUR + m * 60));
                }
            }
        }
        Err("expected \"+<duration>\" (after the origin) or a UTC clock time \"HH:MM\"".into())
    }

    /// The latest allowed start for a plan whose origin is `origin`.
    pub fn resolve(&self, origin: Ts) -> Ts {
        match *self {
            Deadline::After(s) => origin + s,
            Deadline::ClockTime(sod) => {
                let today = origin - second_of_day(origin) + sod;
                if today > origin {
                    today
                } else {
                    today + SECONDS_PER_DAY
                }
            }
        }
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Deadline::After(s) => write!(f, "+{}", format_duration(s)),
            Deadline::ClockTime(sod) => write!(f, "{:02}:{:02}", sod / 3600, sod % 3600 / 60),
        }
    }
}

/// A per-server override, selected by a glob on the server id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerRule {
    /// Glob on the server id (`*` any run of characters, `?` exactly one).
    pub pattern: String,
    /// Replaces the global allowed hours, if set.
    pub allowed_hours: Option<HourSet>,
    /// Replaces the global deadline, if set.
    pub deadline: Option<Deadline>,
}

/// Validated planning constraints (see the module docs for the TOML shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanConstraints {
    /// Job length in seconds.
    pub duration: i64,
    /// Plan horizon in seconds after the origin.
    pub horizon: i64,
    /// Label whose value names a server's group, if grouping is on.
    pub group_by: Option<String>,
    /// Default per-group limit on concurrent jobs (`None` = unlimited).
    pub max_concurrent: Option<usize>,
    /// Per-group overrides of `max_concurrent`.
    pub group_limits: BTreeMap<String, usize>,
    /// Default allowed UTC hours.
    pub allowed_hours: HourSet,
    /// Default start deadline.
    pub deadline: Option<Deadline>,
    /// Per-server overrides; the first matching rule wins.
    pub servers: Vec<ServerRule>,
}

impl Default for PlanConstraints {
    /// A 1 h job anywhere in the next 24 h, no groups, no deadline.
    fn default() -> Self {
        PlanConstraints {
            duration: SECONDS_PER_HOUR,
            horizon: SECONDS_PER_DAY,
            group_by: None,
            max_concurrent: None,
            group_limits: BTreeMap::new(),
            allowed_hours: HourSet::ALL,
            deadline: None,
            servers: Vec::new(),
        }
    }
}

/// The constraints that apply to one server after rule resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerConstraints {
    /// Allowed UTC hours.
    pub allowed_hours: HourSet,
    /// Start deadline, if any.
    pub deadline: Option<Deadline>,
}

impl PlanConstraints {
    /// Parses and validates a constraints TOML document.
    pub fn from_toml(text: &str) -> Result<PlanConstraints, ConstraintsError> {
        let raw: RawConstraints =
            toml::from_str(text).map_err(|e| ConstraintsError::Toml(e.to_string()))?;
        raw.validate()
    }

    /// Allowed hours and deadline for `server` (first matching `[[servers]]` rule wins).
    pub fn for_server(&self, server: &str) -> ServerConstraints {
        let rule = self.servers.iter().find(|r| glob_match(&r.pattern, server));
        ServerConstraints {
            allowed_hours: rule
                .and_then(|r| r.allowed_hours)
                .unwrap_or(self.allowed_hours),
            deadline: rule.and_then(|r| r.deadline).or(self.deadline),
        }
    }

    /// The concurrency limit of `group` (`None` = unlimited).
    pub fn limit_of(&self, group: &str) -> Option<usize> {
        self.group_limits
            .get(group)
            .copied()
            .or(self.max_concurrent)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraints {
    duration: Option<String>,
    horizon: Option<String>,
    group_by: Option<String>,
    max_concurrent: Option<i64>,
    allowed_hours: Option<String>,
    deadline: Option<String>,
    #[serde(default)]
    groups: BTreeMap<String, RawGroup>,
    #[serde(default)]
    servers: Vec<RawServerRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    max_concurrent: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServerRule {
    #[serde(rename = "match")]
    pattern: String,
    allowed_hours: Option<String>,
    deadline: Option<String>,
}

struct Issues(Vec<FieldIssue>);

impl Issues {
    fn push(&mut self, field: &str, value: &str, message: impl Into<String>) {
        self.0.push(FieldIssue {
            field: field.into(),
            value: value.into(),
            message: message.into(),
        });
    }

    fn seconds(&mut self, field: &str, text: Option<&str>, default: i64) -> i64 {
        let Some(t) = text else { return default };
        match parse_duration(t) {
            Some(s) if s > 0 => s,
            _ => {
                self.push(
                    field,
                    t,
                    "expected a positive duration such as \"1h\", \"90m\" or \"2h30m\"",
                );
                default
            }
        }
    }

    fn limit(&mut self, field: &str, v: i64) -> Option<usize> {
        if v >= 1 {
            Some(v as usize)
        } else {
            self.push(
                field,
                &v.to_string(),
                "must be at least 1 (omit it for no limit)",
            );
            None
        }
    }

    fn hours(&mut self, field: &str, text: &str) -> Option<HourSet> {
        match HourSet::parse(text) {
            Ok(h) => Some(h),
            Err(e) => {
                self.push(field, text, e);
                None
            }
        }
    }

    fn deadline(&mut self, field: &str, text: &str) -> Option<Deadline> {
        match Deadline::parse(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(field, text, e);
                None
            }
        }
    }
}

impl RawConstraints {
    fn validate(self) -> Result<PlanConstraints, ConstraintsError> {
        let mut bad = Issues(Vec::new());
        let mut out = PlanConstraints::default();
        out.duration = bad.seconds("duration", self.duration.as_deref(), out.duration);
        out.horizon = bad.seconds("horizon", self.horizon.as_deref(), out.horizon);
        if out.duration > out.horizon {
            bad.push(
                "duration",
                self.duration.as_deref().unwrap_or("1h"),
                format!(
                    "the job is longer than the horizon ({})",
                    format_duration(out.horizon)
                ),
            );
        }
        out.max_concurrent = self
            .max_concurrent
            .and_then(|v| bad.limit("max_concurrent", v));
        for (name, g) in &self.groups {
            let field = format!("groups.{name}.max_concurrent");
            if let Some(l) = bad.limit(&field, g.max_concurrent) {
                out.group_limits.insert(name.clone(), l);
            }
        }
        match self.group_by.as_deref().map(str::trim) {
            Some("") => bad.push("group_by", "", "must name a label such as \"cluster\""),
            Some(label) => out.group_by = Some(label.to_string()),
            None => {
                if let Some(v) = self.max_concurrent {
                    bad.push(
                        "max_concurrent",
                        &v.to_string(),
                        "needs group_by = \"<label>\" to know which servers share the limit",
                    );
                }
                if let Some(name) = self.groups.keys().next() {
                    bad.push(
                        &format!("groups.{name}"),
                        name,
                        "group overrides need group_by = \"<label>\"",
                    );
                }
            }
        }
        if let Some(t) = &self.allowed_hours {
            out.allowed_hours = bad.hours("allowed_hours", t).unwrap_or(HourSet::ALL);
        }
        out.deadline = self
            .deadline
            .as_deref()
            .and_then(|t| bad.deadline("deadline", t));
        for (i, r) in self.servers.iter().enumerate() {
            if r.pattern.trim().is_empty() {
                bad.push(
                    &format!("servers[{i}].match"),
                    &r.pattern,
                    "must be a glob on the server id such as \"db-*\"",
                );
            }
            out.servers.push(ServerRule {
                pattern: r.pattern.clone(),
                allowed_hours: r
                    .allowed_hours
                    .as_deref()
                    .and_then(|t| bad.hours(&format!("servers[{i}].allowed_hours"), t)),
                deadline: r
                    .deadline
                    .as_deref()
                    .and_then(|t| bad.deadline(&format!("servers[{i}].deadline"), t)),
            });
        }
        if bad.0.is_empty() {
            Ok(out)
        } else {
            Err(ConstraintsError::Invalid(bad.0))
        }
    }
}

/// Glob match with `*` (any run, possibly empty) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` and the text index it was tried at, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_sets_parse_and_print() {
        let h = HourSet::parse("0-6, 22-23").unwrap();
        assert!(h.contains(0) && h.contains(6) && h.contains(22) && !h.contains(7));
        assert_eq!(h.to_string(), "00:00–07:00, 22:00–24:00");
        let wrap = HourSet::parse("22-1").unwrap();
        assert_eq!(wrap.to_string(), "00:00–02:00, 22:00–24:00");
        assert_eq!(HourSet::parse("1-3").unwrap().to_string(), "01:00–04:00");
        assert!(HourSet::parse("24").unwrap_err().contains("\"24\""));
        assert!(HourSet::parse("1,,2").is_err());
    }

    #[test]
    fn covers_checks_every_hour_touched() {
        let h = HourSet::parse("1-2").unwrap();
        let day = 10 * SECONDS_PER_DAY;
        assert!(h.covers(day + 3600, day + 3 * 3600));
        assert!(!h.covers(day + 3600, day + 3 * 3600 + 1));
        assert!(h.covers(day + 5400, day + 9000));
        assert!(!h.covers(day + 3000, day + 4000));
        assert!(
            h.covers(day + 5, day + 5),
            "an empty window touches no hour"
        );
    }

    #[test]
    fn deadlines_resolve() {
        let origin = 100 * SECONDS_PER_DAY + 8 * 3600;
        assert_eq!(
            Deadline::parse("+20h").unwrap().resolve(origin),
            origin + 72_000
        );
        let six = Deadline::parse("06:00").unwrap();
        assert_eq!(six.resolve(origin), origin + 22 * 3600);
        let eight = Deadline::parse("08:00").unwrap();
        assert_eq!(eight.resolve(origin), origin + SECONDS_PER_DAY);
        assert_eq!(six.to_string(), "06:00");
        assert!(Deadline::parse("25:00").is_err());
        assert!(Deadline::parse("20h").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match("db-*", "db-7"));
        assert!(glob_match("*-7", "db-7"));
        assert!(glob_match("d?-*7", "db-17"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("db-?", "db-17"));
        assert!(!glob_match("web*", "db-1"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn first_matching_rule_wins_and_falls_back() {
        let c = PlanConstraints::from_toml(
            r#"
            allowed_hours = "0-6"
            deadline = "+20h"
            [[servers]]
            match = "db-*"
            allowed_hours = "1-2"
            [[servers]]
            match = "db-1"
            allowed_hours = "3"
            "#,
        )
        .unwrap();
        let db1 = c.for_server("db-1");
        assert_eq!(db1.allowed_hours, HourSet::parse("1-2").unwrap());
        assert_eq!(db1.deadline, Some(Deadline::After(72_000)));
        assert_eq!(
            c.for_server("web").allowed_hours,
            HourSet::parse("0-6").unwrap()
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = PlanConstraints::from_toml(
            r#"
            duration = "1x"
            max_concurrent = 0
            group_by = "cluster"
            allowed_hours = "0-25"
            [[servers]]
            match = "db-*"
            deadline = "soon"
            "#,
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "duration = \"1x\"",
            "max_concurrent = \"0\"",
            "allowed_hours = \"0-25\"",
            "servers[0].deadline = \"soon\"",
        ] {
            assert!(err.contains(needle), "{needle} missing from {err}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = PlanConstraints::from_toml("max_concurent = 2\n").unwrap_err();
        assert!(err.to_string().contains("max_concurent"), "{err}");
        let err = PlanConstraints::from_toml("[groups.a]\nmax = 1\n").unwrap_err();
        assert!(err.to_string().contains("max"), "{err}");
    }
}
