"""Period projections: period-end spend, budget crossing date, probability of overspend.

All three figures come from the same simulated sample paths of the remaining days
(`Forecast.sample_paths`), so they are mutually consistent: the probability of ending over
budget equals the share of paths that cross the budget before the period ends, and the
crossing-date quantiles are taken over the same paths. A budget is *crossed* on the first day
the cumulative spend reaches or exceeds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.core import Forecast
from forecasting.errors import ForecastError

_PERIODS = {"month": "MS", "quarter": "QS", "year": "YS"}


def period_bounds(when: object, period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the month, quarter or year containing ``when``.

    Parameters
    ----------
    when : date-like
    period : {"month", "quarter", "year"}
    """
    if period not in _PERIODS:
        raise ForecastError(f"period: must be one of {tuple(_PERIODS)}, got {period!r}")
    day = pd.Timestamp(when).normalize()
    start = pd.Timestamp(day.to_period(_PERIODS[period][0]).start_time)
    end = pd.Timestamp(day.to_period(_PERIODS[period][0]).end_time).normalize()
    return start, end


@dataclass(frozen=True)
class PeriodProjection:
    """Projected spend for one period.

    ``total`` is actuals so far plus the mean forecast of the remaining days; ``median`` the
    middle of the simulated period totals (inside every interval by construction: with a
    skewed forecast distribution the mean can sit outside the band); ``lower`` and ``upper``
    hold the interval of the total per level. Crossing dates are ``None`` when fewer
    paths than the quantile cross within the period (e.g. no median date when the probability
    of crossing is below 50%).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    actual_to_date: float
    forecast_rest: float
    total: float
    lower: dict[float, float] = field(default_factory=dict)
    upper: dict[float, float] = field(default_factory=dict)
    budget: float | None = None
    prob_over_budget: float | None = None
    crossing_date: pd.Timestamp | None = None
    crossing_low: pd.Timestamp | None = None
    crossing_high: pd.Timestamp | None = None
    median: float | None = None


def _crossing_quantile(days: np.ndarray, q: float, dates: pd.DatetimeIndex):
    value = np.quantile(days, q, method="lower")
    return None if not np.isfinite(value) else dates[int(value)]


def project_period(
    actuals: pd.Series,
    fc: Forecast,
    *,
    start: object,
    end: object,
    budget: float | None = None,
    levels: Sequence[float] = (80,),
    n_paths: int = 2000,
    seed: int = 0,
) -> PeriodProjection:
    """Project the spend of the period ``[start, end]`` and its budget outlook.

    Parameters
    ----------
    actuals : pandas.Series
        Actual daily spend on a DatetimeIndex (missing days count as 0).
    fc : Forecast
        Forecast of the same series starting the day after the last actual.
    start, end : date-like
        First and last day of the period (inclusive).
    budget : float, optional
        Budget for the whole period.
    levels : sequence of float
        Interval levels (percent) for the period total.
    n_paths : int
        Number of simulated paths.
    seed : int
        Seed of the path simulation.

    Returns
    -------
    PeriodProjection
    """
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if end < start:
        raise ForecastError(f"end: {end.date()} is before start {start.date()}")
    if not isinstance(actuals, pd.Series) or not isinstance(actuals.index, pd.DatetimeIndex):
        raise ForecastError("actuals: must be a pandas Series with a DatetimeIndex")
    if budget is not None and not budget >= 0:
        raise ForecastError(f"budget: must be a non-negative amount, got {budget!r}")
    days = pd.date_range(start, end, freq="D")
    observed = actuals.astype(float).groupby(actuals.index.normalize()).sum()
    last = observed.index.max() if len(observed) else start - pd.Timedelta(days=1)
    done = days[days <= last]
    rest = days[days > last]
    daily = observed.reindex(done, fill_value=0.0).to_numpy()
    if len(rest) and not rest.isin(fc.mean.index).all():
        raise ForecastError(
            f"fc: forecast covers {fc.mean.index.min().date()}..{fc.mean.index.max().date()}, "
            f"period needs {rest[0].date()}..{rest[-1].date()}"
        )
    paths = fc.sample_paths(n_paths, seed=seed)[rest].to_numpy() if len(rest) else None
    cumulative = np.cumsum(
        np.concatenate(
            [
                np.broadcast_to(daily, (n_paths, len(daily))),
                paths if paths is not None else np.zeros((n_paths, 0)),
            ],
            axis=1,
        ),
        axis=1,
    )
    totals = cumulative[:, -1] if cumulative.shape[1] else np.zeros(n_paths)
    actual_to_date = float(daily.sum())
    forecast_rest = float(fc.mean[rest].sum()) if len(rest) else 0.0
    result = {
        "start": start,
        "end": end,
        "actual_to_date": actual_to_date,
        "forecast_rest": forecast_rest,
        "total": actual_to_date + forecast_rest,
        "median": float(np.median(totals)) if len(rest) else actual_to_date,
        "lower": {lv: float(np.quantile(totals, 0.5 - lv / 200)) for lv in levels},
        "upper": {lv: float(np.quantile(totals, 0.5 + lv / 200)) for lv in levels},
    }
    if budget is not None:
        crossed = cumulative >= budget
        first = np.where(crossed.any(axis=1), np.argmax(crossed, axis=1), np.inf)
        result.update(
            budget=float(budget),
            prob_over_budget=float(np.mean(crossed.any(axis=1))),
            crossing_date=_crossing_quantile(first, 0.5, days),
            crossing_low=_crossing_quantile(first, 0.1, days),
            crossing_high=_crossing_quantile(first, 0.9, days),
        )
    return PeriodProjection(**result)
