//! Static prefill:decode ratios (DistServe, Splitwise, Dynamo's disaggregated deployments): a
//! fixed share of the instances prefill, the rest decode, routed by [`PdPair`] (least prefill
//! backlog, least outstanding decode).
//!
//! `pd_static_<p>to<d>` makes `round(n × p / (p + d))` instances `Prefill` (at least one, at most
//! `n − 1`) and the rest `Decode`; prefill instances take the lowest ids. The benchmark exposes a
//! range from prefill-heavy to decode-heavy ([`RATIOS`]); any `<p>to<d>` with `p, d ≥ 1` builds.

use crate::policy::{InstanceRole, PolicyError};

/// Name prefix of the static-ratio policies.
pub const PREFIX: &str = "pd_static_";

/// The ratios in the benchmark, prefill-heavy to decode-heavy: (prefill parts, decode parts).
pub const RATIOS: &[(u32, u32)] = &[(3, 1), (1, 1), (1, 2), (1, 3), (1, 7)];

/// `(p, d)` of a `pd_static_<p>to<d>` name, if it is one.
pub fn parse(name: &str) -> Option<(u32, u32)> {
    let (p, d) = name.strip_prefix(PREFIX)?.split_once("to")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(p) && digits(d)) {
        return None;
    }
    let (p, d) = (p.parse().ok()?, d.parse().ok()?);
    (p >= 1 && d >= 1).then_some((p, d))
}

/// The roles of `n` instances split `p:d`.
pub fn roles(name: &str, p: u32, d: u32, n: usize) -> Result<Vec<InstanceRole>, PolicyError> {
    if n < 2 {
        return Err(PolicyError::Cluster {
            name: name.to_string(),
            instances: n,
            why: "a prefill/decode split needs at least two instances".into(),
        });
    }
    let share = f64::from(p) / f64::from(p + d);
    let prefill = ((n as f64 * share).round() as usize).clamp(1, n - 1);
    Ok((0..n)
        .map(|i| {
            if i < prefill {
                InstanceRole::Prefill
            } else {
                InstanceRole::Decode
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(p: u32, d: u32, n: usize) -> (usize, usize) {
        let r = roles("x", p, d, n).expect("valid");
        assert_eq!(r.len(), n);
        let pre = r.iter().filter(|&&x| x == InstanceRole::Prefill).count();
        // Prefill instances come first.
        assert!(r[..pre].iter().all(|&x| x == InstanceRole::Prefill));
        (pre, n - pre)
    }

    #[test]
    fn splits_round_to_nearest_with_one_of_each_at_least() {
        assert_eq!(counts(3, 1, 8), (6, 2));
        assert_eq!(counts(1, 1, 8), (4, 4));
        assert_eq!(counts(1, 2, 8), (3, 5)); // 2.67 → 3
        assert_eq!(counts(1, 3, 8), (2, 6));
        assert_eq!(counts(1, 7, 8), (1, 7));
        assert_eq!(counts(1, 3, 16), (4, 12));
        assert_eq!(counts(1, 2, 16), (5, 11)); // 5.33 → 5
        assert_eq!(counts(1, 7, 2), (1, 1)); // 0.25 → 0, raised to one
        assert_eq!(counts(7, 1, 2), (1, 1)); // 1.75 → 2, capped to n − 1
    }

    #[test]
    fn one_instance_is_an_error() {
        let e = roles("pd_static_1to1", 1, 1, 1).expect_err("too small");
        assert!(
            matches!(e, PolicyError::Cluster { instances: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn parses_only_well_formed_names() {
        assert_eq!(parse("pd_static_1to3"), Some((1, 3)));
        assert_eq!(parse("pd_static_12to5"), Some((12, 5)));
        for bad in [
            "pd_static_0to3",
            "pd_static_1to",
            "pd_static_+1to2",
            "pd_1to3",
            "x",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
