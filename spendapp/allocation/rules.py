"""Rule validation (overlaps) and the period a change of rules affects."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Max, Min, Q

from spendapp.usage.models import DailySpend


def _until(rule) -> date:
    # Open-ended rules run to the end of time; date.max stands in for "no end".
    return rule.valid_until or date.max


def _matches(rule) -> Q:
    """DailySpend rows the rule matches on its dimension, ignoring dates."""
    if rule.dimension == "account":
        return Q(account_id=rule.account_id)
    column = rule.COLUMNS[rule.dimension]
    condition = Q(**{column: rule.value})
    if rule.account_id is not None:
        condition &= Q(account_id=rule.account_id)
    return condition


def find_overlap(rule):
    """The first other rule of the same priority, in force on some common day, that could
    match the same spend as ``rule``; None if there is none.

    Same dimension: the same value (or account) on intersecting account scopes. Different
    dimensions (a key rule and a project rule) meet only where spend carries both values: we
    look for such rows in the rollup over the common dates. Spend that makes them meet later is
    still allocated deterministically (the more specific dimension, then the older rule wins).
    """
    from spendapp.allocation.models import AllocationRule

    others = (
        AllocationRule.objects.filter(priority=rule.priority, valid_from__lt=_until(rule))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=rule.valid_from))
        .select_related("account", "team", "shared_cost")
        .order_by("pk")
    )
    if rule.pk is not None:
        others = others.exclude(pk=rule.pk)
    for other in others:
        # Account scopes meet unless both rules name different accounts (an account rule
        # always names its account; other rules may apply to any account).
        scopes_meet = not (
            rule.account_id and other.account_id and rule.account_id != other.account_id
        )
        if not scopes_meet:
            continue
        if rule.dimension == other.dimension:
            if rule.dimension == "account" or rule.value == other.value:
                return other
            continue
        start = max(rule.valid_from, other.valid_from)
        end = min(_until(rule), _until(other))
        both = DailySpend.objects.filter(_matches(rule), _matches(other), day__gte=start)
        if end != date.max:
            both = both.filter(day__lt=end)
        if both.exists():
            return other
    return None


def data_range() -> tuple[date, date] | None:
    """First and last day of the rollup, or None when it is empty."""
    bounds = DailySpend.objects.aggregate(first=Min("day"), last=Max("day"))
    if bounds["first"] is None:
        return None
    return bounds["first"], bounds["last"]


def affected_range(*periods: tuple[date, date | None]) -> tuple[date, date] | None:
    """Inclusive days of the rollup that rules in force over ``periods`` ([from, until),
    until None = open) can touch: what a rule change must recompute."""
    bounds = data_range()
    if bounds is None or not periods:
        return None
    first = max(bounds[0], min(start for start, _ in periods))
    ends = [until - timedelta(days=1) if until else date.max for _, until in periods]
    last = min(bounds[1], max(ends))
    return (first, last) if first <= last else None
