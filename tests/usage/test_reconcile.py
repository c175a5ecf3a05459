"""Reconciliation of billed against estimated cost, from the rollup, with hand-computed sums."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from spendapp.providers.models import ProviderAccount
from spendapp.providers.records import CostRecord, UsageRecord
from spendapp.usage import ingest
from spendapp.usage.pricing import PriceBook
from spendapp.usage.reconcile import BILLED_ONLY, COMPARED, PENDING, reconciliation

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # day 1
END = T0 + timedelta(days=5)


def _account(name="acme openai", provider="openai"):
    account = ProviderAccount(name=name, provider=provider)
    account.set_key("sk-admin-test-key-0000")
    account.save()
    return account


def _usage(day, hour=0, model="gpt-5.4-mini", uncached=0, output=0, cached=0):
    start = T0 + timedelta(days=day, hours=hour)
    return UsageRecord(
        endpoint="openai.completions",
        bucket_start=start,
        bucket_end=start + timedelta(hours=1),
        model=model,
        project_id="proj_a",
        input_uncached_tokens=uncached,
        input_cached_tokens=cached,
        output_tokens=output,
        requests=1,
    )


def _cost(day, amount, line_item="gpt-5.4-mini, input", project="proj_a"):
    start = T0 + timedelta(days=day)
    return CostRecord(
        endpoint="openai.costs",
        bucket_start=start,
        bucket_end=start + timedelta(days=1),
        amount=Decimal(amount),
        currency="USD",
        project_id=project,
        line_item=line_item,
    )


def _write(account, usage=(), costs=()):
    with transaction.atomic():
        ingest.write_usage(account, "openai.completions", T0, END, list(usage), PriceBook())
        ingest.write_costs(account, "openai.costs", T0, END, list(costs))
        ingest.refresh_rollup(account, T0, END)


@pytest.fixture
def account():
    account = _account()
    # gpt-5.4-mini: $0.75 input, $0.075 cached, $4.5 output per million tokens.
    _write(
        account,
        usage=[
            # day 0: 0.75 + 0.45 + 0.03 = 1.23 estimated, spread over two hours
            _usage(0, 0, uncached=600_000, output=100_000),
            _usage(0, 5, uncached=400_000, cached=400_000),
            _usage(0, 6, model="brand-new-model", uncached=300, output=200),  # unpriced
            _usage(1, 3, uncached=2_000_000),  # day 1: 1.50 estimated
            _usage(2, 9, output=1_000_000),  # day 2: 4.50 estimated, not billed yet
        ],
        costs=[
            _cost(0, "1.00"),
            _cost(0, "0.29", "gpt-5.4-mini, output", project="proj_b"),  # 1.29 billed
            _cost(1, "1.35"),  # 1.35 billed
            _cost(3, "0.40", "web search"),  # day 3: billed, no usage
        ],
    )
    return account


def test_differences_and_percentages_are_hand_computed_decimals(account):
    rows = reconciliation(date(2026, 3, 2), date(2026, 3, 3))

    assert [(r.day, r.status) for r in rows] == [
        (date(2026, 3, 2), COMPARED),
        (date(2026, 3, 3), COMPARED),
    ]
    first, second = rows
    assert (first.billed, first.estimated) == (Decimal("1.29"), Decimal("1.23"))
    assert first.difference == Decimal("0.06")
    assert first.difference_pct == Decimal("4.88")  # 0.06 / 1.23 = 4.878 %
    assert first.unpriced_tokens == 500
    assert first.tokens == 1_000_000 + 100_000 + 400_000 + 500
    assert (second.billed, second.estimated) == (Decimal("1.35"), Decimal("1.5"))
    assert second.difference == Decimal("-0.15")
    assert second.difference_pct == Decimal("-10.00")
    assert second.unpriced_tokens == 0
    assert (first.account, first.provider, first.account_id) == (
        "acme openai",
        "openai",
        account.pk,
    )
    assert all(isinstance(r.billed, Decimal) for r in rows)


def test_a_day_with_usage_but_no_bill_yet_is_pending_not_a_full_gap(account):
    (row,) = reconciliation(date(2026, 3, 4), date(2026, 3, 4))
    assert row.status == PENDING and row.pending
    assert row.billed is None
    assert row.estimated == Decimal("4.5")
    assert row.difference is None and row.difference_pct is None


def test_a_day_billed_without_usage_is_billed_only(account):
    (row,) = reconciliation(date(2026, 3, 5), date(2026, 3, 5))
    assert (row.status, row.billed, row.estimated) == (BILLED_ONLY, Decimal("0.4"), None)
    assert row.difference is None


def test_the_account_filter_and_ordering(account):
    other = _account("second openai")
    _write(other, usage=[_usage(0, uncached=1_000_000)], costs=[_cost(0, "0.75")])

    both = reconciliation(date(2026, 3, 2), date(2026, 3, 2))
    assert [r.account for r in both] == ["acme openai", "second openai"]
    assert both[1].difference == Decimal(0) and both[1].difference_pct == Decimal("0.00")

    only = reconciliation(date(2026, 3, 2), date(2026, 3, 6), account=other)
    assert [(r.account, r.day) for r in only] == [("second openai", date(2026, 3, 2))]
    assert [r.day for r in reconciliation(date(2026, 3, 2), date(2026, 3, 6), account.pk)] == [
        date(2026, 3, 2),
        date(2026, 3, 3),
        date(2026, 3, 4),
        date(2026, 3, 5),
    ]


def test_an_entirely_unpriced_day_has_no_percentage():
    account = _account("new models")
    _write(account, usage=[_usage(0, model="brand-new-model", uncached=1000)],
           costs=[_cost(0, "0.02", "brand-new-model, input")])  # fmt: skip
    (row,) = reconciliation(date(2026, 3, 2), date(2026, 3, 2))
    assert (row.status, row.estimated, row.difference) == (COMPARED, None, Decimal("0.02"))
    assert row.difference_pct is None
    assert row.unpriced_tokens == 1000
