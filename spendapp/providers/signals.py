"""What providers announce to the layers above: an admin asked for a sync now.

``providers`` is the lowest layer (accounts, keys, connectors): it does not import the sync
(`spendapp.usage`). Usage subscribes to `sync_requested` (sender: the requesting module;
``account_id``: int; ``trigger``: str) and queues the sync task; the receivers' return
values tell whether one was queued.
"""

from __future__ import annotations

from django.dispatch import Signal

sync_requested = Signal()


def request_sync(account_id: int, trigger: str) -> bool:
    """Ask for a sync of one account now; whether any subscriber queued one."""
    replies = sync_requested.send(sender=__name__, account_id=account_id, trigger=trigger)
    return any(reply for _, reply in replies)
