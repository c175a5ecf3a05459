"""Celery tasks: evaluation (after syncs and on a schedule), the digest, and delivery."""

from __future__ import annotations

from celery import shared_task

from spendapp.budgets.delivery import DeliveryError

MAX_RETRIES = 8  # 5 s, 10 s, 20 s ... capped at 10 min: about 20 minutes of trying


@shared_task(name="spendapp.budgets.tasks.evaluate_budgets")
def evaluate_budgets() -> int:
    """Every active budget, the provider accounts, prepaid credit runways, and notifications
    left unqueued."""
    from spendapp.budgets.evaluate import evaluate_all
    from spendapp.budgets.notify import requeue_pending
    from spendapp.budgets.ops import check_accounts
    from spendapp.budgets.runway import check_runways

    events = evaluate_all()
    events += check_accounts()
    events += check_runways()
    requeue_pending()
    return len(events)


@shared_task(name="spendapp.budgets.tasks.evaluate_budget")
def evaluate_budget(budget_id: int) -> int:
    from spendapp.budgets.evaluate import evaluate_budget as evaluate
    from spendapp.budgets.models import Budget

    budget = Budget.objects.filter(pk=budget_id, active=True).first()
    return len(evaluate(budget)) if budget else 0


@shared_task(name="spendapp.budgets.tasks.send_weekly_digest")
def send_weekly_digest() -> int | None:
    from spendapp.budgets.digest import send_if_due

    event = send_if_due()
    return event.pk if event else None


@shared_task(
    bind=True,
    name="spendapp.budgets.tasks.send_notification",
    autoretry_for=(DeliveryError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def send_notification(self, notification_id: int) -> str:
    """One attempt; a failure is logged on the row and retried by Celery until the last."""
    from spendapp.budgets import delivery

    notification = delivery.claim(notification_id)
    if notification is None:
        return "skipped"  # gone, already sent, or being sent by another worker
    delivery.attempt(notification, final=self.request.retries >= self.max_retries)
    return "sent"
