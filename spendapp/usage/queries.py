"""Spend totals from the daily rollup: one query code path for `manage.py spend`, the
dashboard and its CSV export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import F, Q, Sum
from django.db.models.functions import TruncMonth

from spendapp.usage.models import DailySpend

# Public grouping names -> rollup columns.
GROUPINGS = {
    "provider": "provider",
    "account": "account__name",
    "project": "project_id",
    "model": "model",
    "api_key": "api_key_id",
}
GRANULARITIES = ("day", "month")
INPUT_COLUMNS = (
    "input_uncached_tokens",
    "input_cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
)


class QueryError(ValueError):
    """A spend query that cannot be answered as asked; the message says which parameter."""


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
        if self.granularity not in GRANULARITIES:
            raise QueryError(f"granularity: expected one of {', '.join(GRANULARITIES)}")
        bad = [key for key in self.filters if key not in GROUPINGS]
        if bad:
            raise QueryError(f"filter: unknown field {', '.join(bad)}")


def _decimal_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = f"{value.normalize():f}"
    return "0" if text in {"-0", ""} else text


def spend_rows(query: SpendQuery) -> list[dict]:
    """Totals per period and grouping, as JSON-ready dicts (money as decimal strings)."""
    rows = DailySpend.objects.filter(day__gte=query.date_from, day__lte=query.date_to)
    for key, values in query.filters.items():
        rows = rows.filter(Q(**{f"{GROUPINGS[key]}__in": values}))
    period = F("day") if query.granularity == "day" else TruncMonth("day")
    # Aliased: an annotation may not share a name with a model field ("provider", "model").
    columns = {f"g_{key}": F(GROUPINGS[key]) for key in query.by}
    grouped = rows.values(period_start=period, **columns).annotate(
        input_tokens=Sum(sum((F(c) for c in INPUT_COLUMNS[1:]), F(INPUT_COLUMNS[0]))),
        output_tokens=Sum("output_tokens"),
        requests=Sum("requests"),
        estimated_cost=Sum("estimated_cost"),
        billed_cost=Sum("billed_cost"),
    )
    ordering = ["period_start", *columns]
    result = []
    for row in grouped.order_by(*ordering):
        out = {"date": row["period_start"].isoformat()}
        for key in query.by:
            out[key] = row[f"g_{key}"] or None
        out["input_tokens"] = int(row["input_tokens"] or 0)
        out["output_tokens"] = int(row["output_tokens"] or 0)
        out["requests"] = int(row["requests"] or 0)
        out["estimated_cost"] = _decimal_text(row["estimated_cost"] or Decimal(0))
        out["billed_cost"] = _decimal_text(row["billed_cost"])
        result.append(out)
    return result
