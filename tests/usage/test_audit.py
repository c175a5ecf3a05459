"""Price-catalog audit: implied $/Mtok from the bill against the PriceBook, on PostgreSQL."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from spendapp.providers.models import ProviderAccount
from spendapp.providers.records import CostRecord, UsageRecord
from spendapp.usage import ingest
from spendapp.usage.audit import (
    CATALOG_TOO_HIGH,
    CATALOG_TOO_LOW,
    NO_USAGE,
    OK,
    UNPRICED_MODEL,
    price_audit,
)
from spendapp.usage.models import PriceOverride
from spendapp.usage.pricing import PriceBook

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, tzinfo=UTC)
END = T0 + timedelta(days=3)
DAY0, DAY1 = date(2026, 3, 2), date(2026, 3, 3)
HAIKU = "claude-haiku-4-5"  # catalog: $1 input, $0.1 cache read, $1.25 / $2 writes, $5 output
M = 1_000_000


def _account(name="acme anthropic"):
    account = ProviderAccount(name=name, provider="anthropic")
    account.set_key("sk-ant-admin01-test-0000")
    account.save()
    return account


def _usage(day, hour=0, model=HAIKU, project="wrk_a", tier="standard", **tokens):
    start = T0 + timedelta(days=day, hours=hour)
    return UsageRecord(
        endpoint="anthropic.messages",
        bucket_start=start,
        bucket_end=start + timedelta(hours=1),
        model=model,
        project_id=project,
        service_tier=tier,
        **tokens,
    )


def _cost(day, amount, token_type, model=HAIKU, project="wrk_a", tier="standard"):
    start = T0 + timedelta(days=day)
    return CostRecord(
        endpoint="anthropic.cost_report",
        bucket_start=start,
        bucket_end=start + timedelta(days=1),
        amount=Decimal(amount),
        currency="USD",
        project_id=project,
        line_item=f"{model} {token_type}",
        model=model,
        token_type=token_type,
        service_tier=tier,
        cost_type="tokens",
    )


def _write(account, usage, costs):
    with transaction.atomic():
        ingest.write_usage(account, "anthropic.messages", T0, END, usage, PriceBook())
        ingest.write_costs(account, "anthropic.cost_report", T0, END, costs)
        ingest.refresh_rollup(account, T0, END)


def _by_key(rows):
    return {(r.model, r.token_type): r for r in rows}


@pytest.fixture
def account():
    account = _account()
    usage = [
        # Two hours of day 0 and one of day 1: 10M input, 20M cache reads, 4M 5-minute and
        # 1M 1-hour cache writes, 2M output in all.
        _usage(0, 1, input_uncached_tokens=4 * M, input_cached_tokens=12 * M,
               cache_write_tokens=4 * M, output_tokens=M),
        _usage(0, 2, input_uncached_tokens=2 * M, cache_write_1h_tokens=M),
        _usage(1, 3, input_uncached_tokens=4 * M, input_cached_tokens=8 * M, output_tokens=M),
        _usage(0, 4, model="claude-nova-9", input_uncached_tokens=M),
    ]  # fmt: skip
    costs = [
        # input at list price, but day 0 billed 3 % high and day 1 3 % low: noise, not a flag
        _cost(0, "6.18", "input"),  # 6M x $1 x 1.03
        _cost(1, "3.88", "input"),  # 4M x $1 x 0.97
        # output at a negotiated 6 % discount: 2M x $5 x 0.94
        _cost(0, "4.70", "output"),
        _cost(1, "4.70", "output"),
        # cache reads billed at the full input price: 20M x $1
        _cost(0, "12.00", "cached_input"),
        _cost(1, "8.00", "cached_input"),
        _cost(0, "5.00", "cache_write"),  # 4M x $1.25: right
        _cost(0, "2.00", "cache_write_1h"),  # 1M x $2: right
        _cost(0, "5.00", "input", model="claude-nova-9"),  # unknown to the catalog
        _cost(1, "3.00", "output", model="claude-opus-4-7"),  # billed, no usage
    ]
    _write(account, usage, costs)
    return account


def test_verdicts_over_the_range(account):
    rows = _by_key(price_audit(DAY0, DAY1))

    correct = rows[HAIKU, "input"]
    assert (correct.verdict, correct.tokens, correct.billed) == (OK, 10 * M, Decimal("10.06"))
    assert correct.implied_per_mtok == Decimal("1.006000")
    assert correct.catalog_per_mtok == Decimal("1.000000")
    assert (correct.date_from, correct.date_to, correct.days) == (DAY0, DAY1, 2)
    assert correct.catalog_source == f"catalog:{HAIKU}"

    discounted = rows[HAIKU, "output"]
    assert discounted.verdict == CATALOG_TOO_HIGH
    assert discounted.implied_per_mtok == Decimal("4.700000")
    assert discounted.catalog_per_mtok == Decimal("5.000000")
    assert discounted.ratio == Decimal("1.0638")  # catalog / implied = 1 / 0.94

    full_price_reads = rows[HAIKU, "cached_input"]
    assert full_price_reads.verdict == CATALOG_TOO_LOW
    assert full_price_reads.ratio == Decimal("0.1000")

    assert rows[HAIKU, "cache_write"].verdict == OK
    assert rows[HAIKU, "cache_write_1h"].verdict == OK
    unknown = rows["claude-nova-9", "input"]
    assert (unknown.verdict, unknown.catalog_per_mtok, unknown.ratio) == (
        UNPRICED_MODEL,
        None,
        None,
    )
    assert unknown.implied_per_mtok == Decimal("5.000000")
    idle = rows["claude-opus-4-7", "output"]
    assert (idle.verdict, idle.tokens, idle.billed, idle.billed_compared) == (
        NO_USAGE,
        0,
        Decimal("3"),
        Decimal("0"),
    )
    assert all(r.flagged == (r.verdict != OK) for r in rows.values())


def test_each_day_alone_flags_the_noise_the_range_absorbs(account):
    day0 = _by_key(price_audit(DAY0, DAY0))
    assert day0[HAIKU, "input"].verdict == CATALOG_TOO_LOW  # billed 3 % over list
    assert day0[HAIKU, "input"].ratio == Decimal("0.9709")
    assert _by_key(price_audit(DAY0, DAY0, tolerance="0.05"))[HAIKU, "input"].verdict == OK


def test_a_cache_write_priced_at_the_wrong_ttl_is_caught(account):
    # An override that prices 1-hour writes like 5-minute ones ($1.25 instead of $2).
    wrong = PriceOverride.objects.create(
        provider="anthropic",
        model_pattern="claude-haiku-*",
        valid_from=DAY0,
        cache_write_1h_per_mtok=Decimal("1.25"),
    )
    row = _by_key(price_audit(DAY0, DAY1))[HAIKU, "cache_write_1h"]
    assert (row.verdict, row.ratio) == (CATALOG_TOO_LOW, Decimal("0.6250"))
    assert row.catalog_source == f"override:{wrong.pk}"


def test_cached_reads_priced_at_the_input_rate_are_caught():
    account = _account("full price reads")
    # The bill gives the cache-read discount; a catalog without a cache-read rate would
    # estimate them at the input rate ($1), 10x what was billed.
    override = PriceOverride(
        provider="anthropic",
        model_pattern=HAIKU,
        valid_from=DAY0,
        input_per_mtok=Decimal(1),
        cached_input_per_mtok=Decimal(1),
    )
    _write(account, [_usage(0, input_cached_tokens=5 * M)], [_cost(0, "0.50", "cached_input")])
    (row,) = price_audit(DAY0, DAY0, account, book=PriceBook([override]))
    assert (row.verdict, row.ratio) == (CATALOG_TOO_HIGH, Decimal("10.0000"))


def test_projects_are_matched_when_both_sides_have_them():
    account = _account("two workspaces")
    usage = [_usage(0, project="wrk_a", output_tokens=M)]
    # wrk_b billed with no usage of its own: left out of the comparison, not diluting it.
    costs = [
        _cost(0, "5.00", "output", project="wrk_a"),
        _cost(0, "9.00", "output", project="wrk_b"),
    ]
    _write(account, usage, costs)
    (row,) = price_audit(DAY0, DAY0, account=account)
    assert (row.verdict, row.billed, row.billed_compared) == (OK, Decimal(14), Decimal(5))


def test_each_usage_row_is_priced_at_its_own_tier():
    account = _account("batch")
    usage = [_usage(0, output_tokens=M), _usage(0, 1, tier="batch", output_tokens=M)]
    # Billed $5 standard + $2.50 batch (Anthropic bills batch at 50 %).
    costs = [_cost(0, "5.00", "output"), _cost(0, "2.50", "output", tier="batch")]
    _write(account, usage, costs)
    book = PriceBook()
    batch = book.lookup("anthropic", HAIKU, T0, "batch", "").output
    (row,) = price_audit(DAY0, DAY0, account=account, book=book)
    assert row.implied_per_mtok == Decimal("3.750000")
    assert row.catalog_per_mtok == ((Decimal(5) + batch) / 2).quantize(Decimal("0.000001"))
    # (The catalog models Anthropic batch prices only from 2026-10-14: before that it prices
    # batch usage at the standard rate, and the audit says so.)
    assert row.verdict == (OK if batch == Decimal("2.5") else CATALOG_TOO_HIGH)


def test_the_tolerance_must_be_a_fraction(account):
    with pytest.raises(ValueError, match="tolerance"):
        price_audit(DAY0, DAY1, tolerance=2)
