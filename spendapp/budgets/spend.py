"""A budget's spend from the daily rollup, on the basis "billed where available, else estimated".

The basis is applied per day x account x project x model: providers bill at that grain or
coarser (Anthropic bills per workspace and model, not per key), so a group with any billed
cost counts its billed cost, and a group without counts its estimate. Summing billed and
estimated rows of the same group would count the same tokens twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from django.db.models import Sum

from spendapp.allocation.models import AllocatedSpend
from spendapp.allocation.queries import subtree_ids
from spendapp.usage.cubes import rollup_for
from spendapp.usage.tiers import TierBook

ZERO = Decimal(0)
_SCOPE_COLUMNS = {"provider": "provider", "project": "project_id", "api_key": "api_key_id"}


@dataclass(frozen=True)
class SpendGroup:
    day: date
    provider: str
    project_id: str
    model: str
    cost: Decimal


def spend_groups(scope: str, value: str, start: date, end: date) -> list[SpendGroup]:
    """Cost per day x account x project x model of one scope, ``start..end`` inclusive."""
    if scope == "team":
        # A team's (or cost centre's) share of each rollup row, shared costs included.
        rows = AllocatedSpend.objects.filter(
            day__gte=start, day__lte=end, team_id__in=subtree_ids(int(value))
        )
    else:
        rollup = rollup_for(("project", "model", scope if scope in _SCOPE_COLUMNS else "day"))
        rows = rollup.objects.filter(day__gte=start, day__lte=end)
    if scope in _SCOPE_COLUMNS:
        rows = rows.filter(**{_SCOPE_COLUMNS[scope]: value})
    grouped = rows.values("day", "account", "provider", "project_id", "model").annotate(
        billed=Sum("billed_cost"), estimated=Sum("estimated_cost")
    )
    groups = [
        SpendGroup(
            r["day"],
            r["provider"],
            r["project_id"],
            r["model"],
            r["billed"] if r["billed"] is not None else (r["estimated"] or ZERO),
        )
        for r in grouped.order_by()
    ]
    if scope == "tier":
        book = TierBook()  # one price book for every group, not one per call
        groups = [g for g in groups if book.tier(g.provider, g.model, g.day) == value]
    return groups


class ScopeSpend:
    """The spend of one budget scope over a date range, loaded once and sliced in memory."""

    def __init__(self, scope: str, value: str, start: date, end: date):
        self.start, self.end = start, end
        self.groups = spend_groups(scope, value, start, end)
        self.by_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
        for group in self.groups:
            self.by_day[group.day] += group.cost

    def total(self, start: date, end: date) -> Decimal:
        return sum((c for d, c in self.by_day.items() if start <= d <= end), ZERO)

    def day(self, day: date) -> Decimal:
        return self.by_day.get(day, ZERO)

    def series(self, start: date, end: date) -> pd.Series:
        """Daily spend as floats for the forecasting core, zero-filled, ``start..end``."""
        index = pd.date_range(start, end, freq="D")
        values = [float(self.by_day.get(ts.date(), ZERO)) for ts in index]
        return pd.Series(values, index=index, dtype=float)

    def drivers(self, start: date, end: date, *, top: int = 3) -> dict[str, list[dict]]:
        """Top models and projects by spend in ``start..end``."""
        out = {}
        for key in ("model", "project_id"):
            totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
            for g in self.groups:
                if start <= g.day <= end:
                    totals[getattr(g, key) or "(none)"] += g.cost
            ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
            out[key] = [{"name": name, "cost": str(cost)} for name, cost in ranked if cost > 0]
        return out

    def movers(self, this: tuple[date, date], last: tuple[date, date], *, top: int = 5):
        """Projects and models whose spend changed most between two ranges."""
        change: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for g in self.groups:
            for index, (a, b) in enumerate((this, last)):
                if a <= g.day <= b:
                    change[("model", g.model or "(none)")][index] += g.cost
                    change[("project", g.project_id or "(none)")][index] += g.cost
        rows = [
            {"dimension": dim, "name": name, "now": now, "before": before, "delta": now - before}
            for (dim, name), (now, before) in change.items()
        ]
        rows.sort(key=lambda r: abs(r["delta"]), reverse=True)
        return [r for r in rows if r["delta"]][:top]


def history_start(period_start: date, today: date, days: int = 120) -> date:
    return min(period_start, today - timedelta(days=days))
