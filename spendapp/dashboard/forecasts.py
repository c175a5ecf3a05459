"""Forecasts for the pages, on the pure `forecasting` core with history from the rollup.

A forecast costs about a second (every candidate is backtested), so results are cached by the
exact history they were fitted on: new data gives a new key, the same data never refits.
When `forecasting.runs` stores scheduled runs, the pages can read those instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.core.cache import cache

from forecasting import Forecast, ForecastError, PeriodProjection, forecast, project_period
from spendapp.dashboard.queries import SpendHistory

CACHE_SECONDS = 6 * 3600
MIN_POINTS = 14  # two weeks: one weekly season to learn from and one to check it on
LEVELS = (80, 95)


def daily_series(values: dict[date, object], first: date, last: date) -> pd.Series:
    """Float series over every day of [first, last]; days without rows are 0 (no usage)."""
    index = pd.date_range(first, last, freq="D")
    data = [float(values.get(day.date(), 0)) for day in index]
    return pd.Series(data, index=index, dtype=float)


def history_series(history: SpendHistory, last: date) -> pd.Series | None:
    """Best-known daily spend from the first day with data up to ``last``."""
    days = [d for d in history.by_day if d <= last]
    if not days:
        return None
    totals = {day: spend.total for day, spend in history.by_day.items()}
    return daily_series(totals, min(days), last)


def cached_forecast(y: pd.Series, horizon: int, **options) -> Forecast:
    digest = hashlib.sha256(
        y.to_numpy().tobytes() + str((y.index[0], horizon, sorted(options.items()))).encode()
    ).hexdigest()
    key = f"dashboard:forecast:{digest}"
    found = cache.get(key)
    if found is None:
        found = forecast(y, horizon=horizon, levels=LEVELS, **options)
        cache.set(key, found, CACHE_SECONDS)
    return found


@dataclass(frozen=True)
class MonthEnd:
    projection: PeriodProjection
    forecast: Forecast
    actuals_until: date


def month_end(history: SpendHistory, today: date) -> MonthEnd | str:
    """Projected month-end spend with 80/95% intervals, or why there is none.

    Today is partial (usage of the last hours is still arriving), so actuals stop yesterday
    (or at the last synced day) and the forecast covers the rest of the month.
    """
    month_start = today.replace(day=1)
    month_last = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if history.last_day is None:
        return "no spend data yet"
    last = min(history.last_day, today - timedelta(days=1))
    y = history_series(history, last)
    if y is None or len(y) < MIN_POINTS:
        return f"the projection needs at least {MIN_POINTS} days of history"
    horizon = (month_last - last).days
    if horizon < 1:
        return "the month is complete"
    try:
        fc = cached_forecast(y, horizon)
        projection = project_period(
            y, fc, start=month_start, end=month_last, levels=LEVELS, n_paths=1000
        )
    except ForecastError as exc:
        return str(exc)
    return MonthEnd(projection, fc, last)


@dataclass(frozen=True)
class Hindcast:
    """A forecast made as if on ``origin`` (from the data up to then), against what came."""

    origin: date
    forecast: Forecast
    actual: pd.Series
    mape: float | None  # mean absolute percentage error over the compared days

    @property
    def label(self) -> str:
        return f"Forecast of {self.origin:%Y-%m-%d}"


def hindcasts(y: pd.Series, origins_back=(56, 28), horizon: int = 28) -> list[Hindcast]:
    """Past "runs" replayed: forecasts from 8 and 4 weeks ago, scored on what happened."""
    out = []
    for back in origins_back:
        cut = len(y) - back
        if cut < MIN_POINTS:
            continue
        steps = min(horizon, back)
        try:
            fc = cached_forecast(y.iloc[:cut], steps)
        except ForecastError:
            continue
        actual = y.iloc[cut : cut + steps]
        mean = fc.mean.reindex(actual.index).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            ape = np.abs(actual.to_numpy() - mean) / np.abs(actual.to_numpy())
        ape = ape[np.isfinite(ape)]
        mape = float(ape.mean()) if len(ape) else None
        out.append(Hindcast(y.index[cut - 1].date(), fc, actual, mape))
    return out


def backtest_table(fc: Forecast) -> list[dict]:
    """The candidates' backtest scores (MASE < 1 beats seasonal naive), chosen one first."""
    if fc.scores is None or fc.scores.empty:
        return []
    frame = fc.scores.sort_values(["chosen", "mase"], ascending=[False, True])
    rows = []
    for record in frame.to_dict("records"):
        rows.append(
            {
                "model": record["model"],
                "mase": _finite(record.get("mase")),
                "relative_mase": _finite(record.get("relative_mase")),
                "coverage": _finite(record.get("coverage")),
                "chosen": bool(record.get("chosen")),
            }
        )
    return rows


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None
