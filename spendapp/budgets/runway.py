"""The "prepaid credits run out soon" alert, through the same claim-then-notify machinery.

When an account's balance is forecast (median day, `forecasting.runs.runway`) to run out
within ``settings.CREDIT_RUNWAY_ALERT_DAYS`` days, or is used up, Finance and the admins get
one alert per funding episode (`spendapp.usage.credits.funding_episode`): the unique key of
`AlertEvent` (account, kind, episode) makes it exactly once, however often budgets are
evaluated and however many evaluators race; a new top-up starts a new episode.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from forecasting.runs.runway import Runway, runways
from spendapp.budgets.evaluate import claim
from spendapp.budgets.models import AlertEvent
from spendapp.budgets.notify import admin_recipients, finance_recipients, queue_event
from spendapp.core.money import exact
from spendapp.usage.calendar import data_today
from spendapp.usage.credits import funding_episode


def alert_days() -> int:
    return settings.CREDIT_RUNWAY_ALERT_DAYS


def runs_out_soon(runway: Runway) -> bool:
    if runway.exhausted:
        return True
    if runway.runs_out is None:
        return False
    return runway.runs_out <= data_today() + timedelta(days=alert_days())


def check_runways(*, compute: bool = True) -> list[AlertEvent]:
    """Claim and notify the runway alerts due now; returns the events claimed."""
    events = []
    for runway in runways(compute=compute):
        if not runs_out_soon(runway):
            continue
        account = runway.account
        with transaction.atomic():
            event = claim(
                account=account,
                kind=AlertEvent.Kind.CREDIT_RUNWAY,
                episode=funding_episode(account)[:64],
                spend=runway.balance.amount if runway.balance else None,
                crossing_date=runway.runs_out,
                probability=runway.probability,
                details=_details(runway),
            )
            if event:
                recipients = sorted(set(finance_recipients()) | set(admin_recipients()))
                queue_event(event, runway_context(event, runway), recipients)
                events.append(event)
    return events


def _details(runway: Runway) -> dict:
    def iso(day):
        return day.isoformat() if day else None

    return {
        "runs_out": iso(runway.runs_out),
        "runs_out_early": iso(runway.runs_out_early),
        "runs_out_late": iso(runway.runs_out_late),
        "daily_burn": str(runway.daily_burn) if runway.daily_burn is not None else None,
        "alert_days": alert_days(),
    }


def runway_context(event: AlertEvent, runway: Runway) -> dict:
    balance = runway.balance
    return {
        "event": event,
        "account": runway.account,
        "runway": runway,
        "balance": exact(balance.amount) if balance else "",
        "daily_burn": exact(runway.daily_burn) if runway.daily_burn is not None else "",
        "alert_days": alert_days(),
        "link": f"{settings.SITE_URL}/budgets/",
        "admin_url": f"{settings.SITE_URL}/admin/usage/creditentry/add/",
        "summary": f"{runway.account.name}: prepaid credits run out "
        + (f"around {runway.runs_out:%Y-%m-%d}" if runway.runs_out else "now"),
    }
