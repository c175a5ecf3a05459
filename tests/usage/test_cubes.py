"""The derived rollups (day x account x model, x project, x project x model, x project x API
key; the monthly combinations) agree with DailySpend after every kind of write, because
PostgreSQL triggers keep them; and `rollup_for` routes each query to the smallest table that
can answer it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum

from spendapp.providers.models import ProviderAccount
from spendapp.providers.records import CostRecord, UsageRecord
from spendapp.usage import ingest
from spendapp.usage.cubes import rollup_for
from spendapp.usage.models import (
    DailyKeySpend,
    DailyModelSpend,
    DailyProjectModelSpend,
    DailyProjectSpend,
    DailySpend,
    SpendCombination,
)
from spendapp.usage.pricing import PriceBook
from spendapp.usage.queries import SpendQuery, spend_rows

pytestmark = pytest.mark.django_db
MEASURES = (
    "input_uncached_tokens",
    "input_cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "requests",
    "unpriced_tokens",
    "estimated_cost",
    "billed_cost",
)
DAY0 = date(2026, 1, 28)  # the random days straddle a month boundary


def _account(name: str, provider: str = "openai") -> ProviderAccount:
    account = ProviderAccount(name=name, provider=provider)
    account.set_key("sk-admin-test-key-0000")
    account.save()
    return account


def _grouped(model, keys: tuple[str, ...]) -> dict[tuple, dict]:
    """Every measure summed per ``keys``, and whether any billed cost was non-NULL."""
    rows = model.objects.values(*keys).annotate(
        **{f"s_{m}": Sum(m) for m in MEASURES}, billed_rows=Count("billed_cost")
    )
    return {
        tuple(r[k] for k in keys): {
            **{m: r[f"s_{m}"] for m in MEASURES},
            "billed": r["billed_rows"] > 0,
        }
        for r in rows.order_by()
    }


def _combinations_from_dailyspend() -> dict[tuple, int]:
    """(month, account, provider, project, model, key, user) -> its days in DailySpend."""
    out: dict[tuple, int] = {}
    for day, *rest in DailySpend.objects.values_list(
        "day", "account_id", "provider", "project_id", "model", "api_key_id", "user_id"
    ):
        key = (day.replace(day=1), *rest)
        out[key] = out.get(key, 0) + 1
    return out


def assert_derived_agree() -> None:
    base = ("day", "account_id", "provider")
    for derived, keys in (
        (DailyModelSpend, (*base, "model")),
        (DailyProjectSpend, (*base, "project_id")),
        (DailyProjectModelSpend, (*base, "project_id", "model")),
        (DailyKeySpend, (*base, "project_id", "api_key_id")),
    ):
        assert _grouped(derived, keys) == _grouped(DailySpend, keys), derived.__name__
    combinations = {
        tuple(rest): days
        for *rest, days in SpendCombination.objects.values_list(
            "month",
            "account_id",
            "provider",
            "project_id",
            "model",
            "api_key_id",
            "user_id",
            "days",
        )
    }
    assert combinations == _combinations_from_dailyspend()


def _random_row(rng: random.Random, accounts) -> DailySpend:
    account = rng.choice(accounts)
    estimated = rng.choice([None, Decimal(rng.randint(0, 10**6)) / 1000])
    return DailySpend(
        day=DAY0 + timedelta(days=rng.randrange(8)),
        account=account,
        provider=account.provider,
        project_id=rng.choice(["", "proj_a", "proj_b", "proj_c"]),
        model=rng.choice(["", "gpt-5.4", "gpt-5.4-mini", "claude-opus-4-7"]),
        api_key_id=f"key_{rng.randrange(6)}",
        user_id=rng.choice(["", "user_1"]),
        input_uncached_tokens=rng.randrange(10**7),
        input_cached_tokens=rng.randrange(10**6),
        cache_write_tokens=rng.randrange(10**5),
        cache_write_1h_tokens=rng.randrange(10**4),
        output_tokens=rng.randrange(10**6),
        requests=rng.randrange(1000),
        unpriced_tokens=0 if estimated is not None else rng.randrange(10**6),
        estimated_cost=estimated,
        billed_cost=rng.choice([None, None, Decimal(rng.randint(0, 10**6)) / 1000]),
    )


def _unique_rows(rng: random.Random, accounts, n: int) -> list[DailySpend]:
    """``n`` random rows, the last of each natural key kept."""
    rows = {}
    for _ in range(n):
        r = _random_row(rng, accounts)
        rows[(r.day, r.account_id, r.project_id, r.model, r.api_key_id, r.user_id)] = r
    return list(rows.values())


def test_every_kind_of_write_keeps_the_derived_rollups_equal_to_dailyspend():
    rng = random.Random(5)
    accounts = [_account("openai a"), _account("anthropic b", "anthropic")]
    rows = {}
    for _ in range(400):
        row = _random_row(rng, accounts)
        rows[(row.day, row.account_id, row.project_id, row.model, row.api_key_id, row.user_id)] = (
            row
        )
    DailySpend.objects.bulk_create(rows.values())  # one INSERT statement
    assert DailyModelSpend.objects.exists()
    assert_derived_agree()

    # UPDATE of many rows in one statement, across days and accounts.
    DailySpend.objects.filter(model="gpt-5.4").update(billed_cost=Decimal("1.5"), requests=7)
    assert_derived_agree()
    # Row by row, as the ORM writes single objects.
    for row in DailySpend.objects.order_by("?")[:20]:
        row.estimated_cost = None
        row.unpriced_tokens = 123
        row.save()
    assert_derived_agree()
    # DELETE: a whole day of one account, then a single project everywhere.
    DailySpend.objects.filter(account=accounts[0], day=DAY0 + timedelta(days=4)).delete()
    DailySpend.objects.filter(project_id="proj_b").delete()
    assert_derived_agree()
    # An account deleted: Django's cascade removes its facts.
    accounts[1].delete()
    assert_derived_agree()
    assert not DailyProjectSpend.objects.filter(account_id=accounts[1].pk).exists()


def test_a_month_loses_its_combinations_when_its_last_row_goes():
    account = _account("openai a")
    common = {"account": account, "provider": "openai", "model": "gpt-5.4"}
    DailySpend.objects.create(day=date(2026, 1, 31), project_id="proj_a", **common)
    DailySpend.objects.create(day=date(2026, 2, 1), project_id="proj_b", **common)

    def months():
        return list(SpendCombination.objects.values_list("month", "project_id").order_by("month"))

    assert months() == [(date(2026, 1, 1), "proj_a"), (date(2026, 2, 1), "proj_b")]
    DailySpend.objects.filter(day=date(2026, 2, 1)).delete()
    assert months() == [(date(2026, 1, 1), "proj_a")]


def test_billed_cost_stays_null_where_nothing_was_billed():
    account = _account("openai a")
    common = {"account": account, "provider": "openai", "day": DAY0, "project_id": "p"}
    DailySpend.objects.create(model="m1", api_key_id="k1", estimated_cost=Decimal(2), **common)
    DailySpend.objects.create(model="m1", api_key_id="k2", billed_cost=Decimal(0), **common)
    DailySpend.objects.create(model="m2", api_key_id="k1", estimated_cost=Decimal(3), **common)
    billed = dict(DailyModelSpend.objects.values_list("model", "billed_cost"))
    assert billed == {"m1": Decimal(0), "m2": None}


def test_truncating_dailyspend_empties_the_derived_rollups():
    account = _account("openai a")
    DailySpend.objects.create(day=DAY0, account=account, provider="openai", model="m")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE usage_dailyspend")
    assert not DailyModelSpend.objects.exists()
    assert not DailyProjectSpend.objects.exists()
    assert not DailyProjectModelSpend.objects.exists()
    assert not DailyKeySpend.objects.exists()
    assert not SpendCombination.objects.exists()


def test_the_migration_backfill_rebuilds_the_same_rows():
    """The backfill of migration 0005 (every (account, day) at once) over tables the triggers
    already keep changes nothing: the two paths are one function."""
    from importlib import import_module

    migration = import_module("spendapp.usage.migrations.0005_derived_rollups")
    rng = random.Random(9)
    accounts = [_account("openai a"), _account("openai b")]
    DailySpend.objects.bulk_create(_unique_rows(rng, accounts, 200))
    before = _grouped(DailyProjectModelSpend, ("day", "account_id", "project_id", "model"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM usage_dailymodelspend")
        cursor.execute("DELETE FROM usage_spendcombination")
        cursor.execute(migration.BACKFILL)
    assert _grouped(DailyProjectModelSpend, ("day", "account_id", "project_id", "model")) == before
    assert_derived_agree()


def test_ingest_windows_keep_the_derived_rollups_current():
    """The real path: usage and cost windows written, revised (a row lost) and re-run."""
    account = _account("openai a")
    t0 = datetime(2026, 3, 30, tzinfo=UTC)
    end = t0 + timedelta(days=4)

    def usage(hours, model):
        return [
            UsageRecord(
                endpoint="openai.completions",
                bucket_start=t0 + timedelta(hours=h),
                bucket_end=t0 + timedelta(hours=h + 1),
                model=model,
                project_id=f"proj_{h % 3}",
                api_key_id=f"key_{h % 5}",
                input_uncached_tokens=1000 + h,
                output_tokens=10 * h,
                requests=1,
            )
            for h in hours
        ]

    costs = [
        CostRecord(
            endpoint="openai.costs",
            bucket_start=t0 + timedelta(days=d),
            bucket_end=t0 + timedelta(days=d + 1),
            amount=Decimal("1.25") * (d + 1),
            currency="USD",
            project_id="proj_1",
            line_item="gpt-5.4-mini, input",
        )
        for d in range(3)
    ]

    def write(records):
        with transaction.atomic():
            ingest.write_usage(account, "openai.completions", t0, end, records, PriceBook())
            ingest.write_costs(account, "openai.costs", t0, end, costs)
            ingest.refresh_rollup(account, t0, end)

    write(usage(range(96), "gpt-5.4-mini") + usage(range(0, 96, 7), "gpt-unknown"))
    assert_derived_agree()
    assert SpendCombination.objects.dates("month", "month").count() == 2  # March and April
    write(usage(range(48), "gpt-5.4-mini"))  # revised: the later hours and a model are gone
    assert_derived_agree()
    assert not DailyModelSpend.objects.filter(model="gpt-unknown").exists()


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ((), DailyModelSpend),
        (("provider", "account", "model", "tier"), DailyModelSpend),
        (("project",), DailyProjectSpend),
        (("project_id", "model", "provider"), DailyProjectModelSpend),
        (("project", "api_key", "provider"), DailyKeySpend),
        (("api_key", "model"), DailySpend),
        (("user",), DailySpend),
    ],
)
def test_rollup_for_picks_the_smallest_table_that_holds_the_keys(keys, expected):
    assert rollup_for(keys) is expected


def test_spend_rows_answer_the_same_from_any_rollup():
    """The explorer's query by model reads DailyModelSpend; by API key, DailySpend: both
    totals per day equal DailySpend's own."""
    rng = random.Random(3)
    accounts = [_account("openai a"), _account("anthropic b", "anthropic")]
    DailySpend.objects.bulk_create(_unique_rows(rng, accounts, 300))
    span = (DAY0, DAY0 + timedelta(days=7))
    by_model = spend_rows(SpendQuery(*span, by=("model",)))
    by_key = spend_rows(SpendQuery(*span, by=("api_key",)))

    def per_day(rows):
        out = {}
        for row in rows:
            day = out.setdefault(row["date"], [0, Decimal(0)])
            day[0] += row["output_tokens"]
            day[1] += Decimal(row["estimated_cost"])
        return out

    truth = {}
    for r in DailySpend.objects.all():
        day = truth.setdefault(r.day.isoformat(), [0, Decimal(0)])
        day[0] += r.output_tokens
        day[1] += r.estimated_cost or 0
    assert per_day(by_model) == truth
    assert per_day(by_key) == truth
