"""Spend totals from the rollups: one query code path for `manage.py spend`, the dashboard's
explorer and its CSV export, so what the command prints is what the page shows.

Day, week and month read `DailySpend`; hour reads `HourlySpend` (estimated cost only, since
providers bill per day) over at most `MAX_HOURLY_DAYS` days. Both tables are indexed on
(time, provider) and (account, time), which is what the date-range filter here uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Case, CharField, F, Q, Sum, Value, When
from django.db.models.functions import TruncMonth, TruncWeek

from spendapp.usage.models import DailySpend, HourlySpend

# Model tiers by name pattern (case-insensitive regex, first match wins). Scenarios speak of
# small / mid / frontier models; the explorer groups and filters by the same words.
MODEL_TIERS = (
    ("small", r"(mini|nano|haiku|flash|lite|small)"),
    ("frontier", r"(opus|gpt-5\.5|gpt-5$|o3-pro|ultra|pro$)"),
    ("mid", r"(sonnet|gpt-5\.[0-4]|gpt-4|o3|o4|glm|deepseek|llama|mistral|qwen|gemini)"),
)
UNKNOWN_TIER = "other"

# Public grouping names -> rollup columns (or expressions).
GROUPINGS = {
    "provider": "provider",
    "account": "account__name",
    "project": "project_id",
    "model": "model",
    "tier": "tier",
    "api_key": "api_key_id",
    "user": "user_id",
}
GRANULARITIES = ("hour", "day", "week", "month")
MAX_HOURLY_DAYS = 31
INPUT_COLUMNS = (
    "input_uncached_tokens",
    "input_cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
)
# Output fields of `spend_rows` after the date and grouping keys, in order (CSV columns).
MEASURE_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "requests",
    "estimated_cost",
    "billed_cost",
)


class QueryError(ValueError):
    """A spend query that cannot be answered as asked; the message says which parameter."""


def tier_expression() -> Case:
    """SQL expression: the tier of the row's model, by `MODEL_TIERS`."""
    whens = [When(model__iregex=pattern, then=Value(tier)) for tier, pattern in MODEL_TIERS]
    return Case(*whens, default=Value(UNKNOWN_TIER), output_field=CharField())


def model_tier(model: str) -> str:
    """The tier of one model name, the same rule as `tier_expression` (for labels, colours)."""
    import re

    for tier, pattern in MODEL_TIERS:
        if re.search(pattern, model, flags=re.IGNORECASE):
            return tier
    return UNKNOWN_TIER


@dataclass(frozen=True)
class SpendQuery:
    date_from: date
    date_to: date  # inclusive
    by: tuple[str, ...] = ()
    granularity: str = "day"
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        if self.date_to < self.date_from:
            raise QueryError("to: must not be before from")
        unknown = [key for key in self.by if key not in GROUPINGS]
        if unknown:
            raise QueryError(
                f"by: unknown grouping {', '.join(unknown)} (use {', '.join(GROUPINGS)})"
            )
        if len(set(self.by)) != len(self.by):
            raise QueryError("by: a grouping may appear only once")
        if self.granularity not in GRANULARITIES:
            raise QueryError(f"granularity: expected one of {', '.join(GRANULARITIES)}")
        bad = [key for key in self.filters if key not in GROUPINGS]
        if bad:
            raise QueryError(f"filter: unknown field {', '.join(bad)} (use {', '.join(GROUPINGS)})")
        days = (self.date_to - self.date_from).days + 1
        if self.granularity == "hour" and days > MAX_HOURLY_DAYS:
            raise QueryError(
                f"granularity: hour covers at most {MAX_HOURLY_DAYS} days, the range has "
                f"{days}; narrow the dates or pick day"
            )

    @property
    def hourly(self) -> bool:
        return self.granularity == "hour"


def _decimal_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = f"{value.normalize():f}"
    return "0" if text in {"-0", ""} else text


def _base_rows(query: SpendQuery):
    """Rollup rows of the query's range and filters (hourly or daily table)."""
    if query.hourly:
        t0 = datetime(query.date_from.year, query.date_from.month, query.date_from.day, tzinfo=UTC)
        t1 = datetime(query.date_to.year, query.date_to.month, query.date_to.day, tzinfo=UTC)
        rows = HourlySpend.objects.filter(hour__gte=t0, hour__lt=t1 + timedelta(days=1))
    else:
        rows = DailySpend.objects.filter(day__gte=query.date_from, day__lte=query.date_to)
    if "tier" in query.by or "tier" in query.filters:
        rows = rows.alias(tier=tier_expression())
    for key, values in query.filters.items():
        rows = rows.filter(Q(**{f"{GROUPINGS[key]}__in": values}))
    return rows


def _period(query: SpendQuery):
    if query.hourly:
        return F("hour")
    return {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}[
        query.granularity
    ]


def spend_rows(query: SpendQuery) -> list[dict]:
    """Totals per period and grouping, as JSON-ready dicts (money as decimal strings).

    Fields: ``date`` (period start: a day, a Monday, a month's first day, or an ISO hour),
    one field per grouping (None where the provider does not report it), then
    `MEASURE_FIELDS`. ``input_tokens`` counts every input type (uncached, cache reads and
    writes); ``cached_input_tokens`` the cache reads among them. ``billed_cost`` is None where
    nothing was billed at that grain (and always at hour grain).
    """
    rows = _base_rows(query)
    # Aliased: an annotation may not share a name with a model field ("provider", "model").
    columns = {f"g_{key}": F(GROUPINGS[key]) for key in query.by}
    measures = {
        "s_input": Sum(sum((F(c) for c in INPUT_COLUMNS[1:]), F(INPUT_COLUMNS[0]))),
        "s_cached": Sum("input_cached_tokens"),
        "s_output": Sum("output_tokens"),
        "s_requests": Sum("requests"),
        "s_estimated": Sum("estimated_cost"),
    }
    if not query.hourly:
        measures["s_billed"] = Sum("billed_cost")
    grouped = rows.values(period_start=_period(query), **columns).annotate(**measures)
    result = []
    for row in grouped.order_by("period_start", *columns):
        out = {"date": row["period_start"].isoformat()}
        for key in query.by:
            out[key] = row[f"g_{key}"] or None
        out["input_tokens"] = int(row["s_input"] or 0)
        out["cached_input_tokens"] = int(row["s_cached"] or 0)
        out["output_tokens"] = int(row["s_output"] or 0)
        out["requests"] = int(row["s_requests"] or 0)
        out["estimated_cost"] = _decimal_text(row["s_estimated"] or Decimal(0))
        out["billed_cost"] = _decimal_text(row.get("s_billed"))
        result.append(out)
    return result


def dimension_values(query: SpendQuery) -> dict[str, list[str]]:
    """Values each grouping takes in the query's date range (filters ignored), sorted: the
    choices of the explorer's filters and the check that a filter names something real."""
    rows = DailySpend.objects.filter(day__gte=query.date_from, day__lte=query.date_to)
    seen: dict[str, set[str]] = {key: set() for key in GROUPINGS}
    combos = rows.values_list(
        "provider", "account__name", "project_id", "model", "api_key_id", "user_id"
    ).distinct()
    for provider, account, project, model, api_key, user in combos:
        seen["provider"].add(provider)
        seen["account"].add(account)
        seen["project"].add(project)
        seen["model"].add(model)
        seen["tier"].add(model_tier(model))
        seen["api_key"].add(api_key)
        seen["user"].add(user)
    return {key: sorted(v for v in values if v) for key, values in seen.items()}
