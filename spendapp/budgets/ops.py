"""Operational alerts to admins, through the same claim-then-notify machinery as budgets.

A provider account whose key was rejected, or that has not synced successfully for
``settings.ALERT_STALE_SYNC_HOURS`` hours (default 6). The episode (the key change, or the last
success) is part of the unique key: one alert per incident, a new incident alerts again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from spendapp.budgets.evaluate import claim
from spendapp.budgets.models import AlertEvent
from spendapp.budgets.notify import admin_recipients, queue_event
from spendapp.providers.models import SYNCABLE_PROVIDERS, ProviderAccount


def stale_hours() -> int:
    return settings.ALERT_STALE_SYNC_HOURS


def account_problems(account: ProviderAccount, now: datetime) -> list[tuple[str, str]]:
    """(kind, episode) for each problem of ``account``."""
    if account.status == ProviderAccount.Status.NEEDS_ATTENTION:
        return [(AlertEvent.Kind.ACCOUNT_ATTENTION, account.key_changed_at.isoformat())]
    last = account.last_success_at or account.created_at
    if now - last > timedelta(hours=stale_hours()):
        return [(AlertEvent.Kind.ACCOUNT_STALE, last.isoformat())]
    return []


def check_accounts(now: datetime | None = None) -> list[AlertEvent]:
    now = now or timezone.now()
    events = []
    accounts = ProviderAccount.objects.filter(enabled=True, provider__in=SYNCABLE_PROVIDERS)
    for account in accounts:
        for kind, episode in account_problems(account, now):
            with transaction.atomic():
                event = claim(
                    account=account,
                    kind=kind,
                    episode=episode,
                    details={"status_message": account.status_message[:500]},
                )
                if event:
                    queue_event(event, account_context(event, account, now), admin_recipients())
                    events.append(event)
    return events


def account_context(event: AlertEvent, account: ProviderAccount, now: datetime) -> dict:
    last = account.last_success_at
    hours = None if last is None else int((now - last).total_seconds() // 3600)
    return {
        "event": event,
        "account": account,
        "hours": hours,
        "stale_hours": stale_hours(),
        "admin_url": f"{settings.SITE_URL}/admin/providers/provideraccount/{account.pk}/change/",
        "link": f"{settings.SITE_URL}/data-health/",
        "summary": f"{account.name}: {account.get_status_display()}",
    }
