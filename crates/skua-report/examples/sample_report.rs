//! Renders a synthetic report: `cargo run -p skua-report --example sample_report -- [out.html] [servers] [panels]`.
//! Writes the HTML and the JSON beside it.

#[path = "../tests/it/fixtures.rs"]
mod fixtures;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "sample_report.html".into());
    let servers = args.next().and_then(|s| s.parse().ok()).unwrap_or(40);
    let panels = args.next().and_then(|s| s.parse().ok()).unwrap_or(6);
    let report = fixtures::report(servers, panels, 300);
    let html = skua_report::render_html(&report);
    std::fs::write(&out, &html)?;
    let json = serde_json::to_string(&report).map_err(std::io::Error::other)?;
    std::fs::write(format!("{out}.json"), json)?;
    println!("wrote {out} ({} KiB)", html.len() / 1024);
    Ok(())
}
