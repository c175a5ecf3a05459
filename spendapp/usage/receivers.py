"""What usage does when a lower layer asks: queue a provider account's sync."""

from __future__ import annotations

from django.dispatch import receiver

from spendapp.providers.signals import sync_requested


@receiver(sync_requested)
def _sync_requested(sender, account_id: int, trigger: str, **kwargs) -> bool:
    from spendapp.usage.tasks import sync_account

    sync_account.delay(account_id, trigger=trigger)
    return True
