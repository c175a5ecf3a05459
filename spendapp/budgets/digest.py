"""The weekly digest for Finance, sent once on Monday morning in the organisation's zone.

Beat runs the check hourly; the first run from ``DIGEST_HOUR`` on Monday claims the digest
for that Monday (unique key), so a late or doubled beat never sends two.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from forecasting.runs.projections import month_projection
from spendapp.budgets.evaluate import claim
from spendapp.budgets.models import AlertEvent, Budget
from spendapp.budgets.notify import finance_recipients, queue_event
from spendapp.budgets.spend import ScopeSpend, history_start
from spendapp.core import money
from spendapp.usage.calendar import data_today, local_now, period_containing

DIGEST_HOUR = 7


def digest_due(now: datetime | None = None) -> date | None:
    """The Monday whose digest is due at ``now``, or None outside Monday from 07:00."""
    local = local_now(now)
    if local.weekday() == 0 and local.hour >= DIGEST_HOUR:
        return local.date()
    return None


def digest_context(monday: date, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    today = data_today(now)
    month = period_containing("month", now)
    last_week = (monday - timedelta(days=7), monday - timedelta(days=1))
    week_before = (monday - timedelta(days=14), monday - timedelta(days=8))
    data = ScopeSpend("org", "", history_start(min(month.start, week_before[0]), today), today)
    # The overview's figure: the one projection service, fitting the day's forecast if no
    # sync or nightly run has yet.
    projection = month_projection(compute=True, now=now)
    week, before = data.total(*last_week), data.total(*week_before)
    return {
        "monday": monday,
        "last_week": last_week,
        "week_total": week,
        "week_before_total": before,
        "week_change_pct": _change(week, before),
        "month_label": month.label,
        "month_to_date": data.total(month.start, min(today, month.end)),
        "month_projected": projection.total,
        "month_note": projection.note,
        "movers": data.movers(last_week, week_before),
        "budgets": budget_rows(now),
        "link": f"{settings.SITE_URL}/budgets/",
        "summary": f"Last week {money.exact(week)}",
    }


def _change(now: Decimal, before: Decimal) -> Decimal | None:
    if not before:
        return None
    return ((now - before) / before * 100).quantize(Decimal("0.1"))


def budget_rows(now: datetime | None = None) -> list[dict]:
    from spendapp.budgets.pages import budget_status

    rows = []
    for budget in Budget.objects.filter(active=True):
        period = period_containing(budget.period, now)
        current = budget.eval_period_start == period.start
        spend = budget.eval_spend if current else None
        probability = budget.eval_probability if current else None
        rows.append(
            {
                "budget": budget,
                "period": period.label,
                "spend": spend,
                "projected": budget.eval_projected if current else None,
                "status": budget_status(budget, spend, probability),
            }
        )
    return rows


def send_if_due(now: datetime | None = None) -> AlertEvent | None:
    monday = digest_due(now)
    if monday is None:
        return None
    # Cheap pre-check to skip the forecast on later hourly runs; the INSERT below decides.
    if AlertEvent.objects.filter(kind=AlertEvent.Kind.DIGEST, period_start=monday).exists():
        return None
    context = digest_context(monday, now)
    with transaction.atomic():
        event = claim(
            kind=AlertEvent.Kind.DIGEST,
            period_start=monday,
            spend=context["week_total"],
            projected=context["month_projected"],
        )
        if event:
            queue_event(event, {**context, "event": event}, finance_recipients())
    return event
