"""A budget's spend: `spendapp.usage.spend`'s one number, for the budget's scope.

Spend is counted per billing group (day x account x project x model): billed where the
account's day is billed, else the calibrated estimate. A team's (or cost centre's) spend is
its share of the allocated rollup under the same rule.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from spendapp.allocation.models import AllocatedSpend
from spendapp.allocation.queries import subtree_ids
from spendapp.usage import spend

ZERO = Decimal(0)
# Budget scopes -> filters of `spendapp.usage.spend` (and of the stored forecasts).
SCOPE_FILTERS = {"provider": "provider", "project": "project", "api_key": "api_key", "tier": "tier"}


def scope_filters(scope: str, value: str) -> dict[str, list[str]]:
    """The spend filters of a budget scope ("all": none; a team has none: its rows differ)."""
    return {SCOPE_FILTERS[scope]: [value]} if scope in SCOPE_FILTERS else {}


def spend_groups(scope: str, value: str, start: date, end: date) -> list[spend.SpendGroup]:
    """Spend per billing group of one scope, ``start..end`` inclusive."""
    if scope == "team":
        # A team's (or cost centre's) share of each rollup row, shared costs included.
        rows = AllocatedSpend.objects.filter(
            day__gte=start, day__lte=end, team_id__in=subtree_ids(int(value))
        )
        return spend.spend_groups(start, end, rows=rows)
    return spend.spend_groups(start, end, scope_filters(scope, value))


class ScopeSpend:
    """The spend of one budget scope over a date range, loaded once and sliced in memory."""

    def __init__(self, scope: str, value: str, start: date, end: date):
        self.start, self.end = start, end
        self.groups = spend_groups(scope, value, start, end)
        self.by_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
        for group in self.groups:
            self.by_day[group.day] += group.spend

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
                    totals[getattr(g, key) or "(none)"] += g.spend
            ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
            out[key] = [{"name": name, "cost": str(cost)} for name, cost in ranked if cost > 0]
        return out

    def movers(self, this: tuple[date, date], last: tuple[date, date], *, top: int = 5):
        """Projects and models whose spend changed most between two ranges."""
        change: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for g in self.groups:
            for index, (a, b) in enumerate((this, last)):
                if a <= g.day <= b:
                    change[("model", g.model or "(none)")][index] += g.spend
                    change[("project", g.project_id or "(none)")][index] += g.spend
        rows = [
            {"dimension": dim, "name": name, "now": now, "before": before, "delta": now - before}
            for (dim, name), (now, before) in change.items()
        ]
        rows.sort(key=lambda r: abs(r["delta"]), reverse=True)
        return [r for r in rows if r["delta"]][:top]


def history_start(period_start: date, today: date, days: int = 120) -> date:
    return min(period_start, today - timedelta(days=days))
