//! skua-fleet: maintenance-window planner and day-by-day evaluation.
