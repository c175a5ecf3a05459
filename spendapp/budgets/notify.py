"""From a claimed alert event to queued notifications: recipients, rendering, webhook payload.

Runs inside the transaction that claimed the event, so the event and its notifications
commit together; the delivery tasks are queued only after the commit.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from spendapp.budgets.emails import render_message
from spendapp.budgets.models import AlertEvent, Budget, Notification
from spendapp.budgets.validation import MAX_RECIPIENTS, split_emails
from spendapp.core.roles import FINANCE

log = logging.getLogger(__name__)

TEMPLATES = {
    AlertEvent.Kind.THRESHOLD: "threshold",
    AlertEvent.Kind.FORECAST: "forecast",
    AlertEvent.Kind.ANOMALY: "anomaly",
    AlertEvent.Kind.DIGEST: "digest",
    AlertEvent.Kind.ACCOUNT_ATTENTION: "account_attention",
    AlertEvent.Kind.ACCOUNT_STALE: "account_stale",
    AlertEvent.Kind.CREDIT_RUNWAY: "credit_runway",
}


def _addresses(users) -> list[str]:
    return [u.email for u in users if u.email]


def budget_recipients(budget: Budget) -> list[str]:
    """Users, members of groups and extra addresses, minus users who muted the budget."""
    user_model = get_user_model()
    muted = budget.muted_by.values_list("pk", flat=True)
    users = (
        user_model.objects.filter(is_active=True)
        .filter(Q(budget_subscriptions=budget) | Q(groups__budgets=budget))
        .exclude(pk__in=muted)
        .distinct()
    )
    muted_emails = {
        e.lower() for e in user_model.objects.filter(pk__in=muted).values_list("email", flat=True)
    }
    extra = [e for e in split_emails(budget.extra_emails) if e.lower() not in muted_emails]
    recipients = _unique([*_addresses(users[:MAX_RECIPIENTS]), *extra])
    if len(recipients) > MAX_RECIPIENTS:
        # Forms refuse more; a group that grew past the cap must not fan out unbounded.
        log.warning(
            "budget %s: %d recipients, only the first %d notified",
            budget.pk,
            len(recipients),
            MAX_RECIPIENTS,
        )
    return recipients[:MAX_RECIPIENTS]


def admin_recipients() -> list[str]:
    """Superusers and whoever may change provider accounts (directly or through a group)."""
    may_change = Q(codename="change_provideraccount", content_type__app_label="providers")
    perm = Permission.objects.filter(may_change).first()
    admins = Q(is_superuser=True)
    if perm is not None:
        admins |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    users = get_user_model().objects.filter(is_active=True).filter(admins).distinct()
    return _unique(_addresses(users))


def finance_recipients() -> list[str]:
    users = get_user_model().objects.filter(is_active=True, groups__name=FINANCE).distinct()
    return _unique(_addresses(users))


def _unique(addresses: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.strip().lower(), address.strip())
    return sorted(seen.values(), key=str.lower)


def queue_event(event: AlertEvent, context: dict, recipients: list[str]) -> list[Notification]:
    """Write one notification per recipient (and the budget's webhook) for ``event``."""
    subject, text, html = render_message(TEMPLATES[event.kind], context)
    rows = [
        Notification(
            event=event,
            budget=event.budget,
            recipient=address,
            subject=subject,
            body_text=text,
            body_html=html,
        )
        for address in recipients
    ]
    budget = event.budget
    if budget is not None and budget.webhook_url:
        rows.append(
            Notification(
                event=event,
                budget=budget,
                channel=Notification.Channel.WEBHOOK,
                recipient=budget.webhook_url,
                subject=subject,
                body_text=webhook_payload(event, context, subject, budget.webhook_format),
            )
        )
    created = Notification.objects.bulk_create(rows)
    enqueue([n.pk for n in created])
    return created


def queue_plain(budget: Budget | None, template: str, context: dict, recipients: list[str]):
    """Notifications that belong to no alert event (the admin's test email)."""
    subject, text, html = render_message(template, context)
    created = Notification.objects.bulk_create(
        Notification(budget=budget, recipient=r, subject=subject, body_text=text, body_html=html)
        for r in recipients
    )
    enqueue([n.pk for n in created])
    return created


def webhook_payload(event: AlertEvent, context: dict, subject: str, fmt: str) -> str:
    link = context.get("link", "")
    text = f"{subject}\n{context.get('summary', '')}\n{link}".strip()
    if fmt == Budget.WebhookFormat.SLACK:
        return json.dumps({"text": text})
    budget = event.budget
    data = {
        "text": text,
        "kind": event.kind,
        "budget": budget.name if budget else None,
        "scope": budget.scope if budget else None,
        "scope_value": budget.scope_value if budget else None,
        "period_start": event.period_start.isoformat() if event.period_start else None,
        "threshold": event.threshold,
        "currency": context.get("currency_code"),
        "spend": _text(event.spend),
        "amount": _text(event.budget_amount),
        "projected": _text(event.projected),
        "probability": event.probability,
        "crossing_date": event.crossing_date.isoformat() if event.crossing_date else None,
        "drivers": event.details.get("drivers", {}),
        "url": link,
    }
    return json.dumps(data)


def _text(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def enqueue(notification_ids: list[int]) -> None:
    if not notification_ids:
        return

    def send() -> None:
        from spendapp.budgets.tasks import send_notification

        for pk in notification_ids:
            send_notification.delay(pk)

    transaction.on_commit(send)


def requeue_pending(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Queue again notifications whose task never ran (broker down at commit time).

    Safe to repeat: the task claims a row with a conditional UPDATE, so a duplicate message
    on the queue finds the row already sending or sent and does nothing.
    """
    cutoff = timezone.now() - older_than
    ids = list(
        Notification.objects.filter(
            status=Notification.Status.PENDING, updated_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    enqueue(ids)
    return len(ids)
