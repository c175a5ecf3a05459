"""The upsert path on real PostgreSQL: idempotent, revision-safe, rollup kept current."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from spendapp.providers.models import ProviderAccount
from spendapp.providers.records import CostRecord, UsageRecord
from spendapp.usage import ingest
from spendapp.usage.models import CostLineItem, DailySpend, PriceOverride, UsageBucket
from spendapp.usage.pricing import PriceBook

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW_END = T0 + timedelta(days=2)


@pytest.fixture
def account():
    account = ProviderAccount(name="acme openai", provider="openai")
    account.set_key("sk-admin-test-key-0000")
    account.save()
    return account


def _usage(hour: int, model="gpt-5.4-mini", project="proj_a", uncached=1000, output=100, **kw):
    start = T0 + timedelta(hours=hour)
    return UsageRecord(
        endpoint="openai.completions",
        bucket_start=start,
        bucket_end=start + timedelta(hours=1),
        model=model,
        project_id=project,
        input_uncached_tokens=uncached,
        output_tokens=output,
        requests=3,
        **kw,
    )


def _write(account, records, book=None):
    with transaction.atomic():
        result = ingest.write_usage(
            account, "openai.completions", T0, WINDOW_END, records, book or PriceBook()
        )
        ingest.refresh_rollup(account, T0, WINDOW_END)
    return result


def test_first_write_inserts_and_a_rerun_changes_nothing(account):
    records = [_usage(h) for h in range(30)]
    first = _write(account, records)
    assert (first.inserted, first.updated, first.deleted) == (30, 0, 0)
    again = _write(account, records)
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert UsageBucket.objects.count() == 30


def test_a_revised_bucket_updates_only_that_row(account):
    records = [_usage(h) for h in range(5)]
    _write(account, records)
    records[2] = _usage(2, uncached=5000)
    result = _write(account, records)
    assert (result.inserted, result.updated, result.deleted) == (0, 1, 0)
    assert (
        UsageBucket.objects.get(bucket_start=T0 + timedelta(hours=2)).input_uncached_tokens == 5000
    )


def test_a_row_the_provider_no_longer_reports_is_removed_from_its_window(account):
    _write(account, [_usage(h) for h in range(5)])
    result = _write(account, [_usage(h) for h in range(4)])
    assert result.deleted == 1
    assert UsageBucket.objects.count() == 4


def test_rows_outside_the_window_are_left_alone(account):
    outside = _usage(24 * 3)  # after WINDOW_END
    with transaction.atomic():
        ingest.write_usage(
            account, "openai.completions", T0, T0 + timedelta(days=4), [outside], PriceBook()
        )
    _write(account, [_usage(1)])
    assert UsageBucket.objects.filter(bucket_start=outside.bucket_start).exists()


def test_estimated_cost_uses_the_catalog_base_price(account):
    # gpt-5.4-mini: $0.75 input, $0.075 cached, $4.5 output per million tokens.
    _write(account, [_usage(0, uncached=1_000_000, output=2_000_000, input_cached_tokens=400_000)])
    row = UsageBucket.objects.get()
    assert row.estimated_cost == Decimal("0.75") + Decimal("0.03") + Decimal("9")


def test_tiered_models_are_priced_at_the_base_tier_not_the_top(account):
    # gpt-5.5 has a long-context tier ($10 input above 272k tokens in one request); an hourly
    # total of 5M tokens is many requests, so the base $5 applies.
    _write(account, [_usage(0, model="gpt-5.5", uncached=5_000_000, output=0)])
    assert UsageBucket.objects.get().estimated_cost == Decimal("25")


def test_an_unknown_model_is_unpriced_not_free(account):
    _write(account, [_usage(0, model="totally-new-model-x", uncached=1234, output=0)])
    assert UsageBucket.objects.get().estimated_cost is None
    rollup = DailySpend.objects.get()
    assert rollup.estimated_cost is None
    assert rollup.unpriced_tokens == 1234


def test_a_price_override_wins_over_the_catalog(account):
    override = PriceOverride.objects.create(
        provider="openai",
        model_pattern="gpt-5.4-*",
        valid_from=T0.date(),
        input_per_mtok=Decimal("0.5"),
    )
    _write(account, [_usage(0, uncached=2_000_000, output=1_000_000)], PriceBook([override]))
    # input from the override ($0.5), output from the catalog ($4.5)
    assert UsageBucket.objects.get().estimated_cost == Decimal("1") + Decimal("4.5")


def test_batch_usage_gets_the_catalogs_batch_discount(account):
    # The catalog models Anthropic's batch prices from 2026-10-14 on; earlier batch usage is
    # estimated at list price and the billed cost settles it.
    when = datetime(2026, 11, 2, tzinfo=UTC)
    anthropic = ProviderAccount(name="acme anthropic", provider="anthropic")
    anthropic.set_key("sk-ant-admin01-test")
    anthropic.save()
    record = UsageRecord(
        endpoint="anthropic.messages",
        bucket_start=when,
        bucket_end=when + timedelta(hours=1),
        model="claude-haiku-4-5",
        service_tier="batch",
        input_uncached_tokens=1_000_000,
    )
    with transaction.atomic():
        ingest.write_usage(
            anthropic, "anthropic.messages", when, when + timedelta(days=1), [record], PriceBook()
        )
    assert UsageBucket.objects.get().estimated_cost == Decimal("0.5")


def test_the_rollup_sums_usage_and_billed_cost_per_day(account):
    _write(account, [_usage(h) for h in range(30)])  # 24 hours on day 1, 6 on day 2
    cost = CostRecord(
        endpoint="openai.costs",
        bucket_start=T0,
        bucket_end=T0 + timedelta(days=1),
        amount=Decimal("1.234567"),
        currency="USD",
        project_id="proj_a",
        line_item="gpt-5.4-mini, input",
        model="gpt-5.4-mini",
        token_type="input",
    )
    with transaction.atomic():
        ingest.write_costs(account, "openai.costs", T0, WINDOW_END, [cost])
        ingest.refresh_rollup(account, T0, WINDOW_END)
    day1 = DailySpend.objects.get(day=T0.date())
    assert day1.input_uncached_tokens == 24_000
    assert day1.requests == 72
    assert day1.billed_cost == Decimal("1.234567")
    day2 = DailySpend.objects.get(day=(T0 + timedelta(days=1)).date())
    assert day2.output_tokens == 600 and day2.billed_cost is None
    assert CostLineItem.objects.count() == 1


def test_duplicate_results_in_one_window_are_a_clear_error(account):
    from spendapp.providers.errors import MalformedResponse

    with pytest.raises(MalformedResponse, match="same bucket and dimensions twice"):
        _write(account, [_usage(1), _usage(1)])
    assert UsageBucket.objects.count() == 0
