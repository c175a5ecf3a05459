"""One delivery attempt of one notification: claim it, send it, log the attempt."""

from __future__ import annotations

import logging

import httpx
from django.db.models import F
from django.utils import timezone

from spendapp.budgets.emails import make_message
from spendapp.budgets.models import DeliveryAttempt, Notification
from spendapp.core.outbound import check_url

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CLAIMABLE = (Notification.Status.PENDING, Notification.Status.RETRYING)


class DeliveryError(Exception):
    """A send failed in a way worth retrying (SMTP down, timeout, webhook 5xx...)."""


def claim(notification_id: int) -> Notification | None:
    """Take the notification for one attempt; None if gone, sent or being sent elsewhere."""
    won = Notification.objects.filter(pk=notification_id, status__in=CLAIMABLE).update(
        status=Notification.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    return Notification.objects.filter(pk=notification_id).first() if won else None


def attempt(notification: Notification, *, final: bool) -> None:
    """Send once and record the outcome. Raises DeliveryError when the send failed."""
    started = timezone.now()
    try:
        _send(notification)
    except Exception as exc:  # SMTP, socket, HTTP: all recorded, all retried
        error = f"{type(exc).__name__}: {exc}"[:2000]
        _record(notification, started, error)
        status = Notification.Status.FAILED if final else Notification.Status.RETRYING
        Notification.objects.filter(pk=notification.pk).update(status=status, error=error)
        log.warning("notification %s attempt %s: %s", notification.pk, notification.attempts, error)
        raise DeliveryError(error) from exc
    _record(notification, started, "")
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENT, error="", sent_at=timezone.now()
    )


def _record(notification: Notification, started, error: str) -> None:
    DeliveryAttempt.objects.create(
        notification=notification,
        number=notification.attempts,
        started_at=started,
        finished_at=timezone.now(),
        ok=not error,
        error=error,
    )


def _send(notification: Notification) -> None:
    if notification.channel == Notification.Channel.WEBHOOK:
        _post_webhook(notification)
        return
    message = make_message(
        notification.recipient,
        notification.subject,
        notification.body_text,
        notification.body_html,
        headers={"X-Spendapp-Notification": str(notification.pk)},
    )
    if message.send() != 1:
        raise DeliveryError("the mail server did not accept the message")


def _post_webhook(notification: Notification) -> None:
    # Checked again at send time: the host may resolve elsewhere than when it was saved.
    check_url(notification.recipient)
    response = httpx.post(
        notification.recipient,
        content=notification.body_text.encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Spendapp alerts"},
        timeout=WEBHOOK_TIMEOUT,
        follow_redirects=False,  # a redirect could point inward; 3xx counts as a failure
    )
    if response.status_code >= 300:
        # The status line only: a body is whatever the far end chose to put in our log.
        raise DeliveryError(f"HTTP {response.status_code} {response.reason_phrase}"[:100])
