#!/usr/bin/env python3
"""Peer side of `skua bench forecast`: the fleet benchmark protocol run with statsforecast 2.1.1.

The protocol is `../shared/docs/fleet-benchmark-protocol.md`, implemented here independently of
skua's Rust code:
  * Bitbrains-500: `y` per VM from 2013-07-01 00:00 on, on a regular hourly grid, interior gaps
    filled by linear interpolation. ASD: metrics m0 and m5 of the 12 servers, hourly means of 12
    consecutive 5-minute steps from step 0 (an incomplete last hour dropped).
  * Rolling origin: horizon 24, step 24, the last 14 windows (statsforecast's
    `cross_validation(h=24, step_size=24, n_windows=14)` cutoffs, counted back from the end).
  * Per window and job length L in (2, 1, 4): the window with the lowest mean predicted load
    (ties -> earliest) is scored on the actuals: tol_L, areg_L, busiest quarter, hit_L; plus the
    MAE of the point forecast and the share of actuals inside the 80 % interval. Flat windows
    (std < 1e-9) are excluded and counted.
  * Cost: one `model.forecast(y, h=24, level=[80])` call per (series, cutoff), CPU time by
    `time.process_time()` in one process (n_jobs=1 by construction: no pool is used).

Models: SeasonalNaive(24), SeasonalNaive(168), SeasonalWindowAverage(24, 7) on every series;
AutoETS(season_length=24) and MSTL([24, 168], trend AutoETS("ZZN")) on a seeded sample of
`--peer-sample` series per dataset (they cost ~0.5-1.2 s per fit). `fixed_00h` (always the first
window, no forecast) is the reference row of the protocol's table.

Prints one JSON object on stdout: per dataset and model, per-series sums (so that skua can
aggregate per class with its own classification), the overall summary and every fit's CPU time.
Progress goes to stderr. Installs statsforecast==2.1.1 with pip if it is missing.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

H, STEP, N_WINDOWS, LENS = 24, 24, 14, (2, 1, 4)
TOL, FLAT_STD = 0.10, 1e-9
BITBRAINS_START = "2013-07-01 00:00:00"


def ensure_statsforecast():
    try:
        import statsforecast  # noqa: F401
        if statsforecast.__version__ == "2.1.1":
            return
    except ImportError:
        pass
    print("forecast_peer: installing statsforecast==2.1.1 with pip", file=sys.stderr)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "statsforecast==2.1.1"])


def load_bitbrains(data_dir):
    import pandas as pd

    path = os.path.join(data_dir, "bitbrains_rnd", "bitbrains_rnd_hourly_cpu.csv.gz")
    df = pd.read_csv(path, usecols=["unique_id", "ds", "y"])
    df["ds"] = pd.to_datetime(df["ds"], format="%Y-%m-%d %H:%M:%S")
    df = df[df["ds"] >= pd.Timestamp(BITBRAINS_START)]
    out = []
    for uid, g in df.groupby("unique_id", sort=False):
        s = g.set_index("ds")["y"].sort_index().asfreq("h").interpolate(limit_area="inside")
        out.append((uid, s.to_numpy(dtype=np.float64)))
    return out


def load_asd(data_dir):
    import pandas as pd

    path = os.path.join(data_dir, "asd", "asd_omi_5min.csv.gz")
    df = pd.read_csv(path, usecols=["unique_id", "step", "m0", "m5"])
    out = []
    for uid, g in df.groupby("unique_id", sort=False):
        g = g.sort_values("step")
        n = len(g) // 12 * 12
        for m in ("m0", "m5"):
            v = g[m].to_numpy(dtype=np.float64)[:n].reshape(-1, 12).mean(axis=1)
            out.append((f"{uid}/{m}", v))
    return out


def train_lens(n):
    """statsforecast's cutoffs: the last window's actuals are the series' last h points."""
    lens = [n - H - (N_WINDOWS - 1 - k) * STEP for k in range(N_WINDOWS)]
    return [t for t in lens if t >= 1]


def window_means(x, L):
    return np.array([x[i:i + L].mean() for i in range(len(x) - L + 1)])


def lowest(means):
    best, at = np.inf, 0
    for i, m in enumerate(means):
        if m < best:  # strict: ties go to the earliest start
            best, at = m, i
    return at


def score(actual, L, start):
    am = window_means(actual, L)
    best_start = lowest(am)
    best = am[best_start]
    rng = actual.max() - actual.min()
    chosen = am[start]
    return (
        float(chosen <= best + TOL * rng),
        float(chosen - best),
        float(chosen > np.percentile(actual, 75)),
        float(start == best_start),
    )


def make_models(names):
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive, SeasonalWindowAverage

    table = {
        "SeasonalNaive(24)": lambda: SeasonalNaive(season_length=24),
        "SeasonalNaive(168)": lambda: SeasonalNaive(season_length=168),
        "SeasonalWindowAverage(24;7)": lambda: SeasonalWindowAverage(season_length=24, window_size=7),
        "AutoETS(24)": lambda: AutoETS(season_length=24),
        "MSTL([24;168];AutoETS-ZZN)": lambda: MSTL(
            season_length=[24, 168], trend_forecaster=AutoETS(model="ZZN")
        ),
    }
    return [(n, table[n]) for n in names]


CHEAP = ["SeasonalNaive(24)", "SeasonalNaive(168)", "SeasonalWindowAverage(24;7)"]
SLOW = ["AutoETS(24)", "MSTL([24;168];AutoETS-ZZN)"]


def forecast_once(model, train):
    """Point and 80 % band; models without an interval (SeasonalWindowAverage) give NaN bands."""
    try:
        r = model.forecast(y=train, h=H, level=[80])
    except Exception:  # noqa: BLE001 - a model that cannot do intervals still gives a point
        r = model.forecast(y=train, h=H)
    point = np.asarray(r["mean"], dtype=np.float64)
    lo = r.get("lo-80")
    hi = r.get("hi-80")
    return point, (None if lo is None else np.asarray(lo)), (None if hi is None else np.asarray(hi))


def new_acc():
    k = len(LENS)
    return {"n": 0, "flat": 0, "failed": 0, "tol": [0.0] * k, "areg": [0.0] * k,
            "busiest": [0.0] * k, "hit": [0.0] * k, "mae": 0.0, "cov": 0.0, "n_cov": 0}


def run_model(series, name, factory, fixed=False):
    per_series, cpu_ms = {}, []
    for uid, y in series:
        acc = new_acc()
        for t in train_lens(len(y)):
            actual = y[t:t + H]
            if np.isnan(actual).any():
                continue
            if actual.std() < FLAT_STD:
                acc["flat"] += 1
                continue
            if fixed:
                starts = [0] * len(LENS)
                point = lo = hi = None
            else:
                train = y[:t]
                model = factory()
                c0 = time.process_time()
                try:
                    point, lo, hi = forecast_once(model, train)
                except Exception as e:  # noqa: BLE001
                    print(f"forecast_peer: {name} failed on {uid} at {t}: {e}", file=sys.stderr)
                    acc["failed"] += 1
                    continue
                cpu_ms.append((time.process_time() - c0) * 1e3)
                starts = [lowest(window_means(point, L)) for L in LENS]
            acc["n"] += 1
            for i, (L, s) in enumerate(zip(LENS, starts)):
                tol, areg, busy, hit = score(actual, L, s)
                acc["tol"][i] += tol
                acc["areg"][i] += areg
                acc["busiest"][i] += busy
                acc["hit"][i] += hit
            if point is not None:
                acc["mae"] += float(np.abs(actual - point).mean())
                if lo is not None and hi is not None:
                    acc["cov"] += float(((actual >= lo) & (actual <= hi)).mean())
                    acc["n_cov"] += 1
        per_series[uid] = acc
    return per_series, cpu_ms


def summarize(per_series, fixed=False):
    tot = new_acc()
    for a in per_series.values():
        for k in ("n", "flat", "failed", "mae", "cov", "n_cov"):
            tot[k] += a[k]
        for k in ("tol", "areg", "busiest", "hit"):
            tot[k] = [x + y for x, y in zip(tot[k], a[k])]
    n = max(tot["n"], 1)
    out = {"series": len(per_series), "n": tot["n"], "flat_excluded": tot["flat"], "failed": tot["failed"]}
    for i, L in enumerate(LENS):
        out[f"tol{L}"] = tot["tol"][i] / n
        out[f"areg{L}"] = tot["areg"][i] / n
        out[f"busiest{L}"] = tot["busiest"][i] / n
        out[f"hit{L}"] = tot["hit"][i] / n
    out["mae"] = None if fixed else tot["mae"] / n
    out["coverage_80"] = tot["cov"] / tot["n_cov"] if tot["n_cov"] else None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data/fleet")
    ap.add_argument("--peer-sample", type=int, default=20,
                    help="series per dataset for AutoETS and MSTL (seeded); 0 = skip them")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datasets", default="bitbrains,asd")
    ap.add_argument("--models", default=",".join(CHEAP + SLOW))
    args = ap.parse_args()
    ensure_statsforecast()
    import statsforecast

    loaders = {"bitbrains": load_bitbrains, "asd": load_asd}
    wanted = [m for m in args.models.split(",") if m]
    result = {
        "tool": "statsforecast",
        "version": statsforecast.__version__,
        "python": sys.version.split()[0],
        "cpu_timer": "time.process_time() around one model.forecast(y, h=24, level=[80]) call",
        "protocol": {"horizon": H, "stride": STEP, "windows": N_WINDOWS, "lens": list(LENS)},
        "datasets": {},
    }
    for ds in [d for d in args.datasets.split(",") if d]:
        t0 = time.perf_counter()
        series = loaders[ds](args.data_dir)
        print(f"forecast_peer: {ds}: {len(series)} series loaded in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        rng = np.random.default_rng(args.seed)
        k = min(args.peer_sample, len(series))
        idx = sorted(rng.choice(len(series), size=k, replace=False).tolist()) if k > 0 else []
        sample = [series[i] for i in idx]
        models = {}
        fixed_ps, _ = run_model(series, "fixed_00h", None, fixed=True)
        models["fixed_00h"] = {"scope": "all", "per_series": fixed_ps,
                               "summary": summarize(fixed_ps, fixed=True), "cpu_ms": []}
        for name, factory in make_models(wanted):
            on = sample if name in SLOW else series
            if not on:
                continue
            t0 = time.perf_counter()
            ps, cpu = run_model(on, name, factory)
            wall = time.perf_counter() - t0
            summ = summarize(ps)
            print(f"forecast_peer: {ds}: {name} on {len(on)} series: tol2 {summ['tol2']:.3f}, "
                  f"{len(cpu)} fits, median {np.median(cpu) if cpu else float('nan'):.2f} ms CPU, "
                  f"{wall:.1f} s wall", file=sys.stderr)
            models[name] = {"scope": "sample" if name in SLOW else "all", "per_series": ps,
                            "summary": summ, "cpu_ms": cpu, "wall_s": wall}
        result["datasets"][ds] = {
            "series": len(series),
            "sample": [s[0] for s in sample],
            "sample_seed": args.seed,
            "models": models,
        }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
