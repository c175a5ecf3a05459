"""Page queries of the dashboard: each reads a daily rollup (or the sync bookkeeping) once
and returns plain values; the explorer's series come from `spendapp.usage.queries`.

"Spend" is `spendapp.usage.spend`'s one number (billed where the account's day is billed,
the calibrated estimate otherwise). Both parts are kept so the page can say how much of a
total is still an estimate. Money stays Decimal here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max, Min, Sum

from spendapp.providers.models import ProviderAccount, ProviderEntity
from spendapp.usage.calendar import complete_weeks
from spendapp.usage.models import DailyModelSpend, SpendCombination, SyncRun
from spendapp.usage.spend import daily_spend

ZERO = Decimal(0)


@dataclass
class DaySpend:
    billed: Decimal = ZERO  # days whose account has billed cost
    estimated: Decimal = ZERO  # days not billed yet: the estimate stands in

    @property
    def total(self) -> Decimal:
        return self.billed + self.estimated


@dataclass
class SpendHistory:
    """Best-known spend per day, in total and per provider, over a date range."""

    date_from: date
    date_to: date
    by_day: dict[date, DaySpend] = field(default_factory=dict)
    by_provider: dict[str, dict[date, Decimal]] = field(default_factory=dict)
    last_day: date | None = None  # last day with any data

    def days(self) -> list[date]:
        span = (self.date_to - self.date_from).days + 1
        return [self.date_from + timedelta(days=i) for i in range(span)]

    def between(self, first: date, last: date) -> DaySpend:
        out = DaySpend()
        for day, spend in self.by_day.items():
            if first <= day <= last:
                out.billed += spend.billed
                out.estimated += spend.estimated
        return out

    @property
    def empty(self) -> bool:
        return not self.by_day


def spend_history(date_from: date, date_to: date) -> SpendHistory:
    """One query: spend per day and provider over the range, with its billed part."""
    history = SpendHistory(date_from, date_to)
    for day, provider, spend, billed_part, _, _ in daily_spend(
        date_from, date_to, by=("provider",)
    ):
        billed = billed_part or ZERO
        entry = history.by_day.setdefault(day, DaySpend())
        entry.billed += billed
        entry.estimated += spend - billed
        history.by_provider.setdefault(provider, {})[day] = spend
        history.last_day = max(history.last_day or day, day)
    return history


@dataclass(frozen=True)
class Mover:
    provider: str
    model: str
    this_week: Decimal
    last_week: Decimal

    @property
    def change(self) -> Decimal:
        return self.this_week - self.last_week

    @property
    def change_pct(self) -> Decimal | None:
        if not self.last_week:
            return None
        return (self.change * 100 / self.last_week).quantize(Decimal("0.1"))


def top_movers(last_complete: date, limit: int = 5) -> list[Mover]:
    """Models whose spend grew most in the 7 complete days up to ``last_complete`` against
    the 7 before (`spendapp.usage.calendar.complete_weeks`: never a week holding today's
    partial day). One query."""
    (this_start, _), (prev_start, _) = complete_weeks(last_complete)
    totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    rows = daily_spend(prev_start, last_complete, by=("provider", "model"))
    for day, provider, model, spend, *_ in rows:
        totals[provider, model][0 if day >= this_start else 1] += spend
    movers = [
        Mover(provider, model or "(no model)", this_week, last_week)
        for (provider, model), (this_week, last_week) in totals.items()
    ]
    growing = [m for m in movers if m.change > 0]
    return sorted(growing, key=lambda m: m.change, reverse=True)[:limit]


@dataclass(frozen=True)
class AccountFreshness:
    account: ProviderAccount
    last_day: date | None  # newest day with data in the rollup
    lag_days: int | None  # days between that day and today

    @property
    def level(self) -> str:
        """ok / warn / bad, for the status colour."""
        if self.account.status in (
            ProviderAccount.Status.FAILING,
            ProviderAccount.Status.NEEDS_ATTENTION,
        ):
            return "bad"
        if self.lag_days is None or self.lag_days > 2:
            return "warn"
        return "ok"


FRESHNESS_WINDOW_DAYS = 62


def freshness(today: date) -> list[AccountFreshness]:
    """Every account with its newest data day (two queries). Only the last two months are
    scanned (a day-range on the rollup's day index); older data counts as none."""
    since = today - timedelta(days=FRESHNESS_WINDOW_DAYS)
    newest = dict(
        DailyModelSpend.objects.filter(day__gte=since)
        .values("account_id")
        .annotate(last=Max("day"))
        .values_list("account_id", "last")
    )
    out = []
    for account in ProviderAccount.objects.order_by("name"):
        last = newest.get(account.pk)
        out.append(AccountFreshness(account, last, (today - last).days if last else None))
    return out


def recent_runs(per_account: int = 10, scan: int = 500) -> dict[int, list[SyncRun]]:
    """The newest runs of each account (one query over the newest ``scan`` runs, which the
    (account, -started_at) index serves)."""
    runs: dict[int, list[SyncRun]] = defaultdict(list)
    for run in SyncRun.objects.order_by("-started_at")[:scan]:
        if len(runs[run.account_id]) < per_account:
            runs[run.account_id].append(run)
    return runs


@dataclass(frozen=True)
class UnpricedModel:
    provider: str
    model: str
    tokens: int
    first_day: date
    last_day: date


def unpriced_models(date_from: date, date_to: date) -> list[UnpricedModel]:
    rows = (
        DailyModelSpend.objects.filter(day__gte=date_from, day__lte=date_to, unpriced_tokens__gt=0)
        .values("provider", "model")
        .annotate(tokens=Sum("unpriced_tokens"), first=Min("day"), last=Max("day"))
        .order_by("-tokens")
    )
    return [
        UnpricedModel(
            r["provider"], r["model"] or "(no model)", int(r["tokens"]), r["first"], r["last"]
        )
        for r in rows
    ]


def entity_names() -> dict[tuple[str, str], str]:
    """(kind, external id) -> display name, for projects/workspaces, API keys and users."""
    names = {}
    for kind, external_id, name in ProviderEntity.objects.values_list(
        "kind", "external_id", "name"
    ):
        if name:
            names[kind, external_id] = name
    return names


def series_values(date_from: date, date_to: date) -> dict[str, list[str]]:
    """Providers, models and projects with usage in the calendar months of the range: the
    forecast page's series (one query on `SpendCombination`; `dimension_values` would also
    resolve tiers and teams it does not need)."""
    seen: dict[str, set[str]] = {"provider": set(), "model": set(), "project": set()}
    combos = (
        SpendCombination.objects.filter(month__gte=date_from.replace(day=1), month__lte=date_to)
        .values_list("provider", "model", "project_id")
        .distinct()
        .order_by()
    )
    for provider, model, project in combos:
        seen["provider"].add(provider)
        seen["model"].add(model)
        seen["project"].add(project)
    return {key: sorted(v for v in values if v) for key, values in seen.items()}
