"""Overview, explorer (+ CSV export) and data health. Forecast and scenario pages live in
`planning_views`. Every view is behind login (middleware) and a dashboard role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from forecasting import Forecast, ForecastError, PeriodProjection
from forecasting.runs import services as forecasts
from forecasting.runs.tiers import TierBook
from spendapp.allocation.queries import top_unallocated
from spendapp.budgets.hooks import active_alerts, recent_delivery_failures
from spendapp.budgets.models import Budget
from spendapp.budgets.pages import budget_status
from spendapp.core.inputs import parse_day
from spendapp.core.middleware import checks_own_params
from spendapp.core.roles import dashboard_view
from spendapp.dashboard import charts, exports, queries
from spendapp.dashboard.filters import (
    CHART_STYLES,
    GROUPING_LABELS,
    METRICS,
    NONE_VALUE,
    UNALLOCATED_LABEL,
    ExplorerState,
    FilterError,
    parse_explorer,
)
from spendapp.dashboard.series import explorer_figure, explorer_series, label_for, totals_row
from spendapp.usage.audit import price_audit
from spendapp.usage.queries import (
    ALLOCATION_KEYS,
    GRANULARITIES,
    MAX_HOURLY_DAYS,
    QueryError,
    SpendQuery,
    dimension_values,
    spend_rows,
)
from spendapp.usage.reconcile import COMPARED, reconciliation

OVERVIEW_CHART_DAYS = 90
HISTORY_DAYS = 365
DATA_HEALTH_DAYS = 30
UNALLOCATED_ROWS = 20


def data_today() -> date:
    """Today as the rollup counts days (UTC)."""
    return timezone.now().date()


# --- overview ---------------------------------------------------------------------------------


def _overview_chart(history: queries.SpendHistory, outlook: Outlook | None):
    first = history.date_to - timedelta(days=OVERVIEW_CHART_DAYS - 1)
    days = [d for d in history.days() if d >= first]
    x = [d.isoformat() for d in days]
    traces = [
        {
            "name": provider,
            "values": [per_day.get(d, 0) for d in days],
            "color": charts.color_for("provider", provider),
        }
        for provider, per_day in sorted(history.by_provider.items())
    ]
    fig = charts.series_chart(x, traces, y_format="money", y_title="Spend per day", stacked=True)
    if outlook is not None:
        fc = outlook.forecast
        shown = fc.mean.index <= outlook.projection.end  # the rest of the month
        future = [d.date().isoformat() for d in fc.mean.index[shown]]
        charts.add_band(
            fig,
            future,
            fc.lower[80][shown],
            fc.upper[80][shown],
            color="#0f4c81",
            name="Forecast 80%",
        )
        charts.line(fig, future, fc.mean[shown], name="Forecast", color="#0f4c81", dash="dot")
    return fig


@dataclass(frozen=True)
class Outlook:
    """The month-end projection of `forecasting.runs.services` and the daily forecast it rests
    on (the stored run's, or one computed once and stored by `forecast_total`)."""

    projection: PeriodProjection
    forecast: Forecast

    @property
    def actuals_until(self) -> date:
        return self.forecast.mean.index[0].date() - timedelta(days=1)

    @property
    def model(self) -> str:
        return self.forecast.model


def _outlook() -> Outlook | str:
    """The month-end projection, or why there is none. Both calls read the same stored
    forecast (the month never has more than 31 days left)."""
    try:
        projection = forecasts.month_end_projection()
        fc = forecasts.forecast_total(horizon=31)
    except (ForecastError, QueryError) as exc:
        return str(exc)
    return Outlook(projection, fc)


def _budgets() -> list[dict]:
    rows = []
    for budget in Budget.objects.filter(active=True).order_by("name"):
        spend = budget.eval_spend
        rows.append(
            {
                "budget": budget,
                "spend": spend,
                "projected": budget.eval_projected,
                "percent": (spend / budget.amount * 100)
                if spend is not None and budget.amount
                else None,
                "status": budget_status(budget, spend, budget.eval_probability),
            }
        )
    return rows


@dashboard_view
def overview(request):
    today = data_today()
    history = queries.spend_history(today - timedelta(days=HISTORY_DAYS - 1), today)
    context = {
        "page": "overview",
        "today": today,
        "accounts": queries.freshness(today),
        "alerts": active_alerts(request.user),
        "budgets": _budgets(),
        "empty": history.empty,
    }
    if not history.empty:
        outlook = _outlook()
        context.update(
            mtd=history.between(today.replace(day=1), today),
            last_month=_last_month(history, today),
            outlook=outlook if isinstance(outlook, Outlook) else None,
            outlook_note=outlook if isinstance(outlook, str) else "",
            movers=queries.top_movers(history.last_day),
            last_day=history.last_day,
            chart_spend=charts.to_json(
                _overview_chart(history, outlook if isinstance(outlook, Outlook) else None)
            ),
        )
    return render(request, "dashboard/overview.html", context)


def _last_month(history: queries.SpendHistory, today: date) -> queries.DaySpend:
    """Last month up to the same day of the month, for a like-for-like comparison."""
    end = today.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    same_day = start.replace(day=min(today.day, end.day))
    return history.between(start, same_day)


# --- explorer ---------------------------------------------------------------------------------


def _known_values(date_from: date, date_to: date, tier_book: TierBook | None = None) -> dict:
    return dimension_values(SpendQuery(date_from, date_to), tier_book=tier_book)


def _filter_choices(state: ExplorerState, known: dict[str, list[str]], names: dict) -> list:
    choices = []
    for key, label in GROUPING_LABELS.items():
        picked = set(state.filters.get(key, ()))
        options = [(v, label_for(key, v, names)) for v in known.get(key, [])]
        none_text = UNALLOCATED_LABEL if key in ALLOCATION_KEYS else f"(no {label.lower()})"
        options.append((NONE_VALUE, none_text))
        choices.append(
            {
                "name": key,
                "label": label,
                "options": [(value, text, value in picked) for value, text in options],
            }
        )
    return choices


def _explorer_form(state: ExplorerState, known, names) -> dict:
    return {
        "state": state,
        "groupings": GROUPING_LABELS,
        "granularities": GRANULARITIES,
        "metrics": METRICS,
        "chart_styles": CHART_STYLES,
        "filter_choices": _filter_choices(state, known, names),
        "max_hourly_days": MAX_HOURLY_DAYS,
    }


@checks_own_params
@dashboard_view
def explorer(request):
    today = data_today()
    default = ExplorerState(today - timedelta(days=29), today)
    names = queries.entity_names()
    known_cache: dict = {}

    def known(date_from, date_to):
        # One TierBook (price overrides, bands, tier overrides) for the filter choices and
        # the tier grouping of this request.
        known_cache["tiers"] = TierBook()
        known_cache["values"] = _known_values(date_from, date_to, known_cache["tiers"])
        return known_cache["values"]

    try:
        state = parse_explorer(request.GET, today, known=known)
    except FilterError as exc:
        values = known_cache.get("values") or _known_values(default.date_from, default.date_to)
        context = {
            "page": "explorer",
            "errors": exc.messages,
            **_explorer_form(default, values, names),
        }
        return render(request, "dashboard/explorer.html", context, status=400)
    try:
        series = explorer_series(state, names, known_cache.get("tiers"))
    except QueryError as exc:  # e.g. a team renamed between the form and the query
        context = {"page": "explorer", "errors": [str(exc)], **_explorer_form(state, {}, names)}
        return render(request, "dashboard/explorer.html", context, status=400)
    active_filters = [
        {
            "key": key,
            "label": GROUPING_LABELS[key],
            "values": [label_for(key, "" if v == NONE_VALUE else v, names) for v in values],
            "remove": state.without_filter(key),
        }
        for key, values in state.filters.items()
    ]
    context = {
        "page": "explorer",
        "series": series,
        "total": totals_row(series),
        "metric_label": METRICS[state.metric][0],
        "by_label": GROUPING_LABELS.get(state.by, "Total"),
        "active_filters": active_filters,
        "query_string": state.query_string(),
        "chart_spend": charts.to_json(explorer_figure(series, state)) if series else "",
        **_explorer_form(state, known_cache["values"], names),
    }
    return render(request, "dashboard/explorer.html", context)


@checks_own_params
@dashboard_view
def explorer_export(request):
    """CSV of exactly the explorer's rows: the same query `manage.py spend --json` runs."""
    today = data_today()
    try:
        state = parse_explorer(request.GET, today, known=_known_values)
    except FilterError as exc:
        return HttpResponse(
            "\n".join(exc.messages) + "\n", status=400, content_type="text/plain; charset=utf-8"
        )
    query = state.spend_query()
    try:
        rows = spend_rows(query)
    except QueryError as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="spend-{state.date_from}-{state.date_to}.csv"'
    )
    exports.write_spend_csv(response, query, rows)
    return response


# --- data health ------------------------------------------------------------------------------


def _recon_chart(rows) -> str:
    by_day: dict[date, list] = {}
    for row in rows:
        day = by_day.setdefault(row.day, [0, 0, False])
        day[0] += row.estimated or 0
        if row.billed is not None:
            day[1] += row.billed
            day[2] = True
    days = sorted(by_day)
    x = [d.isoformat() for d in days]
    fig = charts.series_chart(
        x,
        [
            {
                "name": "Estimated (usage x price catalog)",
                "values": [by_day[d][0] for d in days],
                "color": "#E69F00",
            },
            {
                "name": "Billed (provider cost reports)",
                "values": [by_day[d][1] if by_day[d][2] else None for d in days],
                "color": "#0072B2",
            },
        ],
        y_format="money",
        y_title="Spend per day",
    )
    return charts.to_json(fig)


def _date_param(request, name: str, default: date, errors: list[str]) -> date:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_day(raw, name)
    except ValueError as exc:
        errors.append(str(exc))
        return default


def _health_range(request, today: date) -> tuple[date, date, list[str]]:
    errors = [
        f"{name}: unknown parameter (use from, to)"
        for name in request.GET
        if name not in ("from", "to")
    ]
    date_to = _date_param(request, "to", today, errors)
    date_from = _date_param(request, "from", date_to - timedelta(days=DATA_HEALTH_DAYS - 1), errors)
    if not errors and date_from > date_to:
        errors.append("to: must not be before from")
    if not errors and (date_to - date_from).days >= 366:
        errors.append("from: the range may cover at most 366 days")
    return date_from, date_to, errors


@dashboard_view
def data_health(request):
    today = data_today()
    date_from, date_to, errors = _health_range(request, today)
    if errors:
        date_from, date_to = today - timedelta(days=DATA_HEALTH_DAYS - 1), today
    recon = reconciliation(date_from, date_to)
    runs = queries.recent_runs()
    accounts = queries.freshness(today)
    audit = price_audit(date_from, date_to)
    context = {
        "page": "data_health",
        "errors": errors,
        "date_from": date_from,
        "date_to": date_to,
        "accounts": [
            {"fresh": fresh, "runs": runs.get(fresh.account.pk, [])} for fresh in accounts
        ],
        "unpriced": queries.unpriced_models(date_from, date_to),
        "recon": list(reversed(recon)),
        "recon_compared": sum(1 for r in recon if r.status == COMPARED),
        "chart_recon": _recon_chart(recon) if recon else "",
        "audit_flags": [row for row in audit if row.flagged],
        "audit_ok": sum(1 for row in audit if not row.flagged),
        "delivery_failures": recent_delivery_failures(),
        "unallocated": top_unallocated(date_from, date_to, limit=UNALLOCATED_ROWS),
        "has_accounts": bool(accounts),
    }
    return render(request, "dashboard/data_health.html", context, status=400 if errors else 200)
