"""Peer benchmark: ``forecasting.forecast`` against statsforecast on the same protocol.

Run as ``python -m benchmarks accuracy [-- --synthetic 40 --workers 2]`` in a virtual
environment of its own with ``pip install -e '.[bench]'`` (statsforecast and the packages that
ship the real series; statsforecast needs pandas < 3, so it would downgrade the app's pandas).

Protocol (issue #13): horizon 28 days (``--horizon``), 3 rolling origins as far apart, ending
at the end of each series; every method forecasts from the same history. Per series and origin the
*relative MASE* is the method's mean absolute error divided by seasonal naive's (period 7) on
the same 28 days (the in-sample MASE scale cancels); the figure printed is its geometric mean
over origins and series. Coverage is the share of the 28 x origins x series actuals inside
the 80% and 95% bands. Seconds are per series and origin, fit plus forecast, in one worker.

Sets: ``synthetic`` (spend-like series, `benchmarks.accuracy_data.spend_like`), ``real``
(13 daily series from packaged data, `benchmarks.accuracy_data.real_series`), and the real
series split into ``dev`` and ``held-out`` (not looked at while choosing the methods).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.accuracy_data import HELD_OUT, real_series, spend_like  # noqa: E402

HORIZON = 28
ORIGINS = 3
SEASON = 7
LEVELS = (80, 95)
PEERS = ("AutoTheta", "AutoETS", "AutoARIMA", "MSTL", "SeasonalNaive")


def _peer(name: str):
    from statsforecast import models

    if name == "MSTL":
        return models.MSTL(season_length=SEASON, trend_forecaster=models.AutoETS(model="ZZN"))
    return getattr(models, name)(season_length=SEASON)


def _ours(history: pd.Series, horizon: int) -> dict[str, np.ndarray]:
    from forecasting import forecast

    fc = forecast(history, horizon=horizon, levels=LEVELS)
    out = {"mean": fc.mean.to_numpy(), "model": fc.model}
    for level in LEVELS:
        out[f"lo-{level}"] = fc.lower[level].to_numpy()
        out[f"hi-{level}"] = fc.upper[level].to_numpy()
    return out


def _theirs(name: str, history: pd.Series, horizon: int) -> dict[str, np.ndarray]:
    values = history.fillna(0.0).to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _peer(name).forecast(y=values, h=horizon, level=list(LEVELS))


def _score(pred: dict, actual: np.ndarray) -> dict[str, float]:
    row = {"mae": float(np.mean(np.abs(actual - pred["mean"])))}
    for level in LEVELS:
        inside = (actual >= pred[f"lo-{level}"]) & (actual <= pred[f"hi-{level}"])
        row[f"cover-{level}"] = float(np.mean(inside))
    return row


def evaluate(task: tuple[str, str, pd.Series, int, int, tuple[str, ...]]) -> list[dict]:
    """All methods on one series and origin: one row per method."""
    group, name, series, k, horizon, peers = task
    cut = len(series) - k * horizon
    history, actual = series.iloc[:cut], series.iloc[cut : cut + horizon].fillna(0.0).to_numpy()
    rows = []
    for method in ("forecast()", *peers):
        start = time.process_time()
        try:
            if method == "forecast()":
                pred = _ours(history, horizon)
            else:
                pred = _theirs(method, history, horizon)
            row = _score(pred, actual) | {"model": pred.get("model", "")}
        except Exception as exc:  # a peer failing on a series is a result, not a crash
            row = {"mae": np.nan, "error": f"{type(exc).__name__}: {exc}"}
        seconds = time.process_time() - start
        rows.append(
            {"set": group, "series": name, "origin": k, "method": method}
            | row
            | {"seconds": seconds}
        )
    return rows


def _warm_up() -> None:
    # statsforecast compiles its models with numba on first use; keep that out of the timings.
    values = pd.Series(
        np.arange(120.0) % 7 + 10, index=pd.date_range("2024-01-01", periods=120, freq="D")
    )
    for method in PEERS:
        _theirs(method, values, HORIZON)


def _init() -> None:
    _warm_up()


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Relative MASE (geometric mean), coverage and seconds per set and method."""
    base = rows[rows["method"] == "SeasonalNaive"].set_index(["series", "origin"])["mae"]
    rows = rows.join(base.rename("snaive_mae"), on=["series", "origin"])
    rows = rows[rows["snaive_mae"] > 0]
    rows = rows.assign(rel=rows["mae"] / rows["snaive_mae"])
    out = []
    for (group, method), part in rows.groupby(["set", "method"], sort=False):
        rel = part["rel"].dropna()
        out.append(
            {
                "set": group,
                "method": method,
                "series": part["series"].nunique(),
                "relative MASE": float(np.exp(np.mean(np.log(np.maximum(rel, 1e-6))))),
                "80% covers": part["cover-80"].mean(),
                "95% covers": part["cover-95"].mean(),
                "s/series": part["seconds"].mean(),
                "failed": int(part["mae"].isna().sum()),
            }
        )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic series")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=None, help="write per-origin rows here")
    parser.add_argument(
        "--horizon", type=int, default=HORIZON, help="days forecast (origins as far apart)"
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="comma-separated statsforecast models (SeasonalNaive is always run: the scale)",
    )
    args = parser.parse_args()
    peers = tuple(p for p in args.peers.split(",") if p and p != "SeasonalNaive")
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"--peers: unknown {', '.join(sorted(unknown))}; choose from {PEERS}")
    peers += ("SeasonalNaive",)
    named = [("synthetic", spend_like(seed)) for seed in range(args.synthetic)]
    named += [("held-out" if s.name in HELD_OUT else "dev", s) for s in real_series()]
    tasks = [
        (group, series.name, series, k, args.horizon, peers)
        for group, series in named
        for k in range(ORIGINS, 0, -1)
    ]
    start = time.perf_counter()
    with get_context("spawn").Pool(args.workers, initializer=_init) as pool:
        rows = [row for chunk in pool.imap_unordered(evaluate, tasks) for row in chunk]
    wall = time.perf_counter() - start
    frame = pd.DataFrame(rows)
    real = frame[frame["set"].isin(["dev", "held-out"])].assign(set="real")
    table = summarise(pd.concat([frame, real]))
    order = {"synthetic": 0, "real": 1, "dev": 2, "held-out": 3}
    table = table.sort_values(["set", "relative MASE"], key=lambda c: c.map(order).fillna(c))
    print(
        f"horizon {args.horizon}, {ORIGINS} origins, {args.synthetic} synthetic + "
        f"{frame[frame['set'] != 'synthetic']['series'].nunique()} real series, "
        f"{args.workers} workers, wall {wall:.0f} s, load average "
        + " ".join(f"{v:.1f}" for v in os.getloadavg())
    )
    with pd.option_context("display.width", 120, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    ours = frame[frame["method"] == "forecast()"]
    print(
        "forecast() chose:",
        ours["model"].map(lambda m: str(m).split("(")[0]).value_counts().to_dict(),
    )
    failures = frame[frame["mae"].isna()]
    for _, row in failures.iterrows():
        print(f"failed: {row['method']} on {row['series']} origin {row['origin']}: {row['error']}")
    if args.csv:
        frame.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
