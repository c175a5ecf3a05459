"""A period's projection: the one service behind every "where will this month end" figure.

The overview card, the budgets page and their alerts, the weekly digest, the scenarios page
and ``manage.py forecast --json`` all call `period_projection`, so the same question gets the
same number everywhere, to the cent:

* the period is the org calendar's (`spendapp.usage.calendar`, in ``ORG_TIME_ZONE``);
* actuals are spend (`spendapp.usage.spend`'s one number) of the period's complete days,
  up to the last complete day (``as_of``);
* the rest of the period is the stored total spend forecast of the scope made on ``as_of``
  (`forecasting.runs.forecasts`); `forecasting.project_period` adds them and draws the
  interval, the budget crossing date and the probability of ending over budget from the
  forecast's sample paths.

A page view never fits a forecast (``compute=False``): without a stored one the projection
says why, and the page offers the explicit action. Evaluations, tasks and commands pass
``compute=True`` and store the forecast they fit, for the pages to read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from forecasting import Forecast, ForecastError, project_period
from forecasting.runs.forecasts import scope_key, stored_forecast, total_series
from forecasting.runs.history import _window, default_as_of, spend_history
from spendapp.usage.calendar import Period, period_containing
from spendapp.usage.sync import first_syncs_running

CENT = Decimal("0.01")
LEVEL = 80  # the interval every projection shows

# A scope's daily spend: (first day, last day) -> float dollars per day (days without spend
# may be absent). Budgets pass one for scopes the filters cannot express (a team).
History = Callable[[date, date], pd.Series]


def cents(value: float | None) -> Decimal | None:
    """Dollars rounded half up to the cent: how every projection figure is shown."""
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(value)).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Projection:
    """Where a period's spend will end, or why that is not known yet (``note``)."""

    period: Period
    as_of: date | None  # last complete day of actuals
    actual_to_date: Decimal  # spend of the period's complete days, to the cent
    total: Decimal | None = None  # projected period total, to the cent
    lower_80: Decimal | None = None
    upper_80: Decimal | None = None
    budget: Decimal | None = None
    prob_over: float | None = None  # 0..1; None without a budget
    crossing_date: date | None = None  # the day the budget is expected to be crossed
    forecast: Forecast | None = None  # the daily forecast of the period's rest
    note: str = ""

    @property
    def ready(self) -> bool:
        return self.total is not None

    @property
    def forecast_rest(self) -> Decimal | None:
        return None if self.total is None else self.total - self.actual_to_date

    @property
    def prob_over_pct(self) -> int | None:
        """P(over budget) as a whole percentage (0-100), as every page prints it."""
        return None if self.prob_over is None else round(self.prob_over * 100)

    def as_json(self) -> dict:
        """``manage.py forecast --json``'s ``month_projection`` (money as decimal strings)."""
        text = lambda v: None if v is None else str(v)  # noqa: E731
        return {
            "month" if self.period.kind == "month" else self.period.kind: (
                f"{self.period.start:%Y-%m}" if self.period.kind == "month" else self.period.label
            ),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "actual_to_date": str(self.actual_to_date),
            "projected_total": text(self.total),
            "lower_80": text(self.lower_80),
            "upper_80": text(self.upper_80),
        }


def _filters_history(filters: Mapping[str, Iterable[str]] | None) -> History:
    def read(first: date, last: date) -> pd.Series:
        frame = spend_history(first, last, dict(filters or {}) or None)
        if frame.empty:
            return pd.Series(dtype=float)
        return frame.groupby("date")["spend"].sum()

    return read


def _daily_actuals(history: History, period: Period, as_of: date) -> pd.Series:
    """The period's complete days, zero-filled (empty before the period starts)."""
    last = min(as_of, period.end)
    days = pd.date_range(pd.Timestamp(period.start), pd.Timestamp(last), freq="D")
    if not len(days):
        return pd.Series([], index=pd.DatetimeIndex([]), dtype=float)
    values = history(period.start, last)
    return pd.Series(0.0, index=days).add(values, fill_value=0.0).reindex(days).astype(float)


def _forecast(scope, history: History | None, horizon: int, as_of: date, compute: bool) -> Forecast:
    read = None if history is None else (lambda: history(*_window(as_of)))
    stored = total_series(scope, horizon, as_of, compute=compute, read_history=read)
    return stored_forecast(stored, horizon, (LEVEL, 95))


def period_projection(
    kind: str = "month",
    *,
    scope: Mapping[str, Iterable[str]] | None = None,
    history: History | None = None,
    budget: Decimal | None = None,
    now: datetime | None = None,
    compute: bool = False,
) -> Projection:
    """The projection of the ``kind`` period (month / quarter / year) containing ``now``.

    Parameters
    ----------
    scope : dict, optional
        Filters of `forecasting.runs.history.spend_history` (``provider``, ``project``,
        ``api_key``, ``tier``, ...), or with ``history`` given, any key naming the scope
        (the stored forecast is filed under it).
    history : callable, optional
        The scope's daily spend when the filters cannot read it (a team's allocated spend).
    budget : Decimal, optional
        Adds the crossing date and the probability of ending over it.
    compute : bool
        Fit and store the forecast when none is stored for the day (never from a page view).
    """
    period = period_containing(kind, now)
    as_of = default_as_of()
    if as_of is None:
        return Projection(period, None, Decimal(0), budget=budget, note="no spend data yet")
    syncing = first_syncs_running(now)
    if syncing:  # a history still being back-filled would project (and alert) on part of it
        note = f"the first sync of {', '.join(syncing)} is still running"
        return Projection(period, as_of, Decimal(0), budget=budget, note=note)
    read = history or _filters_history(scope)
    actuals = _daily_actuals(read, period, as_of)
    actual_to_date = cents(float(actuals.sum())) or Decimal("0.00")
    base = Projection(period, as_of, actual_to_date, budget=budget)
    horizon = max(1, (period.end - as_of).days)
    try:
        fc = _forecast(scope_key(scope), history, horizon, as_of, compute)
        result = project_period(
            actuals,
            fc,
            start=pd.Timestamp(period.start),
            end=pd.Timestamp(period.end),
            budget=None if budget is None else float(budget),
            levels=(LEVEL,),
        )
    except ForecastError as exc:
        return replace(base, note=str(exc))
    crossing = result.crossing_date
    return replace(
        base,
        # The headline is the middle of the same simulated totals the 80% range comes from, so
        # it always lies inside that range (the mean of a skewed distribution need not).
        total=cents(result.median if result.median is not None else result.total),
        lower_80=cents(result.lower.get(LEVEL)),
        upper_80=cents(result.upper.get(LEVEL)),
        prob_over=result.prob_over_budget,
        crossing_date=crossing.date() if crossing is not None else None,
        forecast=_rest_of(fc, period),
    )


def _rest_of(fc: Forecast, period: Period) -> Forecast:
    """The forecast cut at the period's end (charts draw the rest of the period only)."""
    last = pd.Timestamp(period.end)
    keep = fc.mean.index <= last
    return replace(
        fc,
        mean=fc.mean[keep],
        lower={lv: band[keep] for lv, band in fc.lower.items()},
        upper={lv: band[keep] for lv, band in fc.upper.items()},
    )


def month_projection(*, compute: bool = False, now: datetime | None = None) -> Projection:
    """The organisation's current month: the overview card's figure."""
    return period_projection("month", compute=compute, now=now)
