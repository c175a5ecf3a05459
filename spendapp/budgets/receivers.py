"""What budgets do when usage announces changed spend: evaluate, once, after the commit.

A sync announces each window it writes (`spendapp.usage.signals.spend_changed`), so one sync
may announce a dozen times; budgets are evaluated once for all of them: the first
announcement queues an evaluation a little later (``EVALUATE_DELAY``) and the cache keeps the
next ones from queueing another meanwhile. Evaluation is idempotent and its alerts are
claimed once in the database, so a second evaluation would only cost time, never a message.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from spendapp.core.queueing import queue_once
from spendapp.usage.signals import spend_changed

EVALUATE_DELAY = 20  # seconds: the rest of a sync's windows land meanwhile
_QUEUED = "budgets:evaluation-queued"


def queue_evaluation() -> bool:
    """Queue one budget evaluation unless one is already waiting; whether this call did."""
    from spendapp.budgets.tasks import evaluate_budgets

    return queue_once(_QUEUED, evaluate_budgets, EVALUATE_DELAY)


@receiver(spend_changed)
def _spend_changed(sender, **kwargs) -> None:
    transaction.on_commit(queue_evaluation)
