"""Windows, query parameters and pagination of both connectors over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from spendapp.providers.connectors import AnthropicConnector, OpenAIConnector
from spendapp.providers.errors import MalformedResponse, ProviderRequestError
from spendapp.providers.records import DEFAULT_WORKSPACE_ID

from .conftest import ANTHROPIC_KEY, OPENAI_KEY, Reply

START = datetime(2026, 3, 2, tzinfo=UTC)
START_UNIX = int(START.timestamp())
HOUR = 3600


def oa_result(**kw):
    base = {
        "object": "organization.usage.completions.result",
        "input_tokens": 10,
        "output_tokens": 5,
        "num_model_requests": 1,
    }
    return base | kw


def oa_bucket(start, width=HOUR, results=()):
    return {
        "object": "bucket",
        "start_time": start,
        "end_time": start + width,
        "results": list(results),
    }


def oa_page(buckets, has_more=False, next_page=None):
    return {"object": "page", "data": buckets, "has_more": has_more, "next_page": next_page}


def an_bucket(start: datetime, width=timedelta(hours=1), results=()):
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "starting_at": start.strftime(fmt),
        "ending_at": (start + width).strftime(fmt),
        "results": list(results),
    }


def an_page(buckets, has_more=False, next_page=None):
    return {"data": buckets, "has_more": has_more, "next_page": next_page}


@pytest.fixture
def openai(server, client):
    return OpenAIConnector(server.base_url + "/v1", OPENAI_KEY, client=client)


@pytest.fixture
def anthropic(server, client):
    return AnthropicConnector(server.base_url, ANTHROPIC_KEY, client=client)


def test_openai_endpoints_and_windows(openai):
    specs = {s.name: s for s in openai.endpoints()}
    # Every usage kind is on by default (issue #15): an unused one answers empty buckets.
    assert set(specs) == {
        "openai.completions",
        "openai.embeddings",
        "openai.moderations",
        "openai.images",
        "openai.audio_speeches",
        "openai.audio_transcriptions",
        "openai.vector_stores",
        "openai.code_interpreter_sessions",
        "openai.file_search_calls",
        "openai.web_search_calls",
        "openai.costs",
    }
    comp = specs["openai.completions"]
    assert (comp.kind, comp.bucket_width, comp.max_window, comp.page_limit) == (
        "usage",
        "1h",
        timedelta(days=7),
        168,
    )
    costs = specs["openai.costs"]
    assert (costs.kind, costs.bucket_width, costs.max_window, costs.page_limit) == (
        "cost",
        "1d",
        timedelta(days=31),
        180,
    )


def test_anthropic_endpoints_and_windows(anthropic):
    specs = {s.name: s for s in anthropic.endpoints()}
    assert set(specs) == {"anthropic.messages", "anthropic.cost_report", "anthropic.claude_code"}
    assert specs["anthropic.messages"].max_window == timedelta(days=7)
    assert specs["anthropic.messages"].page_limit == 168
    assert (
        specs["anthropic.cost_report"].bucket_width,
        specs["anthropic.cost_report"].page_limit,
    ) == ("1d", 31)


def test_empty_page(server, openai):
    server.add(Reply(200, oa_page([])))
    pages = list(openai.fetch_pages("openai.completions", START, START + timedelta(hours=1)))
    assert len(pages) == 1 and pages[0].records == [] and not pages[0].has_more
    assert len(server.requests) == 1


def test_empty_buckets_are_accepted(server, openai):
    buckets = [oa_bucket(START_UNIX), oa_bucket(START_UNIX + HOUR, results=[oa_result()])]
    server.add(Reply(200, oa_page(buckets)))
    (page,) = openai.fetch_pages("openai.completions", START, START + timedelta(hours=2))
    assert len(page.records) == 1
    assert page.records[0].bucket_start == START + timedelta(hours=1)


def test_window_exactly_at_page_limit_is_one_request(server, openai):
    buckets = [oa_bucket(START_UNIX + i * HOUR, results=[oa_result(model="m")]) for i in range(168)]
    server.add(Reply(200, oa_page(buckets)))
    pages = list(openai.fetch_pages("openai.completions", START, START + timedelta(days=7)))
    assert len(pages) == 1 and len(pages[0].records) == 168
    (seen,) = server.requests
    assert seen.path == "/v1/organization/usage/completions"
    assert seen.param("start_time") == str(START_UNIX)
    assert seen.param("end_time") == str(START_UNIX + 7 * 24 * HOUR)
    assert seen.param("bucket_width") == "1h"
    assert seen.param("limit") == "168"
    assert seen.params("group_by") == [
        "project_id",
        "model",
        "api_key_id",
        "user_id",
        "batch",
        "service_tier",
        "api_source",
    ]
    assert seen.param("page") is None
    assert seen.headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_window_longer_than_max_is_refused(openai):
    with pytest.raises(ValueError, match="longer than"):
        list(openai.fetch_pages("openai.completions", START, START + timedelta(days=7, hours=1)))


@pytest.mark.parametrize(
    ("start", "end"),
    [(datetime(2026, 3, 2), datetime(2026, 3, 3)), (START, START), (START, START - timedelta(1))],
)
def test_bad_windows_are_refused(openai, start, end):
    with pytest.raises(ValueError):
        list(openai.fetch_pages("openai.completions", start, end))


def test_unknown_endpoint_is_refused(openai):
    with pytest.raises(ValueError, match="unknown endpoint"):
        list(openai.fetch_pages("openai.nope", START, START + timedelta(hours=1)))


def test_non_utc_window_is_converted(server, anthropic):
    server.add(Reply(200, an_page([])))
    plus2 = timezone(timedelta(hours=2))
    start = datetime(2026, 3, 2, 2, 0, tzinfo=plus2)
    list(anthropic.fetch_pages("anthropic.messages", start, start + timedelta(days=1)))
    assert server.requests[0].param("starting_at") == "2026-03-02T00:00:00Z"
    assert server.requests[0].param("ending_at") == "2026-03-03T00:00:00Z"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_many_pages_pass_cursor_back_verbatim(server, openai, anthropic, provider):
    conn = openai if provider == "openai" else anthropic
    n_pages = 25

    def cursor(n):
        return f"page_{n}+/=&?x= %é"  # must survive URL encoding unchanged

    def handler(seen):
        token = seen.param("page")
        n = 0 if token is None else int(token.split("_")[1].split("+")[0])
        more = n < n_pages - 1
        nxt = cursor(n + 1) if more else None
        if provider == "openai":
            return Reply(
                200, oa_page([oa_bucket(START_UNIX + n * HOUR, results=[oa_result()])], more, nxt)
            )
        return Reply(200, an_page([an_bucket(START + timedelta(hours=n), results=[{}])], more, nxt))

    server.handler = handler
    endpoint = conn.endpoints()[0]
    pages = list(conn.fetch_pages(endpoint, START, START + timedelta(days=2)))
    assert len(pages) == n_pages
    assert [len(p.records) for p in pages] == [1] * n_pages
    assert pages[-1].has_more is False and pages[-1].next_page is None
    first = [(k, v) for k, v in server.requests[0].query]
    for i, seen in enumerate(server.requests):
        assert [(k, v) for k, v in seen.query if k != "page"] == first
        assert seen.param("page") == (None if i == 0 else cursor(i))
        assert seen.path == server.requests[0].path


def test_has_more_without_cursor_is_malformed(server, openai):
    server.add(Reply(200, oa_page([], has_more=True, next_page=None)))
    with pytest.raises(MalformedResponse) as info:
        list(openai.fetch_pages("openai.completions", START, START + timedelta(hours=1)))
    assert info.value.field == "next_page"


def test_repeated_cursor_is_malformed_not_an_endless_loop(server, openai):
    server.handler = lambda seen: Reply(200, oa_page([], has_more=True, next_page="same"))
    with pytest.raises(MalformedResponse, match="twice"):
        list(openai.fetch_pages("openai.completions", START, START + timedelta(hours=1)))
    assert len(server.requests) == 2


def test_openai_costs_query(server, openai):
    server.add(Reply(200, oa_page([])))
    list(openai.fetch_pages("openai.costs", START, START + timedelta(days=31)))
    (seen,) = server.requests
    assert seen.path == "/v1/organization/costs"
    assert seen.param("bucket_width") == "1d"
    assert seen.param("limit") == "180"
    assert seen.params("group_by") == ["project_id", "line_item", "api_key_id"]


def test_openai_embeddings_query_and_parse(server, openai):
    result = {
        "object": "organization.usage.embeddings.result",
        "input_tokens": 700,
        "num_model_requests": 4,
        "model": "text-embedding-3-small",
        "project_id": "p",
    }
    server.add(Reply(200, oa_page([oa_bucket(START_UNIX, results=[result])])))
    (page,) = openai.fetch_pages("openai.embeddings", START, START + timedelta(hours=1))
    (rec,) = page.records
    assert server.requests[0].path == "/v1/organization/usage/embeddings"
    assert server.requests[0].params("group_by") == ["project_id", "user_id", "api_key_id", "model"]
    assert (rec.endpoint, rec.input_tokens, rec.input_uncached_tokens, rec.requests) == (
        "openai.embeddings",
        700,
        700,
        4,
    )
    assert rec.output_tokens == 0 and rec.model == "text-embedding-3-small"


def test_anthropic_query_and_headers(server, anthropic):
    server.add(Reply(200, an_page([])), Reply(200, an_page([])))
    list(anthropic.fetch_pages("anthropic.messages", START, START + timedelta(days=7)))
    list(anthropic.fetch_pages("anthropic.cost_report", START, START + timedelta(days=31)))
    usage, cost = server.requests
    assert usage.path == "/v1/organizations/usage_report/messages"
    assert usage.param("starting_at") == "2026-03-02T00:00:00Z"
    assert usage.param("ending_at") == "2026-03-09T00:00:00Z"
    assert usage.param("bucket_width") == "1h" and usage.param("limit") == "168"
    assert usage.params("group_by[]") == [
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
        "account_id",
        "service_account_id",
        "speed",
    ]
    assert usage.headers["x-api-key"] == ANTHROPIC_KEY
    assert usage.headers["anthropic-version"] == "2023-06-01"
    assert usage.headers["anthropic-beta"] == "fast-mode-2026-02-01"  # for ``speed``
    assert "authorization" not in usage.headers
    assert cost.path == "/v1/organizations/cost_report"
    assert cost.param("bucket_width") == "1d" and cost.param("limit") == "31"
    assert cost.params("group_by[]") == ["workspace_id", "description"]


def test_openai_names_pages_through_lists(server, openai):
    def handler(seen):
        after = seen.param("after")
        if seen.path == "/v1/organization/projects":
            assert seen.param("include_archived") == "true"
            if after is None:
                return Reply(
                    200,
                    {
                        "object": "list",
                        "has_more": True,
                        "first_id": "proj_a",
                        "last_id": "proj_a",
                        "data": [
                            {
                                "id": "proj_a",
                                "object": "organization.project",
                                "name": "Alpha",
                                "created_at": 1,
                            }
                        ],
                    },
                )
            assert after == "proj_a"
            return Reply(
                200,
                {
                    "object": "list",
                    "has_more": False,
                    "last_id": "proj_b",
                    "data": [{"id": "proj_b", "name": None, "created_at": 2}],
                },
            )
        if seen.path == "/v1/organization/projects/proj_a/api_keys":
            return Reply(
                200,
                {
                    "object": "list",
                    "has_more": False,
                    "data": [{"id": "key_1", "name": "ci", "redacted_value": "sk-...x"}],
                },
            )
        if seen.path == "/v1/organization/projects/proj_b/api_keys":
            return Reply(200, {"object": "list", "has_more": False, "data": []})
        if seen.path == "/v1/organization/users":
            return Reply(
                200,
                {
                    "object": "list",
                    "has_more": False,
                    "data": [{"id": "user-1", "name": "", "email": "a@b.c"}],
                },
            )
        return Reply(404, {"error": {"message": "nope"}})

    server.handler = handler
    names = {(e.kind, e.id): (e.name, e.parent_id) for e in openai.names()}
    assert names == {
        ("project", "proj_a"): ("Alpha", ""),
        ("project", "proj_b"): ("", ""),
        ("api_key", "key_1"): ("ci", "proj_a"),
        ("user", "user-1"): ("a@b.c", ""),
    }


def test_anthropic_names(server, anthropic):
    def handler(seen):
        after = seen.param("after_id")
        if seen.path == "/v1/organizations/workspaces":
            if after is None:
                return Reply(
                    200,
                    {
                        "data": [{"id": "wrkspc_1", "type": "workspace", "name": "W1"}],
                        "has_more": True,
                        "first_id": "wrkspc_1",
                        "last_id": "wrkspc_1",
                    },
                )
            return Reply(
                200,
                {
                    "data": [{"id": "wrkspc_2", "name": "W2"}],
                    "has_more": False,
                    "first_id": "wrkspc_2",
                    "last_id": "wrkspc_2",
                },
            )
        if seen.path == "/v1/organizations/api_keys":
            return Reply(
                200,
                {
                    "data": [
                        {"id": "apikey_1", "name": "prod", "workspace_id": "wrkspc_1"},
                        {"id": "apikey_2", "name": "default ws key", "workspace_id": None},
                    ],
                    "has_more": False,
                    "first_id": "apikey_1",
                    "last_id": "apikey_2",
                },
            )
        return Reply(404, {})

    server.handler = handler
    names = {(e.kind, e.id): (e.name, e.parent_id) for e in anthropic.names()}
    assert names == {
        ("project", DEFAULT_WORKSPACE_ID): ("Default workspace", ""),
        ("project", "wrkspc_1"): ("W1", ""),
        ("project", "wrkspc_2"): ("W2", ""),
        ("api_key", "apikey_1"): ("prod", "wrkspc_1"),
        ("api_key", "apikey_2"): ("default ws key", DEFAULT_WORKSPACE_ID),
    }
    assert [s.param("after_id") for s in server.requests[:2]] == [None, "wrkspc_1"]


def test_test_connection(server, openai, anthropic):
    server.add(Reply(200, oa_page([])), Reply(200, an_page([])))
    assert "OpenAI" in openai.test_connection()
    assert "Anthropic" in anthropic.test_connection()
    assert server.requests[0].param("limit") == "1"
    assert server.requests[1].path == "/v1/organizations/usage_report/messages"


def test_anthropic_edition_without_newer_groupings_falls_back_to_the_original_five(
    server, anthropic
):
    rejected = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
    result = {"uncached_input_tokens": 5, "output_tokens": 1, "model": "claude-x"}
    page = an_page([an_bucket(START, results=[result])])
    server.add(Reply(400, rejected), Reply(200, page), Reply(200, page))
    first = list(anthropic.fetch_pages("anthropic.messages", START, START + timedelta(days=1)))
    again = list(anthropic.fetch_pages("anthropic.messages", START, START + timedelta(days=1)))
    assert [len(p.records) for p in first + again] == [1, 1]
    newer, retried, later = server.requests
    assert "speed" in newer.params("group_by[]")
    legacy = ["api_key_id", "workspace_id", "model", "service_tier", "context_window"]
    assert retried.params("group_by[]") == legacy == later.params("group_by[]")
    assert "anthropic-beta" not in retried.headers  # asked once per connector, not per window


def test_openai_rejected_api_source_is_dropped_and_usage_still_synced(server, openai):
    rejected = {
        "error": {
            "message": "Invalid value for 'group_by'",
            "type": "invalid_request_error",
            "param": "group_by",
            "code": None,
        }
    }
    page = oa_page([oa_bucket(START_UNIX, results=[oa_result(model="m")])])
    server.add(Reply(400, rejected), Reply(200, page))
    (only,) = list(openai.fetch_pages("openai.completions", START, START + timedelta(hours=1)))
    assert len(only.records) == 1
    first, retried = server.requests
    assert "api_source" in first.params("group_by")
    assert "api_source" not in retried.params("group_by")


def test_a_400_on_cost_endpoints_is_not_taken_for_a_grouping_problem(server, openai):
    server.add(Reply(400, {"error": {"message": "no", "type": "x", "param": None, "code": None}}))
    with pytest.raises(ProviderRequestError):
        list(openai.fetch_pages("openai.costs", START, START + timedelta(days=1)))
    assert len(server.requests) == 1
