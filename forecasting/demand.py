"""Demand forecasting across many series, and pricing of the forecast demand.

`forecast_demand` forecasts every measure (tokens, requests) of every series of a long frame.
`price_demand` turns demand into spend with a price table.

Totals and intervals
--------------------
Mean spend is linear in demand, so series and total means are exact sums of their parts.
Intervals are not additive: summing bounds assumes every series is at its extreme together
and overstates the total's interval. Intervals come from sample paths instead:

* within a series, the measures share their random draws (comonotone), because input, cached
  and output tokens move together;
* across series, paths are independent by default (``dependence="independent"``), which is
  right for unrelated workloads and a lower bound when series share a driver;
  ``dependence="comonotone"`` gives the fully dependent upper bound (close to summing bounds).

Money: forecasts are estimates, so pricing uses float internally. `SpendForecast.summary`
presents horizon totals as ``Decimal`` rounded to cents, with the grand total defined as the
sum of the rounded parts so that what users see adds up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from forecasting.core import Forecast, forecast
from forecasting.errors import ForecastError

MEASURES = ("input_tokens", "cached_input_tokens", "output_tokens", "requests")
PRICE_KEYS = {
    "input_tokens": "input",
    "cached_input_tokens": "cached_input",
    "output_tokens": "output",
    "requests": "request",
}
CENT = Decimal("0.01")


def to_cents(amount: float | Decimal) -> Decimal:
    """Round an amount to cents (half up) as a Decimal."""
    return Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DemandForecast:
    """Forecasts of every (series, measure).

    Attributes
    ----------
    frame : pandas.DataFrame
        Long frame: key columns, ``measure``, ``date``, ``mean``, ``lower_L``, ``upper_L``.
    forecasts : dict
        ``(*key values, measure) -> Forecast``.
    failed : dict
        ``(*key values, measure) -> message`` for series that could not be forecast.
    """

    frame: pd.DataFrame
    forecasts: dict[tuple, Forecast]
    keys: tuple[str, ...]
    levels: tuple[float, ...]
    failed: dict[tuple, str] = field(default_factory=dict)


def _one(task: tuple) -> tuple[tuple, Forecast | str]:
    label, series, options = task
    try:
        return label, forecast(series, **options)
    except ForecastError as exc:
        return label, str(exc)


def _tasks(frame, keys, measures, date, options):
    for group, part in frame.groupby(list(keys), sort=True, dropna=False):
        group = group if isinstance(group, tuple) else (group,)
        daily = part.groupby(date)[list(measures)].sum()
        daily.index = pd.DatetimeIndex(daily.index)
        for measure in measures:
            yield (*group, measure), daily[measure], options


def forecast_demand(
    frame: pd.DataFrame,
    *,
    keys: Sequence[str],
    measures: Sequence[str] | None = None,
    date: str = "date",
    horizon: int,
    levels: Sequence[float] = (80, 95),
    workers: int = 1,
    **options,
) -> DemandForecast:
    """Forecast each measure of each series of a long usage frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per date and series, e.g. columns ``date, provider, model, project,
        input_tokens, cached_input_tokens, output_tokens, requests``.
    keys : sequence of str
        Columns identifying a series.
    measures : sequence of str, optional
        Columns to forecast; default the known measures present in ``frame``.
    date : str
        Name of the date column.
    horizon : int
        Days to forecast.
    levels : sequence of float
        Interval levels in percent.
    workers : int
        Processes to use (1 = in process).
    **options
        Passed to `forecasting.forecast`.

    Returns
    -------
    DemandForecast
    """
    if not isinstance(frame, pd.DataFrame):
        raise ForecastError("frame: must be a pandas DataFrame")
    missing = [c for c in [date, *keys] if c not in frame.columns]
    if missing:
        raise ForecastError(f"frame: missing columns {missing}")
    measures = tuple(measures or [m for m in MEASURES if m in frame.columns])
    absent = [m for m in measures if m not in frame.columns]
    if not measures or absent:
        raise ForecastError(f"measures: columns not in frame: {absent or 'none given'}")
    options = {**options, "horizon": horizon, "levels": tuple(levels)}
    tasks = list(_tasks(frame, keys, measures, date, options))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_one, tasks, chunksize=max(1, len(tasks) // (8 * workers))))
    else:
        results = [_one(task) for task in tasks]
    forecasts = {label: fc for label, fc in results if isinstance(fc, Forecast)}
    failed = {label: fc for label, fc in results if isinstance(fc, str)}
    parts = []
    for label, fc in forecasts.items():
        part = fc.to_frame().rename_axis("date").reset_index()
        for name, value in zip((*keys, "measure"), label, strict=True):
            part.insert(0, name, value)
        parts.append(part)
    columns = [*keys, "measure", "date", "mean"]
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    long = long[[*keys, "measure", *[c for c in long.columns if c not in (*keys, "measure")]]]
    return DemandForecast(long, forecasts, tuple(keys), tuple(levels), failed)


def unit_prices(prices: Mapping, model: str, *, cached_in_input: bool = True) -> dict:
    """Price per unit of each measure for ``model`` (float).

    With ``cached_in_input`` (OpenAI convention: cached tokens are part of ``input_tokens``),
    cached tokens are charged the cached rate *instead of* the input rate, so their
    coefficient on the cached measure is ``cached - input``.
    """
    if model not in prices:
        raise ForecastError(f"prices: no price for model {model!r}")
    table = prices[model]
    if "input" not in table or "output" not in table:
        raise ForecastError(f"prices[{model!r}]: needs 'input' and 'output' prices")
    p_in = float(table["input"])
    p_cached = float(table.get("cached_input", table["input"]))
    return {
        "input_tokens": p_in,
        "cached_input_tokens": p_cached - p_in if cached_in_input else p_cached,
        "output_tokens": float(table["output"]),
        "requests": float(table.get("request", 0.0)),
    }


def generative(price: Mapping) -> bool:
    """Whether a model can take chat and agent work, so traffic may move to it: anything but
    a model priced for input only (embedding and moderation models: an input price, output
    priced 0). They are often the cheapest of the small tier, but cannot answer a prompt."""
    return not (float(price.get("output", 0)) == 0 and float(price.get("input", 0)) > 0)


@dataclass(frozen=True)
class SpendForecast:
    """Priced demand: per-series and total daily spend with intervals (floats)."""

    by_series: pd.DataFrame
    total: pd.DataFrame
    keys: tuple[str, ...]

    def summary(self) -> pd.DataFrame:
        """Horizon spend per series and the total, as Decimal cents that add up."""
        sums = self.by_series.groupby(list(self.keys), dropna=False)["mean"].sum()
        rows = [(*(k if isinstance(k, tuple) else (k,)), to_cents(v)) for k, v in sums.items()]
        frame = pd.DataFrame(rows, columns=[*self.keys, "spend"])
        total = sum(frame["spend"], Decimal("0.00"))
        label = {k: "TOTAL" if i == 0 else "" for i, k in enumerate(self.keys)}
        return pd.concat([frame, pd.DataFrame([{**label, "spend": total}])], ignore_index=True)


def price_demand(
    demand: DemandForecast,
    prices: Mapping[str, Mapping[str, float | Decimal]],
    *,
    model_key: str = "model",
    levels: Sequence[float] | None = None,
    n_paths: int = 1000,
    seed: int = 0,
    dependence: str = "independent",
    cached_in_input: bool = True,
) -> SpendForecast:
    """Spend forecast per series and in total from a demand forecast and a price table.

    Parameters
    ----------
    demand : DemandForecast
    prices : mapping
        ``model -> {"input", "cached_input", "output", "request"} -> price per unit``.
    model_key : str
        Key column holding the model name.
    levels : sequence of float, optional
        Interval levels; default the demand forecast's.
    n_paths : int
        Sample paths per series.
    seed : int
        Seed of the path simulation.
    dependence : {"independent", "comonotone"}
        How series co-vary in the total's interval (see module docstring).
    cached_in_input : bool
        Whether ``input_tokens`` includes ``cached_input_tokens``.

    Returns
    -------
    SpendForecast
    """
    if model_key not in demand.keys:
        raise ForecastError(f"model_key: {model_key!r} is not one of the keys {demand.keys}")
    if dependence not in ("independent", "comonotone"):
        raise ForecastError(
            f"dependence: must be 'independent' or 'comonotone', got {dependence!r}"
        )
    levels = tuple(levels or demand.levels)
    series: dict[tuple, list[tuple[str, Forecast]]] = {}
    for label, fc in demand.forecasts.items():
        series.setdefault(label[:-1], []).append((label[-1], fc))
    rows, total_paths, total_mean = [], None, None
    for i, (key, parts) in enumerate(sorted(series.items(), key=lambda kv: str(kv[0]))):
        coef = unit_prices(
            prices, key[demand.keys.index(model_key)], cached_in_input=cached_in_input
        )
        path_seed = seed if dependence == "comonotone" else seed + i
        mean = sum(coef[m] * fc.mean for m, fc in parts if m in coef)
        paths = sum(
            coef[m] * fc.sample_paths(n_paths, seed=path_seed) for m, fc in parts if m in coef
        )
        paths = np.clip(np.asarray(paths, dtype=float), 0.0, None)
        rows.append(
            _bounds_frame(mean, paths, levels).assign(**dict(zip(demand.keys, key, strict=True)))
        )
        total_paths = paths if total_paths is None else total_paths + paths
        total_mean = mean if total_mean is None else total_mean + mean
    if not rows:
        raise ForecastError("demand: no series could be forecast")
    by_series = pd.concat(rows).rename_axis("date").reset_index()
    by_series = by_series[[*demand.keys, *[c for c in by_series if c not in demand.keys]]]
    total = _bounds_frame(total_mean, total_paths, levels)
    return SpendForecast(by_series, total.rename_axis("date"), demand.keys)


def _bounds_frame(mean: pd.Series, paths: np.ndarray, levels: Sequence[float]) -> pd.DataFrame:
    data = {"mean": mean.to_numpy()}
    for level in levels:
        lo = np.quantile(paths, 0.5 - level / 200, axis=0)
        hi = np.quantile(paths, 0.5 + level / 200, axis=0)
        data[f"lower_{level}"] = np.minimum(lo, data["mean"])
        data[f"upper_{level}"] = np.maximum(hi, data["mean"])
    return pd.DataFrame(data, index=mean.index)
