"""Celery tasks: recompute a period, and the monthly chargeback emails."""

from __future__ import annotations

import logging
import smtplib
from datetime import date

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="spendapp.allocation.tasks.recompute_allocation")
def recompute_allocation(date_from: str, date_to: str) -> int:
    """Rebuild the allocated rollup for the inclusive ISO dates; idempotent."""
    from spendapp.allocation.engine import recompute_allocation as run

    return run(date.fromisoformat(date_from), date.fromisoformat(date_to))


@shared_task(name="spendapp.allocation.tasks.send_monthly_chargeback")
def send_monthly_chargeback(today: str | None = None) -> list[int]:
    """Beat runs this every morning of the first week; on the first working day of the
    month (in ORG_TIME_ZONE) it queues last month's report for every team with an owner.
    Returns the team ids queued (none on other days)."""
    from spendapp.allocation import chargeback

    day = date.fromisoformat(today) if today else chargeback.org_today()
    if day != chargeback.first_working_day(day.year, day.month):
        return []
    month = chargeback.previous_month(day)
    team_ids = chargeback.teams_to_email(month)
    for team_id in team_ids:
        send_chargeback_email.delay(team_id, month.isoformat())
    return team_ids


@shared_task(
    name="spendapp.allocation.tasks.send_chargeback_email",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=6,
)
def send_chargeback_email(team_id: int, month: str) -> bool:
    """Email one team's report for ``month`` (YYYY-MM-01) to its owner, once: a retry or a
    second run finds the ChargebackEmail row and sends nothing. Returns True if sent."""
    from spendapp.allocation import chargeback

    return chargeback.email_team_report(team_id, date.fromisoformat(month))
