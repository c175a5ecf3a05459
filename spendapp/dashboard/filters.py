"""The explorer's state: parsed and validated from the query string, written back to it.

The whole view lives in the URL, so a link reproduces it: ``from``, ``to``, ``by`` (one
grouping or none), ``granularity``, ``metric``, ``chart`` and one repeatable parameter per
filterable field (``?model=a&model=b``). ``(none)`` stands for rows without that field.
Anything else is refused with a message that names the parameter, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from spendapp.core.inputs import parse_day
from spendapp.usage.queries import (
    GRANULARITIES,
    GROUPINGS,
    MAX_HOURLY_DAYS,
    QueryError,
    SpendQuery,
)

NONE_VALUE = "(none)"
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
MAX_FILTER_VALUES = 50
# Metric -> (label, kind of number for formats)
METRICS = {
    "spend": ("Spend", "money"),  # billed where billed, else calibrated (spendapp.usage.spend)
    "billed": ("Billed spend", "money"),
    "estimated": ("List-price estimate", "money"),
    "calibrated": ("Calibrated estimate", "money"),
    "tokens": ("Tokens (input + output)", "count"),
    "requests": ("Requests", "count"),
    "per_mtok": ("Effective $ per million tokens", "rate"),
    "cache_share": ("Cache-hit share of input tokens", "share"),
}
CHART_STYLES = ("stacked", "lines")
# Ratios do not add up, so they are never stacked.
UNSTACKABLE = ("per_mtok", "cache_share")
GROUPING_LABELS = {
    "provider": "Provider",
    "account": "Account",
    "project": "Project / workspace",
    "model": "Model",
    "tier": "Model tier",
    "api_key": "API key",
    "user": "User",
    "team": "Team",
    "cost_centre": "Cost centre",
    "service_tier": "Service tier",
    "api_source": "API source",
    "inference_geo": "Inference geo",
    "speed": "Speed",
    "service_account": "Service account",
}
# What "(none)" means per grouping: rows without the field, or for the allocation groupings
# the spend no rule allocates.
UNALLOCATED_LABEL = "Unallocated"
# Clicking a series filters on it and groups by the next finer dimension.
DRILL_NEXT = {
    "provider": "model",
    "account": "project",
    "tier": "model",
    "model": "project",
    "project": "api_key",
    "api_key": "user",
    "user": "model",
    "cost_centre": "team",
    "team": "project",
    "service_tier": "model",
    "api_source": "model",
    "inference_geo": "model",
    "speed": "model",
    "service_account": "model",
}
KNOWN_PARAMS = {"from", "to", "by", "granularity", "metric", "chart", *GROUPINGS}


class FilterError(ValueError):
    """Parameters that cannot be shown; ``messages`` holds one line per bad parameter."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ExplorerState:
    date_from: date
    date_to: date
    by: str = "provider"  # "" = one total series
    granularity: str = "day"
    metric: str = "spend"
    chart: str = "stacked"
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def stacked(self) -> bool:
        return self.chart == "stacked" and self.metric not in UNSTACKABLE

    def spend_query(self) -> SpendQuery:
        """The shared query (the CSV export and ``manage.py spend`` run the same one)."""
        filters = {
            key: tuple("" if v == NONE_VALUE else v for v in values)
            for key, values in self.filters.items()
        }
        by = (self.by,) if self.by else ()
        return SpendQuery(self.date_from, self.date_to, by, self.granularity, filters)

    def params(self) -> list[tuple[str, str]]:
        pairs = [
            ("from", self.date_from.isoformat()),
            ("to", self.date_to.isoformat()),
            ("by", self.by),
            ("granularity", self.granularity),
            ("metric", self.metric),
            ("chart", self.chart),
        ]
        for key in GROUPINGS:
            pairs.extend((key, value) for value in self.filters.get(key, ()))
        return pairs

    def query_string(self, **changes) -> str:
        return urlencode((self.with_changes(**changes) if changes else self).params())

    def with_changes(self, **changes) -> ExplorerState:
        return replace(self, **changes)

    def drill(self, value: str | None) -> str:
        """Query string of this view filtered on one series of the current grouping."""
        if not self.by:
            return self.query_string()
        filters = dict(self.filters)
        filters[self.by] = (value or NONE_VALUE,)
        return self.query_string(by=DRILL_NEXT[self.by], filters=filters)

    def without_filter(self, key: str) -> str:
        filters = {k: v for k, v in self.filters.items() if k != key}
        return self.query_string(filters=filters)


def _parse_date(params, name: str, default: date, errors: list[str]) -> date:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_day(raw, name)
    except ValueError as exc:
        errors.append(str(exc))
        return default


def _choice(params, name: str, choices, default: str, errors: list[str]) -> str:
    raw = params.get(name, default)
    if raw not in choices:
        shown = ", ".join(c or "(total)" for c in choices)
        errors.append(f"{name}: unknown value {raw[:40]!r} (use one of {shown})")
        return default
    return raw


def _filters(params, known: dict[str, list[str]] | None, errors: list[str]) -> dict:
    filters = {}
    for key in GROUPINGS:
        values = [v.strip() for v in params.getlist(key) if v.strip()]
        if not values:
            continue
        if len(values) > MAX_FILTER_VALUES:
            errors.append(f"{key}: at most {MAX_FILTER_VALUES} values")
            continue
        if known is not None:
            allowed = {*known.get(key, ()), NONE_VALUE}
            unknown = [v for v in values if v not in allowed]
            if unknown:
                errors.append(
                    f"{key}: {', '.join(repr(v[:60]) for v in unknown[:3])} is not a "
                    f"{GROUPING_LABELS[key].lower()} you can see in the selected dates"
                )
                continue
        filters[key] = tuple(dict.fromkeys(values))
    return filters


def parse_explorer(params, today: date, known=None) -> ExplorerState:
    """Validate the explorer's query string; raise `FilterError` listing every bad parameter.

    ``known``: the values each field takes in the range (`dimension_values`), to refuse a
    filter on something that does not exist or that the user may not see. It is a callable
    taking the date range, so the check runs only once the dates are valid.
    """
    errors = [
        f"{name}: unknown parameter (use {', '.join(sorted(KNOWN_PARAMS))})"
        for name in sorted(set(params) - KNOWN_PARAMS)
    ]
    date_to = _parse_date(params, "to", today, errors)
    date_from = _parse_date(params, "from", date_to - timedelta(days=DEFAULT_DAYS - 1), errors)
    granularity = _choice(params, "granularity", GRANULARITIES, "day", errors)
    if not errors:
        if date_to < date_from:
            errors.append("to: must not be before from")
        elif (date_to - date_from).days + 1 > MAX_DAYS:
            errors.append(f"from: the range may cover at most {MAX_DAYS} days")
        elif granularity == "hour" and (date_to - date_from).days + 1 > MAX_HOURLY_DAYS:
            errors.append(
                f"granularity: hourly data covers at most {MAX_HOURLY_DAYS} days at a time; "
                "narrow the dates or pick day"
            )
    by = _choice(params, "by", ("", *GROUPINGS), "provider", errors)
    metric = _choice(params, "metric", tuple(METRICS), "spend", errors)
    chart = _choice(params, "chart", CHART_STYLES, "stacked", errors)
    if granularity == "hour" and metric == "billed":
        errors.append("metric: providers bill per day, so billed spend has no hourly view")
    values = known(date_from, date_to) if (known is not None and not errors) else None
    filters = _filters(params, values, errors)
    if errors:
        raise FilterError(errors)
    state = ExplorerState(date_from, date_to, by, granularity, metric, chart, filters)
    try:
        state.spend_query()
    except QueryError as exc:  # a rule of the shared query not mirrored above
        raise FilterError([str(exc)]) from None
    return state
