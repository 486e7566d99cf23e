//! skua-report: the self-contained HTML report of `skua run`, with hand-written inline SVG charts.
//!
//! The input is plain serde data ([`Report`] and its sections), which the CLI builds from its own
//! types and may also write out as JSON. [`render_html`] turns it into one HTML document that
//! loads nothing from the network and reads fully with JavaScript off.
//!
//! Architecture invariant: rendering is a pure function of the [`Report`] — no clock, no
//! filesystem, no randomness — so the same input always gives the same bytes.

mod assets;
mod evaluation;
mod format;
mod model;
mod page;
mod panel;
mod scale;
mod schedule;
mod svg;
mod validation;

pub use model::{
    ClassRow, CoverageStrip, EvaluationSection, FileRow, GapRow, PolicyKind, PolicyRow,
    RegretSamples, Report, ScheduleRow, SeriesRow, SeriesStatus, ServerPanel, ValidationSection,
};
pub use page::{MAX_PANELS, render_html};
pub use panel::panel_svg;
pub use schedule::MAX_SCHEDULE_ROWS;
pub use validation::MAX_SERIES_ROWS;
