"""What the pages call: the overview banners, data health."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from django.db.models import Q
from django.utils import timezone

from spendapp.budgets.models import AlertEvent, Notification
from spendapp.core.roles import can_acknowledge, can_view_dashboards, sees_account_alerts

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
    if not sees_account_alerts(user):
        alerts = alerts.filter(budget__isnull=False)
    muted = set(user.muted_budgets.values_list("pk", flat=True))
    shown = [a for a in alerts[: limit + len(muted) * 5] if a.budget_id not in muted][:limit]
    for alert in shown:
        alert.can_acknowledge = can_acknowledge(user, alert)
    return shown


def recent_delivery_failures(*, days: int = 7, limit: int = 50) -> list[Notification]:
    """Notifications that gave up after the last retry (or hang in "sending") lately.

    For the data-health page: each has ``recipient``, ``channel``, ``subject``, ``error``,
    ``attempts``, ``created_at`` and ``event`` (with its budget or account).
    """
    now = timezone.now()
    failed = Q(status=Notification.Status.FAILED) | Q(
        status=Notification.Status.SENDING, updated_at__lt=now - STUCK_SENDING
    )
    found = list(
        Notification.objects.filter(failed, created_at__gte=now - timedelta(days=days))
        .select_related("event", "event__budget", "event__account", "budget")
        .order_by("-created_at")[:limit]
    )
    for notification in found:
        notification.recipient_shown = shown_recipient(notification)
    return found


def shown_recipient(notification: Notification) -> str:
    """A webhook URL's path often is its secret (Slack's /services/T../B../token): the page
    shows its scheme and host only; email addresses are shown whole."""
    if notification.channel != Notification.Channel.WEBHOOK:
        return notification.recipient
    parts = urlsplit(notification.recipient)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"
