"""Spend totals from the rollups: one query code path for `manage.py spend`, the dashboard's
explorer and its CSV export, so what the command prints is what the page shows. (A little over
500 lines: the query, its spend SQL and the filter values it checks against are one unit.)

Every row carries the four numbers of money: ``billed_cost``, ``estimated_cost`` (the list
estimate), ``calibrated_cost`` and ``spend`` by the rule of `spendapp.usage.spend` (the bill
where the account's day is billed, split by estimate below the billing group, else the
calibrated estimate), summed in the same query: every daily rollup stores them.

Day, week and month read the smallest daily rollup that holds every grouping and filter
(`spendapp.usage.cubes.rollup_for`: day x account x model, x project, x project x model,
x project x API key, or the full `DailySpend`); hour reads `HourlySpend` (no billed cost,
since providers bill per day: spend is the calibrated estimate, joined from the day's ratio)
over at most `MAX_HOURLY_DAYS` days. Every one of them
leads an index with its time column, which is what the date-range filter here uses.

Grouping or filtering by a usage-only dimension (`DETAIL_KEYS`: service tier, OpenAI API
source, Anthropic inference geo, speed and service account) reads `DailyUsageDetail`: daily,
never billed at that grain, so its spend is the calibrated estimate joined as for hours.

Grouping or filtering by ``team`` or ``cost_centre`` reads the allocated rollup instead
(`spendapp.allocation`: every DailySpend row once per team it is allocated to, team NULL when
no rule matches), so the teams plus "Unallocated" add up to the same total. Allocation is
daily, so these have no hourly view. Allocation sits above usage: it lends its rows through
`register_allocated_source`, and this module imports nothing from it.

Model tiers are the official rule of `spendapp.usage.tiers` (price bands + admin
overrides): the distinct (provider, model) pairs of the range are resolved in Python with one
`TierBook`, at the last day of the range, and become a SQL ``CASE`` so that the aggregation
stays in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek

from spendapp.usage.cubes import rollup_for
from spendapp.usage.models import DailyUsageDetail, HourlySpend, SpendCombination
from spendapp.usage.spend import calibrated_sql
from spendapp.usage.tiers import UNKNOWN as UNKNOWN_TIER
from spendapp.usage.tiers import TierBook

# Public grouping names -> rollup columns (or expressions).
GROUPINGS = {
    "provider": "provider",
    "account": "account__name",
    "project": "project_id",
    "model": "model",
    "tier": "tier",
    "api_key": "api_key_id",
    "user": "user_id",
    "team": "team__name",
    "cost_centre": "cost_centre__name",
    "service_tier": "service_tier",
    "api_source": "api_source",
    "inference_geo": "inference_geo",
    "speed": "speed",
    "service_account": "service_account_id",
}
# Groupings answered from the allocated rollup (daily only).
ALLOCATION_KEYS = ("team", "cost_centre")
# Usage-only groupings answered from `DailyUsageDetail` (daily; no API key, user or team
# there, and nothing billed at that grain: spend is the calibrated estimate).
DETAIL_KEYS = ("service_tier", "api_source", "inference_geo", "speed", "service_account")
NOT_WITH_DETAIL = ("api_key", "user", *ALLOCATION_KEYS)
# Cost-centre value of spend allocated to a team outside any department (None = unallocated).
NO_COST_CENTRE = "No cost centre"
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
    "calibrated_cost",
    "spend",
)


class QueryError(ValueError):
    """A spend query that cannot be answered as asked; the message says which parameter."""


@dataclass(frozen=True)
class AllocatedSource:
    """What the allocation app lends these queries for ``team`` and ``cost_centre``: usage is
    the lower layer and imports nothing from allocation, so allocation registers this in its
    ``AppConfig.ready`` (`register_allocated_source`).

    ``rows(date_from, date_to, teams)``: allocated rows of the range, rollup-shaped (day,
    account, provider, project_id, model, api_key_id, user_id, measures) with ``team`` and
    ``cost_centre`` relations; ``teams`` is None (all) or team names, "" selecting the
    unallocated rows; an unknown name raises `QueryError`. ``values()``: (every team name,
    every cost-centre name including `NO_COST_CENTRE` when some team sits under none).
    """

    rows: Callable[[date, date, tuple[str, ...] | None], QuerySet]
    values: Callable[[], tuple[set[str], set[str]]]


_allocated: AllocatedSource | None = None


def register_allocated_source(source: AllocatedSource) -> None:
    global _allocated
    _allocated = source


def _allocated_source() -> AllocatedSource:
    if _allocated is None:
        raise QueryError("team: cost allocation is not installed")
    return _allocated


def tier_map(pairs, at: date, book: TierBook | None = None) -> dict[tuple[str, str], str]:
    """``(provider, model) -> tier`` by the official rule, at ``at`` (one `TierBook`: three
    queries when none is given). Rows without a model have no price: they are "unknown"."""
    pairs = sorted({(p, m) for p, m in pairs if m})
    if not pairs:
        return {}
    book = book or TierBook()
    return {(p, m): book.tier(p, m, at) for p, m in pairs}


def tier_expression(mapping: dict[tuple[str, str], str]) -> Case:
    """SQL ``CASE`` giving each row the tier of its (provider, model) from ``mapping``; one
    branch per provider and tier (``model IN (...)``); anything else is "unknown"."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for (provider, model), tier in sorted(mapping.items()):
        grouped.setdefault((provider, tier), []).append(model)
    whens = [
        When(provider=provider, model__in=models, then=Value(tier))
        for (provider, tier), models in grouped.items()
    ]
    return Case(*whens, default=Value(UNKNOWN_TIER), output_field=CharField())


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
        if self.hourly and self.allocated:
            raise QueryError(
                "granularity: team and cost centre spend is allocated per day; pick day, week "
                "or month"
            )
        if self.detailed:
            if self.hourly:
                raise QueryError(
                    "granularity: service tier, API source, inference geo, speed and service "
                    "account are kept per day; pick day, week or month"
                )
            clash = [k for k in NOT_WITH_DETAIL if k in self.by or k in self.filters]
            if clash:
                raise QueryError(
                    f"by: {', '.join(clash)} cannot be combined with service tier, API "
                    "source, inference geo, speed or service account"
                )
        days = (self.date_to - self.date_from).days + 1
        if self.granularity == "hour" and days > MAX_HOURLY_DAYS:
            raise QueryError(
                f"granularity: hour covers at most {MAX_HOURLY_DAYS} days, the range has "
                f"{days}; narrow the dates or pick day"
            )

    @property
    def hourly(self) -> bool:
        return self.granularity == "hour"

    @property
    def allocated(self) -> bool:
        """Whether the query reads the allocated rollup (teams, cost centres)."""
        return any(key in self.by or key in self.filters for key in ALLOCATION_KEYS)

    @property
    def detailed(self) -> bool:
        """Whether the query reads the usage detail (`DETAIL_KEYS`)."""
        return any(key in self.by or key in self.filters for key in DETAIL_KEYS)

    @property
    def estimated_only(self) -> bool:
        """Rows without a bill (hours, usage detail): spend is the calibrated estimate."""
        return self.hourly or self.detailed

    @property
    def tiered(self) -> bool:
        return "tier" in self.by or "tier" in self.filters


def _decimal_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = f"{value.normalize():f}"
    return "0" if text in {"-0", ""} else text


def _range_rows(query: SpendQuery):
    """Rollup rows of the query's date range: hourly, daily or allocated daily."""
    if query.hourly:
        t0 = datetime(query.date_from.year, query.date_from.month, query.date_from.day, tzinfo=UTC)
        t1 = datetime(query.date_to.year, query.date_to.month, query.date_to.day, tzinfo=UTC)
        return HourlySpend.objects.filter(hour__gte=t0, hour__lt=t1 + timedelta(days=1))
    if query.detailed:
        return DailyUsageDetail.objects.filter(day__gte=query.date_from, day__lte=query.date_to)
    if query.allocated:
        # Team names -> the allocated rows of those teams and the teams below them.
        return _allocated_source().rows(query.date_from, query.date_to, query.filters.get("team"))
    rollup = rollup_for(_spend_keys(query))
    return rollup.objects.filter(day__gte=query.date_from, day__lte=query.date_to)


def _spend_keys(query: SpendQuery) -> tuple[str, ...]:
    """The query's dimensions: spend and the calibrated estimate are stored on every daily
    rollup (`spendapp.usage.spend`), so the smallest one that holds them answers."""
    return (*query.by, *query.filters)


def _cost_centre_filter(values: tuple[str, ...]) -> Q:
    """Cost centres by name; "" = unallocated, `NO_COST_CENTRE` = allocated to a team outside
    any department."""
    condition = Q(cost_centre__name__in=[v for v in values if v and v != NO_COST_CENTRE])
    if "" in values:
        condition |= Q(team__isnull=True)
    if NO_COST_CENTRE in values:
        condition |= Q(team__isnull=False, cost_centre__isnull=True)
    return condition


def _base_rows(query: SpendQuery, tier_book: TierBook | None = None):
    """Rollup rows of the query's range and filters, with a ``tier`` alias when needed (one
    query for the range's (provider, model) pairs, plus the `TierBook`'s unless given)."""
    rows = _range_rows(query)
    if query.tiered:
        pairs = rows.values_list("provider", "model").distinct().order_by()
        rows = rows.alias(tier=tier_expression(tier_map(pairs, query.date_to, tier_book)))
    for key, values in query.filters.items():
        if key == "team":
            continue  # in `_range_rows`
        if key == "cost_centre":
            rows = rows.filter(_cost_centre_filter(values))
        else:
            rows = rows.filter(Q(**{f"{GROUPINGS[key]}__in": values}))
    return rows


def _group_column(key: str):
    if key == "cost_centre":
        # Unallocated stays NULL; allocated spend outside any department is named as such.
        return Case(
            When(team__isnull=True, then=Value(None)),
            When(cost_centre__isnull=True, then=Value(NO_COST_CENTRE)),
            default=F("cost_centre__name"),
            output_field=CharField(),
        )
    return F(GROUPINGS[key])


def _period(query: SpendQuery):
    if query.hourly:
        return F("hour")
    return {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}[
        query.granularity
    ]


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """One row of `spend_records`: totals of one period and grouping, typed."""

    period: str  # period start as in `spend_rows`' ``date``
    keys: tuple  # one value per grouping of the query (None: not reported), or (OTHER,)
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    requests: int
    estimated_cost: Decimal
    billed_cost: Decimal | None
    calibrated_cost: Decimal = Decimal(0)
    spend: Decimal = Decimal(0)


class _Other:
    """The key of the record that sums every value not kept (`spend_records`' ``keep``)."""

    def __repr__(self) -> str:
        return "OTHER"


OTHER = _Other()


def spend_records(
    query: SpendQuery,
    *,
    tier_book: TierBook | None = None,
    per_period: bool = True,
    keep: set[str | None] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SpendRecord]:
    """Totals per period and grouping, ordered by period then grouping values, as typed records
    (`spend_rows` has the field-by-field meaning). The aggregation runs in PostgreSQL; the
    result is read with a plain cursor, since a year by API key is tens of thousands of rows
    and Django's per-value converters would cost more than the query.

    ``per_period=False``: one record per grouping over the whole range (``period`` is "").
    ``keep``: for a query with one grouping, the values to keep (None = not reported); the
    rows of every other value are summed into one record per period whose key is `OTHER`.
    Either option returns the records in no particular order.
    ``limit`` / ``offset``: one page of the ordered records (the API's pagination).
    """
    rows = _base_rows(query, tier_book)
    # Aliased: an annotation may not share a name with a model field ("provider", "model").
    columns = {f"g_{key}": _group_column(key) for key in query.by}
    if keep is not None:
        (name, column), *more = columns.items()
        if more:
            raise ValueError("keep: only for a query with one grouping")
        rows = rows.alias(g_raw=column)
        kept = Q(g_raw__in=[v for v in keep if v])
        if None in keep:
            kept |= Q(g_raw__isnull=True) | Q(g_raw="")
        columns = {
            name: Case(When(kept, then=F("g_raw")), default=Value(None), output_field=CharField()),
            "g_other": Case(When(kept, then=Value(False)), default=Value(True)),
        }
    row_day = (
        TruncDate("hour", tzinfo=UTC) if query.hourly else F("day")
    )  # the UTC day whose bill and ratio apply
    values = {
        **columns,
        "s_input": sum((F(c) for c in INPUT_COLUMNS[1:]), F(INPUT_COLUMNS[0])),
        "s_cached": F("input_cached_tokens"),
        "s_output": F("output_tokens"),
        "s_requests": F("requests"),
        "s_estimated": F("estimated_cost"),
    }
    if query.estimated_only:  # the day, account and model whose calibration ratio applies
        values.update(r_day=row_day, r_account=F("account_id"), r_model=F("model"))
    else:  # providers bill per day, and none of the detail dimensions: no billed cost there
        values["s_billed"] = F("billed_cost")
        values["s_calibrated"] = F("calibrated_cost")
        values["s_spend"] = F("spend")
    if per_period:
        values = {"period_start": _period(query), **values}
        order = ("period_start", *columns)
    else:
        order = tuple(columns)
    inner, params = rows.values(**values).order_by().query.sql_with_params()
    sql, extra = _spend_sql(inner, query, order)
    # Folded or whole-range records are for the explorer's chart, which places them itself:
    # without ORDER BY, PostgreSQL may hash instead of sorting every input row.
    if keep is None and per_period:
        sql += " ORDER BY " + ", ".join(f'r."{name}"' for name in order)
    if limit is not None:
        if keep is not None or not per_period:
            raise ValueError("limit: only for ordered records")
        sql += " LIMIT %s OFFSET %s"
        extra = [*extra, limit, offset]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *extra])
        at = {column.name: i for i, column in enumerate(cursor.description)}
        fetched = cursor.fetchall()
    period = at.get("period_start")
    keys = [at[f"g_{key}"] for key in query.by]
    other = at.get("g_other")
    fields = ("s_input", "s_cached", "s_output", "s_requests", "s_estimated", "s_billed")
    input_, cached, output, requests, estimated, billed = (at[name] for name in fields)
    calibrated, spend = at["s_calibrated"], at["s_spend"]
    hourly = query.hourly
    return [
        SpendRecord(
            _period_text(r[period], hourly) if period is not None else "",
            (OTHER,) if other is not None and r[other] else tuple(r[i] or None for i in keys),
            r[input_],
            r[cached],
            r[output],
            r[requests],
            r[estimated],
            r[billed],
            r[calibrated],
            r[spend],
        )
        for r in fetched
    ]


def _spend_sql(inner: str, query: SpendQuery, order: tuple[str, ...]) -> tuple[str, list]:
    """Sum the rows of ``inner`` per ``order`` columns. Daily rows carry the stored
    calibrated estimate and spend (`spendapp.usage.spend`'s rule, kept by PostgreSQL); hourly
    rows are never billed, so their spend is the calibrated estimate, joined here from the
    day's ratio (`calibrated_sql`: at most `MAX_HOURLY_DAYS` days of hours)."""
    params: list = []
    if query.estimated_only:
        ratio, cal_join = calibrated_sql("1", "m.day", "m.account_id", "m.model")
        factors = (
            f"SELECT m.day, m.account_id, m.model, {ratio} AS ratio "  # noqa: S608
            f"FROM usage_dailymodelspend m {cal_join} WHERE m.day >= %s AND m.day <= %s"
        )
        joins = (
            f"LEFT JOIN ({factors}) f ON f.day = r.r_day AND f.account_id = r.r_account "
            "AND f.model = r.r_model"
        )
        calibrated = spend = "coalesce(r.s_estimated, 0) * coalesce(f.ratio, 1)"
        params = [query.date_from, query.date_to]
    else:
        joins, calibrated, spend = "", "r.s_calibrated", "r.s_spend"
    keys = ", ".join(f'r."{name}"' for name in order)
    # Constant fragments around Django's parameterised SQL.
    sql = (
        f"SELECT {keys + ', ' if keys else ''}"  # noqa: S608
        "CAST(coalesce(sum(r.s_input), 0) AS bigint) AS s_input, "
        "CAST(coalesce(sum(r.s_cached), 0) AS bigint) AS s_cached, "
        "CAST(coalesce(sum(r.s_output), 0) AS bigint) AS s_output, "
        "CAST(coalesce(sum(r.s_requests), 0) AS bigint) AS s_requests, "
        "coalesce(sum(r.s_estimated), 0) AS s_estimated, "
        f"{'CAST(NULL AS numeric)' if query.estimated_only else 'sum(r.s_billed)'} AS s_billed, "
        f"round(coalesce(sum({calibrated}), 0), 12) AS s_calibrated, "
        f"round(coalesce(sum({spend}), 0), 12) AS s_spend "
        f"FROM ({inner}) r {joins}"
    )
    if keys:
        sql += f" GROUP BY {keys}"
    return sql, params


def _period_text(value, hourly: bool) -> str:
    """A period start as `spend_rows` writes it: a date, or an ISO hour in UTC. Week and month
    starts come from ``date_trunc`` as midnight UTC timestamps."""
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).isoformat()
            if hourly
            else value.astimezone(UTC).date().isoformat()
        )
    return value.isoformat()


def spend_rows(
    query: SpendQuery,
    *,
    tier_book: TierBook | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict]:
    """Totals per period and grouping, as JSON-ready dicts (money as decimal strings).

    Fields: ``date`` (period start: a day, a Monday, a month's first day, or an ISO hour),
    one field per grouping (None where the provider does not report it), then
    `MEASURE_FIELDS`. ``input_tokens`` counts every input type (uncached, cache reads and
    writes); ``cached_input_tokens`` the cache reads among them. ``billed_cost`` is None where
    nothing was billed at that grain (and always at hour grain).

    ``team`` and ``cost_centre`` are names; None is the unallocated bucket (and a cost centre
    of `NO_COST_CENTRE` is spend allocated to a team outside any department). ``tier`` is a
    tier name of `spendapp.usage.tiers` ("unknown" for models without a price).
    ``tier_book``: a `TierBook` to reuse (the page already loaded one).
    ``limit`` / ``offset``: one page of the rows, in the same order.
    """
    result = []
    for record in spend_records(query, tier_book=tier_book, limit=limit, offset=offset):
        out = {"date": record.period}
        out.update(zip(query.by, record.keys, strict=True))
        out["input_tokens"] = record.input_tokens
        out["cached_input_tokens"] = record.cached_input_tokens
        out["output_tokens"] = record.output_tokens
        out["requests"] = record.requests
        out["estimated_cost"] = _decimal_text(record.estimated_cost)
        out["billed_cost"] = _decimal_text(record.billed_cost)
        out["calibrated_cost"] = _decimal_text(record.calibrated_cost)
        out["spend"] = _decimal_text(record.spend)
        result.append(out)
    return result


def parse_filters(items) -> dict[str, tuple[str, ...]]:
    """``["provider=openai", "model=a,b", "model=c"]`` -> ``{"provider": ("openai",),
    "model": ("a", "b", "c")}``; an empty value (``user=``) matches rows without that field.
    The filter syntax of `manage.py spend --filter` and the API's ``filter`` parameter."""
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise QueryError(f"filter: expected FIELD=VALUE[,VALUE...], got {item[:80]!r}")
        parts = [part.strip() for part in values.split(",")] if values else [""]
        filters.setdefault(key.strip(), []).extend(parts)
    return {key: tuple(dict.fromkeys(values)) for key, values in filters.items()}


def _option_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: expected YYYY-MM-DD, got {value[:40]!r}") from None


def query_from_options(
    today: date,
    date_from: str | None = None,
    date_to: str | None = None,
    by: str = "",
    granularity: str = "day",
    filters=(),
) -> SpendQuery:
    """The query of `manage.py spend`'s options (and the API's parameters of the same names):
    ``to`` defaults to ``today``, ``from`` to 30 days ending at ``to``; ``by`` is a
    comma-separated list of groupings. Raises `QueryError` naming the option."""
    end = _option_date(date_to, "to") if date_to else today
    start = _option_date(date_from, "from") if date_from else end - timedelta(days=29)
    groupings = tuple(part.strip() for part in (by or "").split(",") if part.strip())
    return SpendQuery(start, end, groupings, granularity, parse_filters(filters))


def dimension_values(query: SpendQuery, *, tier_book: TierBook | None = None) -> dict:
    """Values each grouping takes in the calendar months of the query's date range (filters
    ignored), sorted: the choices of the explorer's filters and the check that a filter names
    something real. Read from `SpendCombination` (a few thousand rows for a year), so a value
    seen only earlier in the first month or later in the last one is offered too.

    Three queries (the usage combinations, the usage-detail values, the team tree) plus the
    `TierBook`'s when there is usage and none is given.
    """
    seen: dict[str, set[str]] = {key: set() for key in GROUPINGS}
    combos = (
        SpendCombination.objects.filter(
            month__gte=query.date_from.replace(day=1), month__lte=query.date_to
        )
        .values_list("provider", "account__name", "project_id", "model", "api_key_id", "user_id")
        .distinct()
        .order_by()
    )
    pairs = set()
    for provider, account, project, model, api_key, user in combos:
        seen["provider"].add(provider)
        seen["account"].add(account)
        seen["project"].add(project)
        seen["model"].add(model)
        pairs.add((provider, model))
        seen["api_key"].add(api_key)
        seen["user"].add(user)
    tiers = tier_map(pairs, query.date_to, tier_book)
    seen["tier"].update(tiers.get(pair, UNKNOWN_TIER) for pair in pairs)
    details = (
        DailyUsageDetail.objects.filter(day__gte=query.date_from, day__lte=query.date_to)
        .values_list(*(GROUPINGS[key] for key in DETAIL_KEYS))
        .distinct()
        .order_by()
    )
    for row in details:
        for key, value in zip(DETAIL_KEYS, row, strict=True):
            seen[key].add(value)
    source = _allocated
    if source is not None:
        seen["team"], seen["cost_centre"] = source.values()
    return {key: sorted(v for v in values if v) for key, values in seen.items()}
