//! Unit inference from names: CPU and percentages are [`Unit::Percent`], the rest counts.

use skua_core::Unit;

/// Words that mark a percentage (matched case-insensitively inside names).
const PERCENT_HINTS: &[&str] = &["cpu", "%", "pct", "percent", "util"];

/// Infers the unit from `(what, name)` hints in priority order (metric, value column, file
/// name), returning the unit and a sentence saying why.
pub fn infer_unit(hints: &[(&str, &str)]) -> (Unit, String) {
    for (what, name) in hints {
        let lower = name.to_ascii_lowercase();
        if let Some(kw) = PERCENT_HINTS.iter().find(|kw| lower.contains(**kw)) {
            return (
                Unit::Percent,
                format!("percent: {what} `{name}` mentions `{kw}`"),
            );
        }
    }
    let looked: Vec<String> = hints.iter().map(|(w, n)| format!("{w} `{n}`")).collect();
    (
        Unit::Count,
        format!(
            "count (non-negative): no cpu/percent hint in {}",
            looked.join(", ")
        ),
    )
}

/// The unit from the options, or inferred from the hints.
pub(crate) fn choose_unit(given: Option<Unit>, hints: &[(&str, &str)]) -> (Unit, String) {
    match given {
        Some(u) => (u, format!("{}: set in the options", unit_name(u))),
        None => infer_unit(hints),
    }
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Percent => "percent",
        Unit::Count => "count",
        Unit::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_percent_from_any_hint_in_order() {
        let (u, why) = infer_unit(&[("value column", "y"), ("file name", "hourly_cpu")]);
        assert_eq!(u, Unit::Percent);
        assert!(why.contains("file name `hourly_cpu`"), "{why}");
        let (u, why) = infer_unit(&[("value column", "CPU usage [%]")]);
        assert_eq!(u, Unit::Percent);
        assert!(why.contains("`cpu`"), "{why}");
        let (u, why) = infer_unit(&[("file name", "ec2_network_in_257a54")]);
        assert_eq!(u, Unit::Count);
        assert!(why.contains("no cpu/percent hint"), "{why}");
        assert_eq!(choose_unit(Some(Unit::Other), &[]).0, Unit::Other);
    }
}
