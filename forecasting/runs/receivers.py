"""After spend changes, make sure the day's total forecast exists (the overview's projection).

Pages never fit forecasts; a sync's hook does, once per day of actuals: the task returns at
once when today's total run is already stored. Queued once per sync (the cache holds the
others back), after the commit.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from spendapp.core.queueing import queue_once
from spendapp.usage.signals import spend_changed

REFRESH_DELAY = 30  # seconds: after the sync's last windows, and after budget evaluation
_QUEUED = "forecasting:total-refresh-queued"
_BASELINE_QUEUED = "forecasting:demand-baseline-queued"
BASELINE_DELAY = 60  # seconds: after the day's total forecast (the projection) is stored


def queue_total_refresh() -> bool:
    from forecasting.runs.tasks import refresh_total_forecast

    return queue_once(_QUEUED, refresh_total_forecast, REFRESH_DELAY)


def queue_baseline_refresh(delay: int = BASELINE_DELAY) -> bool:
    """Queue the day's demand baseline (scenarios); a page view without one calls this."""
    from forecasting.runs.tasks import refresh_demand_baseline

    return queue_once(_BASELINE_QUEUED, refresh_demand_baseline, delay)


@receiver(spend_changed)
def _spend_changed(sender, **kwargs) -> None:
    transaction.on_commit(queue_total_refresh)
    transaction.on_commit(queue_baseline_refresh)
