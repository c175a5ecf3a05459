"""``{% load sync_progress %}{% sync_progress %}``: a notice while provider syncs run.

During the first sync the pages fill day by day; without a notice a half-synced month reads as
a real one. Counts come from the `SyncRun` rows, which the sync saves after every window.
"""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from spendapp.usage.models import SyncRun

register = template.Library()

# A run still "running" after this long was cut off (a killed worker); the next sync closes it.
STALE_AFTER = timedelta(hours=2)


@register.inclusion_tag("dashboard/_sync_progress.html")
def sync_progress() -> dict:
    runs = list(
        SyncRun.objects.filter(
            outcome=SyncRun.Outcome.RUNNING, started_at__gte=timezone.now() - STALE_AFTER
        )
        .select_related("account")
        .order_by("started_at")
    )
    return {
        "runs": runs,
        "first_sync": any(run.account.last_success_at is None for run in runs),
    }
