"""Bulk, idempotent ingestion: binary COPY, then set-based SQL.

For one fetched window of one endpoint (all its pages), inside the caller's transaction:

1. price every record in Python (one catalog lookup per model, tier, batch and hour; exact
   integer arithmetic, see ``pricing.TokenPrices.cost``) and binary-COPY the rows, one round
   trip, no per-row SQL;
2. if nothing of the window is stored yet (a backfill, a first sync), the COPY goes straight
   into the raw table: steps 3 and 4 could only insert every row and delete nothing. Should a
   row collide with a stored one, that COPY is rolled back (a savepoint) and steps 3 and 4
   decide, as for any window;
3. otherwise the COPY goes into a temporary staging table, then ``INSERT ... SELECT ...
   ON CONFLICT (natural key) DO UPDATE ... WHERE changed``; ``RETURNING (xmax = 0)`` tells
   inserted from updated, and unchanged rows are not touched;
4. delete raw rows of the window that the provider no longer reports (a revised bucket can
   lose a row): the fetched window is the truth for that window. The staging table is
   analysed first and the delete is a set difference plus a keyed delete, so no plan
   over-joins when the stored table's statistics are stale (right after a backfill);
5. recompute the daily rollup (and the usage detail of the explorer's tier, source, geo and
   speed groupings) for the days the window touches, from the raw tables.

Running the same window twice therefore changes nothing (inserted 0, updated 0, deleted 0).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction

from spendapp.providers.errors import MalformedResponse
from spendapp.providers.records import CostRecord, UsageRecord
from spendapp.usage.models import COST_DIMENSIONS, TOKEN_FIELDS, USAGE_DIMENSIONS
from spendapp.usage.pricing import PriceBook, TokenPrices

USAGE_MEASURES = (*TOKEN_FIELDS, "input_audio_tokens", "output_audio_tokens", "requests")
_COST_MEASURES = ("amount", "currency", "quantity", "quantity_unit")
_COST_STAGING_COLUMNS = ("bucket_start", "bucket_end", *COST_DIMENSIONS, *_COST_MEASURES)


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)

    def __iadd__(self, other: WriteResult) -> WriteResult:
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted
        return self


def _lock_account(cursor, account_id: int) -> None:
    """Hold the account row for the window: the fact tables carry no FK constraint (see
    usage.models), so this is what keeps a concurrent delete from orphaning new rows."""
    cursor.execute(
        "SELECT 1 FROM providers_provideraccount WHERE id = %s FOR KEY SHARE", [account_id]
    )


# A usage row as stored, in the column order of both COPYs (into the table or staging).
_USAGE_COLUMNS = (
    "account_id",
    "endpoint",
    "bucket_start",
    "bucket_end",
    *USAGE_DIMENSIONS,
    *USAGE_MEASURES,
    "extra",
    "estimated_cost",
    "updated_at",
)
# Binary COPY: psycopg's C code writes these without formatting text, the server parses no
# text. ``extra`` goes as bytes (declared bytea): jsonb's binary format is a version byte (1)
# and the JSON text, which _jsonb has ready for the usual empty dict, where psycopg's jsonb
# dumper would run json.dumps for every row.
_USAGE_COPY_TYPES = (
    "int8",
    "text",
    "timestamptz",
    "timestamptz",
    *("text" for _ in USAGE_DIMENSIONS),
    *("int8" for _ in USAGE_MEASURES),
    "bytea",
    "numeric",
    "timestamptz",
)
_EMPTY_EXTRA = b"\x01{}"


def _jsonb(extra: dict) -> bytes:
    if not extra:
        return _EMPTY_EXTRA
    return b"\x01" + json.dumps(extra, sort_keys=True).encode()


def _usage_rows(
    records: Iterable[UsageRecord], account, endpoint: str, now: datetime, book: PriceBook
):
    """Rows in _USAGE_COLUMNS order, priced.

    Prices are looked up once per (model, tier, batch, bucket start, speed, inference geo),
    the arguments PriceBook.lookup depends on: a window repeats each for every project, key
    and user of the hour, and a hit here costs a fraction of the book's own cache (a day or
    hour per call).
    """
    account_id, provider = account.pk, account.provider
    memo: dict[tuple, TokenPrices | None] = {}
    for r in records:
        key = (r.model, r.service_tier, r.batch, r.bucket_start, r.speed, r.inference_geo)
        prices = memo.get(key, _NOT_LOOKED_UP)
        if prices is _NOT_LOOKED_UP:
            prices = book.lookup(
                provider,
                r.model,
                r.bucket_start,
                r.service_tier,
                r.batch,
                speed=r.speed,
                inference_geo=r.inference_geo,
            )
            memo[key] = prices
        cost = None
        if prices is not None:
            cost = prices.cost(
                r.input_uncached_tokens,
                r.input_cached_tokens,
                r.cache_write_tokens,
                r.cache_write_1h_tokens,
                r.output_tokens,
            )
        yield (
            account_id,
            endpoint,
            r.bucket_start,
            r.bucket_end,
            r.model,
            r.project_id,
            r.api_key_id,
            r.user_id,
            r.service_tier,
            r.batch,
            r.context_window,
            r.api_source,
            r.inference_geo,
            r.speed,
            r.service_account_id,
            r.input_uncached_tokens,
            r.input_cached_tokens,
            r.cache_write_tokens,
            r.cache_write_1h_tokens,
            r.output_tokens,
            r.input_audio_tokens,
            r.output_audio_tokens,
            r.requests,
            _jsonb(r.extra),
            cost,
            now,
        )


_NOT_LOOKED_UP = object()


def _copy(cursor, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_usage(cursor, table: str, rows: Iterable[tuple]) -> None:
    """Binary COPY of _usage_rows; the server works on each buffer as it arrives, while
    Python builds the next rows."""
    columns = ", ".join(_USAGE_COLUMNS)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_USAGE_COPY_TYPES)
        for row in rows:
            copy.write_row(row)


def _create_staging(cursor) -> None:
    # ON COMMIT DROP: the staging table lives for one window's transaction only.
    dims = ", ".join(f"{d} text NOT NULL" for d in USAGE_DIMENSIONS)
    measures = ", ".join(f"{m} bigint NOT NULL" for m in USAGE_MEASURES)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS staging_usage (account_id bigint NOT NULL, "
        f"endpoint text NOT NULL, bucket_start timestamptz NOT NULL, "
        f"bucket_end timestamptz NOT NULL, {dims}, {measures}, extra jsonb NOT NULL, "
        f"estimated_cost numeric, updated_at timestamptz NOT NULL) ON COMMIT DROP"
    )
    # Several windows can share one transaction (a caller's outer atomic block).
    cursor.execute("TRUNCATE staging_usage")


_USAGE_UPSERT = """
WITH upserted AS (
    INSERT INTO usage_usagebucket AS u ({columns})
    SELECT {columns} FROM staging_usage
    ON CONFLICT ON CONSTRAINT usagebucket_natural_key DO UPDATE SET
        bucket_end = EXCLUDED.bucket_end, {set_measures}, extra = EXCLUDED.extra,
        estimated_cost = EXCLUDED.estimated_cost, updated_at = EXCLUDED.updated_at
    WHERE (u.bucket_end, {u_measures}, u.extra, u.estimated_cost)
        IS DISTINCT FROM (EXCLUDED.bucket_end, {x_measures}, EXCLUDED.extra,
                          EXCLUDED.estimated_cost)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""

# Rows of the window the provider no longer reports. The difference is a set operation
# (EXCEPT: hashed or sorted, linear whatever the statistics say), then a keyed delete of that
# difference, usually empty, through the natural key. Written as NOT EXISTS it was planned as
# a nested-loop anti join when the table was just loaded and its statistics still said one
# row: 45.8M row pairs, 7 s per window on PostgreSQL 15.
_STALE_DELETE = """
WITH stale AS (
    SELECT bucket_start, {dims} FROM {table}
    WHERE account_id = %(account)s AND endpoint = %(endpoint)s
      AND bucket_start >= %(start)s AND bucket_start < %(end)s
    EXCEPT
    SELECT bucket_start, {dims} FROM {staging}
)
DELETE FROM {table} t USING stale s
WHERE t.account_id = %(account)s AND t.endpoint = %(endpoint)s
  AND t.bucket_start = s.bucket_start AND {match}
"""


def _fill(
    template: str,
    table: str,
    dims: tuple[str, ...],
    measures: tuple[str, ...],
    columns: tuple[str, ...] = (),
) -> str:
    return template.format(
        table=table,
        columns=", ".join(columns),
        dims=", ".join(dims),
        measures=", ".join(measures),
        s_dims=", ".join(f"s.{d}" for d in dims),
        s_measures=", ".join(f"s.{m}" for m in measures),
        set_measures=", ".join(f"{m} = EXCLUDED.{m}" for m in measures),
        u_measures=", ".join(f"u.{m}" for m in measures),
        x_measures=", ".join(f"EXCLUDED.{m}" for m in measures),
    )


USAGE_UPSERT_SQL = _fill(
    _USAGE_UPSERT, "usage_usagebucket", USAGE_DIMENSIONS, USAGE_MEASURES, _USAGE_COLUMNS
)
USAGE_STALE_SQL = _STALE_DELETE.format(
    table="usage_usagebucket",
    staging="staging_usage",
    dims=", ".join(USAGE_DIMENSIONS),
    match=" AND ".join(f"s.{d} = t.{d}" for d in USAGE_DIMENSIONS),
)
# now(): the transaction's start, which updated_at records (as the upsert's now() did).
_USAGE_WINDOW_STATE_SQL = """
SELECT now(), NOT EXISTS (
    SELECT 1 FROM usage_usagebucket
    WHERE account_id = %(account)s AND endpoint = %(endpoint)s
      AND bucket_start >= %(start)s AND bucket_start < %(end)s)
"""


def _run_upsert(cursor, sql: str, params: dict) -> tuple[int, int]:
    import psycopg

    try:
        cursor.execute(sql, params)
    except psycopg.errors.CardinalityViolation:
        raise MalformedResponse(
            "the provider returned the same bucket and dimensions twice in one window",
            field="data[].results[]",
        ) from None
    inserted, updated = cursor.fetchone()
    return inserted, updated


def _insert_new_window(cursor, rows: Iterable[tuple]) -> bool:
    """COPY the rows straight into the table: for a window of which nothing is stored yet,
    the upsert would insert every row and the stale delete find nothing.

    Returns False, having written nothing, if a row collides with a stored one or another
    row of the window (a record outside the window, a concurrent writer, a malformed
    response): the upsert path then decides, as it would have.
    """
    import psycopg

    try:
        with transaction.atomic():  # a savepoint: a failed COPY leaves the window as it was
            _copy_usage(cursor, "usage_usagebucket", rows)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _upsert_window(cursor, rows: Iterable[tuple], params: dict) -> WriteResult:
    """Staging + upsert + stale delete: the general path, for a window with stored rows."""
    _create_staging(cursor)
    _copy_usage(cursor, "staging_usage", rows)
    # Temp tables are never auto-analysed: without this the planner guesses their size.
    cursor.execute("ANALYZE staging_usage")
    inserted, updated = _run_upsert(cursor, USAGE_UPSERT_SQL, params)
    cursor.execute(USAGE_STALE_SQL, params)
    return WriteResult(inserted, updated, cursor.rowcount)


def write_usage(
    account,
    endpoint: str,
    start: datetime,
    end: datetime,
    records: list[UsageRecord],
    book: PriceBook,
) -> WriteResult:
    """Upsert one window of usage records. Call inside ``transaction.atomic()``."""
    params = {"account": account.pk, "endpoint": endpoint, "start": start, "end": end}
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor, for COPY
        _lock_account(cursor, account.pk)
        cursor.execute(_USAGE_WINDOW_STATE_SQL, params)
        now, window_is_new = cursor.fetchone()

        def rows():  # a generator, so that the COPY streams while Python builds rows
            return _usage_rows(records, account, endpoint, now, book)

        if window_is_new and _insert_new_window(cursor, rows()):
            return WriteResult(inserted=len(records))
        return _upsert_window(cursor, rows(), params)


_COST_UPSERT = """
WITH upserted AS (
    INSERT INTO usage_costlineitem AS u (
        account_id, endpoint, bucket_start, bucket_end, {dims}, {measures}, updated_at)
    SELECT %(account)s, %(endpoint)s, s.bucket_start, s.bucket_end, {s_dims}, {s_measures},
        now()
    FROM staging_cost s
    ON CONFLICT ON CONSTRAINT costlineitem_natural_key DO UPDATE SET
        bucket_end = EXCLUDED.bucket_end, {set_measures}, updated_at = now()
    WHERE (u.bucket_end, {u_measures}) IS DISTINCT FROM (EXCLUDED.bucket_end, {x_measures})
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""
COST_UPSERT_SQL = _fill(_COST_UPSERT, "usage_costlineitem", COST_DIMENSIONS, _COST_MEASURES)
COST_STALE_SQL = _STALE_DELETE.format(
    table="usage_costlineitem",
    staging="staging_cost",
    dims=", ".join(COST_DIMENSIONS),
    match=" AND ".join(f"s.{d} = t.{d}" for d in COST_DIMENSIONS),
)


def write_costs(
    account, endpoint: str, start: datetime, end: datetime, records: list[CostRecord]
) -> WriteResult:
    """Upsert one window of cost records. Call inside ``transaction.atomic()``."""
    dims = ", ".join(f"{d} text NOT NULL" for d in COST_DIMENSIONS)
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        _lock_account(cursor, account.pk)
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS staging_cost (bucket_start timestamptz NOT NULL, "
            f"bucket_end timestamptz NOT NULL, {dims}, amount numeric NOT NULL, "
            f"currency text NOT NULL, quantity numeric, quantity_unit text NOT NULL) "
            f"ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE staging_cost")
        rows = (
            (
                r.bucket_start,
                r.bucket_end,
                *r.dimensions(),
                r.amount,
                r.currency,
                r.quantity,
                r.quantity_unit,
            )
            for r in records
        )
        _copy(cursor, "staging_cost", _COST_STAGING_COLUMNS, rows)
        cursor.execute("ANALYZE staging_cost")
        params = {"account": account.pk, "endpoint": endpoint, "start": start, "end": end}
        inserted, updated = _run_upsert(cursor, COST_UPSERT_SQL, params)
        cursor.execute(COST_STALE_SQL, params)
        deleted = cursor.rowcount
    return WriteResult(inserted, updated, deleted)


_ROLLUP_DELETE = """
DELETE FROM usage_dailyspend WHERE account_id = %(account)s AND day >= %(d0)s AND day < %(d1)s
"""
# Hour-grain detail is kept for the recent past only (HOURLY_ROLLUP_DAYS): it is nearly as
# large as the raw table, and the hourly view is for "what happened this week".
_HOURLY_DELETE = """
DELETE FROM usage_hourlyspend
WHERE account_id = %(account)s
  AND ((hour >= %(h0)s AND hour < %(t1)s) OR hour < %(retention)s)
"""
# Usage facts (hourly) and billed facts (daily) of one account and time range, side by side.
_FACTS = """
    SELECT bucket_start, project_id, model, api_key_id, user_id,
        input_uncached_tokens AS iu, input_cached_tokens AS ic, cache_write_tokens AS cw,
        cache_write_1h_tokens AS cw1, output_tokens AS o, requests AS req,
        CASE WHEN estimated_cost IS NULL
             THEN input_uncached_tokens + input_cached_tokens + cache_write_tokens
                  + cache_write_1h_tokens + output_tokens ELSE 0 END AS unpriced,
        estimated_cost AS est, NULL::numeric AS billed
    FROM usage_usagebucket
    WHERE account_id = %(account)s AND bucket_start >= %(t0)s AND bucket_start < %(t1)s
"""
_BILLED_FACTS = """
    SELECT bucket_start, project_id, model, api_key_id, '' AS user_id,
        0, 0, 0, 0, 0, 0, 0, NULL, amount
    FROM usage_costlineitem
    WHERE account_id = %(account)s AND bucket_start >= %(t0)s AND bucket_start < %(t1)s
"""
# Composed of the constant fragments above, never of input: S608 does not apply.
_ROLLUP_INSERT = f"""
INSERT INTO usage_dailyspend (
    day, account_id, provider, project_id, model, api_key_id, user_id, input_uncached_tokens,
    input_cached_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, requests,
    unpriced_tokens, estimated_cost, billed_cost)
SELECT (bucket_start AT TIME ZONE 'UTC')::date, %(account)s, %(provider)s, project_id, model,
    api_key_id, user_id, sum(iu), sum(ic), sum(cw), sum(cw1), sum(o), sum(req), sum(unpriced),
    sum(est), sum(billed)
FROM ({_FACTS} UNION ALL {_BILLED_FACTS}) facts
GROUP BY 1, project_id, model, api_key_id, user_id
"""  # noqa: S608
_HOURLY_INSERT = f"""
INSERT INTO usage_hourlyspend (
    hour, account_id, provider, project_id, model, api_key_id, user_id, input_uncached_tokens,
    input_cached_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, requests,
    unpriced_tokens, estimated_cost)
SELECT date_trunc('hour', bucket_start), %(account)s, %(provider)s, project_id, model,
    api_key_id, user_id, sum(iu), sum(ic), sum(cw), sum(cw1), sum(o), sum(req), sum(unpriced),
    sum(est)
FROM ({_FACTS}) facts
WHERE bucket_start >= %(h0)s
GROUP BY 1, project_id, model, api_key_id, user_id
"""  # noqa: S608


# Usage by the dimensions the spend rollups fold away (tiers, api_source, geo, speed, ...):
# the explorer's DailyUsageDetail, from the same raw usage as the daily rollup.
_DETAIL_DIMENSIONS = (
    "project_id, model, service_tier, batch, api_source, inference_geo, speed, service_account_id"
)
_DETAIL_DELETE = """
DELETE FROM usage_dailyusagedetail
WHERE account_id = %(account)s AND day >= %(d0)s AND day < %(d1)s
"""
_DETAIL_INSERT = f"""
INSERT INTO usage_dailyusagedetail (
    day, account_id, provider, {_DETAIL_DIMENSIONS}, input_uncached_tokens, input_cached_tokens,
    cache_write_tokens, cache_write_1h_tokens, output_tokens, requests, unpriced_tokens,
    estimated_cost)
SELECT (bucket_start AT TIME ZONE 'UTC')::date, %(account)s, %(provider)s, {_DETAIL_DIMENSIONS},
    sum(input_uncached_tokens), sum(input_cached_tokens), sum(cache_write_tokens),
    sum(cache_write_1h_tokens), sum(output_tokens), sum(requests),
    sum(CASE WHEN estimated_cost IS NULL
             THEN input_uncached_tokens + input_cached_tokens + cache_write_tokens
                  + cache_write_1h_tokens + output_tokens ELSE 0 END),
    sum(estimated_cost)
FROM usage_usagebucket
WHERE account_id = %(account)s AND bucket_start >= %(t0)s AND bucket_start < %(t1)s
GROUP BY 1, {_DETAIL_DIMENSIONS}
"""  # noqa: S608


def _rollup_params(account, start: datetime, end: datetime) -> dict:
    """Parameters of the rollup statements: whole UTC days around [start, end)."""
    d0: date = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    d1 = last + timedelta(days=1)
    t0 = datetime(d0.year, d0.month, d0.day, tzinfo=UTC)
    t1 = datetime(d1.year, d1.month, d1.day, tzinfo=UTC)
    retention = datetime.now(UTC) - timedelta(days=settings.HOURLY_ROLLUP_DAYS)
    return {
        "account": account.pk,
        "provider": account.provider,
        "d0": d0,
        "d1": d1,
        "t0": t0,
        "t1": t1,
        "retention": retention,
        "h0": max(t0, retention),
    }


def _rollup_statements(params: dict) -> list[tuple[str, str]]:
    """(label, SQL) of refresh_rollup in order; the benchmark's --explain shows the same."""
    statements = [
        ("daily rollup delete", _ROLLUP_DELETE),
        ("daily rollup insert", _ROLLUP_INSERT),
        ("hourly rollup delete", _HOURLY_DELETE),
        ("usage detail delete", _DETAIL_DELETE),
        ("usage detail insert", _DETAIL_INSERT),
    ]
    if params["t1"] > params["retention"]:
        statements.append(("hourly rollup insert", _HOURLY_INSERT))
    return statements


def refresh_rollup(account, start: datetime, end: datetime) -> None:
    """Recompute the daily and hourly rollups of ``account`` for every UTC day that
    [start, end) touches, from the raw tables."""
    params = _rollup_params(account, start, end)
    with connection.cursor() as cursor:
        for _label, sql in _rollup_statements(params):
            cursor.execute(sql, params)


# --- Claude Code activity ---------------------------------------------------------------------
# A day holds one record per actor, terminal and local/remote: a handful to a few thousand
# rows, so a keyed comparison in Python keeps it simple and still changes nothing on a re-read.
_CLAUDE_CODE_FIELDS = (
    "customer_type",
    "subscription_type",
    "sessions",
    "lines_added",
    "lines_removed",
    "commits",
    "pull_requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "estimated_cost",
    "currency",
    "models_used",
    "tool_actions",
)


def _claude_code_values(record) -> dict:
    values = {name: getattr(record, name, None) for name in _CLAUDE_CODE_FIELDS}
    values["models_used"] = record.models
    return values


def write_claude_code(account, start: datetime, end: datetime, records) -> WriteResult:
    """Replace the Claude Code rows of ``account`` for the UTC days of [start, end) with
    ``records``: insert new ones, update changed ones, delete the ones no longer reported."""
    from spendapp.usage.models import ClaudeCodeUsage

    d0, d1 = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()
    stored = {
        (row.day, row.actor_type, row.actor, row.terminal_type, row.is_remote): row
        for row in ClaudeCodeUsage.objects.filter(account=account, day__gte=d0, day__lte=d1)
    }
    result, seen = WriteResult(), set()
    for record in records:
        if not d0 <= record.day <= d1:
            raise MalformedResponse(f"a record of {record.day} in the window {d0}..{d1}")
        key = record.natural_key()
        if key in seen:
            raise MalformedResponse(f"the record {key!r} came twice in one window")
        seen.add(key)
        values = _claude_code_values(record)
        row = stored.get(key)
        if row is None:
            day, actor_type, actor, terminal, remote = key
            ClaudeCodeUsage.objects.create(
                account=account,
                day=day,
                actor_type=actor_type,
                actor=actor,
                terminal_type=terminal,
                is_remote=remote,
                **values,
            )
            result.inserted += 1
        elif any(_differs(getattr(row, k), v) for k, v in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.save()
            result.updated += 1
    gone = [row.pk for key, row in stored.items() if key not in seen]
    if gone:
        result.deleted = ClaudeCodeUsage.objects.filter(pk__in=gone).delete()[0]
    return result


def _differs(stored, new) -> bool:
    if isinstance(stored, Decimal) or isinstance(new, Decimal):
        return Decimal(stored) != Decimal(new)
    return stored != new
