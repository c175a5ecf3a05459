"""Parsing rules field by field: required fields, types, arithmetic, money, dimensions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal, localcontext

import pytest

from spendapp.providers.connectors import (
    CONNECTORS,
    AnthropicConnector,
    DeepSeekConnector,
    OpenAIConnector,
    OpenRouterConnector,
    get_connector,
)
from spendapp.providers.connectors.openai import parse_line_item
from spendapp.providers.errors import MalformedResponse
from spendapp.providers.records import DEFAULT_WORKSPACE_ID

from .conftest import ANTHROPIC_KEY, OPENAI_KEY

T0 = 1772409600  # 2026-03-02T00:00:00Z


@pytest.fixture
def openai():
    return OpenAIConnector("", OPENAI_KEY, usage_kinds=["completions", "embeddings", "images"])


@pytest.fixture
def anthropic():
    return AnthropicConnector("", ANTHROPIC_KEY)


def oa(results_per_bucket):
    return {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": T0 + i * 3600,
                "end_time": T0 + (i + 1) * 3600,
                "results": results,
            }
            for i, results in enumerate(results_per_bucket)
        ],
        "has_more": False,
        "next_page": None,
    }


def comp(**kw):
    return {"input_tokens": 100, "output_tokens": 20, "num_model_requests": 2} | kw


def parse_oa(conn, body, endpoint="openai.completions"):
    return conn.parse_page(conn.endpoint(endpoint), body)


# -- OpenAI usage ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "num_model_requests"])
def test_missing_required_measure_names_the_path(openai, field):
    bad = comp()
    del bad[field]
    body = oa([[comp()], [], [bad, comp()]])
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, body)
    assert info.value.field == f"data[2].results[0].{field}"
    assert f"data[2].results[0].{field}" in str(info.value)


@pytest.mark.parametrize("value", ["12", 1.5, True, None, [], -3])
def test_wrong_type_of_required_measure(openai, value):
    body = oa([[comp(output_tokens=value)]])
    if isinstance(value, float):
        body = oa([[comp(output_tokens=Decimal("1.5"))]])  # as parse_float=Decimal gives it
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, body)
    assert info.value.field == "data[0].results[0].output_tokens"


def test_integral_decimal_is_accepted_as_an_integer(openai):
    (rec,) = parse_oa(openai, oa([[comp(output_tokens=Decimal("20.0"))]])).records
    assert rec.output_tokens == 20 and isinstance(rec.output_tokens, int)


@pytest.mark.parametrize(
    ("missing", "field"),
    [("object", "object"), ("data", "data"), ("has_more", "has_more"), ("next_page", "next_page")],
)
def test_missing_page_fields(openai, missing, field):
    body = oa([[comp()]])
    del body[missing]
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, body)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("key", "value"),
    [("start_time", None), ("end_time", "2026-03-02"), ("results", {}), ("results", None)],
)
def test_bad_bucket_fields(openai, key, value):
    body = oa([[comp()], [comp()]])
    body["data"][1][key] = value
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, body)
    assert info.value.field == f"data[1].{key}"


def test_page_wrong_types(openai):
    for key, value in [("has_more", "false"), ("data", {}), ("next_page", 5)]:
        body = oa([])
        body[key] = value
        with pytest.raises(MalformedResponse):
            parse_oa(openai, body)
    with pytest.raises(MalformedResponse):
        parse_oa(openai, ["not", "a", "page"])


def test_minimal_result_defaults(openai):
    (rec,) = parse_oa(openai, oa([[comp()]])).records
    assert rec.input_uncached_tokens == 100  # no cache fields: all input is uncached
    assert (rec.input_cached_tokens, rec.cache_write_tokens, rec.cache_write_1h_tokens) == (0, 0, 0)
    assert rec.dimensions() == ("", "", "", "", "", "", "", "", "", "", "")
    assert rec.extra == {}
    assert rec.bucket_start == datetime(2026, 3, 2, tzinfo=UTC)
    assert rec.bucket_end == datetime(2026, 3, 2, 1, tzinfo=UTC)


def test_uncached_derived_from_total(openai):
    r = comp(input_tokens=1000, input_cached_tokens=300, input_cache_write_tokens=200)
    (rec,) = parse_oa(openai, oa([[r]])).records
    assert (rec.input_uncached_tokens, rec.input_cached_tokens, rec.cache_write_tokens) == (
        500,
        300,
        200,
    )
    assert rec.input_tokens == 1000


def test_negative_uncached_is_malformed(openai):
    r = comp(input_tokens=100, input_cached_tokens=90, input_cache_write_tokens=20)
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, oa([[comp(), r]]))
    assert info.value.field == "data[0].results[1].input_tokens"


def test_uncached_field_that_does_not_add_up_is_malformed(openai):
    r = comp(input_tokens=100, input_cached_tokens=10, input_uncached_tokens=80)
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, oa([[r]]))
    assert info.value.field == "data[0].results[0].input_uncached_tokens"


def test_unknown_fields_are_ignored_and_dimensions_read(openai):
    r = comp(
        some_new_measure=5,
        surprise={"a": 1},
        batch=True,
        service_tier="flex",
        model="gpt-5.5",
        project_id="proj_1",
        api_key_id="key_1",
        user_id="user-1",
        input_audio_tokens=7,
        output_audio_tokens=3,
        output_image_tokens=4,
    )
    body = oa([[r]])
    body["brand_new_page_field"] = [1, 2]
    body["data"][0]["bucket_extra"] = "x"
    (rec,) = parse_oa(openai, body).records
    assert rec.dimensions() == (
        *("gpt-5.5", "proj_1", "key_1", "user-1", "flex", "true", ""),
        *("", "", "", ""),
    )
    assert (rec.input_audio_tokens, rec.output_audio_tokens) == (7, 3)
    assert rec.extra == {"output_image_tokens": 4}


def test_dimension_of_wrong_type_is_malformed(openai):
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, oa([[comp(model={"id": "x"})]]))
    assert info.value.field == "data[0].results[0].model"


def test_embeddings_required_fields(openai):
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, oa([[{"input_tokens": 5}]]), "openai.embeddings")
    assert info.value.field == "data[0].results[0].num_model_requests"


def test_images_measures_go_to_extra(openai):
    r = {"images": 3, "num_model_requests": 3, "model": "gpt-image-1", "size": "1024x1024"}
    (rec,) = parse_oa(openai, oa([[r]]), "openai.images").records
    assert rec.extra == {"images": 3} and rec.requests == 3 and rec.input_tokens == 0


def test_unknown_usage_kind_is_refused():
    with pytest.raises(ValueError):
        OpenAIConnector("", OPENAI_KEY, usage_kinds=["telepathy"])


# -- OpenAI costs ------------------------------------------------------------------------------


def cost(**kw):
    return {
        "object": "organization.costs.result",
        "amount": {"value": Decimal("0.13080438"), "currency": "usd"},
    } | kw


def test_cost_amount_is_dollars_as_decimal(openai):
    (rec,) = parse_oa(openai, oa([[cost(quantity=Decimal("118340.5"))]]), "openai.costs").records
    assert rec.amount == Decimal("0.13080438") and rec.currency == "USD"
    assert rec.quantity == Decimal("118340.5")
    assert rec.endpoint == "openai.costs"


def test_cost_integer_amount_and_missing_currency(openai):
    body = oa([[cost(amount={"value": 3, "currency": "eur"}), cost(amount={"value": 1})]])
    a, b = parse_oa(openai, body, "openai.costs").records
    assert (a.amount, a.currency) == (Decimal(3), "EUR")
    assert (b.amount, b.currency, b.quantity) == (Decimal(1), "USD", None)


@pytest.mark.parametrize(
    ("result", "field"),
    [
        ({"object": "organization.costs.result"}, "amount"),
        (cost(amount=None), "amount"),
        (cost(amount={"currency": "usd"}), "amount.value"),
        (cost(amount={"value": None, "currency": "usd"}), "amount.value"),
        (cost(amount="0.5"), "amount"),
    ],
)
def test_cost_without_amount_is_malformed(openai, result, field):
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, oa([[cost(), result]]), "openai.costs")
    assert info.value.field == f"data[0].results[1].{field}"


def test_anthropic_cost_without_amount_is_malformed(anthropic):
    with pytest.raises(MalformedResponse) as info:
        parse_an(anthropic, an([{"amount": None, "currency": "USD"}]), "anthropic.cost_report")
    assert info.value.field == "data[0].results[0].amount"


@pytest.mark.parametrize("value", ["abc", True, [1]])
def test_cost_bad_amount(openai, value):
    with pytest.raises(MalformedResponse) as info:
        parse_oa(openai, oa([[cost(amount={"value": value, "currency": "usd"})]]), "openai.costs")
    assert info.value.field == "data[0].results[0].amount.value"


@pytest.mark.parametrize(
    ("line_item", "model", "token_type"),
    [
        ("gpt-5.5, input", "gpt-5.5", "input"),
        ("gpt-5.5, cached input", "gpt-5.5", "cached_input"),
        ("gpt-5.5, cache write", "gpt-5.5", "cache_write"),
        ("gpt-5.5, output", "gpt-5.5", "output"),
        ("gpt-4o-2024-08-06, Output", "gpt-4o-2024-08-06", "output"),
        ("gpt-5.5, audio input", "", ""),
        ("Web search tool calls", "", ""),
        ("input_tokens", "", "input"),
        (", input", "", ""),
        ("", "", ""),
    ],
)
def test_line_item_parsing(line_item, model, token_type):
    assert parse_line_item(line_item) == (model, token_type)


def test_unknown_line_item_is_kept_verbatim(openai):
    body = oa([[cost(line_item="Fine-tuning training, gpt-4o", project_id="proj_x")]])
    (rec,) = parse_oa(openai, body, "openai.costs").records
    assert rec.line_item == "Fine-tuning training, gpt-4o"
    assert (rec.model, rec.token_type, rec.project_id) == ("", "", "proj_x")


# -- Anthropic ---------------------------------------------------------------------------------


def an(results, *, cost=False):
    return {
        "data": [
            {
                "starting_at": "2026-03-02T00:00:00Z",
                "ending_at": "2026-03-03T00:00:00Z",
                "results": results,
            }
        ],
        "has_more": False,
        "next_page": None,
    }


def parse_an(conn, body, endpoint="anthropic.messages"):
    return conn.parse_page(conn.endpoint(endpoint), body)


def test_anthropic_nulls_and_default_workspace(anthropic):
    r = {
        "uncached_input_tokens": 5,
        "cache_creation": None,
        "server_tool_use": None,
        "workspace_id": None,
        "api_key_id": None,
        "model": "claude-x",
    }
    (rec,) = parse_an(anthropic, an([r])).records
    assert rec.project_id == DEFAULT_WORKSPACE_ID
    assert (rec.api_key_id, rec.cache_write_tokens, rec.cache_write_1h_tokens) == ("", 0, 0)
    assert rec.extra == {} and rec.requests == 0 and rec.input_tokens == 5


def test_anthropic_bad_nested_field_names_the_path(anthropic):
    r = {"cache_creation": {"ephemeral_5m_input_tokens": "lots"}}
    with pytest.raises(MalformedResponse) as info:
        parse_an(anthropic, an([{}, r]))
    assert info.value.field == "data[0].results[1].cache_creation.ephemeral_5m_input_tokens"


@pytest.mark.parametrize(
    ("value", "field"),
    [("2026-03-02", None), ("2026-03-02T00:00:00", None), (1772409600, None), ("garbage", None)],
)
def test_anthropic_bad_times(anthropic, value, field):
    body = an([])
    body["data"][0]["starting_at"] = value
    with pytest.raises(MalformedResponse) as info:
        parse_an(anthropic, body)
    assert info.value.field == "data[0].starting_at"


def test_anthropic_time_with_offset_and_fraction(anthropic):
    body = an([{}])
    body["data"][0]["starting_at"] = "2026-03-02T01:00:00.000+01:00"
    (rec,) = parse_an(anthropic, body).records
    assert rec.bucket_start == datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "usd"),
    [
        ("123.78912", Decimal("1.2378912")),
        ("45.702", Decimal("0.45702")),
        ("3", Decimal("0.03")),
        ("0", Decimal("0")),
        ("100", Decimal("1")),
        (
            "12345678901234567890123456789.123456789",
            Decimal("123456789012345678901234567.89123456789"),
        ),
        (Decimal("123.45"), Decimal("1.2345")),  # a JSON number, if they ever send one
    ],
)
def test_anthropic_cents_to_dollars_exact(anthropic, amount, usd):
    r = {
        "amount": amount,
        "currency": "usd",
        "workspace_id": None,
        "description": "Web Search Usage",
        "cost_type": "web_search",
        "token_type": None,
    }
    (rec,) = parse_an(anthropic, an([r]), "anthropic.cost_report").records
    assert rec.amount == usd
    with localcontext() as ctx:
        ctx.prec = 60
        assert rec.amount * 100 == Decimal(amount)
    assert rec.currency == "USD" and rec.project_id == DEFAULT_WORKSPACE_ID
    assert (rec.line_item, rec.cost_type, rec.token_type, rec.model) == (
        "Web Search Usage",
        "web_search",
        "",
        "",
    )


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "12,5", True, ["1"]])
def test_anthropic_bad_amount(anthropic, amount):
    with pytest.raises(MalformedResponse) as info:
        parse_an(anthropic, an([{"amount": amount}]), "anthropic.cost_report")
    assert info.value.field == "data[0].results[0].amount"


@pytest.mark.parametrize(
    ("raw", "token_type"),
    [
        ("uncached_input_tokens", "input"),
        ("cache_read_input_tokens", "cached_input"),
        ("cache_creation.ephemeral_5m_input_tokens", "cache_write"),
        ("cache_creation.ephemeral_1h_input_tokens", "cache_write_1h"),
        ("output_tokens", "output"),
        ("thinking_tokens", ""),
        (None, ""),
    ],
)
def test_anthropic_token_types(anthropic, raw, token_type):
    r = {"amount": "1", "token_type": raw, "workspace_id": "wrkspc_1"}
    (rec,) = parse_an(anthropic, an([r]), "anthropic.cost_report").records
    assert rec.token_type == token_type
    assert rec.project_id == "wrkspc_1"


def test_anthropic_documented_section_examples(anthropic):
    usage = an(
        [
            {
                "uncached_input_tokens": 152340,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 20480,
                    "ephemeral_1h_input_tokens": 0,
                },
                "cache_read_input_tokens": 98304,
                "output_tokens": 41877,
                "server_tool_use": {"web_search_requests": 3},
                "model": "claude-sonnet-4-20250514",
                "workspace_id": "wrkspc_01",
                "api_key_id": None,
                "service_tier": None,
                "context_window": None,
            },
            {
                "uncached_input_tokens": 5120,
                "output_tokens": 880,
                "model": "claude-3-5-haiku",
                "workspace_id": None,
            },
        ]
    )
    a, b = parse_an(anthropic, usage).records
    assert a.input_tokens == 152340 + 20480 + 98304 and a.extra == {"web_search_requests": 3}
    assert b.project_id == DEFAULT_WORKSPACE_ID and b.input_tokens == 5120
    body = copy.deepcopy(usage)
    body["data"][0]["results"] = []
    assert parse_an(anthropic, body).records == []


# -- registry ----------------------------------------------------------------------------------


def test_registry():
    assert CONNECTORS["openai"] is OpenAIConnector
    assert CONNECTORS["anthropic"] is AnthropicConnector
    assert all(cls.provider == name for name, cls in CONNECTORS.items())
    assert CONNECTORS["openrouter"] is OpenRouterConnector
    assert CONNECTORS["deepseek"] is DeepSeekConnector
    conn = get_connector("anthropic", "", ANTHROPIC_KEY)
    assert isinstance(conn, AnthropicConnector)
    assert conn.base_url == "https://api.anthropic.com/v1"
    assert get_connector("openai", "", OPENAI_KEY).base_url == "https://api.openai.com/v1"
    assert get_connector("openai", "http://h:1/v1/", OPENAI_KEY).base_url == "http://h:1/v1"
    with pytest.raises(ValueError, match="unknown provider"):
        get_connector("mistral", "", "sk-x")
    with pytest.raises(ValueError):
        get_connector("openai", "", "  ")
    with pytest.raises(ValueError):
        get_connector("openai", "ftp://x", OPENAI_KEY)
