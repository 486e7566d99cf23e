//! Whole-report rendering: structure, self-containment, geometry, escaping and size.

use skua_core::TimeWindow;
use skua_report::{
    MAX_PANELS, MAX_SCHEDULE_ROWS, MAX_SERIES_ROWS, Report, ValidationSection, panel_svg,
    render_html,
};

use crate::fixtures::{self, BASE};
use crate::html_check::check;

/// The value of attribute `name` in the first tag containing `marker`.
fn attr_of(markup: &str, marker: &str, name: &str) -> String {
    let at = markup.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let start = markup[..at].rfind('<').unwrap();
    let end = at + markup[at..].find('>').unwrap();
    let tag = &markup[start..end];
    let key = format!(" {name}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    tag[v..v + tag[v..].find('"').unwrap()].to_string()
}

fn num(markup: &str, marker: &str, name: &str) -> f64 {
    attr_of(markup, marker, name).parse().unwrap()
}

/// The `d` of the path with the given class.
fn path_d(svg: &str, class: &str) -> String {
    attr_of(svg, &format!("class=\"{class}\""), "d")
}

#[test]
fn sample_report_is_well_formed() {
    let html = render_html(&fixtures::report(40, 6, 300));
    check(&html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in [
        "how",
        "evaluation",
        "servers",
        "schedule",
        "validation",
        "notes",
    ] {
        assert!(
            html.contains(&format!(r#"<section id="{id}""#)),
            "section {id}"
        );
    }
}

#[test]
fn minimal_report_renders_without_optional_parts() {
    let r = Report {
        title: "empty".into(),
        generated_at: "now".into(),
        source: "-".into(),
        unit: String::new(),
        summary: vec![],
        validation: ValidationSection::default(),
        evaluation: None,
        servers: vec![],
        schedule: vec![],
        notes: vec![],
    };
    let html = render_html(&r);
    check(&html).unwrap();
    assert!(!html.contains(r#"id="evaluation""#));
    assert!(html.contains("No windows were planned"));
    assert_eq!(html.matches("<svg").count(), 0);
}

#[test]
fn nothing_is_loaded_from_outside() {
    let html = render_html(&fixtures::report(40, 6, 300));
    for bad in [
        "http://", "https://", "src=", "url(", "@import", "<link", "<iframe", "<img",
    ] {
        assert!(!html.contains(bad), "found {bad}");
    }
    // Every link is an in-page anchor.
    for (i, _) in html.match_indices("href=\"") {
        assert_eq!(
            &html[i + 6..i + 7],
            "#",
            "external href near {}",
            &html[i..i + 40]
        );
    }
}

#[test]
fn one_panel_per_selected_server_and_one_svg_per_chart() {
    let html = render_html(&fixtures::report(40, 6, 300));
    assert_eq!(html.matches(r#"<figure class="panel""#).count(), 6);
    assert_eq!(html.matches("class=\"win-chosen\"").count(), 6);
    // Panels + regret + jobs per hour + coverage + issues.
    assert_eq!(html.matches("<svg").count(), 6 + 4);
    assert_eq!(html.matches("</svg>").count(), 6 + 4);
    // The index links to every panel.
    for i in 0..6 {
        assert!(html.contains(&format!(r##"href="#srv-{i}""##)));
        assert!(html.contains(&format!(r#"id="srv-{i}""#)));
    }
}

#[test]
fn chosen_window_is_drawn_at_its_time() {
    let mut p = fixtures::panel("db-01", 7, 3600, 2, false);
    // History 2 days from BASE, forecast 1 day: the x axis spans BASE .. BASE + 3 days.
    p.window = TimeWindow {
        start: BASE + 2 * 86_400 + 3 * 3600,
        end: BASE + 2 * 86_400 + 5 * 3600,
    };
    p.runner_up = None;
    let svg = panel_svg(&p, "CPU %");
    let (fx, fw) = (
        num(&svg, "class=\"plot-area\"", "x"),
        num(&svg, "class=\"plot-area\"", "width"),
    );
    let span = 3.0 * 86_400.0;
    let expect_x = fx + fw * (2.0 * 86_400.0 + 3.0 * 3600.0) / span;
    let expect_w = fw * 7200.0 / span;
    let x = num(&svg, "class=\"win-chosen\"", "x");
    let w = num(&svg, "class=\"win-chosen\"", "width");
    assert!((x - expect_x).abs() <= 0.1, "x {x} vs {expect_x}");
    assert!((w - expect_w).abs() <= 0.2, "width {w} vs {expect_w}");
    // It spans the full plot height, and carries the window's times.
    assert_eq!(
        num(&svg, "class=\"win-chosen\"", "y"),
        num(&svg, "class=\"plot-area\"", "y")
    );
    assert_eq!(
        attr_of(&svg, "class=\"win-chosen\"", "data-start"),
        p.window.start.to_string()
    );
}

#[test]
fn runner_up_is_outlined_not_filled() {
    let p = fixtures::panel("db-02", 9, 3600, 2, false);
    let r = p.runner_up.expect("fixture has a runner-up");
    let svg = panel_svg(&p, "");
    assert_eq!(attr_of(&svg, "class=\"win-runner\"", "fill"), "none");
    assert!(attr_of(&svg, "class=\"win-runner\"", "stroke-dasharray").contains(' '));
    assert!(!r.overlaps(&p.window));
}

#[test]
fn gaps_break_the_history_line() {
    let mut p = fixtures::panel("gappy", 3, 3600, 2, false);
    assert_eq!(
        path_d(&panel_svg(&p, ""), "history").matches('M').count(),
        1
    );
    p.history[10] = f64::NAN;
    p.history[30] = f64::NAN;
    p.history[31] = f64::NAN;
    let svg = panel_svg(&p, "");
    assert_eq!(path_d(&svg, "history").matches('M').count(), 3);
    assert!(!svg.contains("NaN"));
    // The band and the forecast stay whole.
    assert_eq!(path_d(&svg, "forecast").matches('M').count(), 1);
    assert_eq!(path_d(&svg, "band").matches('Z').count(), 1);
}

#[test]
fn server_ids_are_escaped_everywhere() {
    let evil = r#"<script>alert("x")</script>&'"#;
    let mut r = fixtures::report(10, 2, 3600);
    r.servers[0].id = evil.into();
    r.servers[0].class = Some("<b>".into());
    r.schedule[0].server = evil.into();
    r.validation.series[0].id = evil.into();
    r.validation.longest_gaps[0].series = evil.into();
    r.summary.push(("<k>".into(), "<v>".into()));
    let html = render_html(&r);
    check(&html).unwrap();
    assert!(!html.contains(evil));
    assert!(!html.contains(r#""tag"><b>"#) && !html.contains("<b><b>"));
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the page's own script"
    );
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;";
    assert!(
        html.matches(escaped).count() >= 5,
        "escaped id in panel, table rows and data-id"
    );
}

#[test]
fn best_value_per_column_is_highlighted() {
    let html = render_html(&fixtures::report(20, 1, 3600));
    let ev = fixtures::report(20, 1, 3600).evaluation.unwrap();
    let key = |v: f64| (v * 1e6).round() / 1e6;
    let best_median = ev
        .policies
        .iter()
        .map(|p| p.median_regret)
        .fold(f64::INFINITY, f64::min);
    assert!(html.contains(&format!(
        r#"<td class="best" data-v="{}">"#,
        key(best_median)
    )));
    let best_hit = ev.policies.iter().map(|p| p.hit_rate).fold(0.0, f64::max);
    assert!(html.contains(&format!(r#"<td class="best" data-v="{}">"#, key(best_hit))));
    // Exactly one best cell per column: compact table (3 columns), full table (8 columns),
    // and one per row of the by-class table (3 classes).
    assert_eq!(html.matches(r#"<td class="best""#).count(), 3 + 8 + 3);
    assert!(html.contains(r#"<tr class="chosen">"#));
}

#[test]
fn fleet_of_500_stays_small_and_capped() {
    // Even when handed 500 panels, the page keeps to its caps and well under 5 MB.
    let r = fixtures::report(500, 500, 300);
    let html = render_html(&r);
    check(&html).unwrap();
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
    assert_eq!(html.matches(r#"<figure class="panel""#).count(), MAX_PANELS);
    assert!(html.contains(&format!("{} more server panels omitted", 500 - MAX_PANELS)));
    assert!(html.contains(&format!("{} more windows omitted", 500 - MAX_SCHEDULE_ROWS)));
    assert!(html.contains(&format!("{} more series omitted", 500 - MAX_SERIES_ROWS)));
    // A typical run (500 servers, 24 panels) is far smaller.
    let typical = render_html(&fixtures::report(500, 24, 300));
    assert!(typical.len() < 2_000_000, "{} bytes", typical.len());
}

#[test]
fn json_round_trip_renders_identically() {
    let r = fixtures::report(30, 3, 300);
    let json = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(render_html(&r), render_html(&back));
}

#[test]
fn coverage_dips_are_marked() {
    let r = fixtures::report(30, 0, 300);
    let html = render_html(&r);
    // The fixture has a ~25 h dip to about 25 % coverage.
    assert!(html.matches(r#"class="dip""#).count() >= 24);
    assert!(html.contains("Lowest coverage 2"));
}
