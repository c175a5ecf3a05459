"""What usage announces to the layers above it.

``usage`` is the bottom data layer: it never imports allocation, budgets, forecasting or the
dashboard. When spend changes it says so once, and whoever cares subscribes:

* `spend_changed` (sender: the writer's module name; ``account_id``: int; ``days``: sorted
  list of UTC dates whose rows changed) is sent inside the writer's transaction, after the
  rollups are written. Receivers that write derived rows (allocation, calibration) do it in
  that transaction, so a failure rolls the whole write back; receivers with side effects
  outside the database (budget evaluation, emails) must defer them with
  ``transaction.on_commit``.

Senders: a sync window (`spendapp.usage.sync`), a FOCUS import (`spendapp.usage.focus_import`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.dispatch import Signal

spend_changed = Signal()


def announce_spend_changed(sender: str, account_id: int, days: Iterable[date]) -> None:
    """Send `spend_changed` once for these days of one account (nothing when ``days`` is
    empty). Exceptions of receivers propagate: the writer's transaction rolls back."""
    days = sorted(set(days))
    if days:
        spend_changed.send(sender=sender, account_id=account_id, days=days)
