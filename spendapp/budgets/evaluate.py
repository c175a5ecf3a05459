"""Budget evaluation: spend so far, the period projection, and alert events claimed once.

The projection is the one service's (`forecasting.runs.projections.period_projection`), so
the budgets page, the alerts and the overview show the same figure. An evaluation may fit
and store the day's forecast of its scope (outside any transaction: about a second); the
claims and their notifications are written in one short transaction. A claim is an INSERT
into a table with a unique key (budget, period start, kind, threshold): the database picks
the winner, so evaluators racing each other, or an evaluation retried after a crash, never
alert twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import median
from urllib.parse import urlencode

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from forecasting import Forecast, ForecastError, forecast
from forecasting.runs.projections import Projection, period_projection
from spendapp.budgets.models import AlertEvent, Budget
from spendapp.budgets.notify import budget_recipients, queue_event
from spendapp.budgets.spend import ScopeSpend, history_start, scope_filters
from spendapp.core import money
from spendapp.usage.calendar import Period, data_today, period_containing

log = logging.getLogger(__name__)
MIN_HISTORY_DAYS = 7
ZSCORE_WINDOW = 28
EXPLORER_FILTERS = {"provider": "provider", "project": "project", "api_key": "api_key"}


@dataclass
class Outlook:
    """What an evaluation knows about one budget's current period."""

    budget: Budget
    period: Period
    today: date
    spend: Decimal
    data: ScopeSpend
    projection: Projection | None = None
    note: str = ""
    anomaly: dict | None = None
    drivers: dict = field(default_factory=dict)

    @property
    def percent(self) -> Decimal:
        return (self.spend / self.budget.amount * 100).quantize(Decimal("0.1"))

    @property
    def projected(self) -> Decimal | None:
        return None if self.projection is None else self.projection.total

    @property
    def probability(self) -> float | None:
        return None if self.projection is None else self.projection.prob_over

    @property
    def crossing_date(self) -> date | None:
        return None if self.projection is None else self.projection.crossing_date


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def outlook(budget: Budget, now: datetime | None = None) -> Outlook:
    now = now or timezone.now()
    period = period_containing(budget.period, now)
    today = data_today(now)
    data = ScopeSpend(
        budget.scope, budget.scope_value, history_start(period.start, today), max(today, period.end)
    )
    view = Outlook(budget, period, today, data.total(period.start, min(today, period.end)), data)
    view.drivers = data.drivers(period.start, min(today, period.end))
    view.projection = budget_projection(budget, now, data)
    if not view.projection.ready:
        view.note = view.projection.note[:300]
        view.projection = None
    if budget.anomaly_alert:
        fc, _ = fit_forecast(data, today - timedelta(days=1), period)
        view.anomaly = detect_anomaly(data, fc, today - timedelta(days=1), budget.anomaly_z)
    return view


def budget_projection(budget: Budget, now: datetime, data: ScopeSpend) -> Projection:
    """The one projection service for the budget's period and scope (a team's spend comes
    from the allocated rollup, which the forecasts' filters cannot read)."""
    if budget.scope == Budget.Scope.TEAM:
        return period_projection(
            budget.period,
            scope={"team": [budget.scope_value]},
            history=lambda first, last: _team_history(budget, first, last),
            budget=budget.amount,
            now=now,
            compute=True,
        )
    return period_projection(
        budget.period,
        scope=scope_filters(budget.scope, budget.scope_value),
        budget=budget.amount,
        now=now,
        compute=True,
    )


def _team_history(budget: Budget, first: date, last: date) -> pd.Series:
    return ScopeSpend(budget.scope, budget.scope_value, first, last).series(first, last)


def fit_forecast(data: ScopeSpend, day: date, period: Period) -> tuple[Forecast | None, str]:
    """Forecast from ``day`` (the last complete day, checked for anomalies) to period end.

    Fitted on the history before ``day``, so the same forecast both judges ``day`` and
    projects the rest of the period.
    """
    end = day - timedelta(days=1)
    if (end - data.start).days + 1 < MIN_HISTORY_DAYS:
        return None, "not enough history to forecast"
    horizon = (max(period.end, day) - day).days + 1
    try:
        return forecast(data.series(data.start, end), horizon=horizon, levels=(80, 95)), ""
    except ForecastError as exc:
        return None, f"no forecast: {exc}"[:300]


def detect_anomaly(
    data: ScopeSpend, fc: Forecast | None, day: date, z_limit: Decimal
) -> dict | None:
    """``day`` above the forecast's 95% upper bound, else a robust z-score above the limit."""
    value = data.day(day)
    if value <= 0:
        return None
    stamp = pd.Timestamp(day)
    if fc is not None and stamp in fc.upper[95].index:
        bound = float(fc.upper[95][stamp])
        if float(value) > bound:
            return {"day": day, "spend": value, "bound": _money(bound), "method": "forecast"}
        return None
    window = [float(data.day(day - timedelta(days=k))) for k in range(1, ZSCORE_WINDOW + 1)]
    window = window[: max(0, (day - data.start).days)]
    if len(window) < MIN_HISTORY_DAYS:
        return None
    mid = median(window)
    mad = median(abs(x - mid) for x in window)
    if mad > 0:
        z = 0.6745 * (float(value) - mid) / mad
        unusual = z > float(z_limit)
    else:  # a flat history: unusual when at least double the usual day
        z, unusual = None, float(value) > 2 * mid
    if not unusual:
        return None
    return {
        "day": day,
        "spend": value,
        "median": _money(mid),
        "z": None if z is None else round(z, 1),
        "method": "zscore",
    }


# --- claims ----------------------------------------------------------------------------------


def claim(**fields) -> AlertEvent | None:
    """Insert the event; None when another evaluator (or an earlier run) already has it."""
    try:
        with transaction.atomic():
            return AlertEvent.objects.create(**fields)
    except IntegrityError:
        return None


def evaluate_budget(budget: Budget, now: datetime | None = None) -> list[AlertEvent]:
    """Evaluate one budget; returns the events this call claimed (notified or not)."""
    now = now or timezone.now()
    view = outlook(budget, now)
    with transaction.atomic():
        save_snapshot(view, now)
        events = claim_thresholds(view) + claim_forecast(view) + claim_anomaly(view)
        recipients = budget_recipients(budget) if any(e.notified for e in events) else []
        for event in events:
            if event.notified:
                queue_event(event, alert_context(event, view), recipients)
    return events


def evaluate_all(now: datetime | None = None) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    for budget in Budget.objects.filter(active=True):
        try:
            events += evaluate_budget(budget, now)
        except Exception:  # one broken budget must not stop the others' alerts
            log.exception("evaluation of budget %s failed", budget.pk)
    return events


def save_snapshot(view: Outlook, now: datetime) -> None:
    Budget.objects.filter(pk=view.budget.pk).update(
        evaluated_at=now,
        eval_period_start=view.period.start,
        eval_spend=view.spend,
        eval_projected=view.projected,
        eval_probability=view.probability,
        eval_crossing_date=view.crossing_date,
        eval_note=view.note,
    )


def _common(view: Outlook) -> dict:
    return {
        "budget": view.budget,
        "spend": view.spend,
        "budget_amount": view.budget.amount,
        "projected": view.projected,
        "probability": view.probability,
        "crossing_date": view.crossing_date,
        "details": _details(view),
    }


def _details(view: Outlook) -> dict:
    return {
        "period_label": view.period.label,
        "period_end": view.period.end.isoformat(),
        "drivers": view.drivers,
        "link": explorer_url(view.budget, view.period.start, view.period.end),
    }


def claim_thresholds(view: Outlook) -> list[AlertEvent]:
    budget = view.budget
    crossed = [t for t in budget.threshold_list() if view.spend >= budget.amount * t / 100]
    won = [
        event
        for threshold in crossed
        if (
            event := claim(
                kind=AlertEvent.Kind.THRESHOLD,
                period_start=view.period.start,
                threshold=threshold,
                **_common(view),
            )
        )
    ]
    # Several thresholds crossed at once (a spike, a budget created mid-period): one message,
    # for the highest; the lower ones are claimed so they never fire later.
    for event in won[:-1]:
        event.notified = False
        event.save(update_fields=["notified"])
    if len(won) > 1:
        won[-1].details["also_crossed"] = [e.threshold for e in won[:-1]]
        won[-1].save(update_fields=["details"])
    return won


def claim_forecast(view: Outlook) -> list[AlertEvent]:
    budget = view.budget
    probability = view.probability
    if not budget.forecast_alert or probability is None or view.spend >= budget.amount:
        return []
    if probability * 100 < budget.forecast_probability:
        return []
    event = claim(
        kind=AlertEvent.Kind.FORECAST,
        period_start=view.period.start,
        threshold=budget.forecast_probability,
        **_common(view),
    )
    return [event] if event else []


def claim_anomaly(view: Outlook) -> list[AlertEvent]:
    anomaly = view.anomaly
    if not anomaly:
        return []
    day = anomaly["day"]
    fields = _common(view)
    fields["details"].update(
        anomaly={k: str(v) if v is not None else None for k, v in anomaly.items()},
        day_drivers=view.data.drivers(day, day),
        link=explorer_url(view.budget, day, day),
    )
    event = claim(kind=AlertEvent.Kind.ANOMALY, period_start=day, threshold=0, **fields)
    return [event] if event else []


# --- message context -------------------------------------------------------------------------


def explorer_url(budget: Budget, start: date, end: date) -> str:
    """The explorer filtered to the budget's scope, or the budgets page for a model tier or
    a team (the explorer's team view is per allocation, not per budget scope)."""
    if budget.scope in (Budget.Scope.TIER, Budget.Scope.TEAM):
        return budgets_url(budget)
    params = {"from": start.isoformat(), "to": end.isoformat()}
    if budget.scope in EXPLORER_FILTERS:
        params[EXPLORER_FILTERS[budget.scope]] = budget.scope_value
    return f"{settings.SITE_URL}/explorer/?{urlencode(params)}"


def budgets_url(budget: Budget) -> str:
    return f"{settings.SITE_URL}/budgets/#budget-{budget.pk}"


def alert_context(event: AlertEvent, view: Outlook | None = None) -> dict:
    budget = event.budget
    details = event.details
    context = {
        "event": event,
        "budget": budget,
        "currency_code": budget.currency,
        "period_label": details.get("period_label", ""),
        "period_end": details.get("period_end", ""),
        "spend": event.spend,
        "amount": event.budget_amount,
        "percent": event.percent,
        "projected": event.projected,
        "probability_pct": None if event.probability is None else round(event.probability * 100),
        "crossing_date": event.crossing_date,
        "drivers": details.get("drivers", {}),
        "day_drivers": details.get("day_drivers", {}),
        "anomaly": details.get("anomaly"),
        "also_crossed": [str(t) for t in details.get("also_crossed", [])],
        "link": details.get("link") or budgets_url(budget),
        "budgets_url": budgets_url(budget),
    }
    context["summary"] = _summary(event, context)
    return context


def _summary(event: AlertEvent, c: dict) -> str:
    cur = c["currency_code"]
    spent = f"{money.exact(c['spend'], cur)} of {money.exact(c['amount'], cur)} ({c['percent']}%)"
    if event.kind == AlertEvent.Kind.ANOMALY and c["anomaly"]:
        return f"{c['anomaly']['day']}: {money.exact(c['anomaly']['spend'], cur)} spent"
    if c["projected"] is not None:
        return f"{spent}; projected {money.exact(c['projected'], cur)} by {c['period_end']}"
    return spent
