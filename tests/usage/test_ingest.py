"""The upsert path on real PostgreSQL: idempotent, revision-safe, rollup kept current."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

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


def test_duplicates_in_a_window_with_stored_rows_are_a_clear_error(account):
    from spendapp.providers.errors import MalformedResponse

    _write(account, [_usage(h) for h in range(3)])
    with pytest.raises(MalformedResponse, match="same bucket and dimensions twice"):
        _write(account, [_usage(1, uncached=7), _usage(1, uncached=7)])
    assert sorted(UsageBucket.objects.values_list("input_uncached_tokens", flat=True)) == [
        1000,
        1000,
        1000,
    ]


def test_a_new_window_whose_record_outside_it_is_stored_updates_that_row(account):
    # Nothing of [T0, WINDOW_END) is stored, but its records include a stored bucket after
    # the window: straight-in COPY collides, and the upsert path updates that row.
    outside = _usage(24 * 3)
    with transaction.atomic():
        ingest.write_usage(
            account, "openai.completions", T0, T0 + timedelta(days=4), [outside], PriceBook()
        )
    revised = _usage(24 * 3, uncached=5000)
    result = _write(account, [_usage(0), _usage(1), revised])
    assert (result.inserted, result.updated, result.deleted) == (2, 1, 0)
    assert UsageBucket.objects.get(bucket_start=revised.bucket_start).input_uncached_tokens == 5000


def test_extra_measures_are_stored_and_a_rerun_changes_nothing(account):
    extra = {"web_search_calls": 2, "images": {"count": 1, "size": "1024x1024"}}
    first = _write(account, [_usage(0, extra=extra), _usage(1)])
    assert first.inserted == 2
    assert UsageBucket.objects.get(bucket_start=T0).extra == extra
    assert UsageBucket.objects.get(bucket_start=T0 + timedelta(hours=1)).extra == {}
    again = _write(account, [_usage(0, extra=dict(reversed(extra.items()))), _usage(1)])
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)


def test_both_paths_record_the_transaction_time_as_updated_at(account):
    from django.db import connection

    with transaction.atomic():
        ingest.write_usage(account, "openai.completions", T0, WINDOW_END, [_usage(0)], PriceBook())
        ingest.write_usage(
            account, "openai.completions", T0, WINDOW_END, [_usage(0, output=1)], PriceBook()
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT now()")
            now = cursor.fetchone()[0]
        assert UsageBucket.objects.get().updated_at == now


def test_prices_are_looked_up_per_hour_across_a_price_change_at_midnight(account):
    # One window, the hours either side of midnight; the override starts on the second day.
    # Ingestion looks prices up once per model and hour, not per row: each row must still
    # get the price of its own hour, as PriceBook.lookup gives it.
    override = PriceOverride.objects.create(
        provider="openai",
        model_pattern="gpt-5.4-mini",
        valid_from=(T0 + timedelta(days=1)).date(),
        input_per_mtok=Decimal("0.5"),
    )
    records = [_usage(hour, project=p) for hour in (23, 24) for p in ("proj_a", "proj_b")]
    _write(account, records, PriceBook([override]))
    for hour, input_price in ((23, Decimal("0.75")), (24, Decimal("0.5"))):
        at = T0 + timedelta(hours=hour)
        prices = PriceBook([override]).lookup("openai", "gpt-5.4-mini", at)
        assert prices.input == input_price
        for row in UsageBucket.objects.filter(bucket_start=at):
            assert row.estimated_cost == prices.cost(1000, 0, 0, 0, 100)


def test_costs_are_the_exact_value_rounded_half_away_from_zero():
    from spendapp.usage.pricing import TokenPrices

    fine = TokenPrices(
        Decimal("0.0000005"), Decimal(0), Decimal(0), Decimal(0), Decimal("4.5"), "test"
    )
    assert fine.cost(1, 0, 0, 0, 0) == Decimal("0.000000000001")  # 0.5e-12 rounds up
    assert fine.cost(-1, 0, 0, 0, 0) == Decimal("-0.000000000001")
    assert fine.cost(0, 0, 0, 0, 3) == Decimal("0.0000135")
    assert fine.cost(0, 0, 0, 0, 3).as_tuple().exponent == -12
    with localcontext(prec=5):  # a caller's decimal context does not round the cost
        assert fine.cost(0, 0, 0, 0, 123_456_789) == Decimal("555.5555505")


def test_costs_equal_what_postgresql_computed_before(account):
    # Ingestion used to price in SQL: (tokens x $/Mtok summed) / 1000000 into NUMERIC(24, 12).
    # Python now prices, exactly. For prices of up to 6 decimals (overrides have 6) and costs
    # under $1M a row, the stored values must be the same; above, PostgreSQL's division kept
    # only 16 significant digits, so the old figures differ from the exact ones there.
    import random

    from django.db import connection

    from spendapp.usage.pricing import TokenPrices

    rng = random.Random(7)
    cases = []
    for _ in range(1000):
        prices = [Decimal(rng.randint(0, 10**6)).scaleb(-rng.randint(0, 6)) for _ in range(5)]
        tokens = [rng.choice((0, rng.randint(1, 10**4), rng.randint(1, 10**10))) for _ in range(5)]
        cases.append((prices, tokens))
    terms = " + ".join("%s::bigint * %s::numeric" for _ in range(5))
    with connection.cursor() as cursor:
        for prices, tokens in cases:
            args = [value for pair in zip(tokens, prices, strict=True) for value in pair]
            cursor.execute(f"SELECT (({terms}) / 1000000)::numeric(24, 12)", args)
            expected = cursor.fetchone()[0]
            if abs(expected) >= 1_000_000:
                continue
            assert TokenPrices(*prices, source="test").cost(*tokens) == expected
