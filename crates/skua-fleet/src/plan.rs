//! The maintenance-window planner: one job of fixed duration per server, placed where the
//! server's forecast is lowest, under allowed hours, a start deadline and a per-group limit
//! on concurrent jobs.
//!
//! # Algorithm ([`RegretPlanner`])
//! 1. **Candidates.** For each server, every forecast grid point `t` with
//!    `origin ≤ t`, `t + duration ≤ origin + horizon`, `t ≤ deadline` and every second of
//!    `[t, t + duration)` in the allowed hours is a candidate start, scored by the mean of
//!    the `ceil(duration / step)` forecast steps from `t`. Work is in seconds, so servers
//!    with 5-minute and hourly forecasts share one timeline.
//! 2. **Regret ordering.** Servers in a group whose limit can bind are placed in decreasing
//!    order of *regret*: the increase in mean predicted load if they lose their best window,
//!    measured against their best candidate that shares no second with it (∞ if none,
//!    so the most constrained go first). Each takes its best candidate that keeps every
//!    instant of the group at or under the limit. A server that finds none tries one
//!    ejection: move one blocking job elsewhere and take its place.
//! 3. **Local improvement.** Every displaced server tries each better window; if the
//!    window is full it tries moving one job that blocks it to that job's best other
//!    window, and accepts the exchange when the total predicted load falls. Passes repeat
//!    until none improves, up to `max_passes` and a work budget.
//!
//! **Guarantee.** Every returned schedule satisfies every constraint (checked on a
//! per-group timeline of all candidate boundaries), and a server whose group limit does
//! not bind gets its own optimum; the total is locally optimal under single moves and
//! one-job exchanges when the improvement pass converges, but not globally optimal.
//! `Infeasible` is certain when the message says the group lacks room (the bound
//! `max_concurrent × most disjoint windows` is exact for equal-length jobs); otherwise it
//! means the heuristic found no placement with one ejection.
//!
//! Loads of servers in one group are compared in their own units, so a group should hold
//! one metric (CPU % with CPU %).

use std::collections::{BTreeMap, BTreeSet};

use skua_core::time::{format_duration, format_ts};
use skua_core::window::rolling_means;
use skua_core::{Forecast, Ts};

use crate::constraints::{HourSet, PlanConstraints};
use crate::schedule::{RunnerUp, Schedule, ScheduleEntry};

mod diagnose;
use diagnose::infeasible;

/// Load differences below this are ties.
const EPS: f64 = 1e-9;

/// One server to plan: its id, labels (for grouping) and load forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerForecast {
    /// Server id (matched by `[[servers]]` globs).
    pub server: String,
    /// Labels such as `cluster` or `region`.
    pub labels: BTreeMap<String, String>,
    /// The load forecast; its grid may differ from other servers'.
    pub forecast: Forecast,
    /// Optional cost of every candidate start on the forecast's grid, in the forecast's
    /// units, for jobs of `ceil(duration / step)` steps (index `k` = the window starting at
    /// `forecast.start + k·step`). When present (and as long as the windows), the planner
    /// ranks windows by it instead of by the mean forecast: a decision policy such as a
    /// hindsight selector plans through it. The schedule still reports the mean forecast.
    pub window_cost: Option<Vec<f64>>,
}

/// Why no schedule could be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Two inputs share a server id.
    #[error("server {0:?} appears more than once in the plan input")]
    DuplicateServer(String),
    /// A forecast is unusable (non-positive step).
    #[error("server {server:?}: {message}")]
    BadForecast {
        /// Server id.
        server: String,
        /// What is wrong.
        message: String,
    },
    /// A server's hours, deadline, horizon and forecast leave no window at all.
    #[error("server {server:?}: {message}")]
    NoWindow {
        /// Server id.
        server: String,
        /// Its allowed hours, e.g. `01:00–04:00`.
        hours: String,
        /// The full explanation.
        message: String,
    },
    /// The group limit leaves no room for some server.
    #[error("group {group:?}: {message}")]
    Infeasible {
        /// Group name.
        group: String,
        /// Allowed hours involved, e.g. `01:00–04:00`.
        hour: String,
        /// The full explanation, naming the server that could not be placed.
        message: String,
    },
}

/// A maintenance-window planner.
pub trait Planner {
    /// Plans one job per server in `[origin, origin + constraints.horizon)`.
    fn plan(
        &self,
        servers: &[ServerForecast],
        constraints: &PlanConstraints,
        origin: Ts,
    ) -> Result<Schedule, PlanError>;
}

/// Regret-ordered greedy placement plus local improvement (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegretPlanner {
    /// Maximum improvement passes.
    pub max_passes: usize,
    /// Maximum feasibility checks spent on improvement (bounds run time on huge groups).
    pub work_budget: u64,
}

impl Default for RegretPlanner {
    fn default() -> Self {
        RegretPlanner {
            max_passes: 8,
            work_budget: 20_000_000,
        }
    }
}

/// Plans with the default [`RegretPlanner`].
pub fn plan(
    servers: &[ServerForecast],
    constraints: &PlanConstraints,
    origin: Ts,
) -> Result<Schedule, PlanError> {
    RegretPlanner::default().plan(servers, constraints, origin)
}

#[derive(Debug, Clone, Copy)]
struct Cand {
    start: Ts,
    end: Ts,
    /// Mean forecast load over the window (reported).
    mean: f64,
    /// What the planner minimises: the window cost if given, else `mean`.
    cost: f64,
}

struct Item {
    server: String,
    group: Option<usize>,
    hours: HourSet,
    /// Feasible windows sorted by (mean, start): index 0 is the server's own optimum.
    cands: Vec<Cand>,
    choice: Option<usize>,
}

/// Concurrent-job counts on the elementary segments between all candidate boundaries.
struct Occupancy {
    cap: u32,
    breaks: Vec<Ts>,
    counts: Vec<u32>,
}

impl Occupancy {
    fn segments(&self, c: &Cand) -> std::ops::Range<usize> {
        self.breaks.partition_point(|&t| t < c.start)..self.breaks.partition_point(|&t| t < c.end)
    }
    fn fits(&self, c: &Cand) -> bool {
        self.counts[self.segments(c)].iter().all(|&n| n < self.cap)
    }
    fn add(&mut self, c: &Cand, delta: i32) {
        let r = self.segments(c);
        for n in &mut self.counts[r] {
            *n = n.saturating_add_signed(delta);
        }
    }
}

struct Group {
    name: String,
    cap: Option<usize>,
    members: Vec<usize>,
    /// Present only when the limit can bind (more members than the limit).
    occ: Option<Occupancy>,
    /// Placed jobs as (start, item), to find the jobs overlapping a window.
    placed: BTreeSet<(Ts, usize)>,
}

struct State {
    items: Vec<Item>,
    groups: Vec<Group>,
    duration: i64,
    work: u64,
}

impl State {
    fn occ(&self, i: usize) -> Option<&Occupancy> {
        self.items[i]
            .group
            .and_then(|g| self.groups[g].occ.as_ref())
    }
    fn fits(&mut self, i: usize, c: usize) -> bool {
        self.work += 1;
        let cand = self.items[i].cands[c];
        self.occ(i).is_none_or(|o| o.fits(&cand))
    }
    fn set(&mut self, i: usize, c: Option<usize>) {
        let item = &self.items[i];
        let (old, group) = (item.choice, item.group);
        if let Some(g) = group {
            let group = &mut self.groups[g];
            for (choice, delta) in [(old, -1), (c, 1)] {
                let Some(k) = choice else { continue };
                let cand = self.items[i].cands[k];
                if let Some(o) = group.occ.as_mut() {
                    o.add(&cand, delta);
                }
                if delta < 0 {
                    group.placed.remove(&(cand.start, i));
                } else {
                    group.placed.insert((cand.start, i));
                }
            }
        }
        self.items[i].choice = c;
    }
    /// The best candidate of `i` that fits, skipping windows starting at `skip`.
    fn best_fit(&mut self, i: usize, skip: Option<Ts>) -> Option<usize> {
        (0..self.items[i].cands.len())
            .find(|&c| Some(self.items[i].cands[c].start) != skip && self.fits(i, c))
    }
    /// Placed jobs of `i`'s group (other than `i`) overlapping candidate `c` of `i`.
    fn blockers(&self, i: usize, c: usize) -> Vec<usize> {
        let Some(g) = self.items[i].group else {
            return Vec::new();
        };
        let w = self.items[i].cands[c];
        self.groups[g]
            .placed
            .range((w.start - self.duration + 1, 0)..(w.end, 0))
            .map(|&(_, j)| j)
            .filter(|&j| j != i)
            .collect()
    }
    fn cost(&self, i: usize, c: usize) -> f64 {
        self.items[i].cands[c].cost
    }

    /// Places `i` at its candidate `c` by moving one blocking job to its best other window.
    fn place_by_ejection(&mut self, i: usize) -> bool {
        for c in 0..self.items[i].cands.len() {
            for j in self.blockers(i, c) {
                let old = self.items[j].choice;
                self.set(j, None);
                if self.fits(i, c) {
                    self.set(i, Some(c));
                    if let Some(a) = self.best_fit(j, None) {
                        self.set(j, Some(a));
                        return true;
                    }
                    self.set(i, None);
                }
                self.set(j, old);
            }
        }
        false
    }

    /// Tries to move displaced server `i` to a better window; true if the total fell.
    fn improve(&mut self, i: usize) -> bool {
        let Some(cur) = self.items[i].choice else {
            return false;
        };
        for c in 0..cur {
            let gain = self.cost(i, cur) - self.cost(i, c);
            if gain <= EPS {
                break;
            }
            self.set(i, None);
            if self.fits(i, c) {
                self.set(i, Some(c));
                return true;
            }
            for j in self.blockers(i, c) {
                let Some(jcur) = self.items[j].choice else {
                    continue;
                };
                self.set(j, None);
                if self.fits(i, c) {
                    self.set(i, Some(c));
                    for a in 0..self.items[j].cands.len() {
                        if self.cost(j, a) - self.cost(j, jcur) >= gain - EPS {
                            break;
                        }
                        if self.fits(j, a) {
                            self.set(j, Some(a));
                            return true;
                        }
                    }
                    self.set(i, None);
                }
                self.set(j, Some(jcur));
            }
            self.set(i, Some(cur));
        }
        false
    }

    fn binds(&self, i: usize) -> bool {
        self.occ(i).is_some()
    }
}

impl Planner for RegretPlanner {
    fn plan(
        &self,
        servers: &[ServerForecast],
        constraints: &PlanConstraints,
        origin: Ts,
    ) -> Result<Schedule, PlanError> {
        let mut state = build_state(servers, constraints, origin)?;
        let n = state.items.len();

        // Regret ordering: most to lose first; ties by fewest options, then id.
        let regret: Vec<f64> = (0..n).map(|i| regret_of(&state, i)).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            regret[b]
                .total_cmp(&regret[a])
                .then(state.items[a].cands.len().cmp(&state.items[b].cands.len()))
                .then(state.items[a].server.cmp(&state.items[b].server))
        });
        for &i in &order {
            if let Some(c) = state.best_fit(i, None) {
                state.set(i, Some(c));
            } else if !state.place_by_ejection(i) {
                return Err(infeasible(&state, constraints, i));
            }
        }

        for _ in 0..self.max_passes {
            let mut improved = false;
            for &i in &order {
                if state.work > self.work_budget {
                    break;
                }
                if state.binds(i) && state.items[i].choice != Some(0) {
                    improved |= state.improve(i);
                }
            }
            if !improved || state.work > self.work_budget {
                break;
            }
        }

        let mut entries = Vec::with_capacity(n);
        for i in 0..n {
            let Some(cur) = state.items[i].choice else {
                return Err(infeasible(&state, constraints, i));
            };
            let chosen = state.items[i].cands[cur];
            state.set(i, None);
            let runner_up = state.best_fit(i, Some(chosen.start)).map(|c| RunnerUp {
                start: state.items[i].cands[c].start,
                predicted_mean: state.items[i].cands[c].mean,
            });
            state.set(i, Some(cur));
            let item = &state.items[i];
            entries.push(ScheduleEntry {
                server: item.server.clone(),
                group: item.group.map(|g| state.groups[g].name.clone()),
                start: chosen.start,
                end: chosen.end,
                predicted_mean: chosen.mean,
                runner_up,
                displaced: chosen.cost > item.cands[0].cost + EPS,
            });
        }
        Ok(Schedule {
            origin,
            duration: constraints.duration,
            entries,
        })
    }
}

/// Increase in mean load if `i` loses its best window (see the module docs).
fn regret_of(state: &State, i: usize) -> f64 {
    if !state.binds(i) {
        return 0.0;
    }
    let cands = &state.items[i].cands;
    let best = cands[0];
    cands
        .iter()
        .find(|c| c.end <= best.start || c.start >= best.end)
        .map_or(f64::INFINITY, |c| c.cost - best.cost)
}

fn build_state(
    servers: &[ServerForecast],
    constraints: &PlanConstraints,
    origin: Ts,
) -> Result<State, PlanError> {
    let mut sorted: Vec<&ServerForecast> = servers.iter().collect();
    sorted.sort_by(|a, b| a.server.cmp(&b.server));
    if let Some(w) = sorted.windows(2).find(|w| w[0].server == w[1].server) {
        return Err(PlanError::DuplicateServer(w[0].server.clone()));
    }
    let duration = constraints.duration;
    let horizon_end = origin + constraints.horizon;
    let mut items = Vec::with_capacity(sorted.len());
    let mut group_ids: BTreeMap<&str, usize> = BTreeMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for s in sorted {
        let f = &s.forecast;
        if f.step <= 0 {
            return Err(PlanError::BadForecast {
                server: s.server.clone(),
                message: format!("forecast step must be positive, got {} s", f.step),
            });
        }
        let sc = constraints.for_server(&s.server);
        let deadline = sc.deadline.map(|d| d.resolve(origin));
        let steps = ((duration + f.step - 1) / f.step) as usize;
        let means = rolling_means(&f.point, steps);
        let costs = s.window_cost.as_ref().filter(|c| c.len() == means.len());
        let mut cands: Vec<Cand> = means
            .iter()
            .enumerate()
            .map(|(k, &mean)| {
                let start = f.start + f.step * k as i64;
                Cand {
                    start,
                    end: start + duration,
                    mean,
                    cost: costs.map_or(mean, |c| c[k]),
                }
            })
            .filter(|c| {
                c.mean.is_finite()
                    && c.cost.is_finite()
                    && c.start >= origin
                    && c.end <= horizon_end
                    && deadline.is_none_or(|d| c.start <= d)
                    && sc.allowed_hours.covers(c.start, c.end)
            })
            .collect();
        if cands.is_empty() {
            let hours = sc.allowed_hours.to_string();
            let by = deadline.map_or(String::new(), |d| format!(", start by {}", format_ts(d)));
            let message = format!(
                "no {} window fits: allowed hours {hours} (UTC){by}, horizon {} – {}, \
                 forecast {} – {}; widen the allowed hours or move the deadline",
                format_duration(duration),
                format_ts(origin),
                format_ts(horizon_end),
                format_ts(f.start),
                format_ts(f.start + f.step * f.point.len() as i64),
            );
            return Err(PlanError::NoWindow {
                server: s.server.clone(),
                hours,
                message,
            });
        }
        cands.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(a.start.cmp(&b.start)));
        let group = constraints
            .group_by
            .as_ref()
            .and_then(|label| s.labels.get(label))
            .map(|name| {
                *group_ids.entry(name.as_str()).or_insert_with(|| {
                    groups.push(Group {
                        name: name.clone(),
                        cap: constraints.limit_of(name),
                        members: Vec::new(),
                        occ: None,
                        placed: BTreeSet::new(),
                    });
                    groups.len() - 1
                })
            });
        if let Some(g) = group {
            groups[g].members.push(items.len());
        }
        items.push(Item {
            server: s.server.clone(),
            group,
            hours: sc.allowed_hours,
            cands,
            choice: None,
        });
    }
    for g in &mut groups {
        let Some(cap) = g.cap.filter(|&cap| g.members.len() > cap) else {
            continue;
        };
        let mut breaks: Vec<Ts> = g
            .members
            .iter()
            .flat_map(|&i| items[i].cands.iter().flat_map(|c| [c.start, c.end]))
            .collect();
        breaks.sort_unstable();
        breaks.dedup();
        g.occ = Some(Occupancy {
            cap: u32::try_from(cap).unwrap_or(u32::MAX),
            counts: vec![0; breaks.len().saturating_sub(1)],
            breaks,
        });
    }
    Ok(State {
        items,
        groups,
        duration,
        work: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use skua_core::SECONDS_PER_DAY;

    const DAY0: Ts = 1000 * SECONDS_PER_DAY;

    fn server(id: &str, cluster: Option<&str>, step: i64, point: Vec<f64>) -> ServerForecast {
        let mut labels = BTreeMap::new();
        if let Some(c) = cluster {
            labels.insert("cluster".to_string(), c.to_string());
        }
        ServerForecast {
            window_cost: None,
            server: id.into(),
            labels,
            forecast: Forecast {
                start: DAY0,
                step,
                point,
                quantiles: vec![],
            },
        }
    }

    fn hourly_with_trough(at: usize) -> Vec<f64> {
        (0..24)
            .map(|h| if h == at { 1.0 } else { 10.0 + h as f64 })
            .collect()
    }

    #[test]
    fn picks_trough_and_mixes_steps() {
        let five_min: Vec<f64> = (0..288)
            .map(|k| if (120..132).contains(&k) { 2.0 } else { 50.0 })
            .collect();
        let s = vec![
            server("a", None, 3600, hourly_with_trough(5)),
            server("b", None, 300, five_min),
        ];
        let plan = plan(&s, &PlanConstraints::default(), DAY0).unwrap();
        assert_eq!(plan.entry("a").unwrap().start, DAY0 + 5 * 3600);
        assert_eq!(plan.entry("b").unwrap().start, DAY0 + 10 * 3600);
        assert!((plan.entry("b").unwrap().predicted_mean - 2.0).abs() < 1e-12);
        assert!(!plan.entry("a").unwrap().displaced);
    }

    #[test]
    fn window_costs_rank_the_windows_and_the_mean_is_still_reported() {
        let default = PlanConstraints::default();
        let steps = ((default.duration + 3599) / 3600) as usize;
        let windows = 24 - steps + 1;
        // The forecast's trough is at 05:00; the decision policy's costs favour 14:00.
        let mut a = server("a", None, 3600, hourly_with_trough(5));
        a.window_cost = Some(
            (0..windows)
                .map(|k| if k == 14 { 0.5 } else { 3.0 })
                .collect(),
        );
        let first = plan(&[a.clone()], &default, DAY0).unwrap();
        let e = first.entry("a").unwrap();
        assert_eq!(e.start, DAY0 + 14 * 3600);
        // The reported load is the forecast's, not the cost.
        let expected = rolling_means(&a.forecast.point, steps)[14];
        assert!((e.predicted_mean - expected).abs() < 1e-12);
        assert!(!e.displaced);
        // Costs of the wrong length are ignored: back to the forecast's trough.
        a.window_cost = Some(vec![0.0; 3]);
        let second = plan(&[a], &default, DAY0).unwrap();
        assert_eq!(second.entry("a").unwrap().start, DAY0 + 5 * 3600);
    }

    #[test]
    fn ejection_places_a_server_greedy_would_strand() {
        // "x" may only run at 02:00; "y" prefers 02:00 but could run at 03:00.
        let mut c = PlanConstraints::from_toml(
            "group_by = \"cluster\"\nmax_concurrent = 1\n[[servers]]\nmatch = \"x\"\nallowed_hours = \"2\"\n",
        )
        .unwrap();
        c.horizon = SECONDS_PER_DAY;
        let s = vec![
            server("x", Some("k"), 3600, hourly_with_trough(7)),
            server("y", Some("k"), 3600, hourly_with_trough(2)),
        ];
        let plan = plan(&s, &c, DAY0).unwrap();
        assert_eq!(plan.entry("x").unwrap().start, DAY0 + 2 * 3600);
        assert_ne!(plan.entry("y").unwrap().start, DAY0 + 2 * 3600);
        assert!(plan.entry("y").unwrap().displaced);
    }

    #[test]
    fn duplicate_servers_and_bad_steps_are_errors() {
        let s = vec![
            server("a", None, 3600, hourly_with_trough(1)),
            server("a", None, 3600, hourly_with_trough(1)),
        ];
        assert!(matches!(
            plan(&s, &PlanConstraints::default(), DAY0),
            Err(PlanError::DuplicateServer(_))
        ));
        let s = vec![server("a", None, 0, vec![1.0])];
        assert!(matches!(
            plan(&s, &PlanConstraints::default(), DAY0),
            Err(PlanError::BadForecast { .. })
        ));
    }
}
