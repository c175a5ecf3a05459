"""The explorer's usage-only groupings (issue #15): service tier, OpenAI API source, Anthropic
inference geo, speed and service account, read from `DailyUsageDetail`, which ingestion keeps
from the raw usage; spend there is the calibrated estimate (nothing is billed at that grain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from spendapp.providers.records import UsageRecord
from spendapp.usage import ingest
from spendapp.usage.models import DailyUsageDetail
from spendapp.usage.pricing import PriceBook
from spendapp.usage.queries import QueryError, SpendQuery, dimension_values, spend_rows
from tests.dashboard.conftest import TODAY

M = 1_000_000
DAY = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=1)


def _usage(hour: int, **dims) -> UsageRecord:
    return UsageRecord(
        endpoint="anthropic.messages",
        bucket_start=DAY + timedelta(hours=hour),
        bucket_end=DAY + timedelta(hours=hour + 1),
        model="claude-opus-4-6",
        project_id="wrkspc_research",
        input_uncached_tokens=M,
        output_tokens=M // 10,
        **dims,
    )


@pytest.fixture
def detail(frozen_now, accounts):
    account = accounts["anthropic"]
    records = [
        _usage(1, speed="fast", inference_geo="global"),
        _usage(2, speed="fast", inference_geo="global"),
        _usage(3, speed="standard", inference_geo="us", service_account_id="svac_ci"),
        _usage(3, speed="standard", inference_geo="global", service_tier="priority"),
    ]
    end = DAY + timedelta(days=1)
    with transaction.atomic():
        ingest.write_usage(account, "anthropic.messages", DAY, end, records, PriceBook())
        ingest.refresh_rollup(account, DAY, end)
    return account


def _query(**kw) -> SpendQuery:
    return SpendQuery(TODAY - timedelta(days=3), TODAY, **kw)


def test_the_detail_holds_each_combination_once_per_day(detail):
    assert DailyUsageDetail.objects.count() == 3  # the two fast hours are one row
    fast = DailyUsageDetail.objects.get(speed="fast")
    assert (fast.input_uncached_tokens, fast.output_tokens) == (2 * M, 2 * M // 10)


def test_spend_by_speed_is_the_estimate_at_each_speeds_price(detail):
    rows = {r["speed"]: r for r in spend_rows(_query(by=("speed",)))}
    assert set(rows) == {"fast", "standard"}
    # Opus 4.6: $5 / $25 per Mtok; fast mode 6x; US-only 1.1x.
    assert Decimal(rows["fast"]["estimated_cost"]) == 2 * (30 + Decimal("0.1") * 150)
    assert Decimal(rows["standard"]["estimated_cost"]) == (5 + Decimal("2.5")) * Decimal("2.1")
    assert rows["fast"]["billed_cost"] is None  # no bill at this grain
    assert rows["fast"]["spend"] == rows["fast"]["calibrated_cost"]


def test_a_filter_on_a_detail_dimension_narrows_the_other_groupings(detail):
    (row,) = spend_rows(_query(by=("service_account",), filters={"inference_geo": ("us",)}))
    assert row["service_account"] == "svac_ci" and row["input_tokens"] == M
    tiers = {r["service_tier"] for r in spend_rows(_query(by=("service_tier",)))}
    assert tiers == {"priority", None}  # "" (not reported) reads as None, as elsewhere


def test_the_whole_detail_adds_up_to_the_rollups_usage(detail):
    (by_detail,) = spend_rows(_query(by=("provider",), filters={"speed": ("fast", "standard")}))
    (by_rollup,) = spend_rows(_query(by=("provider",), filters={"provider": ("anthropic",)}))
    for field in ("input_tokens", "output_tokens", "estimated_cost"):
        assert by_detail[field] == by_rollup[field], field


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"by": ("speed", "api_key")}, "api_key cannot be combined"),
        ({"by": ("user",), "filters": {"inference_geo": ("us",)}}, "user cannot be combined"),
        ({"by": ("speed",), "granularity": "hour"}, "kept per day"),
    ],
)
def test_combinations_the_detail_cannot_answer_are_refused_by_name(kw, message):
    with pytest.raises(QueryError, match=message):
        _query(**kw)


def test_the_filter_choices_offer_the_detail_values(detail):
    values = dimension_values(_query())
    assert values["speed"] == ["fast", "standard"]
    assert values["inference_geo"] == ["global", "us"]
    assert values["service_account"] == ["svac_ci"]
    assert values["service_tier"] == ["priority"]


def test_the_explorer_groups_by_speed_and_filters_by_geo(finance_client, detail):
    response = finance_client.get(
        "/explorer/",
        {
            "from": str(TODAY - timedelta(days=3)),
            "to": str(TODAY),
            "by": "speed",
            "inference_geo": "global",
            "metric": "estimated",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Speed" in html and "Inference geo" in html
    assert {s.key for s in response.context["series"]} == {"fast", "standard"}


def test_the_explorer_names_a_combination_it_cannot_show(finance_client, detail):
    response = finance_client.get("/explorer/", {"by": "speed", "user": "(none)"})
    assert response.status_code == 400
    assert "cannot be combined" in response.content.decode()
