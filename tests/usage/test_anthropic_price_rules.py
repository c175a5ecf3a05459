"""Anthropic's newer price modifiers (issue #15): US-only inference at 1.1x, fast mode (the
catalog's fast price, else the documented multiplier, else list under a rule that says so),
and the Priority / flex tiers at list under a rule; the estimate of ingested rows follows, and
the price audit names each rule."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from spendapp.providers.models import ProviderAccount
from spendapp.providers.records import CostRecord, UsageRecord
from spendapp.usage import ingest
from spendapp.usage.audit import OK, price_audit
from spendapp.usage.models import PriceOverride, UsageBucket
from spendapp.usage.pricing import (
    FAST_RULE,
    FAST_UNKNOWN_RULE,
    TIER_AT_LIST_RULE,
    US_GEO_RULE,
    PriceBook,
)

M = 1_000_000
AT = datetime(2026, 11, 2, 12, tzinfo=UTC)


def test_us_only_inference_is_a_tenth_dearer_on_every_token_type():
    book = PriceBook()
    listed = book.lookup("anthropic", "claude-sonnet-4-6", AT)
    us = book.lookup("anthropic", "claude-sonnet-4-6", AT, inference_geo="us")
    assert us.rule == US_GEO_RULE
    for name in ("input", "cached_input", "cache_write", "cache_write_1h", "output"):
        assert getattr(us, name) == getattr(listed, name) * Decimal("1.1"), name
    assert book.lookup("anthropic", "claude-sonnet-4-6", AT, inference_geo="global") == listed


def test_fast_mode_takes_the_catalog_price_where_it_has_one():
    fast = PriceBook().lookup("anthropic", "claude-opus-5", AT, speed="fast")
    assert (fast.input, fast.output, fast.rule) == (Decimal(10), Decimal(50), "")


def test_fast_mode_on_opus_4_6_is_six_times_list_by_the_documented_rule():
    fast = PriceBook().lookup("anthropic", "claude-opus-4-6", AT, speed="fast")
    assert (fast.input, fast.output, fast.rule) == (Decimal(30), Decimal(150), FAST_RULE)


def test_fast_mode_without_a_known_multiplier_stays_at_list_and_says_so():
    book = PriceBook()
    fast = book.lookup("anthropic", "claude-haiku-4-5", AT, speed="fast")
    assert fast.input == book.lookup("anthropic", "claude-haiku-4-5", AT).input
    assert fast.rule == FAST_UNKNOWN_RULE


@pytest.mark.parametrize("tier", ["priority", "priority_on_demand", "flex", "flex_discount"])
def test_anthropic_tiers_without_a_published_rate_are_list_under_a_rule(tier):
    book = PriceBook()
    priced = book.lookup("anthropic", "claude-sonnet-4-6", AT, tier)
    assert priced.input == book.lookup("anthropic", "claude-sonnet-4-6", AT).input
    assert priced.rule == TIER_AT_LIST_RULE  # not OpenAI's flex-at-batch rule


def test_rules_stack_us_only_on_top_of_fast_mode():
    both = PriceBook().lookup("anthropic", "claude-opus-4-6", AT, speed="fast", inference_geo="us")
    assert both.input == Decimal(30) * Decimal("1.1")
    assert both.rule == f"{US_GEO_RULE}; {FAST_RULE}"


@pytest.mark.django_db
def test_a_negotiated_override_is_taken_as_it_is():
    override = PriceOverride.objects.create(
        provider="anthropic",
        model_pattern="claude-sonnet-4-6",
        valid_from=date(2026, 1, 1),
        input_per_mtok=Decimal(2),
    )
    book = PriceBook([override])
    priced = book.lookup("anthropic", "claude-sonnet-4-6", AT, inference_geo="us")
    assert (priced.input, priced.rule) == (Decimal(2), "")


@pytest.fixture
def us_and_fast_day(db):
    """One day of Opus 4.6: US-only standard usage and global fast-mode usage, billed."""
    account = ProviderAccount(name="acme anthropic", provider="anthropic")
    account.set_key("sk-ant-admin01-test-0000")
    account.save()
    t0 = datetime(2026, 11, 2, tzinfo=UTC)

    def usage(**dims):
        return UsageRecord(
            endpoint="anthropic.messages",
            bucket_start=t0,
            bucket_end=t0 + timedelta(hours=1),
            model="claude-opus-4-6",
            project_id="wrk_a",
            input_uncached_tokens=M,
            **dims,
        )

    records = [usage(inference_geo="us", speed="standard"), usage(speed="fast")]
    cost = CostRecord(
        endpoint="anthropic.cost_report",
        bucket_start=t0,
        bucket_end=t0 + timedelta(days=1),
        amount=Decimal("35.5"),  # 1M x $5 x 1.1 + 1M x $30
        currency="USD",
        project_id="wrk_a",
        line_item="Claude Opus 4.6 Usage - Input Tokens",
        model="claude-opus-4-6",
        token_type="input",
        cost_type="tokens",
    )
    end = t0 + timedelta(days=1)
    with transaction.atomic():
        ingest.write_usage(account, "anthropic.messages", t0, end, records, PriceBook())
        ingest.write_costs(account, "anthropic.cost_report", t0, end, [cost])
        ingest.refresh_rollup(account, t0, end)
    return account


def test_ingested_rows_are_estimated_with_their_geo_and_speed(us_and_fast_day):
    cost = dict(UsageBucket.objects.values_list("speed", "estimated_cost"))
    assert cost == {"standard": Decimal("5.5"), "fast": Decimal(30)}


def test_the_audit_agrees_with_the_bill_and_names_both_rules(us_and_fast_day):
    (row,) = price_audit(date(2026, 11, 2), date(2026, 11, 2))
    assert row.verdict == OK
    assert row.price_rules == f"{US_GEO_RULE}; {FAST_RULE}"  # sorted
