"""Benchmark: model selection with rolling-origin backtests on many daily series.

Run as ``python benchmarks/forecast_bench.py [--series 1000] [--days 730] [--workers 2]``.
Prints wall time, CPU seconds of the workers (steadier than wall time on a shared machine; the
load average is printed too), peak memory (parent + largest child, from ``resource.getrusage``)
and fit seconds per series for each candidate model, so slow candidates are visible. Every
forecast includes the conformal calibration of its bands (`forecasting.calibration`).
"""

from __future__ import annotations

import os

# One BLAS thread per worker: with 2 workers on 2 cores, threaded BLAS only adds contention.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting import ForecastError, forecast  # noqa: E402


def make_series(seed: int, days: int) -> pd.Series:
    """Usage-like daily series: trend, weekly season, noise, some shifts, spikes and gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = rng.lognormal(4, 1)
    y = level * (1 + rng.uniform(-0.3, 1.5) * t / days)
    y = y * (1 + rng.uniform(0, 0.5) * (np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6))))
    y = y + rng.normal(0, rng.uniform(0.05, 0.3) * level, days)
    if rng.random() < 0.3:
        y[rng.integers(days // 2, days - 30) :] *= rng.uniform(0.5, 2.0)
    if rng.random() < 0.2:
        y[rng.integers(0, days)] *= 10
    if rng.random() < 0.2:
        y[: rng.integers(30, days - 60)] = 0.0
    y = np.clip(y, 0, None)
    series = pd.Series(y, index=pd.date_range("2024-01-01", periods=days, freq="D"))
    if rng.random() < 0.2:
        series = series.drop(series.sample(10, random_state=seed).index)
    return series


def run_one(task: tuple[int, int, int]) -> tuple[str, dict[str, float], list[str]]:
    seed, days, horizon = task
    try:
        fc = forecast(make_series(seed, days), horizon=horizon)
    except ForecastError as exc:
        return f"error: {exc}", {}, []
    seconds = {
        _family(m): s
        for m, s in zip(fc.scores["model"], fc.scores["seconds"], strict=True)
        if not m.startswith(("combo", "median"))
    }
    return fc.model, seconds, [r.model for r in fc.rejected]


def _family(name: str) -> str:
    return name.split("(")[0] if name.startswith(("arima", "median")) else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tasks = [(seed, args.days, args.horizon) for seed in range(args.series)]
    start = time.perf_counter()
    with get_context("spawn").Pool(args.workers, maxtasksperchild=200) as pool:
        results = list(pool.imap_unordered(run_one, tasks, chunksize=5))
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    per_candidate: dict[str, list[float]] = defaultdict(list)
    rejected: dict[str, int] = defaultdict(int)
    for _, seconds, rejects in results:
        for name, value in seconds.items():
            per_candidate[name].append(value)
        for name in rejects:
            rejected[_family(name)] += 1
    chosen = pd.Series([model for model, _, _ in results]).map(_family).value_counts()
    print(
        f"series: {args.series} x {args.days} days, horizon {args.horizon}, {args.workers} workers"
    )
    print(f"wall time: {wall:.1f} s ({wall / args.series * 1000:.0f} ms/series)")
    print(
        f"CPU time of the workers: {cpu:.1f} s ({cpu / args.series * 1000:.0f} ms/series; "
        f"{cpu / args.workers:.1f} s wall on {args.workers} idle cores); load average "
        + " ".join(f"{v:.1f}" for v in os.getloadavg())
    )
    # ru_maxrss of children is the largest single child; with N workers the concurrent peak
    # is at most parent + N x largest child.
    print(
        f"peak RSS: parent {self_mb:.0f} MB, largest child {child_mb:.0f} MB, "
        f"bound parent + {args.workers} x child = {self_mb + args.workers * child_mb:.0f} MB"
    )
    print("seconds per series per candidate (fit + backtest + final forecast, single core):")
    for name, values in sorted(per_candidate.items(), key=lambda kv: -np.mean(kv[1])):
        print(
            f"  {name:<16} {np.mean(values):.4f} s  (accepted on {len(values)} series, "
            f"rejected on {rejected.get(name, 0)})"
        )
    print("chosen models:")
    for name, count in chosen.items():
        print(f"  {name:<60} {count}")


if __name__ == "__main__":
    main()
