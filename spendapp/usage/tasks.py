"""Celery tasks: the hourly fan-out and one sync per account."""

from __future__ import annotations

from celery import shared_task

from spendapp.providers.models import SYNCABLE_PROVIDERS, ProviderAccount


@shared_task(name="spendapp.usage.tasks.sync_account", ignore_result=False)
def sync_account(account_id: int, trigger: str = "schedule") -> int | None:
    from spendapp.usage.sync import sync_account as run_sync

    run = run_sync(account_id, trigger=trigger)
    return run.pk if run else None


@shared_task(name="spendapp.usage.tasks.sync_all_accounts")
def sync_all_accounts() -> list[int]:
    """Queue a sync for every enabled account whose key has not been rejected."""
    ids = list(
        ProviderAccount.objects.filter(enabled=True, provider__in=SYNCABLE_PROVIDERS)
        .exclude(status=ProviderAccount.Status.NEEDS_ATTENTION)
        # Oldest accounts first (not by name): a newly added account queues behind them.
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for account_id in ids:
        # Expires before the next hourly fan-out, so a backlog never runs a sync twice.
        sync_account.apply_async((account_id,), expires=55 * 60)
    return ids
