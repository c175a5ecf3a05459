"""Overview, explorer (+ CSV export) and data health. Forecast and scenario pages live in
`forecast_views` and `scenario_views`. Every view is behind login (middleware) and a
dashboard role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

from forecasting.runs.projections import Projection, month_projection
from forecasting.runs.runway import runways
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
from spendapp.usage.calendar import data_today
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
from spendapp.usage.tiers import TierBook

OVERVIEW_CHART_DAYS = 90
HISTORY_DAYS = 365
DATA_HEALTH_DAYS = 30
UNALLOCATED_ROWS = 20


# --- overview ---------------------------------------------------------------------------------


def _overview_chart(history: queries.SpendHistory, projection: Projection):
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
    fc = projection.forecast
    if fc is not None:
        future = [d.date().isoformat() for d in fc.mean.index]
        charts.add_band(
            fig, future, fc.lower[80], fc.upper[80], color="#0f4c81", name="Forecast 80%"
        )
        charts.line(fig, future, fc.mean, name="Forecast", color="#0f4c81", dash="dot")
    return fig


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
        "runways": runways(),
        "runway_alert_days": settings.CREDIT_RUNWAY_ALERT_DAYS,
        "runway_next": "/",
        "empty": history.empty,
    }
    if not history.empty:
        projection = month_projection()
        month = projection.period
        context.update(
            month=month,
            mtd=history.between(month.start, today),
            comparison=_same_days_last_month(history, month.start, projection.as_of),
            projection=projection,
            movers=queries.top_movers(projection.as_of) if projection.as_of else [],
            last_day=history.last_day,
            chart_spend=charts.to_json(_overview_chart(history, projection)),
        )
    return render(request, "dashboard/overview.html", context)


@dataclass(frozen=True)
class Comparison:
    """Spend of this month's complete days against the same days of last month."""

    this_month: queries.DaySpend
    last_month: queries.DaySpend
    last_day: date  # last complete day compared

    @property
    def change_pct(self) -> Decimal | None:
        before = self.last_month.total
        if not before:
            return None
        return ((self.this_month.total - before) * 100 / before).quantize(Decimal("0.1"))


def _same_days_last_month(
    history: queries.SpendHistory, month_start: date, as_of: date | None
) -> Comparison | None:
    """Complete days only: a month-over-month change that counts today's partial day
    compares a few hours with a whole day."""
    if as_of is None or as_of < month_start:
        return None
    days = (as_of - month_start).days + 1
    previous = (month_start - timedelta(days=1)).replace(day=1)
    same_last = previous + timedelta(days=min(days, (month_start - previous).days) - 1)
    return Comparison(
        history.between(month_start, as_of), history.between(previous, same_last), as_of
    )


# --- explorer ---------------------------------------------------------------------------------


def _known_values(date_from: date, date_to: date, tier_book: TierBook | None = None) -> dict:
    return dimension_values(SpendQuery(date_from, date_to), tier_book=tier_book)


FORM_FIELDS = ("from", "to", "by", "metric", "granularity", "chart")
WIDE_FILTERS = ("project", "api_key", "user")


def _filter_choices(picked: dict, known: dict[str, list[str]], names: dict, errors: dict) -> list:
    choices = []
    for key, label in GROUPING_LABELS.items():
        chosen = set(picked.get(key, ()))
        values = known.get(key, [])
        # A value the user picked stays listed (and picked) even where the range has no data.
        values = [*values, *sorted(chosen - set(values) - {NONE_VALUE})]
        options = [(v, label_for(key, v, names)) for v in values]
        none_text = UNALLOCATED_LABEL if key in ALLOCATION_KEYS else f"(no {label.lower()})"
        options.append((NONE_VALUE, none_text))
        choices.append(
            {
                "name": key,
                "label": label,
                "error": errors.get(key, ""),
                # Names followed by long provider ids: the list takes two columns.
                "wide": key in WIDE_FILTERS,
                "options": [(value, text, value in chosen) for value, text in options],
            }
        )
    return choices


def _field_errors(messages: list[str]) -> dict[str, str]:
    """``"granularity: hourly data covers ..."`` -> ``{"granularity": "hourly data ..."}``: the
    filters name the parameter first, so each message can stand next to its control."""
    by_field: dict[str, str] = {}
    for message in messages:
        name, _, text = message.partition(": ")
        if text and (name in FORM_FIELDS or name in GROUPING_LABELS):
            by_field[name] = f"{by_field[name]} {text}" if name in by_field else text
    return by_field


def _explorer_form(state: ExplorerState, known, names, submitted=None, errors=()) -> dict:
    """The form's controls: the valid state's values, or after a refusal what the user sent
    (``submitted``, the query string) with each error beside its field."""
    values = {
        "from": state.date_from.isoformat(),
        "to": state.date_to.isoformat(),
        "by": state.by,
        "metric": state.metric,
        "granularity": state.granularity,
        "chart": state.chart,
    }
    picked = dict(state.filters)
    if submitted is not None:
        values.update({k: submitted.get(k, "")[:40] for k in FORM_FIELDS if k in submitted})
        picked = {k: submitted.getlist(k) for k in GROUPING_LABELS if k in submitted}
    field_errors = _field_errors(list(errors))
    return {
        "state": state,
        "form": {k: {"value": v, "error": field_errors.get(k, "")} for k, v in values.items()},
        "groupings": GROUPING_LABELS,
        "granularities": GRANULARITIES,
        "metrics": METRICS,
        "chart_styles": CHART_STYLES,
        "filter_choices": _filter_choices(picked, known, names, field_errors),
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
            **_explorer_form(default, values, names, request.GET, exc.messages),
        }
        return render(request, "dashboard/explorer.html", context, status=400)
    try:
        series = explorer_series(state, names, known_cache.get("tiers"))
    except QueryError as exc:  # e.g. a team renamed between the form and the query
        form = _explorer_form(state, {}, names, request.GET, [str(exc)])
        context = {"page": "explorer", "errors": [str(exc)], **form}
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
        "no_model_series": state.by == "model" and any(not s.key for s in series if not s.is_other),
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
        day = by_day.setdefault(row.day, [0, 0, False, 0])
        day[0] += row.estimated or 0
        day[3] += row.calibrated or 0
        if row.billed is not None:
            day[1] += row.billed
            day[2] = True
    days = sorted(by_day)
    x = [d.isoformat() for d in days]
    fig = charts.series_chart(
        x,
        [
            {
                "name": "List estimate (usage x price catalog)",
                "values": [by_day[d][0] for d in days],
                "color": "#E69F00",
            },
            {
                "name": "Calibrated estimate (list x learned bill ratio)",
                "values": [by_day[d][3] for d in days],
                "color": "#009E73",
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
        # Today's day is still arriving: plotted, its small sum reads as a collapse.
        "chart_recon": _recon_chart([r for r in recon if r.day < today]) if recon else "",
        "recon_partial_day": today if date_to >= today else None,
        "audit_flags": [row for row in audit if row.flagged],
        "audit_ok": sum(1 for row in audit if not row.flagged),
        # Usage priced by a documented provider rule (batch/flex at 50 %), not the catalog.
        "audit_rules": [row for row in audit if row.used_rule],
        "delivery_failures": recent_delivery_failures(),
        "unallocated": top_unallocated(date_from, date_to, limit=UNALLOCATED_ROWS),
        "has_accounts": bool(accounts),
    }
    return render(request, "dashboard/data_health.html", context, status=400 if errors else 200)
