"""What budgets do when usage announces changed spend: evaluate, once, after the commit.

A sync announces each window it writes (`spendapp.usage.signals.spend_changed`), so one sync
may announce a dozen times; budgets are evaluated once for all of them: the first
announcement queues an evaluation a little later (``EVALUATE_DELAY``) and the cache keeps the
next ones from queueing another meanwhile. Evaluation is idempotent and its alerts are
claimed once in the database, so a second evaluation would only cost time, never a message.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from spendapp.usage.signals import spend_changed

EVALUATE_DELAY = 20  # seconds: the rest of a sync's windows land meanwhile
_QUEUED = "budgets:evaluation-queued"


def queue_evaluation() -> bool:
    """Queue one budget evaluation unless one is already waiting; whether this call did."""
    if not cache.add(_QUEUED, True, timeout=EVALUATE_DELAY):
        return False
    from spendapp.budgets.tasks import evaluate_budgets

    evaluate_budgets.apply_async(countdown=EVALUATE_DELAY, expires=55 * 60)
    return True


@receiver(spend_changed)
def _spend_changed(sender, **kwargs) -> None:
    transaction.on_commit(queue_evaluation)
