"""Benchmark: dashboard server time on 10M raw usage rows against the raw-table answer; weight.

Run as ``DEBUG=1 python -m benchmarks dashboard [options]`` (or ``python -m
benchmarks.dashboard_bench``).

Everything happens in a throw-away database ``spendapp_bench_dash`` on the configured server
(the embedded pgserver under ``var/`` or ``DATABASE_URL``): it is dropped if it exists,
migrated, and dropped again at the end (``--keep-db`` keeps it, ``--reuse-db`` measures a kept
one again without seeding). A user's data is never touched.

Steps:

* **seed** (timed, not a target): five ProviderAccounts (2 OpenAI, 2 Anthropic, 1 FOCUS
  import), 50 projects/workspaces/sub-accounts, 500 API keys, 17 catalog models plus one
  fine-tune the catalog does not know (unpriced), and ``--rows`` (10,000,000) hourly rows in
  ``usage_usagebucket`` over two years up to the current hour, written set-based:
  ``INSERT ... SELECT`` from a table of hours x a table of (key, model, tier) series, each
  series present in an hour with a probability from its size, the hour of day, the weekday,
  the holidays and two years of growth (deterministic hashes, no random state in SQL).
  ``estimated_cost`` is computed in the same statement with ingest's expression from a price
  table of every (model, tier, batch, day) that ``PriceBook`` resolves, so it is what
  ``ingest.write_usage`` would have stored. Billed cost lines (``usage_costlineitem``) are
  derived per day like the providers report them (OpenAI per project, key and line item;
  Anthropic per workspace and description; FOCUS per sub-account and SKU), up to yesterday.
  The rollups are then built by ``ingest.refresh_rollup`` itself, per account over the
  whole range, and checked: sums equal the raw tables, and a ``refresh_rollup`` of two
  sample days (one also in the hourly rollup) changes no row;
* **views**: a logged-in Finance user requests the real views through Django's test
  ``Client`` (every middleware, template rendering, the GZip middleware, since the requests
  say ``Accept-Encoding: gzip`` as a browser does), after the production start-up of
  ``spendapp.wsgi`` (every view imported, start-up objects frozen out of the garbage
  collector's way): the overview and four explorer variants over the last 365 days,
  ``--warmup`` then ``--requests`` (30) times each, round-robin so that load from other
  processes hits all variants alike. Server time per request (wall),
  time inside SQL (``connection.execute_wrapper``), query count, and the CPU seconds of this
  process (``resource.getrusage``) and of its PostgreSQL backend (``/proc/<pid>/stat``);
* **raw answer**: the same figures computed with GROUP BY over ``usage_usagebucket`` UNION
  ALL ``usage_costlineitem`` (billed) in the same run, checked equal to what the views'
  queries return. The year of raw rows is read once first (so the raw side runs on cached
  pages, its best case), then each statement runs ``--raw-runs`` (2) times and its best time
  counts; the speed-up is that raw time / the view's median. The explorer's filter choices
  (the same statement for every variant) are timed once;
* **page weight**: ``collectstatic`` into a temporary STATIC_ROOT, then the overview HTML and
  every ``/static/`` asset it references through the real WhiteNoise middleware with
  ``Accept-Encoding: br, gzip`` (first load), and the explorer pages' HTML alone (later
  pages, assets cached by their hashed names and far-future max-age).

Prints a table with PASS/FAIL per target, the machine and the load average, and writes the
figures to ``var/bench/dashboard.json``. Exit status 1 if a target is missed. For every view
over the p95 target, EXPLAIN (ANALYZE, BUFFERS) of its slowest statement is printed
(``--explain`` prints it for every variant).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks.ingest_bench import (  # noqa: E402  (needs BASE_DIR on sys.path)
    DIURNAL,
    CpuClock,
    _admin_connect,
    machine_info,
    pg_info,
)

BENCH_DB = "spendapp_bench_dash"
DERIVED_TABLES = (
    "usage_dailymodelspend",
    "usage_dailyprojectspend",
    "usage_dailyprojectmodelspend",
    "usage_dailykeyspend",
)
DAYS = 730  # two years of hourly buckets up to the current hour
VIEW_DAYS = 365  # "over a year"

TARGET_P95_MS = 150.0
TARGET_SPEEDUP = 20.0
TARGET_FIRST_LOAD_KB = 800
TARGET_LATER_PAGE_KB = 100

FINANCE_USER = "bench-finance"

# --- synthetic world -------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    name: str
    share: float  # popularity among the provider's keys
    inp: int  # input tokens per request
    cached: float  # share of the input read from cache
    cw: float  # share written to the 5-minute cache (Anthropic)
    cw1: float  # share written to the 1-hour cache (Anthropic)
    out: int  # output tokens per request
    life: tuple[float, float]  # in use from .. until, as fractions of the two years
    endpoint: str = ""  # default: the provider's completions/messages endpoint


OPENAI_MODELS = (
    ModelSpec("gpt-5.5", 0.08, 6000, 0.35, 0, 0, 700, (0.55, 1.0)),
    ModelSpec("gpt-5.4", 0.16, 4000, 0.40, 0, 0, 450, (0.30, 1.0)),
    ModelSpec("gpt-5.4-mini", 0.18, 2500, 0.30, 0, 0, 250, (0.30, 1.0)),
    ModelSpec("gpt-5.4-nano", 0.08, 1000, 0.15, 0, 0, 60, (0.30, 1.0)),
    ModelSpec("gpt-4.1", 0.10, 3500, 0.25, 0, 0, 400, (0.0, 0.55)),
    ModelSpec("gpt-4.1-mini", 0.10, 2000, 0.25, 0, 0, 250, (0.0, 0.60)),
    ModelSpec("gpt-4o-mini", 0.06, 1500, 0.10, 0, 0, 200, (0.0, 0.45)),
    ModelSpec("o3", 0.04, 5000, 0.20, 0, 0, 2500, (0.0, 0.80)),
    ModelSpec("o4-mini", 0.05, 3000, 0.20, 0, 0, 1500, (0.10, 0.90)),
    ModelSpec("text-embedding-3-small", 0.08, 800, 0, 0, 0, 0, (0.0, 1.0), "openai.embeddings"),
    # A fine-tune the price catalog does not know: unpriced (estimated_cost NULL).
    ModelSpec("acme-support-ft-v3", 0.03, 1500, 0, 0, 0, 300, (0.40, 1.0)),
)
ANTHROPIC_MODELS = (
    ModelSpec("claude-opus-4-7", 0.08, 8000, 0.50, 0.06, 0.01, 900, (0.60, 1.0)),
    ModelSpec("claude-opus-4-1", 0.05, 8000, 0.50, 0.06, 0, 900, (0.0, 0.60)),
    ModelSpec("claude-sonnet-4-6", 0.25, 6000, 0.55, 0.06, 0.01, 700, (0.50, 1.0)),
    ModelSpec("claude-sonnet-4-5", 0.25, 6000, 0.50, 0.06, 0, 700, (0.0, 0.75)),
    ModelSpec("claude-haiku-4-5", 0.25, 2500, 0.40, 0.05, 0, 300, (0.20, 1.0)),
    ModelSpec("claude-3-5-haiku-latest", 0.12, 2000, 0.30, 0.05, 0, 250, (0.0, 0.40)),
)
# FOCUS import (billed cost only): (line item, model, $ per day at the end, share of inputs)
FOCUS_SKUS = (
    ("Vertex AI: Gemini 2.5 Pro", "gemini-2.5-pro", 420.0),
    ("Vertex AI: Gemini 2.5 Flash", "gemini-2.5-flash", 160.0),
    ("Bedrock: Mistral Large", "mistral-large", 90.0),
    ("Bedrock: Llama 3.3 70B", "llama-3.3-70b", 70.0),
    ("Azure AI: Command R+", "command-r-plus", 40.0),
)


@dataclass(frozen=True)
class AccountSpec:
    name: str
    provider: str
    endpoint: str
    weight: float
    projects: int
    keys: int


ACCOUNTS = (
    AccountSpec("Bench OpenAI Production", "openai", "openai.completions", 1.0, 15, 180),
    AccountSpec("Bench OpenAI Research", "openai", "openai.completions", 0.6, 8, 80),
    AccountSpec("Bench Anthropic Production", "anthropic", "anthropic.messages", 1.0, 12, 160),
    AccountSpec("Bench Anthropic Sandbox", "anthropic", "anthropic.messages", 0.4, 5, 80),
    AccountSpec("Bench FOCUS cloud AI", "focus", "focus.csv", 0.0, 10, 0),
)
ANTHROPIC_NAMES = {
    "claude-opus-4-7": "Claude Opus 4.7",
    "claude-opus-4-1": "Claude Opus 4.1",
    "claude-sonnet-4-6": "Claude Sonnet 4.6",
    "claude-sonnet-4-5": "Claude Sonnet 4.5",
    "claude-haiku-4-5": "Claude Haiku 4.5",
    "claude-3-5-haiku-latest": "Claude Haiku 3.5",
}
# What a bill charges for the unpriced fine-tune ($ per million input / cached / output).
UNPRICED_BILL = (Decimal("3"), Decimal("1.5"), Decimal("12"))


@dataclass
class Combo:
    """One series of hourly rows: the natural key minus the hour, plus its size."""

    id: int
    account: int  # index into ACCOUNTS
    endpoint: str
    model: ModelSpec
    project_id: str
    api_key_id: str
    user_id: str
    service_tier: str
    batch: str
    context_window: str
    weight: float
    h_from: int
    h_to: int
    price_key: int | None = None


def _ident(rng: random.Random, prefix: str, length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


@dataclass
class World:
    start: datetime  # first hour (midnight UTC, DAYS days before today)
    hours: int  # hourly buckets up to the current hour
    projects: list[list[tuple[str, str]]]  # per account: (id, name)
    keys: list[list[tuple[str, str, str]]]  # per account: (id, name, project id)
    users: list[tuple[str, str]]
    combos: list[Combo]
    load: list[float]  # per hour index


def hour_load(t: datetime, frac: float) -> float:
    """Relative activity of an hour: time of day (UTC), weekday, holidays, growth."""
    load = DIURNAL[t.hour] / 100
    weekday = t.weekday()
    if weekday == 5:
        load *= 0.45
    elif weekday == 6:
        load *= 0.40
    if (t.month == 12 and t.day >= 24) or (t.month == 1 and t.day == 1):
        load *= 0.5
    return load * (0.35 + 0.65 * frac**1.2)  # about 3x growth over the two years


def make_world(now: datetime, seed: int = 7) -> World:
    rng = random.Random(seed)
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=DAYS)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = int((end - start).total_seconds() // 3600)
    load = [hour_load(start + timedelta(hours=h), h / hours) for h in range(hours)]
    users = [(_ident(rng, "user-", 24), f"Engineer {i + 1:02d}") for i in range(40)]
    projects: list[list[tuple[str, str]]] = []
    keys: list[list[tuple[str, str, str]]] = []
    combos: list[Combo] = []
    seen: set[tuple] = set()
    words = ("search", "support", "chat", "agents", "etl", "eval", "docs", "sales", "ops", "ml")
    for ai, spec in enumerate(ACCOUNTS):
        prefix = {"openai": "proj_", "anthropic": "wrkspc_", "focus": "sub-"}[spec.provider]
        projs = [
            (_ident(rng, prefix, 24), f"{spec.name.split()[1]} {words[i % 10]}-{i // 10 + 1}")
            for i in range(spec.projects)
        ]
        projects.append(projs)
        proj_weight = {pid: rng.lognormvariate(0, 0.8) for pid, _ in projs}
        models = OPENAI_MODELS if spec.provider == "openai" else ANTHROPIC_MODELS
        account_keys = []
        for k in range(spec.keys):
            project_id = projs[min(int(rng.paretovariate(1.2)) - 1, len(projs) - 1)][0]
            if rng.random() < 0.5:
                project_id = rng.choice(projs)[0]
            key_prefix = "key_" if spec.provider == "openai" else "apikey_01"
            key_id = _ident(rng, key_prefix, 16 if spec.provider == "openai" else 22)
            account_keys.append(
                (key_id, f"{spec.name.split()[1].lower()}-key-{k + 1:03d}", project_id)
            )
            k_from = 0.0 if rng.random() < 0.45 else rng.uniform(0, 0.85)
            k_to = 1.0 if rng.random() < 0.85 else min(1.0, k_from + rng.uniform(0.1, 0.6))
            user_id = (
                rng.choice(users)[0] if spec.provider == "openai" and rng.random() < 0.12 else ""
            )
            key_weight = rng.lognormvariate(0, 1.2) * proj_weight[project_id] * spec.weight
            n_models = rng.choices((1, 2, 3, 4), weights=(30, 35, 25, 10))[0]
            picked: list[ModelSpec] = []
            while len(picked) < n_models:
                m = rng.choices(models, weights=[m.share for m in models])[0]
                if m not in picked:
                    picked.append(m)
            for m in picked:
                lo, hi = max(k_from, m.life[0]), min(k_to, m.life[1])
                if hi - lo < 0.02:
                    continue
                if spec.provider == "openai":
                    variants = [("default", "false", "", 1.0)]
                    if m.endpoint != "openai.embeddings":
                        if rng.random() < 0.08:
                            variants.append(("flex", "false", "", 0.3))
                        if rng.random() < 0.05:
                            variants.append(("priority", "false", "", 0.3))
                        if rng.random() < 0.06:
                            variants.append(("default", "true", "", 0.3))
                else:
                    variants = [("standard", "", "0-200k", 1.0)]
                    if rng.random() < 0.05:
                        variants.append(("batch", "", "0-200k", 0.3))
                    if rng.random() < 0.03:
                        variants.append(("priority", "", "0-200k", 0.3))
                    if "sonnet" in m.name and rng.random() < 0.15:
                        variants.append(("standard", "", "200k-1M", 0.2))
                for tier, batch, window, factor in variants:
                    endpoint = m.endpoint or spec.endpoint
                    key = (ai, endpoint, m.name, project_id, key_id, user_id, tier, batch, window)
                    if key in seen:
                        continue
                    seen.add(key)
                    combos.append(
                        Combo(
                            id=len(combos) + 1,
                            account=ai,
                            endpoint=endpoint,
                            model=m,
                            project_id=project_id,
                            api_key_id=key_id,
                            user_id=user_id,
                            service_tier=tier,
                            batch=batch,
                            context_window=window,
                            weight=key_weight * m.share * factor * 10,
                            h_from=int(lo * hours),
                            h_to=int(hi * hours) if hi < 1.0 else hours,
                        )
                    )
        keys.append(account_keys)
    return World(start, hours, projects, keys, users, combos, load)


def presence_scale(world: World, rows: int) -> tuple[float, float]:
    """The factor s such that sum over series and hours of min(1, s x weight x load) is
    ``rows`` (the expected row count), by bisection; returns (s, expected rows)."""
    import numpy as np

    load = np.asarray(world.load)
    parts = [(c.weight, load[c.h_from : c.h_to]) for c in world.combos]
    capacity = sum(len(p) for _, p in parts)
    if rows >= capacity:
        raise SystemExit(f"--rows {rows:,}: at most {capacity:,} rows fit these series")

    def expected(s: float) -> float:
        return float(sum(np.minimum(1.0, s * w * p).sum() for w, p in parts))

    lo, hi = 0.0, 1.0
    while expected(hi) < rows:
        hi *= 2
    for _ in range(40):
        mid = (lo + hi) / 2
        if expected(mid) < rows:
            lo = mid
        else:
            hi = mid
    return hi, expected(hi)


# --- database set-up -------------------------------------------------------------------------


def recreate_database(db: dict) -> None:
    with _admin_connect(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database(db: dict) -> None:
    with _admin_connect(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def database_exists(db: dict) -> bool:
    with _admin_connect(db) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
    return row is not None


def setup_django(reuse: bool, static_root: Path) -> tuple[dict, bool]:
    """Point Django at the bench database (recreated unless reused), migrate, and serve
    static files from ``static_root``. Returns (DB settings, whether the data was reused)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendapp.settings")
    from django.conf import settings

    db = settings.DATABASES["default"]  # imports the settings: starts the embedded server
    if db["NAME"] == BENCH_DB:
        raise SystemExit(f"refusing: the configured database is already {BENCH_DB!r}")
    reused = reuse and database_exists(db)
    if not reused:
        recreate_database(db)
    db["NAME"] = BENCH_DB
    db["CONN_MAX_AGE"] = None  # one connection for the whole run
    # Before anything touches the static storage (it is created lazily).
    settings.STATIC_ROOT = static_root
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Measure as production runs: no query log, WhiteNoise serving the collected files.
    settings.DEBUG = False
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # gunicorn's start-up: the WSGI module imports every view and freezes the start-up objects
    # out of the garbage collector's way (see spendapp/wsgi.py).
    import spendapp.wsgi  # noqa: F401

    return db, reused


@contextmanager
def cursor():
    from django.db import connection

    with connection.cursor() as wrapper:
        yield wrapper.cursor  # the psycopg cursor (COPY)


def scalar(sql: str, params=None):
    with cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return row[0] if row else None


# --- seeding ---------------------------------------------------------------------------------


def create_accounts(world: World) -> list:
    from spendapp.providers.models import ProviderAccount, ProviderEntity

    accounts = []
    for spec in ACCOUNTS:
        account = ProviderAccount(name=spec.name, provider=spec.provider)
        account.set_key("sk-admin-bench-not-a-real-key")
        account.enabled = spec.provider != "focus"
        account.status = ProviderAccount.Status.OK
        account.save()
        accounts.append(account)
    entities = []
    for ai, account in enumerate(accounts):
        for pid, name in world.projects[ai]:
            entities.append(
                ProviderEntity(account=account, kind="project", external_id=pid, name=name)
            )
        for kid, name, pid in world.keys[ai]:
            entities.append(
                ProviderEntity(
                    account=account, kind="api_key", external_id=kid, name=name, parent_id=pid
                )
            )
        if ACCOUNTS[ai].provider == "openai":
            for uid, name in world.users:
                entities.append(
                    ProviderEntity(account=account, kind="user", external_id=uid, name=name)
                )
    ProviderEntity.objects.bulk_create(entities)
    return accounts


def price_tables(world: World, accounts: list) -> tuple[list[tuple], list[tuple]]:
    """Rows of bench_price (price_key, day, 5 prices) from PriceBook for every series' price
    context and day, and of bench_bill_price (account, model, day, prices the bill uses)."""
    from spendapp.usage.pricing import PriceBook, _has_time_of_day

    book = PriceBook()
    keys: dict[tuple, int] = {}
    for c in world.combos:
        provider = ACCOUNTS[c.account].provider
        info = book._model_info(provider, c.model.name)
        if info is not None and _has_time_of_day(info):
            raise SystemExit(f"{c.model.name}: time-of-day prices, pick another model")
        ctx = (provider, c.model.name, c.service_tier, c.batch)
        c.price_key = keys.setdefault(ctx, len(keys) + 1)
    days = [world.start.date() + timedelta(days=i) for i in range(DAYS + 1)]
    price_rows: list[tuple] = []
    priced: dict[tuple, tuple] = {}
    for (provider, model, tier, batch), key in keys.items():
        for day in days:
            at = datetime(day.year, day.month, day.day, tzinfo=UTC)
            p = book.lookup(provider, model, at, tier, batch)
            if p is None:
                continue
            prices = (p.input, p.cached_input, p.cache_write, p.cache_write_1h, p.output)
            price_rows.append((key, day, *prices))
            if tier in ("default", "standard") and batch in ("false", ""):
                priced[provider, model, day] = prices
    bill_rows = []
    for ai, account in enumerate(accounts):
        provider = ACCOUNTS[ai].provider
        if provider == "focus":
            continue
        for m in OPENAI_MODELS if provider == "openai" else ANTHROPIC_MODELS:
            for day in days:
                prices = priced.get((provider, m.name, day))
                if prices is None:  # the contract price of the unpriced fine-tune
                    i, ci, o = UNPRICED_BILL
                    prices = (i, ci, i, i, o)
                bill_rows.append((account.pk, m.name, day, *prices))
    return price_rows, bill_rows


def copy_rows(cur, table: str, columns: tuple[str, ...], rows) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


_SEED_TABLES = """
CREATE UNLOGGED TABLE bench_hour (h integer PRIMARY KEY, hour timestamptz NOT NULL,
    day date NOT NULL, load float8 NOT NULL);
CREATE UNLOGGED TABLE bench_combo (id integer PRIMARY KEY, account_id bigint NOT NULL,
    endpoint text NOT NULL, model text NOT NULL, project_id text NOT NULL,
    api_key_id text NOT NULL, user_id text NOT NULL, service_tier text NOT NULL,
    batch text NOT NULL, context_window text NOT NULL, weight float8 NOT NULL,
    h_from integer NOT NULL, h_to integer NOT NULL, price_key integer, inp float8 NOT NULL,
    cached float8 NOT NULL, cw float8 NOT NULL, cw1 float8 NOT NULL, out float8 NOT NULL,
    counts_requests boolean NOT NULL);
CREATE UNLOGGED TABLE bench_price (price_key integer, day date, input numeric,
    cached_input numeric, cache_write numeric, cache_write_1h numeric, output numeric,
    PRIMARY KEY (price_key, day));
CREATE UNLOGGED TABLE bench_bill_price (account_id bigint, model text, day date,
    input numeric, cached_input numeric, cache_write numeric, cache_write_1h numeric,
    output numeric, PRIMARY KEY (account_id, model, day));
"""

# One hour range of raw rows. u1 decides presence, u2/u3 the noise of volume and size; all
# from hashint8 of (series, hour), so a run is reproducible. The cost expression is
# ingest._USAGE_UPSERT's (bigint tokens x numeric prices / 1000000 into numeric(24,12)).
_USAGE_INSERT = """
INSERT INTO usage_usagebucket (account_id, endpoint, bucket_start, bucket_end, model,
    project_id, api_key_id, user_id, service_tier, batch, context_window,
    input_uncached_tokens, input_cached_tokens, cache_write_tokens, cache_write_1h_tokens,
    output_tokens, input_audio_tokens, output_audio_tokens, requests, extra, estimated_cost,
    updated_at)
SELECT t.account_id, t.endpoint, t.hour, t.hour + interval '1 hour', t.model, t.project_id,
    t.api_key_id, t.user_id, t.service_tier, t.batch, t.context_window,
    t.inp - t.ic - t.cw - t.cw1, t.ic, t.cw, t.cw1, t.o, 0, 0, t.requests, '{}'::jsonb,
    ((t.inp - t.ic - t.cw - t.cw1) * p.input + t.ic * p.cached_input
     + t.cw * p.cache_write + t.cw1 * p.cache_write_1h + t.o * p.output) / 1000000,
    now()
FROM (
    SELECT c.account_id, c.endpoint, c.model, c.project_id, c.api_key_id, c.user_id,
        c.service_tier, c.batch, c.context_window, c.price_key, h.hour, h.day,
        CASE WHEN c.counts_requests THEN v.req ELSE 0 END AS requests,
        round(v.req * c.inp * v.size)::bigint AS inp,
        round(v.req * c.inp * v.size * c.cached)::bigint AS ic,
        round(v.req * c.inp * v.size * c.cw)::bigint AS cw,
        round(v.req * c.inp * v.size * c.cw1)::bigint AS cw1,
        round(v.req * c.out * (1.5 - v.size))::bigint AS o
    FROM bench_hour h
    JOIN bench_combo c ON h.h >= c.h_from AND h.h < c.h_to
    CROSS JOIN LATERAL (
        SELECT (hashint8(c.id * 100003::bigint + h.h) & 2147483647) / 2147483648.0 AS u1,
               (hashint8(c.id * 100003::bigint + h.h + 7919 * 100003::bigint)
                    & 2147483647) / 2147483648.0 AS u2
    ) r
    CROSS JOIN LATERAL (
        SELECT greatest(1, round(c.weight * 6 * h.load * (0.6 + 0.8 * r.u2)))::bigint AS req,
               0.8 + 0.4 * r.u2 AS size
    ) v
    WHERE h.h >= %(h0)s AND h.h < %(h1)s
      AND r.u1 < least(1.0, %(scale)s * c.weight * h.load)
) t
LEFT JOIN bench_price p ON p.price_key = t.price_key AND p.day = t.day
"""

# Billed cost lines, per day as each provider's cost report groups them, up to yesterday.
_DAY = "(u.bucket_start AT TIME ZONE 'UTC')::date"
_FACTOR = (
    "(1 + ((hashint8(a.account_id * 100000 + (a.day - date '2000-01-01')) & 1023) "
    "/ 1023.0 - 0.5) * 0.04)::numeric"
)
_OPENAI_COSTS = f"""
INSERT INTO usage_costlineitem (account_id, endpoint, bucket_start, bucket_end, project_id,
    api_key_id, line_item, model, token_type, service_tier, context_window, cost_type, amount,
    currency, quantity, quantity_unit, updated_at)
SELECT a.account_id, 'openai.costs', a.day::timestamp AT TIME ZONE 'UTC',
    (a.day + 1)::timestamp AT TIME ZONE 'UTC', a.project_id, a.api_key_id,
    a.model || ', ' || x.label, a.model, x.token_type, '', '', '',
    round(x.tokens * x.price / 1000000 * {_FACTOR}, 10), 'USD', x.tokens, 'tokens', now()
FROM (
    SELECT u.account_id, {_DAY} AS day, u.project_id, u.api_key_id, u.model,
        sum(u.input_uncached_tokens + u.cache_write_tokens + u.cache_write_1h_tokens) AS iu,
        sum(u.input_cached_tokens) AS ic, sum(u.output_tokens) AS o
    FROM usage_usagebucket u
    WHERE u.account_id = %(account)s AND u.bucket_start < %(until)s
    GROUP BY 1, 2, 3, 4, 5
) a
JOIN bench_bill_price b ON b.account_id = a.account_id AND b.model = a.model AND b.day = a.day
CROSS JOIN LATERAL (VALUES ('input', 'input', a.iu, b.input),
                           ('cached input', 'cached_input', a.ic, b.cached_input),
                           ('output', 'output', a.o, b.output)) x(label, token_type, tokens, price)
WHERE x.tokens > 0
"""
_ANTHROPIC_COSTS = f"""
INSERT INTO usage_costlineitem (account_id, endpoint, bucket_start, bucket_end, project_id,
    api_key_id, line_item, model, token_type, service_tier, context_window, cost_type, amount,
    currency, quantity, quantity_unit, updated_at)
SELECT a.account_id, 'anthropic.cost_report', a.day::timestamp AT TIME ZONE 'UTC',
    (a.day + 1)::timestamp AT TIME ZONE 'UTC', a.project_id, '',
    n.display || ' Usage - ' || x.label, a.model, x.token_type, 'standard', '0-200k', 'tokens',
    round(x.tokens * x.price / 1000000 * {_FACTOR}, 10), 'USD', NULL, '', now()
FROM (
    SELECT u.account_id, {_DAY} AS day, u.project_id, u.model,
        sum(u.input_uncached_tokens) AS iu, sum(u.input_cached_tokens) AS ic,
        sum(u.cache_write_tokens) AS cw, sum(u.cache_write_1h_tokens) AS cw1,
        sum(u.output_tokens) AS o
    FROM usage_usagebucket u
    WHERE u.account_id = %(account)s AND u.bucket_start < %(until)s
    GROUP BY 1, 2, 3, 4
) a
JOIN bench_bill_price b ON b.account_id = a.account_id AND b.model = a.model AND b.day = a.day
JOIN (SELECT * FROM jsonb_each_text(%(names)s::jsonb)) n(model, display) ON n.model = a.model
CROSS JOIN LATERAL (VALUES ('Input Tokens', 'input', a.iu, b.input),
                           ('Cache Read', 'cached_input', a.ic, b.cached_input),
                           ('Cache Write 5m', 'cache_write', a.cw, b.cache_write),
                           ('Cache Write 1h', 'cache_write_1h', a.cw1, b.cache_write_1h),
                           ('Output Tokens', 'output', a.o, b.output))
    x(label, token_type, tokens, price)
WHERE x.tokens > 0
"""
_FOCUS_COSTS = """
INSERT INTO usage_costlineitem (account_id, endpoint, bucket_start, bucket_end, project_id,
    api_key_id, line_item, model, token_type, service_tier, context_window, cost_type, amount,
    currency, quantity, quantity_unit, updated_at)
SELECT %(account)s, 'focus.csv', d::timestamp AT TIME ZONE 'UTC',
    (d + 1)::timestamp AT TIME ZONE 'UTC', s.project_id, '', k.line_item || ' ' || x.kind,
    k.model, x.kind, '', '', 'usage',
    round((k.per_day * s.share * x.share * (0.35 + 0.65 * power(i / %(days)s::float8, 1.2))
        * CASE WHEN extract(isodow FROM d) >= 6 THEN 0.5 ELSE 1 END
        * (0.8 + 0.4 * (hashint8(i * 1000 + s.n * 10 + k.n) & 1023) / 1023.0))::numeric, 6),
    'USD', NULL, '', now()
FROM generate_series(0, %(days)s - 1) i
CROSS JOIN LATERAL (SELECT %(first)s::date + i AS d) dd
CROSS JOIN (SELECT * FROM jsonb_to_recordset(%(projects)s::jsonb)
            AS (n int, project_id text, share float8)) s
CROSS JOIN (SELECT * FROM jsonb_to_recordset(%(skus)s::jsonb)
            AS (n int, line_item text, model text, per_day float8)) k
CROSS JOIN (VALUES ('input', 0.3), ('output', 0.7)) x(kind, share)
WHERE (hashint8(s.n * 100 + k.n) & 7) < 5
"""


def seed(world: World, accounts: list, rows: int, progress: bool) -> dict:
    from django.db import transaction

    from spendapp.usage import ingest

    out: dict = {"series": len(world.combos), "hours": world.hours}
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    scale, expected = presence_scale(world, rows)
    price_rows, bill_rows = price_tables(world, accounts)
    out["scale"] = scale
    out["expected_rows"] = expected
    with cursor() as cur:
        cur.execute(_SEED_TABLES)
        copy_rows(
            cur,
            "bench_hour",
            ("h", "hour", "day", "load"),
            (
                (h, world.start + timedelta(hours=h), (world.start + timedelta(hours=h)).date(), ld)
                for h, ld in enumerate(world.load)
            ),
        )
        copy_rows(
            cur,
            "bench_combo",
            (
                "id",
                "account_id",
                "endpoint",
                "model",
                "project_id",
                "api_key_id",
                "user_id",
                "service_tier",
                "batch",
                "context_window",
                "weight",
                "h_from",
                "h_to",
                "price_key",
                "inp",
                "cached",
                "cw",
                "cw1",
                "out",
                "counts_requests",
            ),
            (
                (
                    c.id,
                    accounts[c.account].pk,
                    c.endpoint,
                    c.model.name,
                    c.project_id,
                    c.api_key_id,
                    c.user_id,
                    c.service_tier,
                    c.batch,
                    c.context_window,
                    c.weight,
                    c.h_from,
                    c.h_to,
                    c.price_key,
                    c.model.inp,
                    c.model.cached,
                    c.model.cw,
                    c.model.cw1,
                    c.model.out,
                    ACCOUNTS[c.account].provider == "openai",  # Anthropic reports no requests
                )
                for c in world.combos
            ),
        )
        copy_rows(
            cur,
            "bench_price",
            (
                "price_key",
                "day",
                "input",
                "cached_input",
                "cache_write",
                "cache_write_1h",
                "output",
            ),
            price_rows,
        )
        copy_rows(
            cur,
            "bench_bill_price",
            (
                "account_id",
                "model",
                "day",
                "input",
                "cached_input",
                "cache_write",
                "cache_write_1h",
                "output",
            ),
            bill_rows,
        )
        cur.execute("ANALYZE bench_hour, bench_combo, bench_price, bench_bill_price")
    out["prepare_seconds"] = time.perf_counter() - t0

    # Raw usage, 30 days per statement (and transaction).
    t0 = time.perf_counter()
    step = 30 * 24
    inserted = 0
    for h0 in range(0, world.hours, step):
        with transaction.atomic(), cursor() as cur:
            cur.execute(_USAGE_INSERT, {"h0": h0, "h1": h0 + step, "scale": scale})
            inserted += cur.rowcount
        if progress and (h0 // step) % 4 == 3:
            rate = inserted / (time.perf_counter() - t0)
            print(f"  ... {inserted:>11,} raw rows ({rate:,.0f} rows/s)", flush=True)
    out["raw_rows"] = inserted
    out["raw_seconds"] = time.perf_counter() - t0

    # Billed cost lines up to yesterday (today's costs have not settled: "pending").
    t0 = time.perf_counter()
    today = (world.start + timedelta(hours=world.hours)).date()
    until = datetime(today.year, today.month, today.day, tzinfo=UTC)
    names = json.dumps(ANTHROPIC_NAMES)
    for ai, account in enumerate(accounts):
        provider = ACCOUNTS[ai].provider
        with transaction.atomic(), cursor() as cur:
            if provider == "openai":
                cur.execute(_OPENAI_COSTS, {"account": account.pk, "until": until})
            elif provider == "anthropic":
                cur.execute(
                    _ANTHROPIC_COSTS, {"account": account.pk, "until": until, "names": names}
                )
            else:
                rng = random.Random(11)
                projects = [
                    {"n": n, "project_id": pid, "share": rng.lognormvariate(0, 0.7) / 3}
                    for n, (pid, _name) in enumerate(world.projects[ai])
                ]
                skus = [
                    {"n": n, "line_item": item, "model": model, "per_day": per_day}
                    for n, (item, model, per_day) in enumerate(FOCUS_SKUS)
                ]
                cur.execute(
                    _FOCUS_COSTS,
                    {
                        "account": account.pk,
                        "days": DAYS - 2,  # a FOCUS export lags a few days
                        "first": world.start.date(),
                        "projects": json.dumps(projects),
                        "skus": json.dumps(skus),
                    },
                )
    out["cost_rows"] = scalar("SELECT count(*) FROM usage_costlineitem")
    out["cost_seconds"] = time.perf_counter() - t0
    if progress:
        print(f"  ... {out['cost_rows']:,} billed cost lines", flush=True)

    # The rollups, by refresh_rollup itself, per account over the whole range.
    t0 = time.perf_counter()
    end = world.start + timedelta(hours=world.hours + 1)
    per_account = {}
    for account in accounts:
        t1 = time.perf_counter()
        with transaction.atomic():
            ingest.refresh_rollup(account, world.start, end)
        per_account[account.name] = time.perf_counter() - t1
        if progress:
            print(f"  ... rollup of {account.name}: {per_account[account.name]:.1f} s", flush=True)
    out["rollup_seconds"] = time.perf_counter() - t0
    out["rollup_seconds_per_account"] = per_account
    with cursor() as cur:
        cur.execute("DROP TABLE bench_hour, bench_combo, bench_price, bench_bill_price")
    if progress:
        print("  ... teams, rules and the allocated rollup", flush=True)
    out["allocation"] = allocate(world, accounts)
    # The calibration ratios a sync keeps current (spend queries join them).
    from spendapp.usage.calibration import rebuild

    t0 = time.perf_counter()
    out["calibration_rows"] = rebuild()
    out["calibration_seconds"] = time.perf_counter() - t0
    if progress:
        print(
            f"  ... calibration ratios: {out['calibration_rows']:,} rows in "
            f"{out['calibration_seconds']:.1f} s",
            flush=True,
        )
    # Production tables are vacuumed and analysed by autovacuum; do it now, timed apart.
    t0 = time.perf_counter()
    with cursor() as cur:
        for table in (
            "usage_usagebucket",
            "usage_costlineitem",
            "usage_dailyspend",
            "usage_hourlyspend",
            "allocation_allocatedspend",
            "usage_calibrationratio",
        ):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    out["vacuum_seconds"] = time.perf_counter() - t0
    out["seconds"] = time.perf_counter() - t_all
    return out


DEPARTMENTS = {
    "Product": ("Search", "Support bot", "Assistant"),
    "Platform": ("Infra", "Data", "Evaluation"),
    "Research": ("Applied ML", "Agents"),
    "Go-to-market": ("Sales tools", "Marketing"),
}


def allocate(world: World, accounts: list) -> dict:
    """Teams under four cost centres, one project rule for most projects (a few left
    unallocated), one shared platform pool split by fixed shares, then the allocated rollup
    by ``engine.recompute_allocation`` over the whole range."""
    from spendapp.allocation import signals

    # Saving rules and teams would queue a recompute task on the (shared) Celery broker; the
    # recompute is run here instead, in this process and database.
    original = signals.schedule_recompute
    signals.schedule_recompute = lambda span: None
    try:
        return _allocate(world, accounts)
    finally:
        signals.schedule_recompute = original


def _allocate(world: World, accounts: list) -> dict:
    from spendapp.allocation import engine
    from spendapp.allocation.models import AllocationRule, SharedCost, SharedCostShare, Team

    t0 = time.perf_counter()
    rng = random.Random(5)
    company = Team.objects.create(name="Bench Co", kind=Team.Kind.COMPANY)
    teams = []
    for dept, names in DEPARTMENTS.items():
        d = Team.objects.create(name=dept, kind=Team.Kind.DEPARTMENT, parent=company)
        teams += [Team.objects.create(name=n, kind=Team.Kind.TEAM, parent=d) for n in names]
    pool = SharedCost.objects.create(name="Shared platform", method=SharedCost.Method.FIXED)
    for team, percent in zip(teams[:4], ("40", "30", "20", "10"), strict=True):
        SharedCostShare.objects.create(shared_cost=pool, team=team, percent=Decimal(percent))
    first = world.start.date()
    rules = []
    for ai, account in enumerate(accounts):
        for n, (pid, _name) in enumerate(world.projects[ai]):
            if n == 0:
                rules.append(
                    AllocationRule(
                        dimension="project",
                        account=account,
                        value=pid,
                        shared_cost=pool,
                        valid_from=first,
                    )
                )
            elif rng.random() < 0.85:
                rules.append(
                    AllocationRule(
                        dimension="project",
                        account=account,
                        value=pid,
                        team=rng.choice(teams),
                        valid_from=first,
                    )
                )
    AllocationRule.objects.bulk_create(rules)
    today = (world.start + timedelta(hours=world.hours)).date()
    written = engine.recompute_allocation(first, today)
    return {
        "rules": len(rules),
        "teams": len(teams),
        "rows": written,
        "seconds": time.perf_counter() - t0,
    }


# --- checks ----------------------------------------------------------------------------------

_DAILY_CHECKSUM = """
SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) FROM (
    SELECT concat_ws(',', day, account_id, provider, project_id, model, api_key_id, user_id,
        input_uncached_tokens, input_cached_tokens, cache_write_tokens, cache_write_1h_tokens,
        output_tokens, requests, unpriced_tokens, estimated_cost, billed_cost) AS r
    FROM usage_dailyspend WHERE day = %(day)s) x
"""
_HOURLY_CHECKSUM = """
SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) FROM (
    SELECT concat_ws(',', hour, account_id, provider, project_id, model, api_key_id, user_id,
        input_uncached_tokens, input_cached_tokens, cache_write_tokens, cache_write_1h_tokens,
        output_tokens, requests, unpriced_tokens, estimated_cost) AS r
    FROM usage_hourlyspend WHERE hour >= %(t0)s AND hour < %(t1)s) x
"""


class _Rollback(Exception):
    pass


def check_rollup(accounts: list, today: date) -> dict:
    """Sums of the rollup against the raw tables, and refresh_rollup of sample days changes
    nothing (rolled back afterwards, so the measured tables stay as seeded)."""
    from django.conf import settings
    from django.db import transaction

    from spendapp.usage import ingest

    out: dict = {}
    with cursor() as cur:
        cur.execute(
            "SELECT count(*), sum(output_tokens), sum(estimated_cost), "
            "count(*) FILTER (WHERE estimated_cost IS NULL) FROM usage_usagebucket"
        )
        raw_rows, raw_out, raw_est, unpriced = cur.fetchone()
        cur.execute("SELECT sum(amount) FROM usage_costlineitem")
        raw_billed = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*), sum(output_tokens), sum(estimated_cost), sum(billed_cost) "
            "FROM usage_dailyspend"
        )
        roll_rows, roll_out, roll_est, roll_billed = cur.fetchone()
        cur.execute("SELECT count(*), min(hour), max(hour) FROM usage_hourlyspend")
        hourly_rows, hourly_min, hourly_max = cur.fetchone()
        # The derived rollups (kept by triggers) must hold the same sums as the daily one.
        derived, derived_match = {}, True
        for table in DERIVED_TABLES:
            cur.execute(
                f"SELECT count(*), sum(output_tokens), sum(estimated_cost), sum(billed_cost) "
                f"FROM {table}"
            )
            rows, out_sum, est_sum, billed_sum = cur.fetchone()
            derived[table] = rows
            derived_match &= (out_sum, est_sum, billed_sum) == (roll_out, roll_est, roll_billed)
        cur.execute("SELECT count(*), sum(days) FROM usage_spendcombination")
        derived["usage_spendcombination"], combination_days = cur.fetchone()
        derived_match &= combination_days == roll_rows
    out.update(
        raw_rows=raw_rows,
        unpriced_raw_rows=unpriced,
        daily_rows=roll_rows,
        hourly_rows=hourly_rows,
        hourly_range=f"{hourly_min:%Y-%m-%d %H:%M} .. {hourly_max:%Y-%m-%d %H:%M}"
        if hourly_min
        else "",
        sums_match=raw_out == roll_out and raw_est == roll_est and raw_billed == roll_billed,
        derived_rows=derived,
        derived_match=derived_match,
        estimated_total=str(raw_est),
        billed_total=str(raw_billed),
    )
    samples = [today - timedelta(days=200), today - timedelta(days=10)]
    assert settings.HOURLY_ROLLUP_DAYS > 10
    results = []
    for day in samples:
        t0 = datetime(day.year, day.month, day.day, tzinfo=UTC)
        params = {"day": day, "t0": t0, "t1": t0 + timedelta(days=1)}
        before = (scalar_row(_DAILY_CHECKSUM, params), scalar_row(_HOURLY_CHECKSUM, params))
        try:
            with transaction.atomic():
                for account in accounts:
                    ingest.refresh_rollup(account, t0, t0 + timedelta(days=1))
                after = (scalar_row(_DAILY_CHECKSUM, params), scalar_row(_HOURLY_CHECKSUM, params))
                raise _Rollback
        except _Rollback:
            pass
        results.append(
            {
                "day": day.isoformat(),
                "daily_rows": before[0][0],
                "hourly_rows": before[1][0],
                "unchanged": before == after,
            }
        )
    out["refresh_samples"] = results
    out["refresh_unchanged"] = all(r["unchanged"] for r in results) and all(
        r["daily_rows"] > 0 for r in results
    )
    return out


def scalar_row(sql: str, params) -> tuple:
    with cursor() as cur:
        cur.execute(sql, params)
        return tuple(cur.fetchone())


# --- the views -------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    path: str
    params: dict
    # raw-table equivalent: grouping expression ('' = none), filters (column, values)
    by: str = ""
    granularity: str = "day"
    filters: tuple = ()
    headers: dict = field(default_factory=dict)  # e.g. the API's Authorization


# The API's spend (GET /api/v1/spend) must stay within this factor of the explorer's p95.
API_P95_FACTOR = 1.2


API_WHOLE = "api /spend, whole answer:"


def api_variants(variants: list[Variant]) -> list[Variant]:
    """``GET /api/v1/spend`` with each explorer variant's options, sent with a Finance token:
    first as a client's request is (the default page, 1,000 rows: the target compares these
    with the explorer), then the whole answer in one page (``limit=10000``, every row of these
    views), reported beside them. The explorer folds a year by API key into 12 series; the API
    returns every (day, key) row, so its whole answer is a different amount of work."""
    from spendapp.api import tokens

    tokens.RATE_LIMIT = 10**9  # the benchmark measures speed, not the rate limit
    user = _bench_user()
    _, raw = tokens.create_token(user, "benchmark", ["read"], 7)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    out, whole = [], []
    for v in variants:
        if v.path != "/explorer/":
            continue
        params = {
            "from": v.params["from"],
            "to": v.params["to"],
            "by": v.params.get("by", ""),
            "granularity": v.params.get("granularity", "day"),
            "filter": [f"{key}={','.join(values)}" for key, values in v.filters],
        }
        out.append(
            Variant(
                v.name.replace("explorer:", "api /spend:"), "/api/v1/spend", params, headers=headers
            )
        )
        whole.append(
            Variant(
                v.name.replace("explorer:", API_WHOLE),
                "/api/v1/spend",
                {**params, "limit": 10_000},
                headers=headers,
            )
        )
    return out + whole


def _bench_user():
    from django.contrib.auth.models import Group, User

    user, _ = User.objects.get_or_create(username=FINANCE_USER)
    user.groups.add(Group.objects.get(name="Finance"))
    return user


def make_variants(today: date) -> list[Variant]:
    from django.db.models import Count

    from spendapp.usage.models import DailySpend

    year = {"from": (today - timedelta(days=VIEW_DAYS - 1)).isoformat(), "to": today.isoformat()}
    # The project the explorer's API-key variant filters on: the biggest OpenAI project.
    top = (
        DailySpend.objects.filter(provider="openai", day__gte=today - timedelta(days=VIEW_DAYS))
        .values("project_id")
        .annotate(n=Count("api_key_id", distinct=True))
        .order_by("-n")
        .first()
    )
    project = top["project_id"]
    return [
        Variant("overview", "/", {}),
        Variant("explorer: year by model", "/explorer/", {**year, "by": "model"}, "model"),
        Variant(
            "explorer: year by project, provider=openai",
            "/explorer/",
            {**year, "by": "project", "provider": "openai"},
            "project",
            filters=(("provider", ("openai",)),),
        ),
        Variant(
            "explorer: year by API key, 1 project",
            "/explorer/",
            {**year, "by": "api_key", "project": project},
            "api_key",
            filters=(("project", (project,)),),
        ),
        Variant(
            "explorer: year by model, monthly",
            "/explorer/",
            {**year, "by": "model", "granularity": "month"},
            "model",
            granularity="month",
        ),
    ]


class SqlTimer:
    """connection.execute_wrapper: time and count the statements of a request."""

    def __init__(self, capture: bool = False):
        self.seconds = 0.0
        self.count = 0
        self.capture = capture
        self.statements: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - t0
            self.seconds += took
            self.count += 1
            if self.capture:
                self.statements.append((took, sql, params))


def cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def finance_client():
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username=FINANCE_USER)
    user.groups.add(Group.objects.get(name="Finance"))
    client = Client()
    client.force_login(user)
    return client


def measure_views(client, variants: list[Variant], requests: int, warmup: int, clock) -> dict:
    from django.db import connection

    samples: dict[str, dict[str, list]] = {
        v.name: {"ms": [], "sql_ms": [], "queries": [], "cpu_ms": [], "db_cpu_ms": [], "bytes": []}
        for v in variants
    }
    # As a browser asks: the GZip middleware's work is part of the server time.
    headers = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}
    for v in variants:  # warm-up: caches (forecast, templates), plans, buffers
        for _ in range(warmup):
            response = client.get(v.path, v.params, **headers, **v.headers)
            if response.status_code != 200:
                raise SystemExit(f"{v.name}: HTTP {response.status_code} for {v.path} {v.params}")
    for _ in range(requests):
        for v in variants:
            timer = SqlTimer()
            with connection.execute_wrapper(timer):
                db0, cpu0 = clock.backend(), cpu_self()
                t0 = time.perf_counter()
                response = client.get(v.path, v.params, **headers, **v.headers)
                took = time.perf_counter() - t0
                cpu1, db1 = cpu_self(), clock.backend()
            assert response.status_code == 200, (v.name, response.status_code)
            s = samples[v.name]
            s["ms"].append(took * 1000)
            s["sql_ms"].append(timer.seconds * 1000)
            s["queries"].append(timer.count)
            s["cpu_ms"].append((cpu1 - cpu0) * 1000)
            if db0 is not None and db1 is not None:
                s["db_cpu_ms"].append((db1 - db0) * 1000)
            s["bytes"].append(len(decoded(response)))
    out = {}
    for name, s in samples.items():
        ms = s["ms"]
        out[name] = {
            "requests": len(ms),
            "p50_ms": statistics.median(ms),
            "p95_ms": percentile(ms, 95),
            "max_ms": max(ms),
            "mean_ms": statistics.fmean(ms),
            "sql_ms_median": statistics.median(s["sql_ms"]),
            "queries": statistics.median(s["queries"]),
            "process_cpu_ms_mean": statistics.fmean(s["cpu_ms"]),
            "backend_cpu_ms_mean": statistics.fmean(s["db_cpu_ms"]) if s["db_cpu_ms"] else None,
            "html_bytes": s["bytes"][-1],
            "all_ms": [round(x, 2) for x in ms],
        }
    return out


def slowest_statements(client, variant: Variant, top: int = 2) -> list[tuple[float, str, object]]:
    from django.db import connection

    timer = SqlTimer(capture=True)
    with connection.execute_wrapper(timer):
        client.get(variant.path, variant.params)
    return sorted(timer.statements, key=lambda s: s[0], reverse=True)[:top]


def explain(sql: str, params) -> str:
    with cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cur.fetchall())


# --- the same answers from the raw tables ----------------------------------------------------

_RAW_FACTS = """
    SELECT (u.bucket_start AT TIME ZONE 'UTC')::date AS day, u.account_id, u.project_id,
        u.model, u.api_key_id, u.user_id,
        u.input_uncached_tokens + u.input_cached_tokens + u.cache_write_tokens
            + u.cache_write_1h_tokens AS inp,
        u.input_cached_tokens AS cached, u.output_tokens AS out, u.requests AS req,
        CASE WHEN u.estimated_cost IS NULL THEN u.input_uncached_tokens + u.input_cached_tokens
            + u.cache_write_tokens + u.cache_write_1h_tokens + u.output_tokens ELSE 0 END
            AS unpriced,
        u.estimated_cost AS est, NULL::numeric AS billed
    FROM usage_usagebucket u
    WHERE u.bucket_start >= %(t0)s AND u.bucket_start < %(t1)s
    UNION ALL
    SELECT (c.bucket_start AT TIME ZONE 'UTC')::date, c.account_id, c.project_id, c.model,
        c.api_key_id, '', 0, 0, 0, 0, 0, NULL, c.amount
    FROM usage_costlineitem c
    WHERE c.bucket_start >= %(t0)s AND c.bucket_start < %(t1)s
"""
RAW_RECONCILIATION = f"""
SELECT f.day, f.account_id, a.name, a.provider, sum(f.billed), count(f.billed), sum(f.est),
    sum(f.inp + f.out), sum(f.unpriced)
FROM ({_RAW_FACTS}) f JOIN providers_provideraccount a ON a.id = f.account_id
GROUP BY f.day, f.account_id, a.name, a.provider
ORDER BY f.day, a.name
"""
RAW_MOVERS = f"""
SELECT a.provider, f.model, sum(f.est) FILTER (WHERE f.day >= %(this_start)s),
    sum(f.est) FILTER (WHERE f.day < %(this_start)s)
FROM ({_RAW_FACTS}) f JOIN providers_provideraccount a ON a.id = f.account_id
GROUP BY a.provider, f.model
"""
RAW_FRESHNESS = f"""
SELECT f.account_id, max(f.day) FROM ({_RAW_FACTS}) f GROUP BY f.account_id
"""
RAW_DIMENSIONS = f"""
SELECT DISTINCT a.provider, a.name, f.project_id, f.model, f.api_key_id, f.user_id
FROM ({_RAW_FACTS}) f JOIN providers_provideraccount a ON a.id = f.account_id
"""
_RAW_GROUP = {"model": "f.model", "project": "f.project_id", "api_key": "f.api_key_id"}
_RAW_FILTER = {"provider": "a.provider", "project": "f.project_id"}


def raw_spend_sql(variant: Variant) -> str:
    period = "f.day" if variant.granularity == "day" else "date_trunc('month', f.day)::date"
    group = _RAW_GROUP[variant.by]
    where = " AND ".join(f"{_RAW_FILTER[col]} = ANY(%(f_{col})s)" for col, _ in variant.filters)
    return f"""
SELECT {period} AS period, {group} AS g, sum(f.inp), sum(f.cached), sum(f.out), sum(f.req),
    sum(f.est), sum(f.billed)
FROM ({_RAW_FACTS}) f JOIN providers_provideraccount a ON a.id = f.account_id
{"WHERE " + where if where else ""}
GROUP BY 1, 2 ORDER BY 1, 2
"""


def raw_statements(variant: Variant, today: date) -> list[tuple[str, str, dict]]:
    """(label, SQL, params) computing from the raw tables what the variant's page shows."""

    def span(first: date, last: date, **extra) -> dict:
        return {
            "t0": datetime(first.year, first.month, first.day, tzinfo=UTC),
            "t1": datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
            **extra,
        }

    year = span(today - timedelta(days=VIEW_DAYS - 1), today)
    if variant.path == "/":
        from spendapp.dashboard.queries import FRESHNESS_WINDOW_DAYS

        this_start = today - timedelta(days=6)
        return [
            ("reconciliation, 365 days", RAW_RECONCILIATION, year),
            (
                "top movers, 14 days",
                RAW_MOVERS,
                span(this_start - timedelta(days=7), today, this_start=this_start),
            ),
            (
                "freshness, 62 days",
                RAW_FRESHNESS,
                span(today - timedelta(days=FRESHNESS_WINDOW_DAYS), today),
            ),
        ]
    params = {**year, **{f"f_{col}": list(values) for col, values in variant.filters}}
    return [
        ("spend rows", raw_spend_sql(variant), params),
        ("filter choices", RAW_DIMENSIONS, year),
    ]


def warm_raw(today: date) -> float:
    """Read the year of raw rows once, so that every raw statement finds them cached (the
    best case for the raw side). Returns the seconds it took."""
    first = today - timedelta(days=VIEW_DAYS - 1)
    t0 = time.perf_counter()
    with cursor() as cur:
        for table in ("usage_usagebucket", "usage_costlineitem"):
            cur.execute(
                f"SELECT count(*), sum(length(model)) FROM {table} WHERE bucket_start >= %s",
                [datetime(first.year, first.month, first.day, tzinfo=UTC)],
            )
    return time.perf_counter() - t0


_RAW_DONE: dict[str, tuple[dict, list]] = {}


def run_raw(statements, runs: int, clock) -> dict:
    """Best (minimum) seconds per statement over ``runs`` runs, and the results. A statement
    already run with the same parameters (the explorer's filter choices) is not run again."""
    out: dict = {"statements": {}, "results": {}}
    for label, sql, params in statements:
        key = sql + repr(sorted(params.items()))
        if key not in _RAW_DONE:
            times, cpu = [], []
            for _ in range(runs):
                db0 = clock.backend()
                t0 = time.perf_counter()
                with cursor() as cur:
                    cur.execute(sql, params)
                    rows = cur.fetchall()
                times.append(time.perf_counter() - t0)
                db1 = clock.backend()
                if db0 is not None and db1 is not None:
                    cpu.append(db1 - db0)
            stats = {
                "best_ms": min(times) * 1000,
                "all_ms": [round(t * 1000) for t in times],
                "backend_cpu_ms": min(cpu) * 1000 if cpu else None,
            }
            _RAW_DONE[key] = (stats, rows)
        out["statements"][label], out["results"][label] = _RAW_DONE[key]
    out["best_ms"] = sum(st["best_ms"] for st in out["statements"].values())
    return out


def compare_answers(variant: Variant, today: date, raw_results: dict) -> bool:
    """The raw answer equals what the view's queries return (same sums, exactly)."""
    if variant.path == "/":
        from spendapp.usage.reconcile import reconciliation

        app = {
            (r.day, r.account_id): (r.billed, r.estimated, r.tokens, r.unpriced_tokens)
            for r in reconciliation(today - timedelta(days=VIEW_DAYS - 1), today)
        }
        raw = {
            (row[0], row[1]): (row[4] if row[5] else None, row[6], int(row[7]), int(row[8]))
            for row in raw_results["reconciliation, 365 days"]
        }
        return app == raw
    from spendapp.usage.queries import SpendQuery, spend_rows

    filters = {col: tuple(values) for col, values in variant.filters}
    query = SpendQuery(
        today - timedelta(days=VIEW_DAYS - 1),
        today,
        (variant.by,),
        variant.granularity,
        filters,
    )
    app = {
        (r["date"], r[variant.by] or ""): (
            r["input_tokens"],
            r["cached_input_tokens"],
            r["output_tokens"],
            r["requests"],
            Decimal(r["estimated_cost"]),
            Decimal(r["billed_cost"]) if r["billed_cost"] is not None else None,
        )
        for r in spend_rows(query)
    }
    raw = {
        (row[0].isoformat(), row[1]): (
            int(row[2]),
            int(row[3]),
            int(row[4]),
            int(row[5]),
            row[6] if row[6] is not None else Decimal(0),
            row[7],
        )
        for row in raw_results["spend rows"]
    }
    return app == raw


# --- page weight -----------------------------------------------------------------------------

_ASSET = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)["']""")


def transferred(response) -> tuple[int, str]:
    """Bytes on the wire (body as sent: compressed if Content-Encoding says so), encoding."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    return len(body), response.get("Content-Encoding", "")


def decoded(response) -> bytes:
    """The body as the browser sees it, after undoing Content-Encoding (GZipMiddleware)."""
    import gzip

    body = response.content
    return gzip.decompress(body) if response.get("Content-Encoding") == "gzip" else body


def page_weight(client, first: Variant, later: list[Variant]) -> dict:
    headers = {"HTTP_ACCEPT_ENCODING": "br, gzip"}
    html = client.get(first.path, first.params, **headers)
    html_bytes, html_enc = transferred(html)
    text = decoded(html).decode()
    assets = []
    for path in dict.fromkeys(_ASSET.findall(text)):
        response = client.get(path, **headers)
        size, encoding = transferred(response)
        assets.append(
            {
                "path": path,
                "status": response.status_code,
                "bytes": size,
                "encoding": encoding or "identity",
                "cache_control": response.get("Cache-Control", ""),
            }
        )
    out = {
        "first": {
            "page": first.name,
            "html_bytes": html_bytes,
            "html_encoding": html_enc or "identity",
            "html_decoded_bytes": len(text.encode()),
            "assets": assets,
            "total_bytes": html_bytes + sum(a["bytes"] for a in assets),
            "missing": [a["path"] for a in assets if a["status"] != 200],
        },
        "later": [],
    }
    for v in later:
        response = client.get(v.path, v.params, **headers)
        size, encoding = transferred(response)
        out["later"].append(
            {
                "page": v.name,
                "html_bytes": size,
                "html_encoding": encoding or "identity",
                "html_decoded_bytes": len(decoded(response)),
            }
        )
    return out


def collectstatic() -> float:
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("collectstatic", verbosity=0, interactive=False, clear=True)
    return time.perf_counter() - t0


# --- report ----------------------------------------------------------------------------------


def targets(fig: dict) -> dict:
    out = {}
    for name, v in fig["views"].items():
        out[f"p95 {name}"] = {
            "measured": f"{v['p95_ms']:.1f} ms",
            "target": f"<= {TARGET_P95_MS:.0f} ms",
            "pass": v["p95_ms"] <= TARGET_P95_MS,
        }
    for name, ratio in fig.get("api_vs_explorer_p95", {}).items():
        if name.startswith(API_WHOLE):
            continue  # reported in the table, not a target
        explorer = name.replace("api /spend:", "explorer:")
        out[f"p95 {name}"] = {
            "measured": f"{fig['api'][name]['p95_ms']:.1f} ms = {ratio:.2f}x {explorer}",
            "target": f"<= {API_P95_FACTOR:.1f}x the explorer's",
            "pass": ratio <= API_P95_FACTOR,
        }
    for name, r in fig["raw"].items():
        out[f"vs raw {name}"] = {
            "measured": f"{r['speedup']:.1f}x"
            + ("" if r["answers_equal"] else " (answers differ!)"),
            "target": f">= {TARGET_SPEEDUP:.0f}x, same answer",
            "pass": r["speedup"] >= TARGET_SPEEDUP and r["answers_equal"],
        }
    w = fig["page_weight"]
    first = w["first"]
    out["first load (HTML + assets)"] = {
        "measured": f"{first['total_bytes'] / 1024:.0f} KB"
        + (f" ({len(first['missing'])} assets missing)" if first["missing"] else ""),
        "target": f"<= {TARGET_FIRST_LOAD_KB} KB",
        "pass": first["total_bytes"] <= TARGET_FIRST_LOAD_KB * 1024 and not first["missing"],
    }
    heaviest = max(w["later"], key=lambda p: p["html_bytes"])
    out["later page (HTML, assets cached)"] = {
        "measured": f"{heaviest['html_bytes'] / 1024:.0f} KB (heaviest: {heaviest['page']})",
        "target": f"<= {TARGET_LATER_PAGE_KB} KB",
        "pass": heaviest["html_bytes"] <= TARGET_LATER_PAGE_KB * 1024,
    }
    fig["check_ok"] = (
        fig["check"]["sums_match"]
        and fig["check"]["derived_match"]
        and fig["check"]["refresh_unchanged"]
    )
    out["rollups = refresh_rollup, sums = raw"] = {
        "measured": "yes" if fig["check_ok"] else "NO",
        "target": "yes",
        "pass": fig["check_ok"],
    }
    return out


def report(fig: dict) -> list[tuple[str, bool]]:
    m, pg = fig["machine"], fig["postgresql"]
    line = "=" * 110
    print()
    print("Spendapp dashboard benchmark")
    print(line)
    print(
        f"machine     {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, Python {m['python']}"
    )
    print(
        f"postgresql  {pg['version']} (shared_buffers {pg['shared_buffers']}, work_mem "
        f"{pg['work_mem']}, jit {pg['jit']}, max_parallel_workers_per_gather "
        f"{pg.get('max_parallel_workers_per_gather', '?')})"
    )
    la0, la1 = fig["load_average_at_start"], fig["load_average_at_end"]
    note = ""
    if max(la0[0], la1[0]) > (m["cores"] or 1):
        note = ": other processes shared the CPUs, wall-clock figures suffer"
    print(
        f"load avg    1/5/15 min at start {la0[0]:.2f}/{la0[1]:.2f}/{la0[2]:.2f}, at end "
        f"{la1[0]:.2f}/{la1[1]:.2f}/{la1[2]:.2f} on {m['cores']} cores{note}"
    )
    d, c = fig["data"], fig["check"]
    print(
        f"data        {c['raw_rows']:,} raw usage rows ({d['first_hour']} .. {d['last_hour']}, "
        f"{d['series']:,} series), {fig['seed'].get('cost_rows', d.get('cost_rows', 0)):,} "
        f"billed cost lines; {d['accounts']} accounts, {d['projects']} projects, "
        f"{d['keys']} API keys, {d['models']} models"
    )
    print(
        f"            rollups: {c['daily_rows']:,} daily rows, {c['hourly_rows']:,} hourly "
        f"rows ({c['hourly_range']}); unpriced raw rows {c['unpriced_raw_rows']:,}"
    )
    print(
        "            derived: "
        + ", ".join(f"{t.removeprefix('usage_')} {n:,}" for t, n in c["derived_rows"].items())
    )
    s = fig["seed"]
    if s.get("seconds"):
        print(
            f"seeding     {s['seconds']:.0f} s (not a target): prepare {s['prepare_seconds']:.1f} s"
            f", raw rows {s['raw_seconds']:.0f} s ({s['raw_rows'] / s['raw_seconds']:,.0f} rows/s)"
            f", cost lines {s['cost_seconds']:.0f} s, refresh_rollup {s['rollup_seconds']:.0f} s"
            f", VACUUM ANALYZE {s['vacuum_seconds']:.0f} s"
        )
    else:
        print("seeding     reused the kept database (--reuse-db)")
    samples = ", ".join(
        f"{r['day']} ({r['daily_rows']:,} daily / {r['hourly_rows']:,} hourly rows): "
        + ("unchanged" if r["unchanged"] else "CHANGED")
        for r in c["refresh_samples"]
    )
    print(
        f"check       rollup sums = raw sums: {c['sums_match']}; derived rollups = rollup: "
        f"{c['derived_match']}; refresh_rollup of {samples}"
    )
    print("-" * 110)
    print(
        f"{'server time per request (ms)':<44} {'p50':>7} {'p95':>7} {'max':>7} {'SQL':>7} "
        f"{'qs':>4} {'cpu py':>7} {'cpu pg':>7} {'HTML KB':>8}"
    )
    for name, v in {**fig["views"], **fig.get("api", {})}.items():
        pgcpu = "-" if v["backend_cpu_ms_mean"] is None else f"{v['backend_cpu_ms_mean']:.1f}"
        print(
            f"{name:<44} {v['p50_ms']:>7.1f} {v['p95_ms']:>7.1f} {v['max_ms']:>7.1f} "
            f"{v['sql_ms_median']:>7.1f} {v['queries']:>4.0f} {v['process_cpu_ms_mean']:>7.1f} "
            f"{pgcpu:>7} {v['html_bytes'] / 1024:>8.1f}"
        )
    print(
        f"({fig['requests']} requests per view after {fig['warmup']} warm-up, round-robin; SQL = "
        "median time inside SQL; cpu py = this process (getrusage), cpu pg = its backend "
        "(/proc), means; HTML KB = the JSON for the API rows)"
    )
    print("-" * 110)
    print(
        f"{'same answer from the raw tables (ms)':<44} {'raw':>9} {'view':>7} "
        f"{'speed-up':>9}  equal"
    )
    for name, r in fig["raw"].items():
        print(
            f"{name:<44} {r['best_ms']:>9.0f} {r['view_p50_ms']:>7.1f} "
            f"{r['speedup']:>8.1f}x  {r['answers_equal']}"
        )
        for label, st in r["statements"].items():
            cpu = (
                "" if st["backend_cpu_ms"] is None else f", backend cpu {st['backend_cpu_ms']:.0f}"
            )
            print(f"    {label:<40} {st['best_ms']:>9.0f}   (runs {st['all_ms']}{cpu})")
    print(
        "(raw = best of the runs per statement, on cached pages, summed; view = p50 of the "
        "whole request; speed-up = raw / view. Backend CPU excludes parallel workers.)"
    )
    print("-" * 110)
    w = fig["page_weight"]
    first = w["first"]
    print(
        f"first load: {first['page']} HTML {first['html_bytes'] / 1024:.1f} KB "
        f"({first['html_encoding']}; {first['html_decoded_bytes'] / 1024:.1f} KB decoded)"
    )
    for a in first["assets"]:
        print(
            f"    {a['path']:<60} {a['bytes'] / 1024:>8.1f} KB  {a['encoding']:<8} "
            f"HTTP {a['status']}  {a['cache_control']}"
        )
    print(f"    total {first['total_bytes'] / 1024:.1f} KB")
    for p in w["later"]:
        print(
            f"later page: {p['page']:<44} HTML {p['html_bytes'] / 1024:>6.1f} KB "
            f"({p['html_encoding']}; {p['html_decoded_bytes'] / 1024:.1f} KB decoded)"
        )
    print("-" * 110)
    results = []
    for name, item in fig["targets"].items():
        mark = "PASS" if item["pass"] else "FAIL"
        print(f"[{mark}] {name:<52} {item['measured']:<34} target {item['target']}")
        results.append((name, item["pass"]))
    print(line)
    return results


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks dashboard",
        description="Dashboard server time and page weight on 10M rows (see the module docstring).",
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=30, help="measured requests per view")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per view")
    parser.add_argument("--raw-runs", type=int, default=2, help="timed runs of each raw query")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN every view's slowest SQL")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument(
        "--reuse-db", action="store_true", help=f"measure a kept {BENCH_DB} without seeding"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--json", default=str(BASE_DIR / "var" / "bench" / "dashboard.json"), help="output file"
    )
    args = parser.parse_args(argv)
    progress = not args.quiet

    static_dir = tempfile.TemporaryDirectory(prefix="spendapp-bench-static-")
    print(f"setting up database {BENCH_DB} ...", flush=True)
    db, reused = setup_django(args.reuse_db, Path(static_dir.name))
    from django.db import connections
    from django.utils import timezone

    from spendapp.providers.models import ProviderAccount

    fig: dict = {
        "benchmark": "dashboard",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "postgresql": pg_info(),
        "load_average_at_start": os.getloadavg(),
        "requests": args.requests,
        "warmup": args.warmup,
    }
    keep = args.keep_db or reused
    try:
        fig["postgresql"]["max_parallel_workers_per_gather"] = scalar(
            "SHOW max_parallel_workers_per_gather"
        )
        now = timezone.now()
        today = now.date()
        if reused:
            accounts = list(ProviderAccount.objects.order_by("pk"))
            first_hour = scalar("SELECT min(bucket_start) FROM usage_usagebucket")
            last_hour = scalar("SELECT max(bucket_start) FROM usage_usagebucket")
            series = scalar(
                "SELECT count(*) FROM (SELECT DISTINCT account_id, endpoint, model, project_id, "
                "api_key_id, user_id, service_tier, batch, context_window "
                "FROM usage_usagebucket) s"
            )
            fig["seed"] = {"reused": True}
            from spendapp.allocation.models import Team

            if not Team.objects.exists():  # a database kept before allocation was seeded
                fig["seed"]["allocation"] = allocate(make_world(now), accounts)
                with cursor() as cur:
                    cur.execute("VACUUM (ANALYZE) allocation_allocatedspend")
            last_day = last_hour.date()
            if last_day != today:
                print(f"note: the kept data ends on {last_day}, today is {today}", flush=True)
        else:
            world = make_world(now)
            print(
                f"seeding {args.rows:,} raw rows: {len(world.combos):,} series over "
                f"{world.hours:,} hours ...",
                flush=True,
            )
            accounts = create_accounts(world)
            fig["seed"] = seed(world, accounts, args.rows, progress)
            first_hour = world.start
            last_hour = world.start + timedelta(hours=world.hours - 1)
            series = len(world.combos)
        fig["data"] = {
            "first_hour": f"{first_hour:%Y-%m-%d %H:%M}",
            "last_hour": f"{last_hour:%Y-%m-%d %H:%M}",
            "series": series,
            "accounts": len(accounts),
            "projects": sum(a.projects for a in ACCOUNTS),
            "keys": sum(a.keys for a in ACCOUNTS),
            "models": len(OPENAI_MODELS) + len(ANTHROPIC_MODELS) + len(FOCUS_SKUS),
            "cost_rows": scalar("SELECT count(*) FROM usage_costlineitem"),
        }
        print("checking the rollups (sums, refresh_rollup of sample days) ...", flush=True)
        fig["check"] = check_rollup(accounts, today)

        print("collectstatic into a temporary STATIC_ROOT ...", flush=True)
        fig["collectstatic_seconds"] = collectstatic()
        client = finance_client()
        variants = make_variants(today)
        clock = CpuClock()
        print(
            f"views: {args.warmup} warm-up + {args.requests} requests x {len(variants)} ...",
            flush=True,
        )
        fig["views"] = measure_views(client, variants, args.requests, args.warmup, clock)
        apis = api_variants(variants)
        print(
            f"api: {args.warmup} warm-up + {args.requests} requests x {len(apis)} ...", flush=True
        )
        fig["api"] = measure_views(client, apis, args.requests, args.warmup, clock)
        fig["api_vs_explorer_p95"] = {
            a.name: fig["api"][a.name]["p95_ms"]
            / fig["views"][
                a.name.replace(API_WHOLE, "explorer:").replace("api /spend:", "explorer:")
            ]["p95_ms"]
            for a in apis
        }
        for name, ratio in fig["api_vs_explorer_p95"].items():
            if name.startswith(API_WHOLE):
                verdict = "for information"
            else:
                verdict = "ok" if ratio <= API_P95_FACTOR else f"OVER {API_P95_FACTOR:.1f}x"
            print(
                f"  {name}: p95 {fig['api'][name]['p95_ms']:.0f} ms, "
                f"{fig['api'][name]['html_bytes'] / 1024:.0f} KB = {ratio:.2f} x the "
                f"explorer's ({verdict})",
                flush=True,
            )

        print(f"the same answers from the raw tables ({args.raw_runs} runs each) ...", flush=True)
        fig["raw"] = {}
        for v in variants:
            if not fig.get("raw_warmup_seconds"):
                fig["raw_warmup_seconds"] = warm_raw(today)
            res = run_raw(raw_statements(v, today), args.raw_runs, clock)
            equal = compare_answers(v, today, res.pop("results"))
            view_p50 = fig["views"][v.name]["p50_ms"]
            fig["raw"][v.name] = {
                **res,
                "view_p50_ms": view_p50,
                "speedup": res["best_ms"] / view_p50,
                "answers_equal": equal,
            }
            if progress:
                print(f"  ... {v.name}: {res['best_ms']:,.0f} ms", flush=True)

        print("page weight ...", flush=True)
        explorer_default = Variant("explorer (default: 30 days by provider)", "/explorer/", {})
        fig["page_weight"] = page_weight(
            client, variants[0], [explorer_default, *variants[1:], variants[0]]
        )

        fig["explain"] = {}
        for v in variants:
            if args.explain or fig["views"][v.name]["p95_ms"] > TARGET_P95_MS:
                for took, sql, params in slowest_statements(client, v):
                    key = f"{v.name}: {took * 1000:.0f} ms"
                    fig["explain"][key] = (
                        f"{sql % tuple(_lit(p) for p in params or ())}\n" + explain(sql, params)
                    )
        fig["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        fig["load_average_at_end"] = os.getloadavg()
        fig["targets"] = targets(fig)
    finally:
        connections.close_all()
        if not keep:
            drop_database(db)
        static_dir.cleanup()

    for label, plan in fig["explain"].items():
        print(f"\n--- EXPLAIN (ANALYZE, BUFFERS): {label} ---\n{plan}")
    results = report(fig)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fig, indent=2, default=str) + "\n")
    print(f"figures written to {path}")
    return 0 if all(ok for _, ok in results) else 1


def _lit(value) -> str:
    """A parameter as an SQL literal, for printing a statement (not for running it)."""
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(_lit(v) for v in value) + "]"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


if __name__ == "__main__":
    sys.exit(main())
