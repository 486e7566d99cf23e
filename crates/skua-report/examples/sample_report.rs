//! Renders a synthetic report, writing the HTML and the JSON beside it:
//! `cargo run -p skua-report --example sample_report -- [out.html] [servers] [panels]`.
//! Or re-renders a report JSON written by `skua run`:
//! `cargo run -p skua-report --example sample_report -- --from report.json out.html`.

#[path = "../tests/it/fixtures.rs"]
mod fixtures;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--from") {
        let (Some(input), Some(out)) = (args.get(1), args.get(2)) else {
            eprintln!("usage: sample_report --from report.json out.html");
            std::process::exit(2);
        };
        let report: skua_report::Report =
            serde_json::from_slice(&std::fs::read(input)?).map_err(std::io::Error::other)?;
        let html = skua_report::render_html(&report);
        std::fs::write(out, &html)?;
        println!("wrote {out} ({} KiB)", html.len() / 1024);
        return Ok(());
    }
    let out = args
        .first()
        .cloned()
        .unwrap_or_else(|| "sample_report.html".into());
    let servers = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(40);
    let panels = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(6);
    let report = fixtures::report(servers, panels, 300);
    let html = skua_report::render_html(&report);
    std::fs::write(&out, &html)?;
    let json = serde_json::to_string(&report).map_err(std::io::Error::other)?;
    std::fs::write(format!("{out}.json"), json)?;
    println!("wrote {out} ({} KiB)", html.len() / 1024);
    Ok(())
}
