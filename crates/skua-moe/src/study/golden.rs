//! EPLB golden files: does the EPLB-equivalent reproduce the reference, is skua's planner never
//! worse per layer, and how long does each take.

use std::time::Instant;

use serde::Serialize;

use super::StudyOptions;
use crate::MoeError;
use crate::io::golden::{GoldenCase, read_golden};
use crate::placement::Placement;
use crate::plan::eplb::{EplbGreedy, EplbMode};
use crate::plan::skua::SkuaPlanner;
use crate::plan::{PlanRequest, Planner};

/// One golden file.
#[derive(Debug, Clone, Serialize)]
pub struct GoldenRow {
    /// Case name.
    pub name: String,
    /// Layers × experts, slots, GPUs, nodes, groups.
    pub shape: String,
    /// EPLB's policy for the case.
    pub policy: String,
    /// Layers where the EPLB-equivalent's `phy2log` equals the reference's exactly.
    pub identical_layers: usize,
    /// Layers.
    pub layers: usize,
    /// Layers where the EPLB-equivalent's max GPU load is above the reference's.
    pub eplb_worse_layers: usize,
    /// Layers where skua's max GPU load is above the reference's.
    pub skua_worse_layers: usize,
    /// Layers where skua's max GPU load is below the reference's.
    pub skua_better_layers: usize,
    /// Mean over layers of the reference's max GPU load / mean GPU load.
    pub reference_peak: f64,
    /// The same for the EPLB-equivalent.
    pub eplb_peak: f64,
    /// The same for skua.
    pub skua_peak: f64,
    /// GPUs holding two replicas of one expert in the reference placement (all layers).
    pub reference_duplicate_gpus: usize,
    /// The same in skua's placement (always 0: a checked invariant).
    pub skua_duplicate_gpus: usize,
    /// The reference's planning time on a 2-core machine, seconds (recorded in the file).
    pub reference_seconds: f64,
    /// EPLB-equivalent planning time, median of the repeats, seconds.
    pub eplb_seconds: f64,
    /// skua planning time, median of the repeats, seconds.
    pub skua_seconds: f64,
}

/// Runs every `eplb_golden/*.json.gz` file.
pub fn golden(opts: &StudyOptions) -> Result<Vec<GoldenRow>, MoeError> {
    let dir = opts.data_dir.join("eplb_golden");
    let io = |source| MoeError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.to_string_lossy().ends_with(".json.gz") || p.to_string_lossy().ends_with(".json")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(MoeError::Shape(format!(
            "no golden files in {}",
            dir.display()
        )));
    }
    files
        .iter()
        .map(|f| read_golden(f).and_then(|c| row(&c, opts.repeats.max(1))))
        .collect()
}

fn timed(
    repeats: usize,
    mut f: impl FnMut() -> Result<Placement, MoeError>,
) -> Result<(Placement, f64), MoeError> {
    let mut times = Vec::with_capacity(repeats);
    let mut out = None;
    for _ in 0..repeats {
        let t = Instant::now();
        out = Some(f()?);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let p = out.ok_or_else(|| MoeError::Shape("no repeats".into()))?;
    Ok((p, times[times.len() / 2]))
}

fn row(case: &GoldenCase, repeats: usize) -> Result<GoldenRow, MoeError> {
    let topo = &case.topology;
    let req = PlanRequest::new(topo, &case.weight, case.groups);
    let (eplb, eplb_seconds) = timed(repeats, || {
        EplbGreedy {
            mode: EplbMode::Auto,
        }
        .plan(&req)
    })?;
    let (skua, skua_seconds) = timed(repeats, || SkuaPlanner::default().plan(&req))?;
    skua.validate(topo)?;
    let layers = case.weight.layers();
    let peak = |p: &Placement, l: usize| {
        let g = p.gpu_loads(topo, l, case.weight.layer(l));
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        let max = g.iter().copied().fold(0.0, f64::max);
        (max, if mean > 0.0 { max / mean } else { 1.0 })
    };
    let (mut ew, mut sw, mut sb) = (0, 0, 0);
    let (mut rp, mut ep, mut sp) = (0.0, 0.0, 0.0);
    for l in 0..layers {
        let (r, rr) = peak(&case.placement, l);
        let (e, er) = peak(&eplb, l);
        let (s, sr) = peak(&skua, l);
        let tol = 1e-9 * r.max(1.0);
        ew += usize::from(e > r + tol);
        sw += usize::from(s > r + tol);
        sb += usize::from(s < r - tol);
        rp += rr;
        ep += er;
        sp += sr;
    }
    let n = layers as f64;
    Ok(GoldenRow {
        name: case.name.clone(),
        shape: format!(
            "{}×{}, {} slots, {} GPUs, {} nodes, {} groups",
            layers,
            case.weight.experts(),
            topo.slots(),
            topo.gpus(),
            topo.nodes(),
            case.groups
        ),
        policy: case.policy.clone(),
        identical_layers: (0..layers)
            .filter(|&l| eplb.layer(l) == case.placement.layer(l))
            .count(),
        layers,
        eplb_worse_layers: ew,
        skua_worse_layers: sw,
        skua_better_layers: sb,
        reference_peak: rp / n,
        eplb_peak: ep / n,
        skua_peak: sp / n,
        reference_duplicate_gpus: duplicate_gpus(&case.placement, topo),
        skua_duplicate_gpus: duplicate_gpus(&skua, topo),
        reference_seconds: case.reference_seconds,
        eplb_seconds,
        skua_seconds,
    })
}

/// GPUs (summed over layers) that hold two replicas of one expert.
pub fn duplicate_gpus(p: &Placement, topo: &crate::topology::Topology) -> usize {
    (0..p.layers())
        .map(|l| {
            (0..topo.gpus())
                .filter(|&g| {
                    let s = &p.layer(l)[topo.slots_of_gpu(g)];
                    (0..s.len()).any(|i| s[i + 1..].contains(&s[i]))
                })
                .count()
        })
        .sum()
}
