"""The explorer's rows (from `spend_rows`) folded into chart series and a totals table.

Every metric is computed from additive parts (cost, tokens, requests) summed first, so a
ratio such as $ per million tokens is right for a series, for "Other" and for the total
(a mean of daily ratios would not be). Money stays Decimal until the chart's floats.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from spendapp.dashboard import charts
from spendapp.dashboard.filters import (
    GROUPING_LABELS,
    METRICS,
    UNALLOCATED_LABEL,
    ExplorerState,
)
from spendapp.usage.queries import ALLOCATION_KEYS

MAX_SERIES = 12
MILLION = Decimal(1_000_000)
ENTITY_KINDS = {"project": "project", "api_key": "api_key", "user": "user"}


@dataclass
class Parts:
    estimated: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    billed_rows: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0

    def add(self, other: Parts) -> None:
        self.estimated += other.estimated
        self.billed += other.billed
        self.billed_rows += other.billed_rows
        self.input_tokens += other.input_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.output_tokens += other.output_tokens
        self.requests += other.requests

    @classmethod
    def of_row(cls, row: dict) -> Parts:
        billed = row["billed_cost"]
        return cls(
            estimated=Decimal(row["estimated_cost"]),
            billed=Decimal(billed) if billed is not None else Decimal(0),
            billed_rows=int(billed is not None),
            input_tokens=row["input_tokens"],
            cached_input_tokens=row["cached_input_tokens"],
            output_tokens=row["output_tokens"],
            requests=row["requests"],
        )

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def billed_or_none(self) -> Decimal | None:
        return self.billed if self.billed_rows else None

    @property
    def per_mtok(self) -> Decimal | None:
        return self.estimated * MILLION / self.tokens if self.tokens else None

    @property
    def cache_share(self) -> Decimal | None:
        return Decimal(self.cached_input_tokens) / self.input_tokens if self.input_tokens else None

    def metric(self, name: str):
        return {
            "spend": self.estimated,
            "billed": self.billed_or_none,
            "tokens": self.tokens,
            "requests": self.requests,
            "per_mtok": self.per_mtok,
            "cache_share": self.cache_share,
        }[name]

    def rank(self, metric: str):
        """Size of a series for ordering: the metric when additive, else its spend."""
        if metric in ("tokens", "requests"):
            return self.metric(metric)
        return self.billed if metric == "billed" else self.estimated


@dataclass
class Series:
    key: str | None  # the grouping value (None: not reported, or the total)
    label: str
    parts: Parts
    by_period: dict[str, Parts]
    drill: str = ""  # query string of the drill-down view
    color: str = charts.OTHER_COLOR
    is_other: bool = False


def periods(state: ExplorerState) -> list[str]:
    """Every period start of the range, in `spend_rows`' ``date`` format (gaps show as 0)."""
    first, last = state.date_from, state.date_to
    if state.granularity == "hour":
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = min(start + timedelta(days=(last - first).days + 1), timezone.now())
        hours = math.ceil((end - start) / timedelta(hours=1))  # no hours from the future
        return [(start + timedelta(hours=h)).isoformat() for h in range(max(hours, 0))]
    if state.granularity == "day":
        return [(first + timedelta(days=d)).isoformat() for d in range((last - first).days + 1)]
    if state.granularity == "week":
        monday = first - timedelta(days=first.weekday())
        weeks = (last - monday).days // 7 + 1
        return [(monday + timedelta(weeks=w)).isoformat() for w in range(weeks)]
    out, month = [], date(first.year, first.month, 1)
    while month <= last:
        out.append(month.isoformat())
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out


def label_for(kind: str, value: str | None, names: dict) -> str:
    if not value:
        if kind in ALLOCATION_KEYS:
            return UNALLOCATED_LABEL
        return f"(no {GROUPING_LABELS[kind].lower()})"
    name = names.get((ENTITY_KINDS.get(kind, kind), value))
    return f"{name} ({value})" if name and name != value else value


def build_series(rows: list[dict], state: ExplorerState, names: dict) -> list[Series]:
    """Series sorted by size; beyond `MAX_SERIES` the rest is folded into one "Other"."""
    grouped: dict[str | None, dict[str, Parts]] = defaultdict(lambda: defaultdict(Parts))
    for row in rows:
        key = row.get(state.by) if state.by else None
        grouped[key][row["date"]].add(Parts.of_row(row))
    series = []
    for key, by_period in grouped.items():
        total = Parts()
        for parts in by_period.values():
            total.add(parts)
        label = label_for(state.by, key, names) if state.by else "Total"
        color = charts.color_for(state.by, key) if state.by else charts.TOTAL_COLOR
        series.append(
            Series(key, label, total, dict(by_period), state.drill(key) if state.by else "", color)
        )
    series.sort(key=lambda s: (-(s.parts.rank(state.metric) or 0), s.label))
    if len(series) <= MAX_SERIES:
        return series
    # Unallocated spend is never folded into "Other": it is what allocation rules must fix.
    is_pinned = [state.by in ALLOCATION_KEYS and s.key is None for s in series]
    pinned = [s for s, pin in zip(series, is_pinned, strict=True) if pin]
    ranked = [s for s, pin in zip(series, is_pinned, strict=True) if not pin]
    keep = MAX_SERIES - 1 - len(pinned)
    kept, rest = [*ranked[:keep], *pinned], ranked[keep:]
    other = Series(None, f"Other ({len(rest)} series)", Parts(), defaultdict(Parts), is_other=True)
    for item in rest:
        other.parts.add(item.parts)
        for period, parts in item.by_period.items():
            other.by_period[period].add(parts)
    return [*kept, other]


def _x(period: str, granularity: str) -> str:
    # plotly.js reads "YYYY-MM-DD HH:MM" as a date; it does not take "+00:00" offsets.
    return period[:16].replace("T", " ") if granularity == "hour" else period


def explorer_figure(series: list[Series], state: ExplorerState):
    axis = periods(state)
    label, kind = METRICS[state.metric]
    traces = []
    for item in series:
        values = []
        for period in axis:
            parts = item.by_period.get(period)
            if parts is None:
                # No rows: nothing was used, which is 0 for sums but undefined for ratios.
                values.append(None if state.metric in ("per_mtok", "cache_share", "billed") else 0)
            else:
                values.append(parts.metric(state.metric))
        meta = {"drill": item.drill, "key": item.key} if item.drill and not item.is_other else None
        traces.append({"name": item.label, "values": values, "color": item.color, "meta": meta})
    x = [_x(p, state.granularity) for p in axis]
    return charts.series_chart(x, traces, y_format=kind, y_title=label, stacked=state.stacked)


def totals_row(series: list[Series]) -> Parts:
    total = Parts()
    for item in series:
        total.add(item.parts)
    return total
