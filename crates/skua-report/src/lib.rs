//! skua-report: self-contained HTML reports with inline SVG charts.
