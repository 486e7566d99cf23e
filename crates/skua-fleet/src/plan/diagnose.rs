//! Explaining why a server could not be placed: the `Infeasible` error and its message.

use std::collections::HashSet;

use skua_core::Ts;
use skua_core::time::format_duration;

use super::{PlanError, State};
use crate::constraints::PlanConstraints;

/// The error for server `i` that could not be placed in its group.
pub(super) fn infeasible(state: &State, constraints: &PlanConstraints, i: usize) -> PlanError {
    let item = &state.items[i];
    let Some(g) = item.group else {
        // Unreachable in practice: servers outside groups always take their best window.
        return PlanError::NoWindow {
            server: item.server.clone(),
            hours: item.hours.to_string(),
            message: "could not be placed".into(),
        };
    };
    let group = &state.groups[g];
    let cap = group.cap.unwrap_or(usize::MAX);
    let n = group.members.len();
    let hours = group
        .members
        .iter()
        .fold(item.hours, |h, &m| h.union(state.items[m].hours));
    // Most pairwise disjoint windows among all the group's candidates (earliest end first).
    let mut windows: Vec<(Ts, Ts)> = group
        .members
        .iter()
        .flat_map(|&m| state.items[m].cands.iter().map(|c| (c.end, c.start)))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    windows.sort_unstable();
    let (mut disjoint, mut free_from) = (0usize, Ts::MIN);
    for (end, start) in windows {
        if start >= free_from {
            disjoint += 1;
            free_from = end;
        }
    }
    let room = disjoint.saturating_mul(cap);
    let dur = format_duration(constraints.duration);
    let (hour, message) = if room < n {
        (
            hours.to_string(),
            format!(
                "{n} jobs of {dur} need {n} slots but max_concurrent = {cap} leaves room for \
                 only {room} in the allowed hours {hours} (server {} could not be placed)",
                item.server
            ),
        )
    } else {
        (
            item.hours.to_string(),
            format!(
                "server {} could not be placed: every {dur} window it may use in the allowed \
                 hours {} already holds max_concurrent = {cap} jobs ({n} jobs in the group); \
                 raise max_concurrent or widen the allowed hours",
                item.server, item.hours
            ),
        )
    };
    PlanError::Infeasible {
        group: group.name.clone(),
        hour,
        message,
    }
}
