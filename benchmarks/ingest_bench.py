"""Benchmark: bulk usage ingestion (COPY + set-based upsert + daily rollup) on 1M rows.

Run as ``DEBUG=1 python -m benchmarks ingest [options]`` (or ``python -m benchmarks.ingest_bench``).

Everything happens in a throw-away database ``spendapp_bench`` on the configured server (the
embedded pgserver under ``var/`` or ``DATABASE_URL``): it is dropped if it exists, migrated,
and dropped again at the end (``--keep-db`` keeps it). A user's data is never touched.

Measured in one run:

* **real path**: ``ingest.write_usage`` + ``ingest.refresh_rollup`` exactly as
  ``spendapp.usage.sync`` calls them, one transaction per 7-day window of hourly buckets,
  for ``--rows`` (1,000,000) synthetic OpenAI completions rows on one ProviderAccount;
* **bare baseline**: the same rows, same windows and transactions, COPY into a temp staging
  table + ``INSERT ... ON CONFLICT DO UPDATE`` into a plain table with the same columns,
  primary key and unique key (no pricing, no change detection, no stale delete, no rollup,
  no secondary index, no foreign key). Windows alternate real / bare so that noise from other
  processes on the machine hits both alike;
* **re-sync**: the last ``--resync-weeks`` (4) full windows again, once unchanged and once
  with every row revised: windows that are stored already take write_usage's staging +
  upsert path, where the main run's brand-new windows are COPYed straight into the table;
  Targets: unchanged >= 50,000 rows/s, revised >= 20,000 rows/s, on every server
  (``--resync-also-on DATABASE_URL`` repeats the backfill + re-sync on a second server, e.g.
  PostgreSQL 15 beside the embedded 16, and prints both);
* **naive baseline**: ``UsageBucket.objects.update_or_create`` per row (pricing each row with
  the same PriceBook), autocommit, on the first ``--naive-rows`` (20,000) rows into a second
  account. It does not maintain the rollup, which favours it;
* **end to end**: ``FakeProviderServer(seed=1, days=120)`` over loopback (in a child process,
  so its JSON generation does not compete with the sync for this process's GIL), two
  ProviderAccounts as ``manage.py demo`` creates them, ``sync.sync_account`` on each.

Record generation is lazy (one window of ``UsageRecord`` at a time) and is timed separately:
the rows/s figures of the real and bare paths exclude it, since in production the records
come from the connector. The ORM's query log is switched off (``settings.DEBUG = False``
after setup) so that the naive loop is measured as it would run in production.

Prints a table with PASS/FAIL per target and writes the figures to ``var/bench/ingest.json``.
Exit status 1 if a target is missed. ``--explain`` adds EXPLAIN (ANALYZE, BUFFERS) of the
statements of one window on the full table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

# SPENDAPP_BENCH_DB: another name, when several checkouts bench on one shared server.
BENCH_DB = os.environ.get("SPENDAPP_BENCH_DB", "spendapp_bench")
ENDPOINT = "openai.completions"
WINDOW = timedelta(days=7)  # spendapp.providers.connectors.openai.USAGE_WINDOW for 1h buckets
START = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday; ~2 years of hourly buckets follow

TARGET_ROWS_PER_S = 50_000
TARGET_VS_NAIVE = 25.0
TARGET_VS_BARE = 0.40
TARGET_PEAK_MB = 500
TARGET_RESYNC_UNCHANGED = 50_000  # re-sync right after the backfill, every server
TARGET_RESYNC_REVISED = 20_000

# --- synthetic data --------------------------------------------------------------------------

MODELS = ("gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano")
# (requests per hour at the daily peak, input tokens per request, cached %, output per request)
MODEL_PROFILE = {
    "gpt-5.5": (6, 6000, 30, 700),
    "gpt-5.4": (12, 4000, 40, 450),
    "gpt-5.4-mini": (40, 2500, 30, 250),
    "gpt-5.4-nano": (120, 1000, 15, 60),
}
# Relative load per hour of the day (UTC), in percent.
_AM = (20, 15, 12, 10, 10, 12, 20, 35, 60, 85, 95, 100)
_PM = (100, 95, 98, 100, 95, 85, 70, 55, 45, 38, 30, 25)
DIURNAL = (*_AM, *_PM)


@dataclass(frozen=True, slots=True)
class Combo:
    model: str
    project_id: str
    api_key_id: str
    service_tier: str
    batch: str
    req: int
    inp: int
    cached_pct: int
    out: int


def make_combos() -> list[Combo]:
    """5 projects x 3 API keys x 4 models = 60 series, a few on flex/priority/batch."""
    combos = []
    for p in range(5):
        project = f"proj_bench{p:02d}{'abcdefghij'[p] * 14}"
        for k in range(3):
            key = f"key_bench{p}{k}{'klmnopqrst'[(p * 3 + k) % 10] * 12}"
            for m, model in enumerate(MODELS):
                req, inp, cached, out = MODEL_PROFILE[model]
                scale = 1 + (p * 7 + k * 3 + m) % 5  # uneven sizes between series
                tier = "default"
                if p == 3 and model == "gpt-5.5":
                    tier = "priority"
                elif p == 4:
                    tier = "flex"
                batch = "true" if (p == 2 and k == 2) else "false"
                combos.append(
                    Combo(model, project, key, tier, batch, req * scale, inp, cached, out)
                )
    return combos


def generate_window(combos, start: datetime, end: datetime, hour_index: int, budget: int):
    """UsageRecords of the hourly buckets in [start, end): 57 of the 60 series per hour.

    ``hour_index`` numbers the hours from the start of the data (drives trend and noise);
    at most ``budget`` records. Deterministic: the same arguments give the same records.
    """
    from spendapp.providers.records import UsageRecord

    records: list[UsageRecord] = []
    hour = start
    one_hour = timedelta(hours=1)
    n = len(combos)
    while hour < end and len(records) < budget:
        nxt = hour + one_hour
        weekend = hour.weekday() >= 5
        load = DIURNAL[hour.hour] * (55 if weekend else 100)  # percent x percent
        growth = 10_000 + hour_index * 10_000 // 17_520  # doubles over two years
        for ci in range(n):
            if (19 * ci + 9 * hour_index) % 20 == 0:  # 3 of 60 series idle each hour
                continue
            if len(records) >= budget:
                break
            c = combos[ci]
            noise = 80 + (ci * 2_654_435_761 + hour_index * 40_503) % 41  # 80..120 %
            requests = max(1, c.req * load * growth * noise // 10_000_000_000)
            inp = requests * c.inp
            cached = inp * c.cached_pct // 100
            records.append(
                UsageRecord(
                    endpoint=ENDPOINT,
                    bucket_start=hour,
                    bucket_end=nxt,
                    model=c.model,
                    project_id=c.project_id,
                    api_key_id=c.api_key_id,
                    service_tier=c.service_tier,
                    batch=c.batch,
                    input_uncached_tokens=inp - cached,
                    input_cached_tokens=cached,
                    output_tokens=requests * c.out * noise // 100,
                    requests=requests,
                )
            )
        hour = nxt
        hour_index += 1
    return records, hour_index


def windows_of_rows(total: int) -> Iterator[tuple[datetime, datetime, list]]:
    """(start, end, records) per 7-day window until ``total`` records; one window in memory."""
    combos = make_combos()
    start, hour_index, left = START, 0, total
    while left > 0:
        end = start + WINDOW
        records, hour_index = generate_window(combos, start, end, hour_index, left)
        left -= len(records)
        yield start, end, records
        start = end


# --- small helpers ---------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


class Phases:
    """Accumulated seconds and number of calls per named phase."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def time(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1

    def wrap(self, module, attr: str, name: str):
        """Time every call of module.attr (a module-level function looked up at call time)."""
        original = getattr(module, attr)

        def timed(*args, **kwargs):
            with self.time(name):
                return original(*args, **kwargs)

        setattr(module, attr, timed)
        return original


class CpuClock:
    """CPU seconds used so far by this process and by its PostgreSQL backend.

    Wall-clock figures suffer when other processes share the 2 cores; CPU seconds do not
    (much), so the report gives both. The backend's are read from /proc, so only for a server
    on this machine (the embedded default); otherwise they are None.
    """

    def __init__(self):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        self.stat = Path(f"/proc/{pid}/stat")
        self.tick = os.sysconf("SC_CLK_TCK")
        if self.backend() is None:
            self.stat = None

    def backend(self) -> float | None:
        if self.stat is None:
            return None
        try:
            fields = self.stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime

    @contextmanager
    def measure(self, acc: dict):
        """Add the wall, client-CPU and backend-CPU seconds of the block to ``acc``."""
        wall, client, server = time.perf_counter(), time.process_time(), self.backend()
        try:
            yield
        finally:
            acc["wall"] = acc.get("wall", 0.0) + time.perf_counter() - wall
            acc["client_cpu"] = acc.get("client_cpu", 0.0) + time.process_time() - client
            after = self.backend()
            if server is not None and after is not None:
                acc["server_cpu"] = acc.get("server_cpu", 0.0) + after - server


# --- database set-up -------------------------------------------------------------------------


def _admin_connect(db: dict):
    import psycopg

    params = {
        "dbname": "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        **(db.get("OPTIONS") or {}),
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True)


def recreate_database(db: dict) -> None:
    with _admin_connect(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database(db: dict) -> None:
    with _admin_connect(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def setup_django() -> dict:
    """Point Django at the bench database, then set up and migrate. Returns the DB settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendapp.settings")
    from django.conf import settings

    db = settings.DATABASES["default"]  # imports the settings: starts the embedded server
    if db["NAME"] == BENCH_DB:
        raise SystemExit(f"refusing: the configured database is already {BENCH_DB!r}")
    recreate_database(db)
    db["NAME"] = BENCH_DB
    db["CONN_MAX_AGE"] = None  # one connection for the whole run
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Measure as production runs: no query log (DEBUG keeps every SQL string in memory).
    settings.DEBUG = False
    return db


def pg_info() -> dict:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        out["version"] = cursor.fetchone()[0].split(" on ")[0]
        for name in ("shared_buffers", "work_mem", "synchronous_commit", "max_wal_size", "jit"):
            cursor.execute(f"SHOW {name}")
            out[name] = cursor.fetchone()[0]
    return out


def make_account(name: str, provider: str = "openai", base_url: str = "", backfill_days=90):
    from spendapp.providers.models import ProviderAccount

    account = ProviderAccount(name=name, provider=provider, base_url=base_url)
    account.backfill_days = backfill_days
    account.set_key("sk-admin-bench-not-a-real-key")
    account.save()
    return account


# --- the bare baseline -----------------------------------------------------------------------

PLAIN_TABLE = "bench_plain_usage"


def create_plain_table() -> None:
    from django.db import connection

    from spendapp.usage.models import USAGE_DIMENSIONS

    key = ", ".join(("account_id", "endpoint", "bucket_start", *USAGE_DIMENSIONS))
    with connection.cursor() as cursor:
        # Same columns, types, defaults and identity; then the primary and the natural key.
        cursor.execute(
            f"CREATE TABLE {PLAIN_TABLE} (LIKE usage_usagebucket INCLUDING DEFAULTS "
            f"INCLUDING IDENTITY)"
        )
        cursor.execute(f"ALTER TABLE {PLAIN_TABLE} ADD PRIMARY KEY (id)")
        cursor.execute(f"ALTER TABLE {PLAIN_TABLE} ADD CONSTRAINT plain_natural_key UNIQUE ({key})")


def _bare_sql() -> tuple[str, str, tuple[str, ...]]:
    from spendapp.usage.ingest import USAGE_MEASURES
    from spendapp.usage.models import USAGE_DIMENSIONS

    cols = ("bucket_start", "bucket_end", *USAGE_DIMENSIONS, *USAGE_MEASURES)
    dims = ", ".join(f"{d} text NOT NULL" for d in USAGE_DIMENSIONS)
    measures = ", ".join(f"{m} bigint NOT NULL" for m in USAGE_MEASURES)
    create = (
        f"CREATE TEMP TABLE IF NOT EXISTS bare_staging (bucket_start timestamptz NOT NULL, "
        f"bucket_end timestamptz NOT NULL, {dims}, {measures}, extra jsonb NOT NULL) "
        f"ON COMMIT DROP"
    )
    key = ", ".join(("account_id", "endpoint", "bucket_start", *USAGE_DIMENSIONS))
    collist = ", ".join((*cols, "extra"))
    upsert = (
        f"INSERT INTO {PLAIN_TABLE} (account_id, endpoint, {collist}, updated_at) "
        f"SELECT %(account)s, %(endpoint)s, {collist}, now() FROM bare_staging "
        f"ON CONFLICT ({key}) DO UPDATE SET bucket_end = EXCLUDED.bucket_end, "
        + ", ".join(f"{m} = EXCLUDED.{m}" for m in USAGE_MEASURES)
        + ", extra = EXCLUDED.extra, updated_at = now()"
    )
    return create, upsert, (*cols, "extra")


def bare_window(account_id: int, records, sql) -> None:
    from django.db import connection, transaction

    create, upsert, columns = sql
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(create)
        cursor.execute("TRUNCATE bare_staging")
        with cursor.copy(f"COPY bare_staging ({', '.join(columns)}) FROM STDIN") as copy:
            for r in records:
                copy.write_row(
                    (
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
                        json.dumps(r.extra, sort_keys=True) if r.extra else "{}",
                    )
                )
        cursor.execute(upsert, {"account": account_id, "endpoint": ENDPOINT})


# --- the real path ---------------------------------------------------------------------------


def real_window(account, records, start, end, book, phases: Phases):
    """What sync._sync_window does for one usage window, minus the HTTP fetch: the upsert,
    the daily (and, for recent days, hourly) rollup, and the teams' allocated rollup."""
    from django.db import transaction

    from spendapp.allocation import engine as allocation_engine
    from spendapp.usage import ingest

    with phases.time("transaction total"), transaction.atomic():
        with phases.time("write_usage"):
            result = ingest.write_usage(account, ENDPOINT, start, end, records, book)
        if result.changed:
            with phases.time("refresh_rollup"):
                ingest.refresh_rollup(account, start, end)
            with phases.time("allocation"):
                allocation_engine.recompute_allocation_for_window(start, end)
        commit_t0 = time.perf_counter()
    phases.add("commit", time.perf_counter() - commit_t0)
    return result


@dataclass
class MainResult:
    rows: int = 0
    windows: int = 0
    real_seconds: float = 0.0
    bare_seconds: float = 0.0
    generation_seconds: float = 0.0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    phases: dict = field(default_factory=dict)
    real_cpu: dict = field(default_factory=dict)
    bare_cpu: dict = field(default_factory=dict)


def run_main(total_rows: int, bare: bool, progress: bool) -> tuple[MainResult, object]:
    from spendapp.usage import ingest
    from spendapp.usage.pricing import PriceBook

    account = make_account("Bench OpenAI")
    book = PriceBook()
    sql = _bare_sql()
    phases = Phases()
    # Split write_usage into its parts (module globals are looked up at call time).
    originals = [
        (ingest, name, phases.wrap(ingest, name, label))
        for name, label in (
            ("_insert_new_window", "  new window: rows + pricing + COPY"),
            ("_upsert_window", "  stored window: staging + upsert"),
            ("_run_upsert", "    upsert statement"),
        )
    ]
    res = MainResult()
    clock = CpuClock()
    try:
        t_gen = time.perf_counter()
        for start, end, records in windows_of_rows(total_rows):
            res.generation_seconds += time.perf_counter() - t_gen
            with clock.measure(res.real_cpu):
                wr = real_window(account, records, start, end, book, phases)
            if bare:
                with clock.measure(res.bare_cpu):
                    bare_window(account.pk, records, sql)
            res.real_seconds = res.real_cpu["wall"]
            res.bare_seconds = res.bare_cpu.get("wall", 0.0)
            res.rows += len(records)
            res.windows += 1
            res.inserted += wr.inserted
            res.updated += wr.updated
            res.deleted += wr.deleted
            if progress and res.windows % 10 == 0:
                print(
                    f"  ... {res.rows:>9,} rows, {res.windows} windows, real "
                    f"{res.rows / res.real_seconds:,.0f} rows/s"
                    + (f", bare {res.rows / res.bare_seconds:,.0f} rows/s" if bare else ""),
                    flush=True,
                )
            del records
            t_gen = time.perf_counter()
    finally:
        for module, attr, original in originals:
            setattr(module, attr, original)
    res.phases = {
        name: {"seconds": seconds, "calls": phases.calls[name]}
        for name, seconds in phases.seconds.items()
    }
    return res, account


def check_rollup(account) -> dict:
    """The rollup must add up to the raw rows (a cheap correctness check of the run)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(output_tokens), sum(estimated_cost) FROM usage_usagebucket "
            "WHERE account_id = %s",
            [account.pk],
        )
        raw_rows, raw_out, raw_cost = cursor.fetchone()
        cursor.execute(
            "SELECT count(*), sum(output_tokens), sum(estimated_cost) FROM usage_dailyspend "
            "WHERE account_id = %s",
            [account.pk],
        )
        roll_rows, roll_out, roll_cost = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM usage_usagebucket WHERE account_id = %s "
            "AND estimated_cost IS NULL",
            [account.pk],
        )
        unpriced = cursor.fetchone()[0]
    return {
        "raw_rows": raw_rows,
        "rollup_rows": roll_rows,
        "output_tokens_match": raw_out == roll_out,
        "estimated_cost_match": raw_cost == roll_cost,
        "estimated_cost_total": str(raw_cost),
        "unpriced_rows": unpriced,
    }


def last_windows(total: int, count: int) -> list[tuple[datetime, datetime, list]]:
    """The last ``count`` full windows of the data set (regenerated, one window at a time)."""
    kept: list = []
    for start, end, records in windows_of_rows(total):
        if end - start == WINDOW and len(records) == 57 * 24 * WINDOW.days:
            kept.append((start, end, records))
            del kept[:-count]
    return kept


def run_resync(account, total: int, weeks: int, revise: bool) -> dict:
    """Re-ingest the last ``weeks`` full windows, which are stored by now: unchanged (later
    syncs re-read 2 days), or with every row's output tokens + 1 (a provider revision).
    Either way write_usage takes its staging + upsert path; revised, every row is updated."""
    import dataclasses

    from spendapp.usage.pricing import PriceBook

    book = PriceBook()
    phases = Phases()
    clock = CpuClock()
    cpu: dict = {}
    rows = changed = 0
    for start, end, records in last_windows(total, weeks):
        if revise:
            records = [dataclasses.replace(r, output_tokens=r.output_tokens + 1) for r in records]
        with clock.measure(cpu):
            wr = real_window(account, records, start, end, book, phases)
        rows += len(records)
        changed += wr.inserted + wr.updated + wr.deleted
    seconds = cpu["wall"]
    out = {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "changed": changed}
    if "server_cpu" in cpu:
        # Independent of other load on the machine: rows per CPU-second, client + backend.
        out["rows_per_cpu_s"] = rows / (cpu["client_cpu"] + cpu["server_cpu"])
    return out


# --- the naive baseline ----------------------------------------------------------------------


def run_naive(rows: int) -> dict:
    from spendapp.usage.models import UsageBucket
    from spendapp.usage.pricing import PriceBook

    account = make_account("Bench naive ORM")
    book = PriceBook()
    done = 0
    seconds = 0.0
    for _start, _end, records in windows_of_rows(rows):
        t0 = time.perf_counter()
        for r in records:
            prices = book.lookup(account.provider, r.model, r.bucket_start, r.service_tier, r.batch)
            cost = None
            if prices is not None:
                cost = prices.cost(
                    r.input_uncached_tokens,
                    r.input_cached_tokens,
                    r.cache_write_tokens,
                    r.cache_write_1h_tokens,
                    r.output_tokens,
                )
            UsageBucket.objects.update_or_create(
                account=account,
                endpoint=r.endpoint,
                bucket_start=r.bucket_start,
                model=r.model,
                project_id=r.project_id,
                api_key_id=r.api_key_id,
                user_id=r.user_id,
                service_tier=r.service_tier,
                batch=r.batch,
                context_window=r.context_window,
                api_source=r.api_source,
                inference_geo=r.inference_geo,
                speed=r.speed,
                service_account_id=r.service_account_id,
                defaults={
                    "bucket_end": r.bucket_end,
                    "input_uncached_tokens": r.input_uncached_tokens,
                    "input_cached_tokens": r.input_cached_tokens,
                    "cache_write_tokens": r.cache_write_tokens,
                    "cache_write_1h_tokens": r.cache_write_1h_tokens,
                    "output_tokens": r.output_tokens,
                    "input_audio_tokens": r.input_audio_tokens,
                    "output_audio_tokens": r.output_audio_tokens,
                    "requests": r.requests,
                    "extra": r.extra,
                    "estimated_cost": cost,
                },
            )
        seconds += time.perf_counter() - t0
        done += len(records)
    return {"rows": done, "seconds": seconds, "rows_per_s": done / seconds}


# --- end to end from the fake server ---------------------------------------------------------


def _serve_fake(seed: int, days: int, pipe, stop) -> None:
    from spendapp.providers.fake import FakeProviderServer

    with FakeProviderServer(seed=seed, days=days) as fake:
        pipe.send(fake.url)
        stop.wait()


@contextmanager
def fake_server(seed: int, days: int, in_process: bool):
    if in_process:
        from spendapp.providers.fake import FakeProviderServer

        with FakeProviderServer(seed=seed, days=days) as fake:
            yield fake.url
        return
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    stop = ctx.Event()
    proc = ctx.Process(target=_serve_fake, args=(seed, days, child, stop), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("the fake provider server did not start")
        yield parent.recv()
    finally:
        stop.set()
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


def run_e2e(days: int, in_process: bool) -> dict:
    from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY
    from spendapp.providers.models import ProviderAccount
    from spendapp.usage.models import CostLineItem, UsageBucket
    from spendapp.usage.sync import sync_account

    out: dict = {"seed": 1, "days": days, "fake_in_process": in_process, "accounts": []}
    t_all = time.perf_counter()
    with fake_server(1, days, in_process) as url:
        accounts = []
        # As `manage.py demo` creates them.
        for name, provider, path, key in (
            ("Bench demo OpenAI", "openai", "/openai/v1", DEFAULT_OPENAI_KEY),
            ("Bench demo Anthropic", "anthropic", "/anthropic", DEFAULT_ANTHROPIC_KEY),
        ):
            account = ProviderAccount(name=name, provider=provider, base_url=url + path)
            account.backfill_days = days
            account.enabled = True
            account.set_key(key)
            account.save()
            accounts.append(account)
        t_sync = time.perf_counter()
        for account in accounts:
            t0 = time.perf_counter()
            run = sync_account(account.pk, trigger="manual")
            seconds = time.perf_counter() - t0
            usage = UsageBucket.objects.filter(account=account).count()
            costs = CostLineItem.objects.filter(account=account).count()
            out["accounts"].append(
                {
                    "account": account.name,
                    "outcome": run.outcome,
                    "error": run.error[:300],
                    "windows": run.windows,
                    "pages": run.pages,
                    "rows_inserted": run.rows_inserted,
                    "usage_rows": usage,
                    "cost_rows": costs,
                    "seconds": seconds,
                    "rows_per_s": (usage + costs) / seconds,
                }
            )
        sync_seconds = time.perf_counter() - t_sync
    rows = sum(a["usage_rows"] + a["cost_rows"] for a in out["accounts"])
    out["rows"] = rows
    out["sync_seconds"] = sync_seconds
    out["seconds_incl_server_start"] = time.perf_counter() - t_all
    out["rows_per_s"] = rows / sync_seconds
    out["ok"] = all(a["outcome"] == "success" for a in out["accounts"])
    return out


# --- EXPLAIN ---------------------------------------------------------------------------------


def explain_window(account, book, total: int) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement of one window, in rolled-back
    transactions, on the full table, for two cases:

    * ``new``: the last full window moved three years later, so nothing of it is stored and
      write_usage COPYs the rows straight into the table (the path of the 1M-row run; a COPY
      has no plan, so its time is given);
    * ``changed``: the last full window again with every row's output tokens + 1, so every
      row is updated (a provider revision): staging, upsert and stale delete.

    ``SET CONSTRAINTS ALL IMMEDIATE`` makes deferred foreign-key checks (Django declares
    them DEFERRABLE INITIALLY DEFERRED, so they normally run at COMMIT) run inside the
    statements, where EXPLAIN ANALYZE would show their time as "Trigger for constraint ...".
    """
    import dataclasses

    from django.db import connection, transaction

    from spendapp.usage import ingest

    start, end, records = last_windows(total, 1)[0]
    shift = timedelta(weeks=3 * 52)
    cases = {
        "new": (
            start + shift,
            end + shift,
            [
                dataclasses.replace(
                    r, bucket_start=r.bucket_start + shift, bucket_end=r.bucket_end + shift
                )
                for r in records
            ],
        ),
        "changed": (
            start,
            end,
            [dataclasses.replace(r, output_tokens=r.output_tokens + 1) for r in records],
        ),
    }
    plans: dict[str, str] = {}

    class Rollback(Exception):
        pass

    for case, (w0, w1, rows_in) in cases.items():

        def explain(cursor, label, sql, params, case=case):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plans[f"{case}: {label}"] = "\n".join(row[0] for row in cursor.fetchall())

        try:
            with transaction.atomic(), connection.cursor() as wrapper:
                cursor = wrapper.cursor
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                params = {"account": account.pk, "endpoint": ENDPOINT, "start": w0, "end": w1}
                explain(cursor, "window state", ingest._USAGE_WINDOW_STATE_SQL, params)
                cursor.execute(ingest._USAGE_WINDOW_STATE_SQL, params)
                now, window_is_new = cursor.fetchone()
                rows = ingest._usage_rows(rows_in, account, ENDPOINT, now, book)
                table = "usage_usagebucket" if window_is_new else "staging_usage"
                if not window_is_new:
                    ingest._create_staging(cursor)
                t0 = time.perf_counter()
                ingest._copy_usage(cursor, table, rows)
                plans[f"{case}: rows + pricing + COPY of {len(rows_in)} rows into {table}"] = (
                    f"{time.perf_counter() - t0:.4f} s"
                )
                if not window_is_new:
                    explain(cursor, "upsert", ingest.USAGE_UPSERT_SQL, params)
                    explain(cursor, "stale delete", ingest.USAGE_STALE_SQL, params)
                rparams = ingest._rollup_params(account, w0, w1)
                for label, sql in ingest._rollup_statements(rparams):
                    explain(cursor, label, sql, rparams)
                raise Rollback
        except Rollback:
            pass
    return plans


# --- report ----------------------------------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} rows/s"


def report(fig: dict) -> list[tuple[str, bool]]:
    m, pg = fig["machine"], fig["postgresql"]
    print()
    print("Spendapp ingestion benchmark")
    print("=" * 100)
    print(
        f"machine     {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, Python {m['python']}"
    )
    print(
        f"postgresql  {pg['version']} (shared_buffers {pg['shared_buffers']}, work_mem "
        f"{pg['work_mem']}, synchronous_commit {pg['synchronous_commit']}, jit {pg['jit']})"
    )
    main = fig["main"]
    print(
        f"data        {main['rows']:,} rows, {main['windows']} windows of 7 days of hourly buckets "
        f"({fig['data']['first_bucket']} .. {fig['data']['last_bucket']}), 60 series "
        f"(4 models x 5 projects x 3 keys), 57 active per hour, one account"
    )
    print("-" * 100)
    rows = [
        ("real path: write_usage + refresh_rollup", main["seconds"], main["rows_per_s"]),
        (
            "  incl. synthetic record generation",
            main["seconds"] + main["generation_seconds"],
            main["rows"] / (main["seconds"] + main["generation_seconds"]),
        ),
    ]
    if fig.get("bare"):
        rows.append(
            (
                "bare COPY + INSERT ON CONFLICT (plain table)",
                fig["bare"]["seconds"],
                fig["bare"]["rows_per_s"],
            )
        )
    if fig.get("naive"):
        n = fig["naive"]
        rows.append(
            (f"naive ORM update_or_create ({n['rows']:,} rows)", n["seconds"], n["rows_per_s"])
        )
    for key, what in (("resync", "unchanged"), ("resync_revised", "revised")):
        if fig.get(key):
            r = fig[key]
            rows.append(
                (
                    f"re-sync {r['rows']:,} {what} rows ({r['changed']:,} changed)"
                    + (f", {r['rows_per_cpu_s']:,.0f}/CPU-s" if r.get("rows_per_cpu_s") else ""),
                    r["seconds"],
                    r["rows_per_s"],
                )
            )
    if fig.get("e2e"):
        e = fig["e2e"]
        rows.append(
            (
                f"end to end: fake server ({e['days']} days) -> 2 accounts",
                e["sync_seconds"],
                e["rows_per_s"],
            )
        )
        for a in e["accounts"]:
            rows.append(
                (
                    f"  {a['account']}: {a['usage_rows']:,} usage + {a['cost_rows']:,} cost "
                    f"rows, {a['pages']} pages",
                    a["seconds"],
                    a["rows_per_s"],
                )
            )
    print(f"{'measurement':<70} {'seconds':>9} {'throughput':>18}")
    for label, seconds, rate in rows:
        print(f"{label:<70} {seconds:>9.2f} {fmt_rate(rate):>18}")
    print("-" * 100)
    print("where the real path's time goes (seconds, all windows):")
    for name, phase in main["phases"].items():
        share = phase["seconds"] / main["seconds"] * 100
        print(f"  {name:<40} {phase['seconds']:>8.2f}  {share:5.1f} %  {phase['calls']:>5} calls")
    print(f"  {'(synthetic generation, not counted)':<40} {main['generation_seconds']:>8.2f}")
    cpu_lines = []
    for name, part in (("real path", main), ("bare baseline", fig.get("bare"))):
        if part and part.get("client_cpu_seconds") is not None:
            client, server = part["client_cpu_seconds"], part.get("server_cpu_seconds")
            line = f"  {name:<14} client (Python) {client:7.2f} s"
            if server is not None:
                line += (
                    f", PostgreSQL backend {server:7.2f} s, wall {part['seconds']:7.2f} s; "
                    f"{part['rows'] / (client + server):,.0f} rows per CPU-second"
                )
            cpu_lines.append(line)
    if cpu_lines:
        print("CPU time (independent of other load on the machine):")
        print("\n".join(cpu_lines))
    la0, la1 = fig.get("load_average_at_start"), fig.get("load_average_at_end")
    if la0 and la1:
        note = ""
        if max(la0[0], la1[0]) > (m["cores"] or 1):
            note = ": other processes shared the CPUs, wall-clock figures suffer"
        print(
            f"load average (1 min) at start {la0[0]:.2f}, at end {la1[0]:.2f} "
            f"on {m['cores']} cores{note}"
        )
    c = fig["check"]
    print(
        f"check: {c['raw_rows']:,} raw rows, {c['rollup_rows']:,} rollup rows, rollup sums "
        f"match raw: tokens {c['output_tokens_match']}, cost {c['estimated_cost_match']}; "
        f"unpriced rows {c['unpriced_rows']}; inserted {main['inserted']:,}, updated "
        f"{main['updated']}, deleted {main['deleted']}"
    )
    if fig.get("check_after_resync"):
        c = fig["check_after_resync"]
        print(
            f"check after the re-syncs: {c['raw_rows']:,} raw rows, rollup sums match raw: "
            f"tokens {c['output_tokens_match']}, cost {c['estimated_cost_match']}"
        )
    print("-" * 100)
    results = []
    t = fig["targets"]
    for name, item in t.items():
        mark = "PASS" if item["pass"] else "FAIL"
        print(f"[{mark}] {name:<40} {item['measured']:<28} target {item['target']}")
        results.append((name, item["pass"]))
    if fig.get("e2e") and not fig["e2e"]["ok"]:
        print("[FAIL] end-to-end sync did not succeed:", fig["e2e"]["accounts"])
        results.append(("e2e", False))
    print("=" * 100)
    return results


def targets(fig: dict) -> dict:
    main = fig["main"]
    out = {
        "rows/s, 1M rows, real path": {
            "measured": f"{main['rows_per_s']:,.0f} rows/s",
            "target": f">= {TARGET_ROWS_PER_S:,} rows/s",
            "pass": main["rows_per_s"] >= TARGET_ROWS_PER_S and main["rows"] >= 1_000_000,
        }
    }
    if fig.get("naive"):
        ratio = main["rows_per_s"] / fig["naive"]["rows_per_s"]
        fig["ratio_vs_naive"] = ratio
        out["speed-up vs naive ORM loop"] = {
            "measured": f"{ratio:.1f}x",
            "target": f">= {TARGET_VS_NAIVE:.0f}x (naive on {fig['naive']['rows']:,} rows)",
            "pass": ratio >= TARGET_VS_NAIVE,
        }
    if fig.get("bare"):
        ratio = main["rows_per_s"] / fig["bare"]["rows_per_s"]
        fig["ratio_vs_bare"] = ratio
        out["share of bare COPY + upsert"] = {
            "measured": f"{ratio * 100:.0f} %",
            "target": f">= {TARGET_VS_BARE * 100:.0f} %",
            "pass": ratio >= TARGET_VS_BARE,
        }
    for key, what, target in (
        ("resync", "unchanged", TARGET_RESYNC_UNCHANGED),
        ("resync_revised", "revised", TARGET_RESYNC_REVISED),
    ):
        if fig.get(key):
            rate = fig[key]["rows_per_s"]
            out[f"re-sync after the backfill, {what}"] = {
                "measured": f"{rate:,.0f} rows/s",
                "target": f">= {target:,} rows/s",
                "pass": rate >= target,
            }
    out["peak memory (maxrss)"] = {
        "measured": f"{fig['peak_rss_mb']:.0f} MB",
        "target": f"< {TARGET_PEAK_MB} MB",
        "pass": fig["peak_rss_mb"] < TARGET_PEAK_MB,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks ingest",
        description="Bulk usage ingestion benchmark (see the module docstring).",
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=20_000)
    parser.add_argument("--e2e-days", type=int, default=120)
    parser.add_argument("--resync-weeks", type=int, default=4)
    parser.add_argument("--no-bare", action="store_true", help="skip the bare baseline")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive ORM baseline")
    parser.add_argument("--no-e2e", action="store_true", help="skip the fake-server sync")
    parser.add_argument("--fake-in-process", action="store_true", help="fake server in a thread")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE plans")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--resync-also-on",
        metavar="DATABASE_URL",
        help="then run the backfill + re-sync (no baselines, no e2e) on this server too, and "
        "print the re-sync figures of both servers side by side (e.g. the machine's "
        "PostgreSQL 15: postgresql://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument(
        "--json", default=str(BASE_DIR / "var" / "bench" / "ingest.json"), help="output file"
    )
    args = parser.parse_args(argv)

    print(f"setting up database {BENCH_DB} (dropped first if it exists) ...", flush=True)
    db = setup_django()
    from django.db import connections

    try:
        fig: dict = {
            "benchmark": "ingest",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "postgresql": pg_info(),
            "load_average_at_start": os.getloadavg(),
        }
        create_plain_table()
        print(f"real path + bare baseline on {args.rows:,} rows ...", flush=True)
        res, account = run_main(args.rows, not args.no_bare, not args.quiet)
        fig["data"] = {
            "first_bucket": START.isoformat(),
            "last_bucket": _last_bucket(account),
            "series": 60,
            "active_per_hour": 57,
            "window_days": WINDOW.days,
        }
        fig["main"] = {
            "rows": res.rows,
            "windows": res.windows,
            "seconds": res.real_seconds,
            "rows_per_s": res.rows / res.real_seconds,
            "generation_seconds": res.generation_seconds,
            "inserted": res.inserted,
            "updated": res.updated,
            "deleted": res.deleted,
            "phases": res.phases,
            "client_cpu_seconds": res.real_cpu.get("client_cpu"),
            "server_cpu_seconds": res.real_cpu.get("server_cpu"),
        }
        if not args.no_bare:
            fig["bare"] = {
                "rows": res.rows,
                "seconds": res.bare_seconds,
                "rows_per_s": res.rows / res.bare_seconds,
                "client_cpu_seconds": res.bare_cpu.get("client_cpu"),
                "server_cpu_seconds": res.bare_cpu.get("server_cpu"),
            }
        fig["check"] = check_rollup(account)
        if args.resync_weeks:
            print(f"re-sync of the last {args.resync_weeks} windows, unchanged ...", flush=True)
            fig["resync"] = run_resync(account, args.rows, args.resync_weeks, revise=False)
            print(f"re-sync of the last {args.resync_weeks} windows, revised ...", flush=True)
            fig["resync_revised"] = run_resync(account, args.rows, args.resync_weeks, revise=True)
            fig["check_after_resync"] = check_rollup(account)
        if args.explain:
            from spendapp.usage.pricing import PriceBook

            fig["explain"] = explain_window(account, PriceBook(), args.rows)
        if not args.no_naive:
            print(f"naive ORM loop on {args.naive_rows:,} rows ...", flush=True)
            fig["naive"] = run_naive(args.naive_rows)
        fig["peak_rss_mb"] = peak_rss_mb()  # before the fake server's sync (other data sizes)
        if not args.no_e2e:
            print(f"end to end: fake server, {args.e2e_days} days, two accounts ...", flush=True)
            fig["e2e"] = run_e2e(args.e2e_days, args.fake_in_process)
        fig["peak_rss_mb"] = peak_rss_mb()
        fig["load_average_at_end"] = os.getloadavg()
        fig["targets"] = targets(fig)
    finally:
        connections.close_all()
        if not args.keep_db:
            drop_database(db)

    if fig.get("explain"):
        for label, plan in fig["explain"].items():
            print(f"\n--- EXPLAIN ANALYZE: {label} ---\n{plan}")
    results = report(fig)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fig, indent=2, default=str) + "\n")
    print(f"figures written to {path}")
    ok = all(ok for _, ok in results)
    if args.resync_also_on:
        ok = _resync_on_other_server(args, fig, path) and ok
    return 0 if ok else 1


def _resync_on_other_server(args, fig: dict, path: Path) -> bool:
    """The same backfill and re-syncs on a second server (a child process: Django is set up
    once per process), then both servers' re-sync figures in one table."""
    import subprocess

    other_json = path.with_name(path.stem + "-other" + path.suffix)
    command = [
        sys.executable,
        "-m",
        "benchmarks.ingest_bench",
        "--rows",
        str(args.rows),
        "--resync-weeks",
        str(args.resync_weeks),
        "--no-bare",
        "--no-naive",
        "--no-e2e",
        "--json",
        str(other_json),
    ]
    print(f"\nthe same backfill + re-sync on {_safe_url(args.resync_also_on)} ...", flush=True)
    env = {**os.environ, "DATABASE_URL": args.resync_also_on}
    child_ok = subprocess.run(command, env=env, check=False).returncode == 0
    other = json.loads(other_json.read_text())
    print("\nre-sync right after the backfill, per server")
    print("=" * 100)
    print(f"{'server':<44} {'unchanged':>16} {'revised':>16} {'load avg':>10}")
    for part in (fig, other):
        version = part["postgresql"]["version"].split(" on ")[0].split(" (")[0][:44]
        load = part.get("load_average_at_end", [0])[0]
        for measure, label in (("rows_per_s", "wall clock"), ("rows_per_cpu_s", "per CPU-s")):
            unchanged = part.get("resync", {}).get(measure)
            revised = part.get("resync_revised", {}).get(measure)
            print(
                f"{version + ', ' + label:<44} {fmt_rate(unchanged):>16} "
                f"{fmt_rate(revised):>16} {load:>10.2f}"
            )
    print(
        f"targets: unchanged >= {TARGET_RESYNC_UNCHANGED:,} rows/s, revised >= "
        f"{TARGET_RESYNC_REVISED:,} rows/s on both"
    )
    print("=" * 100)
    return child_ok


def _safe_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 5432}{parts.path}"


def _last_bucket(account) -> str:
    from django.db.models import Max

    from spendapp.usage.models import UsageBucket

    last = UsageBucket.objects.filter(account=account).aggregate(m=Max("bucket_start"))["m"]
    return last.isoformat() if last else ""


if __name__ == "__main__":
    sys.exit(main())
