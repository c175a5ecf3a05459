"""Forecast against actual: each stored series compared with what happened since."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from forecasting.runs.forecasts import OK_STATUSES
from forecasting.runs.history import (
    DEMAND_MEASURES,
    SERIES_KEYS,
    default_as_of,
    demand_history,
    spend_history,
)
from forecasting.runs.models import SPEND, ForecastCheck, ForecastRun, SeriesForecast


def _actuals(run: ForecastRun, date_from: date, date_to: date) -> dict[tuple, pd.Series]:
    """Actual daily values per (provider, model, project_id, measure) and of the total."""
    out: dict[tuple, pd.Series] = {}
    spend = spend_history(date_from, date_to, run.filters or None, by=SERIES_KEYS)
    if not spend.empty:
        for key, part in spend.groupby(list(SERIES_KEYS)):
            out[(*key, SPEND)] = part.set_index("date")["spend"]
        out[("", "", "", SPEND)] = spend.groupby("date")["spend"].sum()
    if run.kind == ForecastRun.Kind.SERIES:
        demand = demand_history(date_from, date_to, by=SERIES_KEYS)
        for key, part in demand.groupby(list(SERIES_KEYS)):
            for measure in DEMAND_MEASURES:
                out[(*key, measure)] = part.set_index("date")[measure]
    return out


def check_forecasts(until: date | None = None) -> int:
    """Compare stored forecasts with the actuals up to ``until`` (default: the last complete
    day); create or update one `ForecastCheck` per series. Returns the number written.

    Idempotent: every check is recomputed from the stored points and the rollup, so running
    it twice (or after a sync revised a day) gives the same rows.
    """
    until = until or default_as_of()
    if until is None:
        return 0
    written = 0
    runs = ForecastRun.objects.filter(status__in=OK_STATUSES, as_of__lt=until)
    for run in runs:
        last = min(until, run.as_of + timedelta(days=run.horizon))
        pending = run.series.exclude(accuracy__last_actual__gte=last)
        if not pending.exists():
            continue
        actuals = _actuals(run, run.as_of + timedelta(days=1), last)
        for series in pending.prefetch_related("points"):
            key = (series.provider, series.model, series.project_id, series.measure)
            _check(series, actuals.get(key), last)
            written += 1
    return written


def _check(series: SeriesForecast, actual: pd.Series | None, last: date) -> None:
    points = [p for p in series.points.all() if p.date <= last]
    if not points:
        return
    dates = pd.DatetimeIndex([pd.Timestamp(p.date) for p in points])
    truth = (
        actual.reindex(dates, fill_value=0.0).to_numpy(dtype=float)
        if actual is not None
        else np.zeros(len(points))
    )
    mean = np.array([float(p.mean) for p in points])
    errors = truth - mean

    def hits(level: int) -> float | None:
        lows = [getattr(p, f"lower{level}") for p in points]
        highs = [getattr(p, f"upper{level}") for p in points]
        if any(v is None for v in lows + highs):
            return None
        inside = (truth >= np.array(lows, dtype=float)) & (truth <= np.array(highs, dtype=float))
        return float(inside.mean())

    mae = float(np.mean(np.abs(errors)))
    ForecastCheck.objects.update_or_create(
        series=series,
        defaults={
            "days_compared": len(points),
            "last_actual": last,
            "mae": mae,
            "mase": mae / series.scale if series.scale else None,
            "bias": float(np.mean(errors)),
            "hit_rate_80": hits(80),
            "hit_rate_95": hits(95),
        },
    )
