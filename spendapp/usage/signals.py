"""What usage announces to the layers above it.

``usage`` is the bottom data layer: it never imports allocation, budgets, forecasting or the
dashboard. When spend changes it says so once, and whoever cares subscribes:

* `spend_changed` (sender: the writer's module name; ``account_id``: int; ``days``: sorted
  list of UTC dates whose rows changed) is sent inside the writer's transaction, after the
  rollups, the calibration ratios and the stored spend are written. Receivers that write
  derived rows (allocation) do it in that transaction, so a failure rolls the whole write
  back; receivers with side effects outside the database (budget evaluation, emails) must
  defer them with ``transaction.on_commit``.

Senders: a sync window (`spendapp.usage.sync`), a FOCUS import (`spendapp.usage.focus_import`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.dispatch import Signal

spend_changed = Signal()


def announce_spend_changed(sender: str, account_id: int, days: Iterable[date]) -> None:
    """Bring the account's calibration ratios and stored spend up to date from the first of
    these days on (usage's own work), then send `spend_changed` once for every day whose spend
    may have changed: these days, and the later ones whose ratios learn from their bills.
    Nothing when ``days`` is empty. Exceptions propagate: the writer's transaction rolls
    back."""
    from spendapp.usage.calibration import refresh_spend

    days = sorted(set(days))
    if not days:
        return
    last = refresh_spend(account_id, days[0])
    if last is not None and last > days[-1]:
        days += [days[-1] + timedelta(days=i) for i in range(1, (last - days[-1]).days + 1)]
    spend_changed.send(sender=sender, account_id=account_id, days=days)
