"""What the pages call: the overview banners, data health."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from spendapp.budgets.models import AlertEvent, Notification
from spendapp.core.roles import can_view_dashboards

BANNER_DAYS = 14
STUCK_SENDING = timedelta(hours=1)


def active_alerts(user, *, limit: int = 10) -> list[AlertEvent]:
    """Unacknowledged alerts of the last two weeks for the overview banners.

    Budget alerts for every dashboard user except on budgets they muted; provider-account
    alerts for staff only.
    """
    if not can_view_dashboards(user):
        return []
    since = timezone.now() - timedelta(days=BANNER_DAYS)
    alerts = (
        AlertEvent.objects.filter(
            acknowledged_at__isnull=True, notified=True, created_at__gte=since
        )
        .exclude(kind=AlertEvent.Kind.DIGEST)
        .filter(Q(budget__isnull=True) | Q(budget__active=True))
        .select_related("budget", "account")
        .order_by("-created_at")
    )
    if not user.is_staff:
        alerts = alerts.filter(budget__isnull=False)
    muted = set(user.muted_budgets.values_list("pk", flat=True))
    return [a for a in alerts[: limit + len(muted) * 5] if a.budget_id not in muted][:limit]


def recent_delivery_failures(*, days: int = 7, limit: int = 50) -> list[Notification]:
    """Notifications that gave up after the last retry (or hang in "sending") lately.

    For the data-health page: each has ``recipient``, ``channel``, ``subject``, ``error``,
    ``attempts``, ``created_at`` and ``event`` (with its budget or account).
    """
    now = timezone.now()
    failed = Q(status=Notification.Status.FAILED) | Q(
        status=Notification.Status.SENDING, updated_at__lt=now - STUCK_SENDING
    )
    return list(
        Notification.objects.filter(failed, created_at__gte=now - timedelta(days=days))
        .select_related("event", "event__budget", "event__account", "budget")
        .order_by("-created_at")[:limit]
    )
