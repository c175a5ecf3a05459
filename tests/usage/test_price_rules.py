"""Batch and flex prices: the catalog's where it has one for the date, else the provider's
documented rule (50 % of list), and the audit says which usage a rule priced. Time-of-day
prices are applied per hourly bucket."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from genai_prices import data as catalog

from spendapp.providers.models import ProviderAccount
from spendapp.providers.records import CostRecord, UsageRecord
from spendapp.usage import ingest
from spendapp.usage.audit import OK, price_audit
from spendapp.usage.models import UsageBucket
from spendapp.usage.pricing import BATCH_RULE, FLEX_RULE, PriceBook, catalog_has_variant

M = 1_000_000
# The catalog has OpenAI flex prices from 2026-10-12 and batch prices (both providers) from
# 2026-10-14; before that, get_prices() silently answers with the list price.
BEFORE = datetime(2026, 9, 1, 12, tzinfo=UTC)
AFTER = datetime(2026, 11, 2, 12, tzinfo=UTC)


def _model(provider: str, model: str):
    return next(p for p in catalog.providers if p.id == provider).find_model(model)


def test_the_catalog_can_tell_a_batch_price_from_a_fallback_to_list():
    info = _model("openai", "gpt-5.4")
    batch = {"processing": "batch"}
    assert not catalog_has_variant(info, BEFORE, batch)
    assert catalog_has_variant(info, AFTER, batch)
    # ...while get_prices answers both dates, the first with the list price unchanged.
    assert info.get_prices(BEFORE, batch).input_mtok == info.get_prices(BEFORE).input_mtok


@pytest.mark.parametrize(
    ("provider", "model", "tier", "batch"),
    [
        ("openai", "gpt-5.4-mini", "", "true"),
        ("anthropic", "claude-haiku-4-5", "batch", ""),
    ],
)
def test_batch_usage_without_a_catalog_price_is_half_of_list(provider, model, tier, batch):
    book = PriceBook()
    listed = book.lookup(provider, model, BEFORE)
    before = book.lookup(provider, model, BEFORE, tier, batch)
    assert before.rule == BATCH_RULE
    for name in ("input", "cached_input", "cache_write", "cache_write_1h", "output"):
        assert getattr(before, name) == getattr(listed, name) / 2, name
    after = book.lookup(provider, model, AFTER, tier, batch)
    assert after.rule == ""  # the catalog's own batch price
    assert after.input == listed.input / 2  # which is the same rule, written down


def test_flex_is_priced_at_batch_rates():
    book = PriceBook()
    listed = book.lookup("openai", "gpt-5.4-mini", BEFORE)
    before = book.lookup("openai", "gpt-5.4-mini", BEFORE, "flex")
    assert (before.rule, before.input, before.output) == (
        FLEX_RULE,
        listed.input / 2,
        listed.output / 2,
    )
    after = book.lookup("openai", "gpt-5.4-mini", AFTER, "flex")
    assert (after.rule, after.input) == ("", Decimal("0.375"))


def test_standard_and_priority_usage_use_no_rule():
    book = PriceBook()
    assert book.lookup("openai", "gpt-5.4", BEFORE, "default").rule == ""
    # No documented multiple for priority: list price until the catalog has one.
    priority = book.lookup("openai", "gpt-5.4", BEFORE, "priority")
    assert (priority.rule, priority.input) == ("", Decimal("2.5"))


@pytest.fixture
def batch_days(db):
    """Anthropic batch usage billed at half price, 2026-10-12..15: two days without a
    catalog batch price, then two with one."""
    account = ProviderAccount(name="acme anthropic", provider="anthropic")
    account.set_key("sk-ant-admin01-test-0000")
    account.save()
    t0 = datetime(2026, 10, 12, tzinfo=UTC)  # two days without a catalog batch price, then two with
    usage, costs = [], []
    for day in range(4):
        start = t0 + timedelta(days=day)
        usage.append(
            UsageRecord(
                endpoint="anthropic.messages",
                bucket_start=start,
                bucket_end=start + timedelta(hours=1),
                model="claude-haiku-4-5",
                project_id="wrk_a",
                service_tier="batch",
                input_uncached_tokens=2 * M,
            )
        )
        costs.append(
            CostRecord(
                endpoint="anthropic.cost_report",
                bucket_start=start,
                bucket_end=start + timedelta(days=1),
                amount=Decimal("1.00"),  # 2M x $1 x 50 %
                currency="USD",
                project_id="wrk_a",
                line_item="claude-haiku-4-5 input",
                model="claude-haiku-4-5",
                token_type="input",
                service_tier="batch",
                cost_type="tokens",
            )
        )
    end = t0 + timedelta(days=4)
    with transaction.atomic():
        ingest.write_usage(account, "anthropic.messages", t0, end, usage, PriceBook())
        ingest.write_costs(account, "anthropic.cost_report", t0, end, costs)
        ingest.refresh_rollup(account, t0, end)
    return account


def test_the_audit_names_the_usage_a_rule_priced(batch_days):
    (row,) = price_audit(date(2026, 10, 12), date(2026, 10, 15))
    assert row.verdict == OK  # the rule agrees with the bill
    assert row.price_rules == BATCH_RULE
    assert (row.rule_from, row.rule_to) == (date(2026, 10, 12), date(2026, 10, 13))
    (later,) = price_audit(date(2026, 10, 14), date(2026, 10, 15))
    assert (later.verdict, later.price_rules, later.used_rule) == (OK, "", False)


def test_data_health_lists_the_usage_a_rule_priced(batch_days, finance_client):
    response = finance_client.get("/data-health/", {"from": "2026-10-12", "to": "2026-10-15"})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="price-rules"' in html
    assert BATCH_RULE in html and "claude-haiku-4-5" in html


@pytest.mark.django_db
def test_time_of_day_prices_are_applied_per_hourly_bucket():
    # DeepSeek's catalog price halves in its off-peak window (16:30-00:30 UTC). One ingest
    # window holding a peak hour and an off-peak hour prices each at its own rate.
    account = ProviderAccount(name="deepseek", provider="deepseek")
    account.set_key("sk-test-0000000000")
    account.save()
    day = datetime(2026, 9, 1, tzinfo=UTC)
    records = [
        UsageRecord(
            endpoint="deepseek.usage",
            bucket_start=day + timedelta(hours=hour),
            bucket_end=day + timedelta(hours=hour + 1),
            model="deepseek-chat",
            input_uncached_tokens=M,
        )
        for hour in (1, 17)
    ]
    with transaction.atomic():
        ingest.write_usage(
            account, "deepseek.usage", day, day + timedelta(days=1), records, PriceBook()
        )
    cost = {row.bucket_start.hour: row.estimated_cost for row in UsageBucket.objects.order_by("id")}
    assert (
        cost[1] == PriceBook().lookup("deepseek", "deepseek-chat", day + timedelta(hours=1)).input
    )
    assert cost[17] == cost[1] / 2
