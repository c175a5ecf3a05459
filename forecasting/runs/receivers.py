"""After spend changes, make sure the day's total forecast exists (the overview's projection).

Pages never fit forecasts; a sync's hook does, once per day of actuals: the task returns at
once when today's total run is already stored. Queued once per sync (the cache holds the
others back), after the commit.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from spendapp.usage.signals import spend_changed

REFRESH_DELAY = 30  # seconds: after the sync's last windows, and after budget evaluation
_QUEUED = "forecasting:total-refresh-queued"


def queue_total_refresh() -> bool:
    if not cache.add(_QUEUED, True, timeout=REFRESH_DELAY):
        return False
    from forecasting.runs.tasks import refresh_total_forecast

    refresh_total_forecast.apply_async(countdown=REFRESH_DELAY, expires=55 * 60)
    return True


@receiver(spend_changed)
def _spend_changed(sender, **kwargs) -> None:
    transaction.on_commit(queue_total_refresh)
