"""Spend and demand forecasts: fitting the total and its parts, storing runs, reading them.

Totals and their parts
----------------------
A run forecasts the total directly (one model, calibrated intervals: the figure users trust
most) and every provider x model x project series separately; the series' daily means and
bounds are then scaled by one factor per day so that they add up to the total (proportional
top-down reconciliation). Stacked charts therefore add up to the total line, and a series'
notes say by how much it was scaled. Intervals are not additive: a total's interval is its
own, never the sum of the parts' bounds.

Runs are made by the nightly task, after a sync (`forecasting.runs.hooks`) and by explicit
actions (`manage.py forecast`, the pages' "compute now" buttons); page views only read them.

Money: the forecasting core works in float; stored forecast points are Decimal (6 places)
and presentation rounds to cents (`forecasting.demand.to_cents`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction

from forecasting import Forecast, ForecastError, forecast, forecast_demand
from forecasting.backtest import Rejection, mase_scale, scores_frame
from forecasting.intervals import ErrorModel
from forecasting.prep import prepare
from forecasting.runs.candidates import SPEND_CANDIDATES
from forecasting.runs.history import (
    DEMAND_MEASURES,
    SERIES_KEYS,
    _check_by,
    _daily,
    _normal_filters,
    _window,
    default_as_of,
    demand_history,
    spend_history,
)
from forecasting.runs.models import SPEND, ForecastPoint, ForecastRun, SeriesForecast
from spendapp.usage.calendar import data_today

log = logging.getLogger(__name__)

DEFAULT_HORIZON = 90
LEVELS = (80, 95)
OK_STATUSES = (ForecastRun.Status.SUCCESS, ForecastRun.Status.PARTIAL)


def forecast_spend(y: pd.Series, horizon: int, levels: Sequence[float] = LEVELS) -> Forecast:
    """Forecast one spend (or token) series with the candidates every stored forecast uses."""
    return forecast(y, horizon=horizon, levels=tuple(levels), candidates=SPEND_CANDIDATES)


@dataclass
class GroupForecast:
    """A forecast of one group (``key`` = {} for the total), reconciled where it is a part.

    ``frame`` holds what users see: ``mean, lower_80, upper_80, ...`` per date (floats);
    ``forecast`` is the raw result of the chosen model (scores, notes, error model).
    """

    key: dict[str, str]
    measure: str
    forecast: Forecast
    frame: pd.DataFrame
    scale: float | None = None
    basis: str = ""
    notes: list[str] = field(default_factory=list)


def _scale(y: pd.Series) -> float | None:
    try:
        values = prepare(y).y.to_numpy()
    except ForecastError:
        return None
    return mase_scale(values, 7)


def _basis(frame: pd.DataFrame) -> str:
    kinds = set(frame["basis"]) if len(frame) else set()
    return kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "")


def _group_key(by: Sequence[str], values: tuple) -> dict[str, str]:
    return {k: "" if pd.isna(v) else str(v) for k, v in zip(by, values, strict=True)}


def _extend_to(frame: pd.DataFrame, keys: Sequence[str], measures: Sequence[str], as_of):
    """Add a zero row at ``as_of`` for every series, so that every forecast starts the day
    after ``as_of`` (a series that stopped last week has zeros since, not a stale end)."""
    if frame.empty:
        return frame
    last = frame[list(keys)].drop_duplicates().assign(date=pd.Timestamp(as_of))
    for measure in measures:
        last[measure] = 0.0
    return pd.concat([frame, last], ignore_index=True)


def forecast_groups(
    by: Sequence[str] = (),
    horizon: int = DEFAULT_HORIZON,
    *,
    as_of: date | None = None,
    filters: dict[str, list[str]] | None = None,
    levels: Sequence[float] = LEVELS,
    workers: int = 1,
) -> tuple[GroupForecast, list[GroupForecast], dict[tuple, str]]:
    """Spend forecast of the total and of each ``by`` group, the groups reconciled to it.

    Returns
    -------
    (total, parts, failed)
        ``failed`` maps group keys to the reason they could not be forecast (too little
        history); their share is absorbed by the reconciliation.
    """
    by = _check_by(by)
    as_of = as_of or default_as_of()
    if as_of is None:
        raise ForecastError("history: no spend data yet")
    history = spend_history(*_window(as_of), filters=filters, by=by)
    if history.empty:
        raise ForecastError("history: no spend data in the last year")
    y = _daily(history.groupby("date")["spend"].sum(), as_of)
    fc = forecast_spend(y, horizon, levels)
    total = GroupForecast({}, SPEND, fc, fc.to_frame(), _scale(y), _basis(history))
    if not by:
        return total, [], {}
    extended = _extend_to(history, by, ["spend"], as_of)
    demand = forecast_demand(
        extended,
        keys=by,
        measures=("spend",),
        horizon=horizon,
        levels=tuple(levels),
        workers=workers,
        candidates=SPEND_CANDIDATES,
    )
    parts = []
    for label, part_fc in sorted(demand.forecasts.items(), key=lambda kv: str(kv[0])):
        mask = np.logical_and.reduce(
            [history[k].astype(str).eq(str(v)).to_numpy() for k, v in zip(by, label, strict=False)]
        )
        rows = history[mask]
        parts.append(
            GroupForecast(
                _group_key(by, label[:-1]),
                SPEND,
                part_fc,
                part_fc.to_frame(),
                _scale(_daily(rows.set_index("date")["spend"], as_of)),
                _basis(rows),
            )
        )
    _reconcile(total, parts)
    failed = {label[:-1]: reason for label, reason in demand.failed.items()}
    return total, parts, failed


def _reconcile(total: GroupForecast, parts: list[GroupForecast]) -> None:
    """Scale the parts per day so that their means add up to the total's mean."""
    if not parts:
        return
    summed = sum(p.frame["mean"] for p in parts)
    factor = (total.frame["mean"] / summed).where(summed > 0, 0.0)
    for part in parts:
        part.frame = part.frame.mul(factor, axis=0)
        low, high = float(factor.min()), float(factor.max())
        if abs(low - 1) > 1e-9 or abs(high - 1) > 1e-9:
            part.notes.append(
                f"scaled by {low:.3f}..{high:.3f} per day so the series add up to the total"
            )
    if (summed <= 0).any() and (total.frame["mean"][summed <= 0] > 0).any():
        total.notes.append("some days' total could not be split: the series forecast zero")


# -- storing and reading runs -------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None  # jsonb has no NaN
    return value


def _decimal(value: float) -> Decimal | None:
    return None if value is None or not math.isfinite(value) else Decimal(f"{value:.6f}")


def _store(run: ForecastRun, group: GroupForecast) -> SeriesForecast:
    fc = group.forecast
    errors = fc.errors
    series = SeriesForecast.objects.create(
        run=run,
        provider=group.key.get("provider", ""),
        model=group.key.get("model", ""),
        project_id=group.key.get("project", ""),
        measure=group.measure,
        chosen_model=fc.model,
        scores=_jsonable(fc.scores.to_dict("records")),
        notes=[*fc.notes, *group.notes],
        rejected=[{"model": r.model, "reason": r.reason} for r in fc.rejected],
        error_model=_jsonable(
            {
                "a": errors.a,
                "b": errors.b,
                "h0": errors.h0,
                "corr": errors.corr,
                "scores": list(map(float, errors.scores)),
            }
        ),
        scale=group.scale,
        basis=group.basis,
        horizon_total=_decimal(float(group.frame["mean"].sum())),
    )
    frame = group.frame
    ForecastPoint.objects.bulk_create(
        ForecastPoint(
            series=series,
            date=day.date(),
            mean=_decimal(row["mean"]),
            lower80=_decimal(row.get("lower_80", math.nan)),
            upper80=_decimal(row.get("upper_80", math.nan)),
            lower95=_decimal(row.get("lower_95", math.nan)),
            upper95=_decimal(row.get("upper_95", math.nan)),
        )
        for day, row in frame.iterrows()
    )
    return series


def stored_forecast(
    series: SeriesForecast, horizon: int | None = None, levels: Sequence[float] = LEVELS
) -> Forecast:
    """Rebuild a `forecasting.Forecast` from a stored series (sample paths included)."""
    points = list(series.points.order_by("date")[:horizon] if horizon else series.points.all())
    index = pd.DatetimeIndex([pd.Timestamp(p.date) for p in points], freq="D")

    def column(name: str) -> pd.Series:
        return pd.Series([float(getattr(p, name)) for p in points], index=index)

    stored = series.error_model or {}
    errors = ErrorModel(
        a=stored.get("a", 1e-12),
        b=stored.get("b", 0.0),
        h0=stored.get("h0", 0.0),
        scores=np.asarray(stored.get("scores") or [0.0], dtype=float),
        corr=stored.get("corr", 0.5),
    )
    scores = scores_frame(
        [{k: (np.nan if v is None else v) for k, v in row.items()} for row in series.scores]
    )
    return Forecast(
        mean=column("mean"),
        lower={lv: column(f"lower{lv}") for lv in levels},
        upper={lv: column(f"upper{lv}") for lv in levels},
        model=series.chosen_model,
        scores=scores,
        notes=tuple(series.notes),
        rejected=tuple(Rejection(**r) for r in series.rejected),
        errors=errors,
    )


def latest_run() -> ForecastRun | None:
    """The newest successful (or partial) run of every series."""
    return (
        ForecastRun.objects.filter(kind=ForecastRun.Kind.SERIES, status__in=OK_STATUSES)
        .order_by("-as_of", "-created_at")
        .first()
    )


def _demand_groups(history: pd.DataFrame, horizon: int, as_of, workers: int):
    extended = _extend_to(history, SERIES_KEYS, DEMAND_MEASURES, as_of)
    demand = forecast_demand(
        extended,
        keys=SERIES_KEYS,
        measures=DEMAND_MEASURES,
        horizon=horizon,
        levels=LEVELS,
        workers=workers,
        candidates=SPEND_CANDIDATES,
    )
    groups = []
    for label, fc in demand.forecasts.items():
        key, measure = _group_key(SERIES_KEYS, label[:-1]), label[-1]
        mask = np.logical_and.reduce(
            [history[k].astype(str).eq(key[k]).to_numpy() for k in SERIES_KEYS]
        )
        y = _daily(history[mask].set_index("date")[measure], as_of)
        groups.append(GroupForecast(key, measure, fc, fc.to_frame(), _scale(y)))
    return groups, demand.failed


def run_forecasts(
    horizon: int = DEFAULT_HORIZON,
    as_of: date | None = None,
    *,
    demand: bool = True,
    trigger: str = "manual",
    workers: int | None = None,
) -> ForecastRun:
    """Forecast the total, every provider x model x project spend series and (``demand``)
    their token demand; store everything in a new `ForecastRun` and return it.

    Never raises for data problems: a run that could not be made is stored as failed with
    the reason in its notes (the nightly task must not retry a hopeless run forever).
    """
    workers = workers or getattr(settings, "FORECAST_WORKERS", 1)
    as_of = as_of or default_as_of()
    started = time.monotonic()
    run = ForecastRun.objects.create(
        kind=ForecastRun.Kind.SERIES,
        horizon=horizon,
        as_of=as_of or data_today(),
        levels=list(LEVELS),
        trigger=trigger,
    )
    notes: list[str] = []
    try:
        if as_of is None:
            raise ForecastError("history: no spend data yet")
        total, parts, failed = forecast_groups(
            SERIES_KEYS, horizon, as_of=as_of, levels=LEVELS, workers=workers
        )
        groups = [total, *parts]
        if demand:
            history = demand_history(*_window(as_of), by=SERIES_KEYS)
            demand_groups, demand_failed = _demand_groups(history, horizon, as_of, workers)
            groups += demand_groups
            failed.update(demand_failed)
        with transaction.atomic():
            for group in groups:
                _store(run, group)
        notes += [f"{'/'.join(map(str, k))}: not forecast ({why})" for k, why in failed.items()]
        run.status = ForecastRun.Status.SUCCESS
    except Exception as exc:  # stored on the run: the nightly task reports, never loops
        log.exception("forecast run %s failed", run.pk)
        notes.append(f"{type(exc).__name__}: {exc}")
        run.status = ForecastRun.Status.FAILED
    run.notes = notes
    run.duration = timedelta(seconds=time.monotonic() - started)
    run.save(update_fields=["status", "notes", "duration"])
    return run


def scope_key(scope: Mapping[str, Iterable[str]] | None) -> dict[str, list[str]]:
    """The stored form of a forecast's scope: filters (`history.FILTER_FIELDS`) or a caller's
    own scope such as ``{"team": ["12"]}``, sorted so equal scopes match."""
    return {key: sorted(str(v) for v in (scope or {})[key]) for key in sorted(scope or {})}


def stored_total(
    scope: Mapping[str, Iterable[str]] | None, horizon: int, as_of: date
) -> SeriesForecast | None:
    """The newest stored total spend forecast of ``scope`` made on ``as_of`` that reaches
    ``horizon`` days (a nightly series run's total serves the unscoped one)."""
    return (
        SeriesForecast.objects.filter(
            run__status__in=OK_STATUSES,
            run__as_of=as_of,
            run__horizon__gte=horizon,
            run__filters=scope_key(scope),
            provider="",
            model="",
            project_id="",
            measure=SPEND,
        )
        .select_related("run")
        .order_by("-run__created_at")
        .first()
    )


def compute_total(
    scope: Mapping[str, Iterable[str]] | None,
    horizon: int,
    as_of: date,
    *,
    history: pd.Series | None = None,
    trigger: str = "on-demand",
) -> SeriesForecast:
    """Fit the total spend forecast of ``scope`` from the day after ``as_of`` and store it as
    a "total" run (at least `DEFAULT_HORIZON` days, so one run serves a day's questions).

    ``history``: the scope's daily spend up to ``as_of`` when the caller reads it itself
    (a team's allocated spend); otherwise ``scope`` are filters of `history.spend_history`.
    """
    longest = max(horizon, DEFAULT_HORIZON)
    key = scope_key(scope)
    if history is None:
        total, _, _ = forecast_groups((), longest, as_of=as_of, filters=key, levels=LEVELS)
    else:
        y = _daily(history, as_of)
        if y.empty:
            raise ForecastError("history: no spend data yet")
        fc = forecast_spend(y, longest, LEVELS)
        total = GroupForecast({}, SPEND, fc, fc.to_frame(), _scale(y))
    run = ForecastRun.objects.create(
        kind=ForecastRun.Kind.TOTAL,
        horizon=longest,
        as_of=as_of,
        levels=list(LEVELS),
        filters=key,
        trigger=trigger,
        status=ForecastRun.Status.SUCCESS,
    )
    return _store(run, total)


class ForecastNotReady(ForecastError):
    """No stored forecast answers the question yet (runs come from the nightly task, a
    sync's hook or an explicit action; a page view never fits one)."""


def total_series(
    scope: Mapping[str, Iterable[str]] | None,
    horizon: int,
    as_of: date,
    *,
    compute: bool = False,
    read_history: Callable[[], pd.Series] | None = None,
    trigger: str = "on-demand",
) -> SeriesForecast:
    """The stored total forecast of ``scope`` made on ``as_of`` reaching ``horizon`` days.
    Without one, ``compute=True`` fits and stores it (`compute_total`, on the history
    ``read_history`` returns when given, read only then); otherwise `ForecastNotReady` says
    so: pages call it that way, a GET never writes."""
    stored = stored_total(scope, horizon, as_of)
    if stored is not None:
        return stored
    if not compute:
        raise ForecastNotReady(
            f"no forecast for {as_of:%b %-d} yet: it is made after each sync and nightly"
        )
    history = read_history() if read_history is not None else None
    return compute_total(scope, horizon, as_of, history=history, trigger=trigger)


def forecast_total(
    filters: dict[str, list[str]] | None = None,
    horizon: int = DEFAULT_HORIZON,
    levels: Sequence[float] = LEVELS,
    *,
    as_of: date | None = None,
    compute: bool = False,
) -> Forecast:
    """Daily spend forecast of everything matching ``filters``, from the day after the last
    complete day: the stored run of that day and filters. Without one, ``compute=True`` fits
    and stores it; otherwise `ForecastNotReady` says so (pages call it that way: a GET never
    writes).
    """
    as_of = as_of or default_as_of()
    if as_of is None:
        raise ForecastError("history: no spend data yet")
    filters = _normal_filters(filters)
    stored = total_series(filters, horizon, as_of, compute=compute)
    return stored_forecast(stored, horizon, levels)
