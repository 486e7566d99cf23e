#!/usr/bin/env python3
"""Peer side of `skua bench fleet`: the same work done with pandas + statsforecast.

Measured, on the Bitbrains hourly file (1,015,860 rows, 500 VMs):
  1. ingest+validate: pandas.read_csv of the gz file, timestamp parsing, then the checks skua's
     validation makes (duplicates, order, sampling interval, gaps, non-finite, range) per series;
  2. forecast: fit+predict 24 h ahead for every VM with statsforecast's equivalents of skua's
     baselines (SeasonalNaive(24) = previous_day, SeasonalNaive(168) = previous_week,
     SeasonalWindowAverage(24, 7) = mean_7d), n_jobs=1, CPU time by time.process_time().
Prints one JSON object on stdout. Installs nothing itself: `skua bench fleet --peer` runs
`pip install statsforecast==2.1.1 pandas` first if they are missing.
"""
import json
import sys
import time

import numpy as np
import pandas as pd


def ingest_validate(path):
    t0 = time.perf_counter()
    c0 = time.process_time()
    df = pd.read_csv(path, usecols=["unique_id", "ds", "y"])
    df["ds"] = pd.to_datetime(df["ds"], format="%Y-%m-%d %H:%M:%S")
    problems = 0
    series = 0
    for _, g in df.groupby("unique_id", sort=False):
        series += 1
        ts = g["ds"].to_numpy()
        d = np.diff(ts).astype("timedelta64[s]").astype(np.int64)
        problems += int((d <= 0).sum())  # duplicates / out of order
        pos = d[d > 0]
        step = int(pd.Series(pos).mode().iloc[0]) if len(pos) else 0
        if step > 0:
            gaps = pos[pos > step]
            problems += len(gaps)
        y = g["y"].to_numpy()
        problems += int((~np.isfinite(y)).sum()) + int(((y < 0) | (y > 100)).sum())
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {"rows": int(len(df)), "series": series, "wall_s": wall, "cpu_s": cpu, "problems": problems}, df


def forecast_all(df):
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive, SeasonalWindowAverage

    # Regular hourly grid with the month-boundary gaps filled by interpolation (statsforecast
    # needs a gap-free grid), as the fleet benchmark protocol prescribes.
    frames = []
    for uid, g in df.groupby("unique_id", sort=False):
        s = g.set_index("ds")["y"].asfreq("h").interpolate(limit_direction="both")
        frames.append(pd.DataFrame({"unique_id": uid, "ds": s.index, "y": s.to_numpy()}))
    grid = pd.concat(frames, ignore_index=True)
    out = {}
    for name, model in [
        ("previous_day", SeasonalNaive(season_length=24)),
        ("previous_week", SeasonalNaive(season_length=168)),
        ("mean_7d", SeasonalWindowAverage(season_length=24, window_size=7)),
    ]:
        sf = StatsForecast(models=[model], freq="h", n_jobs=1)
        c0 = time.process_time()
        t0 = time.perf_counter()
        fc = sf.forecast(df=grid, h=24)
        out[name] = {
            "cpu_s": time.process_time() - c0,
            "wall_s": time.perf_counter() - t0,
            "series": int(fc["unique_id"].nunique()),
        }
    return out


def main():
    path = sys.argv[1]
    ingest, df = ingest_validate(path)
    result = {"peer": "pandas " + pd.__version__, "ingest": ingest}
    try:
        import statsforecast

        result["forecast_peer"] = "statsforecast " + statsforecast.__version__
        result["forecast"] = forecast_all(df)
    except ImportError as e:
        result["forecast_error"] = str(e)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
