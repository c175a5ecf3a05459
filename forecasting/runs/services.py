"""What the dashboard, tasks and commands call: history, forecasts, runs, prices, scenarios.

Spend basis
-----------
Spend is billed cost where the provider billed, else the estimate (usage x price catalog), per
day x account x project x model, the grain providers bill at or coarser (as in
`spendapp.budgets.spend`): a group with any billed cost counts its billed cost only, because
adding the estimate of the same tokens would count them twice. `spend_history` says which
basis each returned row rests on.

Totals and their parts
----------------------
A run forecasts the total directly (one model, calibrated intervals: the figure users trust
most) and every provider x model x project series separately; the series' daily means and
bounds are then scaled by one factor per day so that they add up to the total (proportional
top-down reconciliation). Stacked charts therefore add up to the total line, and a series'
notes say by how much it was scaled. Intervals are not additive: a total's interval is its
own, never the sum of the parts' bounds.

Money: the forecasting core works in float; stored forecast points are Decimal (6 places)
and presentation rounds to cents (`forecasting.demand.to_cents`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from forecasting import (
    PRESETS,
    DemandForecast,
    Forecast,
    ForecastError,
    PeriodProjection,
    ScenarioError,
    ScenarioResult,
    forecast,
    forecast_demand,
    period_bounds,
    project_period,
    run_scenario,
    validate_spec,
)
from forecasting.backtest import Rejection, mase_scale, scores_frame
from forecasting.intervals import ErrorModel
from forecasting.prep import prepare
from forecasting.runs.candidates import BASELINE_CANDIDATES, SPEND_CANDIDATES
from forecasting.runs.models import (
    SPEND,
    ForecastCheck,
    ForecastPoint,
    ForecastRun,
    Scenario,
    SeriesForecast,
)
from spendapp.usage.cubes import rollup_for
from spendapp.usage.models import DailyModelSpend, PriceOverride
from spendapp.usage.pricing import MILLION, PriceBook
from spendapp.usage.queries import QueryError
from spendapp.usage.tiers import TierBook, tier_for

log = logging.getLogger(__name__)

__all__ = [
    "DEMAND_MEASURES",
    "LEVELS",
    "SERIES_KEYS",
    "GroupForecast",
    "check_forecasts",
    "compare_saved",
    "default_as_of",
    "demand_baseline",
    "demand_history",
    "forecast_groups",
    "forecast_spend",
    "forecast_total",
    "latest_run",
    "month_end_projection",
    "preset_specs",
    "price_table",
    "run_forecasts",
    "scenario_results",
    "spend_history",
    "stored_forecast",
    "tier_for",
]

HISTORY_DAYS = 365  # the core uses at most a year; older data rarely helps
DEFAULT_HORIZON = 90
LEVELS = (80, 95)
MAX_COMPARED = 4
DEMAND_MEASURES = ("input_tokens", "cached_input_tokens", "output_tokens", "requests")
SERIES_KEYS = ("provider", "model", "project")
BY_KEYS = ("provider", "account", "project", "model")
FILTER_COLUMNS = {
    "provider": "provider",
    "account": "account__name",
    "project": "project_id",
    "model": "model",
    "api_key": "api_key_id",
}
# Models the preset scenarios name, with the catalog provider that prices them.
PRESET_MODELS = {
    "gpt-5.5": "openai",
    "gpt-5.4-mini": "openai",
    "claude-opus-4-7": "anthropic",
    "deepseek-v4-flash": "deepseek",
    "glm-5.1": "zai",
}
OK_STATUSES = (ForecastRun.Status.SUCCESS, ForecastRun.Status.PARTIAL)
_KEY_FIELDS = {"provider": "provider", "model": "model", "project": "project_id"}


# -- history ------------------------------------------------------------------------------


def _normal_filters(filters: Mapping[str, Iterable[str]] | None) -> dict[str, list[str]]:
    filters = filters or {}
    bad = [key for key in filters if key not in FILTER_COLUMNS]
    if bad:
        known = ", ".join(FILTER_COLUMNS)
        raise QueryError(f"filters: unknown field {', '.join(bad)} (use {known})")
    return {key: sorted(str(v) for v in filters[key]) for key in sorted(filters)}


def _rows(date_from: date, date_to: date, filters: Mapping | None):
    """Rollup rows of the range and filters, from the smallest rollup that keeps projects and
    models (the grain of the "billed where known" choice) and every filtered field."""
    filters = _normal_filters(filters)
    rollup = rollup_for(("project", "model", *filters))
    rows = rollup.objects.filter(day__gte=date_from, day__lte=date_to)
    for key, values in filters.items():
        rows = rows.filter(**{f"{FILTER_COLUMNS[key]}__in": values})
    return rows


def _check_by(by: Sequence[str]) -> tuple[str, ...]:
    by = tuple(by)
    bad = [key for key in by if key not in BY_KEYS]
    if bad:
        raise QueryError(f"by: unsupported grouping {', '.join(bad)} (use {', '.join(BY_KEYS)})")
    return by


def spend_history(
    date_from: date,
    date_to: date,
    filters: dict[str, list[str]] | None = None,
    by: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Daily spend from the rollup, ``date_from..date_to`` inclusive (UTC days).

    Parameters
    ----------
    filters : dict, optional
        ``{"provider"|"account"|"project"|"model"|"api_key": [values]}``.
    by : tuple of str
        Grouping keys among ``provider, account, project, model`` (billed cost has no API
        key grain, so ``api_key`` can filter but not group).

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64, midnight), the ``by`` keys, ``spend`` (float dollars)
        and ``basis``: ``"billed"``, ``"estimated"`` or ``"mixed"`` (some of the row's
        account x project x model groups billed, others estimated). Days without any usage
        row are absent (they mean zero spend).
    """
    by = _check_by(by)
    columns = ["date", *by, "spend", "basis"]
    # The basis is chosen per day x account x project x model group (the inner query), then
    # the groups are summed per day and ``by`` keys, both in PostgreSQL: a month of a busy
    # organisation is thousands of groups but only a few dozen result rows.
    groups = (
        _rows(date_from, date_to, filters)
        .values(
            g_day=F("day"),
            g_account_id=F("account_id"),
            g_account=F("account__name"),
            g_provider=F("provider"),
            g_project=F("project_id"),
            g_model=F("model"),
        )
        .annotate(billed=Sum("billed_cost"), estimated=Sum("estimated_cost"))
        .order_by()
    )
    inner, params = groups.query.sql_with_params()
    keys = ", ".join(["g_day", *(f"g_{key}" for key in by)])
    sql = (
        f"SELECT {keys}, sum(coalesce(billed, estimated, 0)), count(billed), count(*) "  # noqa: S608
        f"FROM ({inner}) groups GROUP BY {keys} ORDER BY {keys}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame.from_records(rows, columns=["date", *by, "spend", "billed", "n"])
    out["date"] = pd.to_datetime(out["date"])
    out["spend"] = out["spend"].astype(float)
    out["basis"] = np.select(
        [out["billed"] == out["n"], out["billed"] == 0], ["billed", "estimated"], "mixed"
    )
    return out[columns]


def demand_history(
    date_from: date,
    date_to: date,
    filters: dict[str, list[str]] | None = None,
    by: tuple[str, ...] = ("model", "project"),
) -> pd.DataFrame:
    """Daily token demand: ``date``, the ``by`` keys and `DEMAND_MEASURES` (floats).

    ``input_tokens`` counts every input token (uncached, cached, cache writes), the
    convention of the forecasting core and of OpenAI; ``cached_input_tokens`` is the cached
    part. Rows without a model (cost-only lines) carry no tokens and are left out.
    """
    by = _check_by(by)
    names = {"provider": "provider", "account": "account__name"}
    names.update({"project": "project_id", "model": "model"})
    grouped = (
        _rows(date_from, date_to, filters)
        .exclude(model="")
        .values("day", *(names[k] for k in by))
        .annotate(
            uncached=Sum("input_uncached_tokens"),
            cached_input_tokens=Sum("input_cached_tokens"),
            writes=Sum("cache_write_tokens"),
            writes_1h=Sum("cache_write_1h_tokens"),
            output_tokens=Sum("output_tokens"),
            requests=Sum("requests"),
        )
        .order_by()
    )
    columns = ["date", *by, *DEMAND_MEASURES]
    records = list(grouped)
    if not records:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame.from_records(records).rename(
        columns={"day": "date", "account__name": "account", "project_id": "project"}
    )
    frame["input_tokens"] = (
        frame["uncached"] + frame["cached_input_tokens"] + frame["writes"] + frame["writes_1h"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame[list(DEMAND_MEASURES)] = frame[list(DEMAND_MEASURES)].astype(float)
    return frame[columns].sort_values(["date", *by], kind="stable").reset_index(drop=True)


def default_as_of() -> date | None:
    """Last complete day of actuals: yesterday (UTC), or the day before the last day with
    data when that is older (a stalled sync stopped part-way through its last day).

    Capping at the data keeps a stalled sync from showing up as days of zero spend.
    """
    today = timezone.now().astimezone(UTC).date()
    yesterday = today - timedelta(days=1)
    last = DailyModelSpend.objects.filter(day__lte=today).aggregate(last=Max("day"))["last"]
    if last is None:
        return None
    return yesterday if last >= yesterday else last - timedelta(days=1)


def _daily(values: pd.Series, as_of: date) -> pd.Series:
    """A daily series ending at ``as_of`` (missing days = 0: no rows means no usage)."""
    values = values.groupby(level=0).sum()
    if values.empty:
        return values
    index = pd.date_range(values.index.min(), pd.Timestamp(as_of), freq="D")
    return values.reindex(index, fill_value=0.0).astype(float)


def _window(as_of: date) -> tuple[date, date]:
    return as_of - timedelta(days=HISTORY_DAYS - 1), as_of


# -- forecasting --------------------------------------------------------------------------


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
        as_of=as_of or timezone.now().date(),
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


def _matching_total(filters: dict, horizon: int, as_of: date) -> SeriesForecast | None:
    return (
        SeriesForecast.objects.filter(
            run__status__in=OK_STATUSES,
            run__as_of=as_of,
            run__horizon__gte=horizon,
            run__filters=filters,
            provider="",
            model="",
            project_id="",
            measure=SPEND,
        )
        .order_by("-run__created_at")
        .first()
    )


def _total_forecast(filters, horizon: int, levels: Sequence[float], as_of: date | None):
    as_of = as_of or default_as_of()
    if as_of is None:
        raise ForecastError("history: no spend data yet")
    filters = _normal_filters(filters)
    if not set(levels) <= set(LEVELS):  # only 80/95 are stored: compute, do not cache
        total, _, _ = forecast_groups((), horizon, as_of=as_of, filters=filters, levels=levels)
        return total.forecast
    stored = _matching_total(filters, horizon, as_of)
    if stored is not None:
        return stored_forecast(stored, horizon, levels)
    # Computed once per day and filter set: the dashboard asks again on every page view.
    longest = max(horizon, DEFAULT_HORIZON)
    total, _, _ = forecast_groups((), longest, as_of=as_of, filters=filters, levels=LEVELS)
    run = ForecastRun.objects.create(
        kind=ForecastRun.Kind.TOTAL,
        horizon=longest,
        as_of=as_of,
        levels=list(LEVELS),
        filters=filters,
        trigger="on-demand",
        status=ForecastRun.Status.SUCCESS,
    )
    return stored_forecast(_store(run, total), horizon, levels)


def forecast_total(
    filters: dict[str, list[str]] | None = None,
    horizon: int = DEFAULT_HORIZON,
    levels: Sequence[float] = (80, 95),
) -> Forecast:
    """Daily spend forecast of everything matching ``filters``, from the day after the last
    complete day. Reuses the latest stored run of the same day and filters; otherwise
    computes it and stores it as a "total" run for the next call.
    """
    return _total_forecast(filters, horizon, levels, None)


def month_end_projection(
    budget: Decimal | None = None,
    as_of: date | None = None,
    filters: dict[str, list[str]] | None = None,
) -> PeriodProjection:
    """Projected spend of the current month (in ``settings.ORG_TIME_ZONE``).

    ``as_of`` is the last day of actuals (default: the last complete UTC day). The month is
    today's in the organisation's time zone, or with ``as_of`` given, the month of the day
    after it. Days are UTC days (the rollup's), so an org far from UTC sees month boundaries
    shifted by its offset. Amounts in the result are floats (dollars); the
    crossing date and probability refer to ``budget`` when given.
    """
    if as_of is None:
        as_of = default_as_of()
        today = timezone.localdate(timezone=ZoneInfo(settings.ORG_TIME_ZONE))
    else:
        today = as_of + timedelta(days=1)
    if as_of is None:
        raise ForecastError("history: no spend data yet")
    start, end = period_bounds(today, "month")
    horizon = max(1, (end.date() - as_of).days)
    fc = _total_forecast(filters, horizon, LEVELS, as_of)
    days = pd.date_range(start, pd.Timestamp(as_of), freq="D")  # empty before the month
    history = spend_history(start.date(), as_of, filters) if len(days) else None
    actuals = pd.Series(0.0, index=days)
    if history is not None and not history.empty:
        actuals = actuals.add(history.groupby("date")["spend"].sum(), fill_value=0.0)
    return project_period(
        actuals,
        fc,
        start=start,
        end=end,
        budget=None if budget is None else float(budget),
        levels=LEVELS,
    )


# -- forecast vs actual -------------------------------------------------------------------


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


# -- prices and scenarios -----------------------------------------------------------------


def _moment(day: date | None) -> datetime:
    day = day or timezone.now().astimezone(UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def price_table(as_of: date | None = None) -> dict:
    """Prices of every model seen in the rollup plus the models the presets name.

    Returns
    -------
    dict
        ``model -> {"input", "cached_input", "output", "request": Decimal per token,
        "tier": str}``, the format of `forecasting.price_demand` and `run_scenario`. Prices
        are the ingestion `PriceBook`'s (catalog + admin overrides) at ``as_of`` (default
        today), base list prices: batch, flex and negotiated discounts show in billed cost,
        not here. Models without a known price are left out.
    """
    at = _moment(as_of)
    book = PriceBook(PriceOverride.objects.all())
    tiers = TierBook(book)
    providers: dict[str, str] = {}
    seen = DailyModelSpend.objects.exclude(model="").values_list("model", "provider").distinct()
    for model, provider in sorted(seen):
        providers.setdefault(model, provider)  # one price per model name (the core's key)
    for model, provider in PRESET_MODELS.items():
        providers.setdefault(model, provider)
    table = {}
    for model, provider in sorted(providers.items()):
        prices = book.lookup(provider, model, at)
        if prices is None:
            continue
        table[model] = {
            "input": prices.input / MILLION,
            "cached_input": prices.cached_input / MILLION,
            "output": prices.output / MILLION,
            "request": Decimal(0),
            "tier": tiers.tier(provider, model, at),
        }
    return table


def preset_specs() -> dict[str, dict]:
    """The preset scenarios built on the current price table, by preset name.

    A preset whose models have no price (or no model of the tier it needs) is left out.
    """
    prices = price_table()
    specs = {}
    for name, build in PRESETS.items():
        try:
            specs[name] = build(prices)
        except ScenarioError as exc:
            log.warning("preset %s unavailable: %s", name, exc)
    return specs


def _horizon_days(as_of: date, horizon_months: int) -> int:
    if not isinstance(horizon_months, int) or horizon_months < 1:
        raise ScenarioError(f"horizon_months: must be a positive integer, got {horizon_months!r}")
    first = pd.Timestamp(as_of + timedelta(days=1))
    last = (first.to_period("M") + (horizon_months - 1)).end_time.normalize()
    return (last.date() - as_of).days


_BASELINES: dict[tuple, DemandForecast] = {}


def demand_baseline(
    horizon_months: int = 18, filters: dict[str, list[str]] | None = None
) -> DemandForecast:
    """Token demand forecast per model x project for ``horizon_months`` months.

    The forecast runs from the day after the last complete day to the end of the
    ``horizon_months``-th month (the current month counts as the first). Only models of the
    price table are kept: a scenario cannot price the others. Cached in the process per day
    (the last complete day) and filters: an hourly sync does not change a month-scale
    baseline enough to pay for a refit on the next page view.
    """
    as_of = default_as_of()
    if as_of is None:
        raise ScenarioError("history: no usage data yet")
    horizon = _horizon_days(as_of, horizon_months)
    filters = _normal_filters(filters)
    key = (as_of, horizon, repr(filters))
    if key not in _BASELINES:
        history = demand_history(*_window(as_of), filters=filters, by=("model", "project"))
        history = history[history["model"].isin(price_table(as_of))]
        if history.empty:
            raise ScenarioError("history: no priced token usage in the last year")
        extended = _extend_to(history, ("model", "project"), DEMAND_MEASURES, as_of)
        _BASELINES.clear()  # one baseline per process is plenty; keeps memory bounded
        _BASELINES[key] = forecast_demand(
            extended,
            keys=("model", "project"),
            measures=DEMAND_MEASURES,
            horizon=horizon,
            levels=(80,),
            candidates=BASELINE_CANDIDATES,
        )
    return _BASELINES[key]


BASELINE_SPEC = {
    "name": "Baseline",
    "description": "Current workload mix at current list prices.",
    "transforms": [],
}


def scenario_results(
    specs: list[dict],
    horizon_months: int = 18,
    migration_cost: Decimal | None = None,
    *,
    filters: dict[str, list[str]] | None = None,
) -> list[ScenarioResult]:
    """The baseline and up to four scenarios on the same baseline demand and prices.

    Returns ``[baseline, *one result per spec]``. Raises `ScenarioError` naming the field of
    the first invalid spec (prefixed ``specs[i].`` when several are given).
    """
    if len(specs) > MAX_COMPARED:
        raise ScenarioError(f"specs: compare at most {MAX_COMPARED} scenarios, got {len(specs)}")
    validated = []
    for i, spec in enumerate(specs):
        try:
            validated.append(validate_spec(spec))
        except ScenarioError as exc:
            raise ScenarioError(f"specs[{i}].{exc}" if len(specs) > 1 else str(exc)) from None
    demand = demand_baseline(horizon_months, filters)
    prices = price_table()
    cost = None if migration_cost is None else float(migration_cost)
    results = [run_scenario(demand, prices, BASELINE_SPEC)]
    results += [run_scenario(demand, prices, s, migration_cost=cost) for s in validated]
    return results


def compare_saved(
    slugs: Sequence[str], horizon_months: int = 18, migration_cost: Decimal | None = None
) -> tuple[list[Scenario], list[ScenarioResult]]:
    """Saved scenarios by slug (the shareable URL part) and their results, baseline first."""
    if len(slugs) > MAX_COMPARED:
        raise ScenarioError(f"specs: compare at most {MAX_COMPARED} scenarios, got {len(slugs)}")
    found = {s.slug: s for s in Scenario.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise ScenarioError(f"scenario: no saved scenario {missing[0]!r}")
    scenarios = [found[slug] for slug in slugs]
    return scenarios, scenario_results([s.spec for s in scenarios], horizon_months, migration_cost)
