"""The /api/v1/ endpoints: thin wrappers over the functions the pages and commands call.

spend: `spendapp.usage.queries` (the explorer's and `manage.py spend --json`'s query);
month projection: `forecasting.runs.projections`; stored runs and checks: `forecasting.runs`;
scenarios: `forecasting.runs.scenarios` + `forecasting.scenario_spec`; budgets and alerts:
`spendapp.budgets`; allocation and chargeback: `spendapp.allocation`; exports: the explorer's
CSV writer and `spendapp.allocation.focus` (FOCUS 1.3).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router
from ninja.responses import Status

from forecasting import PRESETS, ForecastError, ScenarioError, validate_spec
from forecasting.runs.models import ForecastCheck, ForecastRun, Scenario, SeriesForecast
from forecasting.runs.projections import month_projection
from forecasting.runs.scenarios import preset_specs, scenario_results
from spendapp.allocation import chargeback as cb
from spendapp.allocation import focus
from spendapp.allocation.forms import RuleForm, TeamForm
from spendapp.allocation.models import AllocationRule, Team
from spendapp.api import schemas as s
from spendapp.api.base import ApiError, audited, field_error, require
from spendapp.api.models import ALLOCATION_WRITE, BUDGETS_WRITE, READ, SCENARIOS_WRITE
from spendapp.budgets.forms import BudgetForm
from spendapp.budgets.models import AlertEvent, Budget
from spendapp.budgets.pages import acknowledge
from spendapp.core.roles import can_acknowledge, can_manage_scenario, sees_account_alerts
from spendapp.dashboard import exports, queries
from spendapp.providers.models import ProviderAccount
from spendapp.usage.calendar import data_today
from spendapp.usage.models import SyncRun
from spendapp.usage.queries import QueryError, query_from_options, spend_rows

ERRORS = {400: s.Error, 401: s.Error, 403: s.Error, 404: s.Error, 429: s.Error}
MAX_LIMIT = 10_000
MAX_DAYS = 3 * 366  # the explorer's bound on a range

router = Router()


def _text(value) -> str | None:
    return None if value is None else f"{Decimal(value).normalize():f}"


def _page(limit: int, offset: int, fetched: list) -> tuple[list, int | None]:
    """One page of ``fetched`` (read with ``limit + 1`` rows) and the next offset."""
    return fetched[:limit], (offset + limit if len(fetched) > limit else None)


def _form_errors(form) -> ApiError:
    field, messages = next(iter(form.errors.items()))
    field = "" if field == "__all__" else field
    return ApiError(400, field, " ".join(messages))


# --- spend ----------------------------------------------------------------------------------


class SpendParams(s.Schema):
    date_from: str | None = s.Field(None, alias="from", description="First day, YYYY-MM-DD")
    date_to: str | None = s.Field(None, alias="to", description="Last day (inclusive)")
    by: str = s.Field(
        "",
        description="Comma-separated groupings (provider, account, project, "
        "model, tier, api_key, user, team, cost_centre)",
        max_length=200,
    )
    granularity: str = s.Field("day", description="hour, day, week or month")
    filter: list[str] = s.Field(
        [],
        description="FIELD=VALUE[,VALUE...], repeatable; an empty value matches rows "
        "without the field",
        max_length=50,
    )
    limit: int = s.Field(1000, ge=1, le=MAX_LIMIT)
    offset: int = s.Field(0, ge=0, le=10_000_000)


def spend_page(params: SpendParams) -> dict:
    """The rows `manage.py spend --json` prints for the same options, one page of them."""
    try:
        query = query_from_options(
            data_today(),
            params.date_from,
            params.date_to,
            params.by,
            params.granularity,
            params.filter,
        )
        if (query.date_to - query.date_from).days + 1 > MAX_DAYS:
            raise QueryError(f"from: the range may cover at most {MAX_DAYS} days")
        fetched = spend_rows(query, limit=params.limit + 1, offset=params.offset)
    except QueryError as exc:
        raise field_error(str(exc)) from None
    rows, next_offset = _page(params.limit, params.offset, fetched)
    return {
        "rows": rows,
        "limit": params.limit,
        "offset": params.offset,
        "next_offset": next_offset,
    }


@router.get("/spend", url_name="api_spend", response={200: s.SpendPage, **ERRORS}, tags=["spend"])
def spend(request, params: Query[SpendParams]):
    """Spend, tokens and requests per period and grouping: the rows of the explorer's CSV and
    of `manage.py spend --json` for the same options (`from`, `to`, `by`, `granularity`,
    `filter`), `limit` rows per page from `offset`."""
    require(request, READ)
    # Written directly: up to 10,000 rows need no second validation pass.
    return HttpResponse(json.dumps(spend_page(params)), content_type="application/json")


@router.get(
    "/exports/spend.csv",
    url_name="api_export_spend",
    response={200: str, **ERRORS},
    tags=["exports"],
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def spend_csv(request, params: Query[SpendParams]):
    """The explorer's CSV export for the same options as `/spend` (every row, no pages)."""
    require(request, READ)
    try:
        query = query_from_options(
            data_today(),
            params.date_from,
            params.date_to,
            params.by,
            params.granularity,
            params.filter,
        )
        if (query.date_to - query.date_from).days + 1 > MAX_DAYS:
            raise QueryError(f"from: the range may cover at most {MAX_DAYS} days")
        rows = spend_rows(query)
    except QueryError as exc:
        raise field_error(str(exc)) from None
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="spend-{query.date_from}-{query.date_to}.csv"'
    )
    exports.write_spend_csv(response, query, rows)
    return response


# --- forecasts ------------------------------------------------------------------------------


@router.get(
    "/forecasts/month",
    url_name="api_forecast_month",
    response={200: s.Projection, **ERRORS},
    tags=["forecasts"],
)
def month(request):
    """This month's projection: the one number of every page (from the stored forecast;
    a GET never fits)."""
    require(request, READ)
    projection = month_projection()
    data = projection.as_json()
    return {
        "month": data.get("month", projection.period.label),
        "as_of": projection.as_of,
        "actual_to_date": data["actual_to_date"],
        "projected_total": data["projected_total"],
        "lower_80": data["lower_80"],
        "upper_80": data["upper_80"],
        "note": projection.note,
    }


def _check(series: SeriesForecast) -> dict | None:
    try:
        check: ForecastCheck = series.accuracy
    except ForecastCheck.DoesNotExist:
        return None
    return {
        "checked_at": check.checked_at,
        "days_compared": check.days_compared,
        "last_actual": check.last_actual,
        "mae": check.mae,
        "mase": check.mase,
        "bias": check.bias,
        "hit_rate_80": check.hit_rate_80,
        "hit_rate_95": check.hit_rate_95,
    }


def _series(series: SeriesForecast, points: bool = False) -> dict:
    out = {
        "provider": series.provider,
        "model": series.model,
        "project_id": series.project_id,
        "measure": series.measure,
        "chosen_model": series.chosen_model,
        "basis": series.basis,
        "horizon_total": _text(series.horizon_total),
        "check": _check(series),
    }
    if points:
        out["points"] = [
            {
                "date": p.date,
                "mean": _text(p.mean),
                "lower80": _text(p.lower80),
                "upper80": _text(p.upper80),
                "lower95": _text(p.lower95),
                "upper95": _text(p.upper95),
            }
            for p in series.points.all()
        ]
    return out


def _run(run: ForecastRun, totals: dict[int, SeriesForecast]) -> dict:
    total = totals.get(run.pk)
    return {
        "id": run.pk,
        "created_at": run.created_at,
        "kind": run.kind,
        "status": run.status,
        "trigger": run.trigger,
        "as_of": run.as_of,
        "horizon": run.horizon,
        "levels": [float(level) for level in run.levels],
        "filters": {k: [str(x) for x in v] for k, v in (run.filters or {}).items()},
        "total": _series(total) if total else None,
    }


def _totals(run_ids) -> dict[int, SeriesForecast]:
    rows = SeriesForecast.objects.filter(
        run_id__in=run_ids, provider="", model="", project_id="", measure="spend"
    ).select_related("accuracy")
    return {row.run_id: row for row in rows}


@router.get(
    "/forecasts/runs",
    url_name="api_forecast_runs",
    response={200: s.RunPage, **ERRORS},
    tags=["forecasts"],
)
def runs(request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**6)):
    """Stored forecast runs, newest first, each with its total series and that series'
    check against actuals."""
    require(request, READ)
    fetched = list(ForecastRun.objects.order_by("-created_at", "-pk")[offset : offset + limit + 1])
    page, next_offset = _page(limit, offset, fetched)
    totals = _totals([r.pk for r in page])
    return {
        "runs": [_run(r, totals) for r in page],
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
    }


@router.get(
    "/forecasts/runs/{run_id}",
    url_name="api_forecast_run",
    response={200: s.RunDetail, **ERRORS},
    tags=["forecasts"],
)
def run_detail(request, run_id: int):
    """One stored run: every series with its daily points and its check."""
    require(request, READ)
    if not 0 < run_id < 2**63:
        raise ApiError(404, "run_id", "no such run")
    run = get_object_or_404(ForecastRun, pk=run_id)
    series = (
        run.series.select_related("accuracy")
        .prefetch_related("points")
        .order_by("provider", "model", "project_id", "measure")
    )
    out = _run(run, _totals([run.pk]))
    out["series"] = [_series(x, points=True) for x in series]
    return out


# --- budgets and alerts ---------------------------------------------------------------------


def _budget(b: Budget) -> dict:
    return {
        "id": b.pk,
        "name": b.name,
        "scope": b.scope,
        "scope_value": b.scope_value,
        "period": b.period,
        "amount": _text(b.amount),
        "currency": b.currency,
        "thresholds": [int(t) for t in b.thresholds],
        "forecast_alert": b.forecast_alert,
        "forecast_probability": b.forecast_probability,
        "anomaly_alert": b.anomaly_alert,
        "anomaly_z": _text(b.anomaly_z),
        "notify_users": sorted(u.pk for u in b.notify_users.all()),
        "notify_groups": sorted(g.pk for g in b.notify_groups.all()),
        "extra_emails": b.extra_emails,
        "webhook_format": b.webhook_format,
        "has_webhook": bool(b.webhook_url),
        "active": b.active,
        "evaluated_at": b.evaluated_at,
        "period_start": b.eval_period_start,
        "spend": _text(b.eval_spend),
        "projected": _text(b.eval_projected),
        "probability": b.eval_probability,
        "crossing_date": b.eval_crossing_date,
    }


def _budgets():
    return Budget.objects.prefetch_related("notify_users", "notify_groups").order_by("name")


@router.get(
    "/budgets", url_name="api_budgets", response={200: list[s.Budget], **ERRORS}, tags=["budgets"]
)
def budgets(request):
    """Every budget with its last evaluation (spend so far, projection, crossing date). The
    webhook address is not shown (it may carry a secret): `has_webhook` says whether one is set."""
    require(request, READ)
    return [_budget(b) for b in _budgets()]


@router.get(
    "/budgets/{budget_id}",
    url_name="api_budget",
    response={200: s.Budget, **ERRORS},
    tags=["budgets"],
)
def budget(request, budget_id: int):
    require(request, READ)
    return _budget(get_object_or_404(_budgets(), pk=_pk(budget_id)))


def _pk(value: int) -> int:
    return value if 0 < value < 2**63 else 0


def _budget_form(payload: s.BudgetIn, instance: Budget | None) -> BudgetForm:
    data = payload.dict()
    data["thresholds"] = ", ".join(str(t) for t in data["thresholds"])
    if not data["currency"]:
        data["currency"] = settings.ORG_CURRENCY
    for key in ("forecast_alert", "anomaly_alert", "active"):
        if not data[key]:
            data.pop(key)  # an HTML form sends nothing for an unticked box
    return BudgetForm(data, instance=instance)


def _save_budget(request, payload: s.BudgetIn, instance: Budget | None):
    require(request, BUDGETS_WRITE)
    form = _budget_form(payload, instance)
    if not form.is_valid():
        raise _form_errors(form)
    with audited(request):
        saved = form.save_for(request.auth.user)
    return _budget(_budgets().get(pk=saved.pk))


@router.post(
    "/budgets", url_name="api_budgets", response={201: s.Budget, **ERRORS}, tags=["budgets"]
)
def budget_create(request, payload: s.BudgetIn):
    """Create a budget (scope `budgets:write`, Finance): the budgets page's form and checks."""
    return Status(201, _save_budget(request, payload, None))


@router.put(
    "/budgets/{budget_id}",
    url_name="api_budget",
    response={200: s.Budget, **ERRORS},
    tags=["budgets"],
)
def budget_update(request, budget_id: int, payload: s.BudgetIn):
    """Replace a budget's settings (scope `budgets:write`). The webhook is replaced too: send
    it again, or an empty string to remove it."""
    require(request, BUDGETS_WRITE)
    instance = get_object_or_404(Budget, pk=_pk(budget_id))
    return _save_budget(request, payload, instance)


@router.delete(
    "/budgets/{budget_id}", url_name="api_budget", response={204: None, **ERRORS}, tags=["budgets"]
)
def budget_delete(request, budget_id: int):
    """Delete a budget and its alert history (scope `budgets:write`)."""
    require(request, BUDGETS_WRITE)
    instance = get_object_or_404(Budget, pk=_pk(budget_id))
    with audited(request):
        instance.delete()
    return Status(204, None)


def _alert(a: AlertEvent) -> dict:
    return {
        "id": a.pk,
        "kind": a.kind,
        "budget_id": a.budget_id,
        "account_id": a.account_id,
        "period_start": a.period_start,
        "threshold": a.threshold,
        "spend": _text(a.spend),
        "budget_amount": _text(a.budget_amount),
        "projected": _text(a.projected),
        "probability": a.probability,
        "crossing_date": a.crossing_date,
        "created_at": a.created_at,
        "acknowledged_at": a.acknowledged_at,
    }


def _visible_alerts(user):
    alerts = AlertEvent.objects.exclude(kind=AlertEvent.Kind.DIGEST)
    if not sees_account_alerts(user):
        alerts = alerts.filter(budget__isnull=False)
    return alerts


@router.get(
    "/alerts", url_name="api_alerts", response={200: s.AlertPage, **ERRORS}, tags=["budgets"]
)
def alerts(
    request,
    acknowledged: bool | None = Query(None, description="true / false; absent: both"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**6),
):
    """Alert events, newest first (provider-account alerts only for account admins)."""
    token = require(request, READ)
    rows = _visible_alerts(token.user)
    if acknowledged is not None:
        rows = rows.filter(acknowledged_at__isnull=not acknowledged)
    fetched = list(rows.order_by("-created_at", "-pk")[offset : offset + limit + 1])
    page, next_offset = _page(limit, offset, fetched)
    return {
        "alerts": [_alert(a) for a in page],
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
    }


@router.post(
    "/alerts/{alert_id}/acknowledge",
    url_name="api_alert_acknowledge",
    response={200: s.Alert, **ERRORS},
    tags=["budgets"],
)
def alert_acknowledge(request, alert_id: int):
    """Acknowledge an alert for everyone (scope `budgets:write`; as on the budgets page)."""
    token = require(request, BUDGETS_WRITE)
    alert = get_object_or_404(_visible_alerts(token.user), pk=_pk(alert_id))
    if not can_acknowledge(token.user, alert):
        raise ApiError(403, "", "acknowledging hides the alert for everyone; your role cannot")
    with audited(request):
        acknowledge(alert, token.user)
    alert.refresh_from_db()
    return _alert(alert)


# --- providers, syncs, freshness ------------------------------------------------------------


@router.get(
    "/providers/accounts",
    url_name="api_provider_accounts",
    response={200: list[s.Account], **ERRORS},
    tags=["providers"],
)
def accounts(request):
    """Provider accounts. Never a key: at most its last four characters."""
    require(request, READ)
    return [
        {
            "id": a.pk,
            "name": a.name,
            "provider": a.provider,
            "enabled": a.enabled,
            "status": a.status,
            "status_message": a.status_message,
            "key_last4": (a.key_hint or "")[-4:],
            "last_sync_at": a.last_sync_at,
            "last_success_at": a.last_success_at,
        }
        for a in ProviderAccount.objects.order_by("name")
    ]


@router.get(
    "/providers/sync-runs",
    url_name="api_sync_runs",
    response={200: s.SyncRunPage, **ERRORS},
    tags=["providers"],
)
def sync_runs(
    request,
    account_id: int | None = Query(None, ge=1, le=2**62),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**6),
):
    """Sync runs, newest first (optionally of one account)."""
    require(request, READ)
    rows = SyncRun.objects.order_by("-started_at", "-pk")
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    fetched = list(rows[offset : offset + limit + 1])
    page, next_offset = _page(limit, offset, fetched)
    out = [
        {
            "id": r.pk,
            "account_id": r.account_id,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "outcome": r.outcome,
            "trigger": r.trigger,
            "windows": r.windows,
            "windows_failed": r.windows_failed,
            "rows_inserted": r.rows_inserted,
            "rows_updated": r.rows_updated,
            "rows_deleted": r.rows_deleted,
            "error": r.error,
        }
        for r in page
    ]
    return {"runs": out, "limit": limit, "offset": offset, "next_offset": next_offset}


@router.get(
    "/providers/freshness",
    url_name="api_freshness",
    response={200: list[s.Freshness], **ERRORS},
    tags=["providers"],
)
def freshness(request):
    """Each account's newest day of data and its lag (the overview's data freshness)."""
    require(request, READ)
    return [
        {
            "account_id": f.account.pk,
            "account": f.account.name,
            "last_day": f.last_day,
            "lag_days": f.lag_days,
            "level": f.level,
        }
        for f in queries.freshness(data_today())
    ]


# --- allocation -----------------------------------------------------------------------------


def _team(t: Team) -> dict:
    return {
        "id": t.pk,
        "name": t.name,
        "kind": t.kind,
        "parent_id": t.parent_id,
        "code": t.code,
        "owner_email": t.owner_email,
    }


def _rule(r: AllocationRule) -> dict:
    return {
        "id": r.pk,
        "dimension": r.dimension,
        "account_id": r.account_id,
        "value": r.value,
        "team_id": r.team_id,
        "shared_cost_id": r.shared_cost_id,
        "priority": r.priority,
        "valid_from": r.valid_from,
        "valid_until": r.valid_until,
        "note": r.note,
    }


@router.get(
    "/allocation/teams",
    url_name="api_teams",
    response={200: list[s.Team], **ERRORS},
    tags=["allocation"],
)
def teams(request):
    require(request, READ)
    return [_team(t) for t in Team.objects.order_by("name")]


@router.post(
    "/allocation/teams", url_name="api_teams", response={201: s.Team, **ERRORS}, tags=["allocation"]
)
def team_create(request, payload: s.TeamIn):
    """Create a team or cost centre (scope `allocation:write`, Finance)."""
    require(request, ALLOCATION_WRITE)
    form = TeamForm({k: ("" if v is None else v) for k, v in payload.dict().items()})
    if not form.is_valid():
        raise _form_errors(form)
    with audited(request):
        team = form.save()
    return Status(201, _team(team))


@router.get(
    "/allocation/rules",
    url_name="api_rules",
    response={200: list[s.Rule], **ERRORS},
    tags=["allocation"],
)
def rules(request):
    require(request, READ)
    return [_rule(r) for r in AllocationRule.objects.order_by("priority", "pk")]


def _rule_data(payload: s.RuleIn) -> dict:
    return {k: ("" if v is None else v) for k, v in payload.dict().items()}


@router.post(
    "/allocation/rules", url_name="api_rules", response={201: s.Rule, **ERRORS}, tags=["allocation"]
)
def rule_create(request, payload: s.RuleIn):
    """Create an allocation rule (scope `allocation:write`): the allocation page's form; the
    allocation is recomputed in the background."""
    require(request, ALLOCATION_WRITE)
    form = RuleForm(_rule_data(payload))
    if not form.is_valid():
        raise _form_errors(form)
    with audited(request):
        rule = form.save()
    return Status(201, _rule(rule))


@router.put(
    "/allocation/rules/{rule_id}",
    url_name="api_rule",
    response={200: s.Rule, **ERRORS},
    tags=["allocation"],
)
def rule_update(request, rule_id: int, payload: s.RuleIn):
    require(request, ALLOCATION_WRITE)
    instance = get_object_or_404(AllocationRule, pk=_pk(rule_id))
    form = RuleForm(_rule_data(payload), instance=instance)
    if not form.is_valid():
        raise _form_errors(form)
    with audited(request):
        rule = form.save()
    return _rule(rule)


@router.delete(
    "/allocation/rules/{rule_id}",
    url_name="api_rule",
    response={204: None, **ERRORS},
    tags=["allocation"],
)
def rule_delete(request, rule_id: int):
    require(request, ALLOCATION_WRITE)
    instance = get_object_or_404(AllocationRule, pk=_pk(rule_id))
    with audited(request):
        instance.delete()
    return Status(204, None)


def _month(text: str | None, default: date) -> date:
    try:
        return cb.parse_month(text, default=default)
    except ValueError as exc:
        raise ApiError(400, "month", str(exc).removeprefix("month: ")) from None


def _line(line, *, team: bool) -> dict:
    return {
        "team_id": line.id if team else None,
        "team": line.name,
        "code": line.code,
        "cost_centre": line.cost_centre,
        "spend": _text(line.spend),
        "billed": _text(line.billed_cost),
        "estimated": _text(line.estimated_cost),
        "previous_spend": _text(line.prev_spend),
    }


@router.get(
    "/allocation/chargeback",
    url_name="api_chargeback",
    response={200: s.Chargeback, **ERRORS},
    tags=["allocation"],
)
def chargeback(
    request,
    month: str | None = Query(None, description="YYYY-MM; default: last month", max_length=20),
):
    """The monthly chargeback per team (the allocation page's report)."""
    require(request, READ)
    today = datetime.now(UTC).date()
    report = cb.chargeback(_month(month, cb.previous_month(today)))
    return {
        "month": report.label,
        "total": _text(report.total.spend),
        "lines": [_line(line, team=True) for line in report.teams],
    }


# --- FOCUS export ---------------------------------------------------------------------------


@router.get(
    "/exports/focus",
    url_name="api_export_focus",
    response={200: str, **ERRORS},
    tags=["exports"],
    openapi_extra={
        "responses": {
            200: {
                "description": "FOCUS 1.3 rows of the month",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/jsonl": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def focus_export(
    request,
    month: str | None = Query(None, description="YYYY-MM; default: last month", max_length=20),
    format: str = Query("csv", description="csv or jsonl", max_length=10),
    allocated: bool = Query(False, description="per team, with the Allocated* columns"),
):
    """The month's billed spend as FOCUS 1.3 (CSV or JSON Lines): one row per day, account,
    project, model, API key and token type; `allocated=true` splits it per team from the
    allocation rules, with the `Allocated*` columns."""
    require(request, READ)
    if format not in ("csv", "jsonl"):
        raise ApiError(400, "format", "expected csv or jsonl")
    today = datetime.now(UTC).date()
    first = _month(month, cb.previous_month(today))
    rows = focus.focus_rows(first, allocated=allocated)
    kind = "allocated-" if allocated else ""
    if format == "csv":
        response = StreamingHttpResponse(
            focus.as_csv(rows, allocated=allocated), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(focus.as_jsonl(rows), content_type="application/jsonl")
    response["Content-Disposition"] = (
        f'attachment; filename="focus-1.3-{kind}{first:%Y-%m}.{format}"'
    )
    return response


# --- scenarios ------------------------------------------------------------------------------


def _scenario(x: Scenario) -> dict:
    return {
        "slug": x.slug,
        "name": x.name,
        "notes": x.notes,
        "owner": x.owner.username if x.owner else None,
        "spec": x.spec,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


@router.get(
    "/scenarios",
    url_name="api_scenarios",
    response={200: list[s.Scenario], **ERRORS},
    tags=["scenarios"],
)
def scenarios(request):
    """Saved scenarios, newest first (the scenarios page's list)."""
    require(request, READ)
    return [_scenario(x) for x in Scenario.objects.select_related("owner")[:200]]


@router.get(
    "/scenarios/presets",
    url_name="api_scenario_presets",
    response={200: list[s.Preset], **ERRORS},
    tags=["scenarios"],
)
def presets(request):
    require(request, READ)
    available = preset_specs()
    return [
        {
            "name": name,
            "description": available[name]["description"]
            if name in available
            else "no priced model of the tier it needs",
            "available": name in available,
        }
        for name in PRESETS
    ]


def _result(result) -> dict:
    monthly = result.monthly
    return {
        "name": result.name,
        "total": _text(result.total),
        "savings": _text(result.savings),
        "months": [
            {
                "month": str(period),
                "spend": _text(row["spend"]),
                "lower": _text(row["lower"]),
                "upper": _text(row["upper"]),
            }
            for period, row in monthly.iterrows()
        ],
    }


@router.post(
    "/scenarios/run",
    url_name="api_scenario_run",
    response={200: s.ScenarioComparison, 409: s.Error, **ERRORS},
    tags=["scenarios"],
)
def scenario_run(request, payload: s.ScenarioRun):
    """Price one scenario (a preset, a saved scenario or a spec) against the baseline, as the
    scenarios page does. Reads only; 409 while there is too little history for a baseline."""
    require(request, READ)
    given = [k for k in ("preset", "slug", "spec") if getattr(payload, k) is not None]
    if len(given) != 1:
        raise ApiError(400, "spec", "give exactly one of preset, slug or spec")
    if payload.preset is not None:
        available = preset_specs()
        if payload.preset not in available:
            raise ApiError(400, "preset", f"no available preset {payload.preset[:60]!r}")
        spec = available[payload.preset]
    elif payload.slug is not None:
        saved = Scenario.objects.filter(slug=payload.slug[:60]).first()
        if saved is None:
            raise ApiError(404, "slug", "no saved scenario with this slug")
        spec = {**saved.spec, "name": saved.name}
    else:
        if len(json.dumps(payload.spec)) > 64 * 1024:
            raise ApiError(400, "spec", "at most 64 KB")
        spec = payload.spec
    try:
        baseline, result = scenario_results([spec])
    except ScenarioError as exc:
        if str(exc).startswith("history:"):  # no baseline yet: not the spec's fault
            raise ApiError(409, "", str(exc).removeprefix("history: ")) from None
        raise field_error(f"spec.{exc}" if ": " in str(exc) else f"spec: {exc}") from None
    except ForecastError as exc:
        raise ApiError(409, "", str(exc).removeprefix("history: ")) from None
    except ArithmeticError:
        raise ApiError(400, "spec", "these numbers are too large to price together") from None
    return {"baseline": _result(baseline), "scenario": _result(result)}


@router.post(
    "/scenarios", url_name="api_scenarios", response={201: s.Scenario, **ERRORS}, tags=["scenarios"]
)
def scenario_save(request, payload: s.ScenarioIn):
    """Save a scenario (scope `scenarios:write`; Finance and Engineering, as on the page)."""
    token = require(request, SCENARIOS_WRITE)
    name = payload.name.strip()
    if not name:
        raise ApiError(400, "name", "give the scenario a name")
    try:
        spec = validate_spec(
            {"name": name, "description": payload.notes, "transforms": payload.transforms}
        )
    except ScenarioError as exc:
        raise field_error(str(exc).replace("description:", "notes:", 1)) from None
    with audited(request), transaction.atomic():
        scenario = Scenario(owner=token.user, name=name, notes=payload.notes, spec=spec)
        scenario.save()
    return Status(201, _scenario(scenario))


@router.delete(
    "/scenarios/{slug}", url_name="api_scenario", response={204: None, **ERRORS}, tags=["scenarios"]
)
def scenario_delete(request, slug: str):
    """Delete a saved scenario: its owner, or a user allowed to manage scenarios."""
    token = require(request, SCENARIOS_WRITE)
    scenario = get_object_or_404(Scenario, slug=slug[:60])
    if not can_manage_scenario(token.user, scenario):
        raise ApiError(403, "", "only the owner (or an admin) can delete this scenario")
    with audited(request):
        scenario.delete()
    return Status(204, None)
