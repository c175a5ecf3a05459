"""The explorer's rows (from `spend_records`) folded into chart series and a totals table.

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
from spendapp.usage.queries import ALLOCATION_KEYS, OTHER, SpendRecord, spend_records

MAX_SERIES = 12
MILLION = Decimal(1_000_000)
ENTITY_KINDS = {"project": "project", "api_key": "api_key", "user": "user"}


_METRIC_ATTRIBUTES = {
    "spend": "spend",
    "estimated": "estimated",
    "calibrated": "calibrated",
    "billed": "billed_or_none",
    "tokens": "tokens",
    "requests": "requests",
    "per_mtok": "per_mtok",
    "cache_share": "cache_share",
}


@dataclass
class Parts:
    estimated: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    calibrated: Decimal = Decimal(0)
    spend: Decimal = Decimal(0)
    billed_rows: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0

    def add(self, other: Parts) -> None:
        self.estimated += other.estimated
        self.billed += other.billed
        self.calibrated += other.calibrated
        self.spend += other.spend
        self.billed_rows += other.billed_rows
        self.input_tokens += other.input_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.output_tokens += other.output_tokens
        self.requests += other.requests

    @classmethod
    def of_record(cls, record: SpendRecord) -> Parts:
        billed = record.billed_cost
        return cls(
            record.estimated_cost,
            billed if billed is not None else Decimal(0),
            record.calibrated_cost,
            record.spend,
            int(billed is not None),
            record.input_tokens,
            record.cached_input_tokens,
            record.output_tokens,
            record.requests,
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
        return getattr(self, _METRIC_ATTRIBUTES[name])

    def rank(self, metric: str):
        """Size of a series for ordering: the metric when additive, else its spend."""
        if metric in ("tokens", "requests"):
            return self.metric(metric)
        return {"billed": self.billed, "estimated": self.estimated}.get(metric, self.spend)


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
    """Every period start of the range, in `spend_records`' ``period`` format (gaps show as 0)."""
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


def _series(key, parts: Parts, state: ExplorerState, names: dict) -> Series:
    if not state.by:
        return Series(None, "Total", parts, {}, "", charts.TOTAL_COLOR)
    label = label_for(state.by, key, names)
    return Series(key, label, parts, {}, state.drill(key), charts.color_for(state.by, key))


def explorer_series(state: ExplorerState, names: dict, tier_book=None) -> list[Series]:
    """The explorer's series, sorted by size; beyond `MAX_SERIES` the smallest are folded
    into one "Other" (unallocated spend is never folded: it is what allocation rules must fix).

    Two queries: each value's totals over the range (to rank them), then the per-period rows
    with every value not shown summed by PostgreSQL into "Other", so a year by API key
    sends a dozen series to Python, not hundreds.
    """
    query = state.spend_query()
    if not state.by:
        records = spend_records(query, tier_book=tier_book)
        if not records:
            return []
        total = _series(None, Parts(), state, names)
        _fill(total, records)
        for parts in total.by_period.values():
            total.parts.add(parts)
        return [total]
    series = [
        _series(r.keys[0], Parts.of_record(r), state, names)
        for r in spend_records(query, tier_book=tier_book, per_period=False)
    ]
    series = _merge_unreported(series)
    series.sort(key=lambda s: (-(s.parts.rank(state.metric) or 0), s.label))
    keep = None
    if len(series) > MAX_SERIES:
        is_pinned = [state.by in ALLOCATION_KEYS and s.key is None for s in series]
        pinned = [s for s, pin in zip(series, is_pinned, strict=True) if pin]
        ranked = [s for s, pin in zip(series, is_pinned, strict=True) if not pin]
        cut = MAX_SERIES - 1 - len(pinned)
        rest = ranked[cut:]
        other = Series(None, f"Other ({len(rest)} series)", Parts(), {}, is_other=True)
        for item in rest:
            other.parts.add(item.parts)
        series = [*ranked[:cut], *pinned, other]
        keep = {s.key for s in series if not s.is_other}
    by_key = {OTHER if s.is_other else s.key: s for s in series}
    records = spend_records(query, tier_book=tier_book, keep=keep)
    for key, group in _by_key(records).items():
        if key in by_key:  # else: first seen after the ranking query (a sync committed)
            _fill(by_key[key], group)
    return series


def _merge_unreported(series: list[Series]) -> list[Series]:
    """ "" and NULL both mean "not reported": one series."""
    out: dict = {}
    for item in series:
        if item.key in out:
            out[item.key].parts.add(item.parts)
        else:
            out[item.key] = item
    return list(out.values())


def _by_key(records: list[SpendRecord]) -> dict:
    grouped: dict = defaultdict(list)
    for record in records:
        grouped[record.keys[0]].append(record)
    return grouped


def _fill(series: Series, records: list[SpendRecord]) -> None:
    by_period = series.by_period
    for record in records:
        parts = Parts.of_record(record)
        if record.period in by_period:  # "" and NULL, both "not reported"
            by_period[record.period].add(parts)
        else:
            by_period[record.period] = parts


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
    return charts.series_figure(x, traces, y_format=kind, y_title=label, stacked=state.stacked)


def totals_row(series: list[Series]) -> Parts:
    total = Parts()
    for item in series:
        total.add(item.parts)
    return total
