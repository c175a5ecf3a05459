"""The forecast page: a stored forecast (the nightly run's total, the one a sync's hook stores,
or for one provider / model / project the total a user asked for with "Compute now", a POST),
and forecast vs actual from the `ForecastCheck`s of earlier stored runs. A GET never fits or
stores a forecast: without a stored one the page says so and offers the action.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

import pandas as pd
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from forecasting import ForecastError, describe_model
from forecasting.runs.forecasts import (
    OK_STATUSES,
    ForecastNotReady,
    stored_forecast,
    total_series,
)
from forecasting.runs.history import default_as_of, spend_history
from forecasting.runs.models import SPEND, ForecastPoint, SeriesForecast
from spendapp.core.roles import dashboard_view
from spendapp.dashboard import charts, queries
from spendapp.dashboard.filters import GROUPING_LABELS
from spendapp.dashboard.series import label_for
from spendapp.dashboard.views import HISTORY_DAYS
from spendapp.usage.calendar import data_today
from spendapp.usage.queries import QueryError

HORIZONS = (30, 60, 90, 180)
SERIES_KINDS = ("provider", "model", "project")
SHOWN_HISTORY_DAYS = 120
PAST_RUNS = 4  # earlier runs shown against what happened
PAST_SPACING_DAYS = 7  # ... at least a week apart, so they do not all cover the same days
PAST_SCAN = 120  # checked runs looked at to pick those from
BAND_COLOR = "#0f4c81"
BASIS_LABELS = {
    "billed": "billed spend",
    "estimated": "estimated spend (not billed yet)",
    "mixed": "spend, billed where known and estimated otherwise",
}


# --- forecast ---------------------------------------------------------------------------------


def _series_choice(raw: str, known: dict[str, list[str]]) -> tuple[str, str] | str:
    """``"model:gpt-5.5"`` -> ("model", "gpt-5.5"); "" -> ("", ""); else an error message."""
    if not raw:
        return "", ""
    kind, sep, value = raw.partition(":")
    if not sep or kind not in SERIES_KINDS:
        return f"series: expected total or one of {', '.join(SERIES_KINDS)} as KIND:VALUE"
    if value not in known.get(kind, ()):
        return f"series: {value[:60]!r} is not a {GROUPING_LABELS[kind].lower()} in the data"
    return kind, value


def _totals(filters: dict):
    """Stored totals (spend, every day forecast) of runs made with exactly ``filters``: the
    nightly runs' (no filters) and those `forecast_total` stored."""
    return SeriesForecast.objects.filter(
        run__status__in=OK_STATUSES,
        run__filters=filters,
        provider="",
        model="",
        project_id="",
        measure=SPEND,
    ).select_related("run")


def _stored_forecast(filters: dict, horizon: int, as_of: date) -> SeriesForecast:
    """Today's stored total for these filters; `ForecastNotReady` without one (a page view
    never fits: the page offers "Compute now")."""
    return total_series(filters, horizon, as_of)


def _past_runs(filters: dict, as_of: date) -> list[SeriesForecast]:
    """Earlier stored totals with a forecast-vs-actual check, newest first, a week apart."""
    checked = (
        _totals(filters)
        .filter(run__as_of__lt=as_of, accuracy__days_compared__gt=0)
        .select_related("accuracy")
        .order_by("-run__as_of", "-run__created_at")[:PAST_SCAN]
    )
    picked: list[SeriesForecast] = []
    for series in checked:
        if picked and picked[-1].run.as_of - series.run.as_of < timedelta(PAST_SPACING_DAYS):
            continue
        picked.append(series)
        if len(picked) == PAST_RUNS:
            break
    return picked


def _past_points(past: list[SeriesForecast]) -> dict[int, list[ForecastPoint]]:
    """The points of each past forecast up to its last compared day (one query)."""
    points: dict[int, list[ForecastPoint]] = {s.pk: [] for s in past}
    last = {s.pk: s.accuracy.last_actual for s in past}
    rows = ForecastPoint.objects.filter(series__in=[s.pk for s in past]).order_by("date")
    for point in rows:
        if last[point.series_id] is not None and point.date <= last[point.series_id]:
            points[point.series_id].append(point)
    return points


def _actuals(filters: dict, first: date, as_of: date) -> pd.Series:
    """Daily spend of the series (services' basis: billed where billed), from its first day
    with data: a day without rows inside that span is zero spend, but days before the data
    began are unknown, not zero."""
    history = spend_history(first, as_of, filters or None)
    if history.empty:
        return pd.Series(0.0, index=pd.date_range(first, as_of, freq="D"))
    daily = history.groupby("date")["spend"].sum()
    index = pd.date_range(daily.index.min(), as_of, freq="D")
    return daily.reindex(index, fill_value=0.0)


def _dates(index) -> list[str]:
    return [d.date().isoformat() for d in index]


def _forecast_figure(y: pd.Series, fc, label: str):
    fig = charts.empty_figure()
    charts.line(fig, _dates(y.index), y, name="Actual", color="#1d2430")
    future = _dates(fc.mean.index)
    charts.add_band(
        fig, future, fc.lower[95], fc.upper[95], color=BAND_COLOR, name="95% interval", alpha=0.12
    )
    charts.add_band(
        fig, future, fc.lower[80], fc.upper[80], color=BAND_COLOR, name="80% interval", alpha=0.22
    )
    charts.line(fig, future, fc.mean, name=f"Forecast ({fc.model})", color=BAND_COLOR, dash="dot")
    return charts.finish(fig, y_format="money", y_title=label)


def _past_label(series: SeriesForecast) -> str:
    return f"Forecast of {series.run.as_of:%Y-%m-%d}"


def _past_figure(y: pd.Series, past: list[SeriesForecast], points: dict) -> str:
    first = min(s.run.as_of for s in past) - timedelta(days=14)
    shown = y[y.index >= pd.Timestamp(first)]
    fig = charts.empty_figure()
    charts.line(fig, _dates(shown.index), shown, name="Actual", color="#1d2430")
    for i, series in enumerate(past):
        rows = points[series.pk]
        if not rows:
            continue
        color = charts.PALETTE[(i + 1) % len(charts.PALETTE)]
        x = [p.date.isoformat() for p in rows]
        label = _past_label(series)
        if all(p.lower80 is not None and p.upper80 is not None for p in rows):
            charts.add_band(
                fig,
                x,
                [p.lower80 for p in rows],
                [p.upper80 for p in rows],
                color=color,
                name=f"{label} 80%",
                group=label,
            )
        means = [p.mean for p in rows]
        charts.line(fig, x, means, name=label, color=color, dash="dot", group=label)
    return charts.to_json(charts.finish(fig, y_format="money", y_title="Spend per day"))


def track_record(past) -> dict | None:
    """How earlier stored forecasts of this series did: typical miss per day (MAE, in the
    series' unit) and how often the 80% band held, weighted by the days compared."""
    checks = [p["check"] for p in past if p["check"] and p["check"].days_compared]
    checks = [c for c in checks if c.mae is not None and c.hit_rate_80 is not None]
    days = sum(c.days_compared for c in checks)
    if not days:
        return None
    return {
        "typical_miss": sum(c.mae * c.days_compared for c in checks) / days,
        "band_held": sum(c.hit_rate_80 * c.days_compared for c in checks) / days,
        "days": days,
    }


def backtest_table(scores: list[dict]) -> list[dict]:
    """The stored candidates' backtest scores (MASE < 1 beats seasonal naive), chosen first."""
    rows = [
        {
            "model": row.get("model", ""),
            "words": describe_model(row.get("model", "")),
            "mase": row.get("mase"),
            "relative_mase": row.get("relative_mase"),
            "coverage": row.get("coverage"),
            "chosen": bool(row.get("chosen")),
        }
        for row in scores
    ]
    rows.sort(key=lambda r: (not r["chosen"], r["mase"] if r["mase"] is not None else float("inf")))
    return rows


def _forecast_form(request, known, names) -> tuple[dict, tuple[str, str], int]:
    errors = [
        f"{p}: unknown parameter (use series, horizon)"
        for p in request.GET
        if p not in ("series", "horizon")
    ]
    choice = _series_choice(request.GET.get("series", ""), known)
    if isinstance(choice, str):
        errors.append(choice)
        choice = ("", "")
    raw_horizon = request.GET.get("horizon", "90")
    horizon = int(raw_horizon) if raw_horizon in {str(h) for h in HORIZONS} else None
    if horizon is None:
        errors.append(f"horizon: expected one of {', '.join(map(str, HORIZONS))} days")
        horizon = 90
    context = {
        "page": "forecast",
        "errors": errors,
        "horizons": HORIZONS,
        "horizon": horizon,
        "series_value": f"{choice[0]}:{choice[1]}" if choice[0] else "",
        "series_label": label_for(choice[0], choice[1], names) if choice[0] else "Total",
        "series_options": [
            (
                GROUPING_LABELS[kind],
                [(f"{kind}:{v}", label_for(kind, v, names)) for v in known.get(kind, [])],
            )
            for kind in SERIES_KINDS
        ],
    }
    return context, choice, horizon


@dashboard_view
def forecast_page(request):
    today = data_today()
    known = queries.series_values(today - timedelta(days=HISTORY_DAYS), today)
    names = queries.entity_names()
    context, (kind, value), horizon = _forecast_form(request, known, names)
    if context["errors"]:
        return render(request, "dashboard/forecast.html", context, status=400)
    filters = {kind: [value]} if kind else {}
    as_of = default_as_of()
    try:
        if as_of is None:
            raise ForecastError("no spend data yet")
        stored = _stored_forecast(filters, horizon, as_of)
        fc = stored_forecast(stored, horizon)
    except (ForecastError, QueryError) as exc:
        context["empty_reason"] = str(exc).removeprefix("history: ")
        context["can_compute"] = isinstance(exc, ForecastNotReady)
        return render(request, "dashboard/forecast.html", context)
    past = _past_runs(filters, as_of)
    first = as_of - timedelta(days=SHOWN_HISTORY_DAYS - 1)
    if past:
        first = min(first, min(s.run.as_of for s in past) - timedelta(days=14))
    y = _actuals(filters, first, as_of)
    basis = BASIS_LABELS.get(stored.basis, "spend")
    shown = y[y.index > pd.Timestamp(as_of - timedelta(days=SHOWN_HISTORY_DAYS))]
    context.update(
        fc=fc,
        stored=stored,
        run=stored.run,
        basis=basis,
        scores=backtest_table(stored.scores),
        notes=stored.notes,
        horizon_total=sum(fc.mean),
        horizon_lower=sum(fc.lower[80]),
        horizon_upper=sum(fc.upper[80]),
        past=[
            {
                "label": _past_label(s),
                "run": s.run,
                "model": describe_model(s.chosen_model),
                "code": s.chosen_model,
                "check": getattr(s, "accuracy", None),
            }
            for s in past
        ],
        model_words=describe_model(fc.model),
        chart_forecast=charts.to_json(_forecast_figure(shown, fc, f"{basis} per day")),
        chart_backtest=_past_figure(y, past, _past_points(past)) if past else "",
    )
    context["track"] = track_record(context["past"])
    return render(request, "dashboard/forecast.html", context)


@require_POST
@dashboard_view
def forecast_compute(request):
    """The explicit action behind "Compute now": fit and store today's total forecast of the
    series the form names (and so the month projection), then go back."""
    today = data_today()
    known = queries.series_values(today - timedelta(days=HISTORY_DAYS), today)
    choice = _series_choice(request.POST.get("series", ""), known)
    horizon = request.POST.get("horizon", "90")
    back = request.POST.get("next", "")
    if back not in ("/", "/scenarios/"):
        back = "/forecast/"
        if not isinstance(choice, str) and choice[0]:
            back += f"?series={quote(f'{choice[0]}:{choice[1]}')}&horizon={quote(horizon)}"
    if isinstance(choice, str) or horizon not in {str(h) for h in HORIZONS}:
        messages.error(request, choice if isinstance(choice, str) else "horizon: unknown value")
        return redirect("forecast")
    as_of = default_as_of()
    kind, value = choice
    filters = {kind: [value]} if kind else {}
    try:
        if as_of is None:
            raise ForecastError("no spend data yet")
        total_series(filters, int(horizon), as_of, compute=True, trigger="manual")
        messages.success(request, "Forecast computed.")
    except (ForecastError, QueryError) as exc:
        messages.error(request, f"No forecast: {str(exc).removeprefix('history: ')}")
    return redirect(back)
