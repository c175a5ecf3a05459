"""The admin's "send test email" action: the real delivery path, no alert event."""

from __future__ import annotations

import json

from spendapp.budgets.evaluate import budgets_url
from spendapp.budgets.models import Budget, Notification
from spendapp.budgets.notify import budget_recipients, enqueue, queue_plain


def queue_test_message(budget: Budget, *, fallback: str = "") -> list[Notification]:
    recipients = budget_recipients(budget) or ([fallback] if fallback else [])
    context = {"budget": budget, "link": budgets_url(budget), "recipients": recipients}
    created = list(queue_plain(budget, "test", context, recipients))
    if budget.webhook_url:
        text = f"Spendapp test message for budget {budget.name}"
        hook = Notification.objects.create(
            budget=budget,
            channel=Notification.Channel.WEBHOOK,
            recipient=budget.webhook_url,
            subject=text,
            body_text=json.dumps({"text": text, "kind": "test", "budget": budget.name}),
        )
        enqueue([hook.pk])
        created.append(hook)
    return created
