"""Every documented provider example parses to exactly what expected_parse.json says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from spendapp.providers.connectors import AnthropicConnector, OpenAIConnector
from spendapp.providers.records import CostRecord, Page, UsageRecord

from .conftest import ANTHROPIC_KEY, EXAMPLES, OPENAI_KEY, Reply, expected, load_example


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def money(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def openai() -> OpenAIConnector:
    return OpenAIConnector("", OPENAI_KEY)


@pytest.fixture
def anthropic() -> AnthropicConnector:
    return AnthropicConnector("", ANTHROPIC_KEY)


def wrap_openai_result(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1730419200,
                "end_time": 1730505600,
                "results": [result],
            }
        ],
        "has_more": False,
        "next_page": None,
    }


def check(expect: dict[str, Any], getters: dict[str, Any]) -> None:
    """Every key of the expectation must have a getter, and every getter must agree."""
    missing = sorted(set(expect) - set(getters))
    assert not missing, f"expected_parse.json keys not checked: {missing}"
    for key, want in expect.items():
        got = getters[key]
        assert got == want, f"{key}: got {got!r}, expected {want!r}"


def test_examples_folder_is_there():
    assert (EXAMPLES / "openai" / "expected_parse.json").is_file()
    assert (EXAMPLES / "anthropic" / "expected_parse.json").is_file()


def test_openai_usage_completions_page(openai):
    name = "usage_completions_example_response.json"
    page = openai.parse_page(openai.endpoint("openai.completions"), load_example("openai", name))
    (rec,) = page.records
    assert isinstance(rec, UsageRecord)
    expect = expected("openai")[name]
    check(
        expect,
        {
            "bucket_start_unix": int(rec.bucket_start.timestamp()),
            "bucket_start_utc": rec.bucket_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bucket_end_utc": rec.bucket_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "input_tokens": rec.input_tokens,
            "input_cached_tokens": rec.input_cached_tokens,
            "output_tokens": rec.output_tokens,
            "num_model_requests": rec.requests,
            "model": rec.model or None,
            "has_more": page.has_more,
            "next_page": page.next_page,
        },
    )
    assert rec.bucket_start.tzinfo is not None and rec.bucket_start.utcoffset() == timedelta(0)
    assert rec.bucket_start == utc(expect["bucket_start_utc"])
    # The split adds up: 500 uncached + 400 cached + 100 cache write = 1000.
    assert (rec.input_uncached_tokens, rec.cache_write_tokens) == (500, 100)
    assert (rec.input_audio_tokens, rec.output_audio_tokens) == (50, 50)
    assert rec.model == "" and rec.project_id == "" and rec.batch == ""
    assert rec.extra["input_text_tokens"] == 400
    assert rec.endpoint == "openai.completions"


def test_openai_usage_completions_result_object(openai):
    name = "usage_completions_result_object_example.json"
    body = wrap_openai_result(load_example("openai", name))
    (rec,) = openai.parse_page(openai.endpoint("openai.completions"), body).records
    check(
        expected("openai")[name],
        {
            "model": rec.model,
            "input_tokens": rec.input_tokens,
            "input_cached_tokens": rec.input_cached_tokens,
            "output_tokens": rec.output_tokens,
            "num_model_requests": rec.requests,
            "batch": {"true": True, "false": False, "": None}[rec.batch],
            "service_tier": rec.service_tier,
            "project_id": rec.project_id,
        },
    )
    assert rec.batch == "false"
    assert (rec.input_uncached_tokens, rec.cache_write_tokens) == (3000, 200)
    assert (rec.api_key_id, rec.user_id) == ("key_abc", "user-abc")


def test_openai_costs_page(openai):
    name = "costs_example_response.json"
    page = openai.parse_page(openai.endpoint("openai.costs"), load_example("openai", name))
    (rec,) = page.records
    assert isinstance(rec, CostRecord)
    check(
        expected("openai")[name],
        {
            "bucket_start_utc": rec.bucket_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "amount_usd": expected("openai")[name]["amount_usd"],  # checked exactly below
            "amount_unit": expected("openai")[name]["amount_unit"],  # documentation only
            "currency": rec.currency.lower(),
            "line_item": rec.line_item or None,
            "has_more": page.has_more,
            "next_page": page.next_page,
        },
    )
    # Exact Decimal equality: a x100 error either way (6 or 0.0006) fails here.
    assert isinstance(rec.amount, Decimal)
    assert rec.amount == money(expected("openai")[name]["amount_usd"]) == Decimal("0.06")
    assert rec.currency == "USD"  # upper-cased as records require
    assert (rec.model, rec.token_type, rec.quantity, rec.quantity_unit) == ("", "", None, "")


def test_openai_costs_result_object(openai):
    name = "costs_result_object_example.json"
    body = wrap_openai_result(load_example("openai", name))
    (rec,) = openai.parse_page(openai.endpoint("openai.costs"), body).records
    expect = expected("openai")[name]
    check(
        expect,
        {
            "amount_usd": expect["amount_usd"],  # checked exactly below
            "line_item": rec.line_item,
            "project_id": rec.project_id,
            "quantity": rec.quantity,
            "quantity_unit": rec.quantity_unit,
        },
    )
    assert rec.amount == money(expect["amount_usd"])
    assert rec.quantity == Decimal(10000) and isinstance(rec.quantity, Decimal)
    assert rec.token_type == "input" and rec.model == ""


def test_anthropic_usage_report(anthropic):
    name = "usage_report_messages_example_response.json"
    page = anthropic.parse_page(
        anthropic.endpoint("anthropic.messages"), load_example("anthropic", name)
    )
    (rec,) = page.records
    check(
        expected("anthropic")[name],
        {
            "bucket_start_utc": rec.bucket_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bucket_end_utc": rec.bucket_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model": rec.model,
            "uncached_input_tokens": rec.input_uncached_tokens,
            "cache_read_input_tokens": rec.input_cached_tokens,
            "cache_creation_5m_input_tokens": rec.cache_write_tokens,
            "cache_creation_1h_input_tokens": rec.cache_write_1h_tokens,
            "total_input_tokens_all_kinds": rec.input_tokens,
            "output_tokens": rec.output_tokens,
            "web_search_requests": rec.extra["web_search_requests"],
            "has_more": page.has_more,
            "next_page_token": page.next_page,
        },
    )
    assert rec.bucket_start == datetime(2025, 8, 1, tzinfo=UTC)
    assert rec.requests == 0
    assert rec.project_id == "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
    assert rec.api_key_id == "apikey_01Rj2N8SVvo6BePZj99NhmiT"
    assert (rec.service_tier, rec.context_window) == ("standard", "0-200k")


def test_anthropic_cost_report(anthropic):
    name = "cost_report_example_response.json"
    body = load_example("anthropic", name)
    page = anthropic.parse_page(anthropic.endpoint("anthropic.cost_report"), body)
    (rec,) = page.records
    expect = expected("anthropic")[name]
    raw_tt = body["data"][0]["results"][0]["token_type"]
    check(
        expect,
        {
            "bucket_start_utc": rec.bucket_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "amount_raw": body["data"][0]["results"][0]["amount"],
            "amount_unit": expect["amount_unit"],  # documentation only
            "amount_usd": expect["amount_usd"],  # checked exactly below
            "currency": rec.currency,
            "token_type": raw_tt if rec.token_type == "input" else rec.token_type,
            "model": rec.model,
        },
    )
    # 123.78912 cents = $1.2378912 exactly; $123.78912 or $0.012378912 would fail.
    assert isinstance(rec.amount, Decimal)
    assert rec.amount == money(expect["amount_usd"])
    assert rec.amount * 100 == Decimal(expect["amount_raw"])
    assert rec.token_type == "input"
    assert rec.line_item == "Claude Sonnet 4 Usage - Input Tokens"
    assert (rec.service_tier, rec.context_window, rec.cost_type) == ("standard", "0-200k", "tokens")
    assert rec.project_id == "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"


@pytest.mark.parametrize(
    ("provider", "name", "endpoint"),
    [
        ("openai", "usage_completions_example_response.json", "openai.completions"),
        ("openai", "costs_example_response.json", "openai.costs"),
        ("anthropic", "usage_report_messages_example_response.json", "anthropic.messages"),
        ("anthropic", "cost_report_example_response.json", "anthropic.cost_report"),
    ],
)
def test_examples_over_http(server, client, provider, name, endpoint):
    """The same examples served over HTTP: fetch_pages follows their cursor verbatim."""
    raw = (EXAMPLES / provider / name).read_text()
    body = load_example(provider, name)
    last: dict[str, Any] = {"data": [], "has_more": False, "next_page": None}
    if provider == "openai":
        last["object"] = "page"
    server.add(Reply(200, raw), Reply(200, last))
    cls, key = (
        (OpenAIConnector, OPENAI_KEY)
        if provider == "openai"
        else (AnthropicConnector, ANTHROPIC_KEY)
    )
    conn = cls(server.base_url, key, client=client)
    start = datetime(2024, 11, 1, tzinfo=UTC)
    pages: list[Page] = list(conn.fetch_pages(endpoint, start, start + timedelta(days=1)))
    assert len(pages) == (2 if body["has_more"] else 1)
    assert len(pages[0].records) == 1
    if body["has_more"]:
        assert server.requests[1].param("page") == body["next_page"]
    assert server.requests[0].param("page") is None
