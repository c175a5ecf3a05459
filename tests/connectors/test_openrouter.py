"""OpenRouter: the documented examples parse exactly; a day is every key plus the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spendapp.providers.connectors import OpenRouterConnector
from spendapp.providers.errors import MalformedResponse, ProviderAuthError
from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.fake.openrouter import KEYS, LISTED_KEYS

from .conftest import Reply, load_example

KEY = "sk-or-v1-TESTmanagement0123456789SECRET"
YESTERDAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


@pytest.fixture
def scripted(server, client) -> OpenRouterConnector:
    return OpenRouterConnector(server.base_url + "/api/v1", KEY, client=client)


def test_the_documented_activity_example_parses_to_usage_and_a_cost_line():
    conn = OpenRouterConnector("", KEY)
    body = load_example("openrouter", "activity_example_response.json")
    [usage] = conn.parse_page(conn.endpoint("openrouter.activity"), body).records
    assert (usage.model, usage.api_key_id) == ("openai/gpt-4.1", "")
    assert usage.bucket_start == datetime(2025, 8, 24, tzinfo=UTC)
    assert usage.bucket_end == datetime(2025, 8, 25, tzinfo=UTC)
    assert (usage.input_uncached_tokens, usage.output_tokens, usage.requests) == (50, 125, 5)
    assert usage.extra == {"reasoning_tokens": 25, "byok_usage_inference": "0.012"}
    [cost] = conn.parse_page(conn.endpoint("openrouter.costs"), body).records
    assert cost.amount == Decimal("0.015") and isinstance(cost.amount, Decimal)
    assert (cost.currency, cost.line_item, cost.model) == (
        "USD",
        "openai/gpt-4.1 via OpenAI",
        "openai/gpt-4.1",
    )


def test_the_documented_credits_and_keys_examples_give_the_balance_and_key_names(server, scripted):
    server.add(Reply(body=load_example_text("credits_example_response.json")))
    [balance] = scripted.balances()
    assert (balance.amount, balance.currency) == (Decimal("74.75"), "USD")
    assert (balance.total_credits, balance.total_usage) == (Decimal("100.5"), Decimal("25.75"))
    server.add(Reply(body=load_example_text("keys_example_response.json")))
    [key] = scripted.names()
    assert key.kind == "api_key" and key.name == "My Production Key"
    assert key.id.startswith("f01d5260")
    assert server.requests[-1].param("include_disabled") == "true"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def load_example_text(name: str) -> str:
    from .conftest import EXAMPLES

    return (EXAMPLES / "openrouter" / name).read_text()


def test_an_item_without_usage_is_malformed_and_names_the_field():
    conn = OpenRouterConnector("", KEY)
    body = load_example("openrouter", "activity_example_response.json")
    del body["data"][0]["usage"]
    with pytest.raises(MalformedResponse, match=r"data\[0\]\.usage"):
        conn.parse_page(conn.endpoint("openrouter.costs"), body)


def test_keys_adding_up_to_more_than_the_day_is_refused(server, scripted):
    day = YESTERDAY.date().isoformat()
    item = {"date": day, "model": "m", "provider_name": "P", "usage": 1, "requests": 1}
    server.add(
        Reply(body={"data": [{"hash": "h1", "name": "a"}]}),
        Reply(body={"data": [{**item, "usage": 2}]}),  # key h1
        Reply(body={"data": [item]}),  # the whole day
    )
    with pytest.raises(MalformedResponse, match="exceeds the day's total"):
        list(scripted.fetch_pages("openrouter.costs", YESTERDAY, YESTERDAY + timedelta(days=1)))


def test_today_is_not_asked_for_it_is_not_complete(server, scripted):
    today = YESTERDAY + timedelta(days=1)
    assert list(scripted.fetch_pages("openrouter.activity", today, today + timedelta(days=1))) == []
    assert server.requests == []


def test_a_rejected_management_key_is_an_auth_error(server, scripted):
    server.add(Reply(401, {"error": {"code": 401, "message": "User not found."}}))
    with pytest.raises(ProviderAuthError, match="User not found"):
        scripted.balances()


def test_against_the_fake_a_day_is_every_key_plus_the_deleted_keys_rest():
    with FakeProviderServer(seed=5, days=10) as fake:
        conn = OpenRouterConnector(fake.base_url("openrouter"), fake.extra["openrouter"].key)
        end = YESTERDAY + timedelta(days=1)
        usage = [
            r for p in conn.fetch_pages("openrouter.activity", YESTERDAY, end) for r in p.records
        ]
        costs = [r for p in conn.fetch_pages("openrouter.costs", YESTERDAY, end) for r in p.records]
        truth = [
            r
            for r in fake.truth()
            if r["provider"] == "openrouter" and r["date"] == YESTERDAY.date().isoformat()
        ]
        assert sum(r.amount for r in costs) == sum(Decimal(t["billed_cost"]) for t in truth)
        assert sum(r.input_uncached_tokens for r in usage) == sum(t["input_tokens"] for t in truth)
        assert sum(r.requests for r in usage) == sum(t["requests"] for t in truth)
        keys = {r.api_key_id for r in usage}
        assert len(keys - {""}) == LISTED_KEYS and "" in keys  # the deleted key's rest
        assert len(KEYS) - 1 == LISTED_KEYS
        assert fake.request_log["openrouter.activity"] == 2 * (LISTED_KEYS + 1)


def test_the_fake_refuses_days_outside_the_last_30_completed_ones():
    with FakeProviderServer(seed=5, days=60) as fake:
        conn = OpenRouterConnector(fake.base_url("openrouter"), fake.extra["openrouter"].key)
        spec = conn.endpoint("openrouter.activity")
        assert spec.history_days == 30
        old = YESTERDAY - timedelta(days=40)
        with pytest.raises(Exception, match="last 30"):
            list(conn.fetch_pages(spec, old, old + timedelta(days=1)))
