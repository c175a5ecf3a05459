"""Query parameters are validated with the providers' 400 errors."""

from __future__ import annotations

import pytest

from .conftest import get_ok

OA_USAGE = "/organization/usage/completions"
OA_COSTS = "/organization/costs"
AN_USAGE = "/v1/organizations/usage_report/messages"
AN_COSTS = "/v1/organizations/cost_report"
T0 = 1775001600  # 2026-04-01T00:00:00Z


def _oa_400(oa, path, params, param=None):
    r = oa.get(path, params=params)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    assert set(err) == {"message", "type", "param", "code"}
    if param:
        assert err["param"] == param
    return err


def _an_400(an, path, params):
    r = an.get(path, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    return body


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ([], "start_time"),
        ([("start_time", "yesterday")], "start_time"),
        ([("start_time", T0), ("end_time", T0)], "end_time"),
        ([("start_time", T0), ("bucket_width", "1w")], "bucket_width"),
        ([("start_time", T0), ("limit", 0)], "limit"),
        ([("start_time", T0), ("group_by", "line_item")], "group_by"),
        ([("start_time", T0), ("group_by", "model"), ("group_by", "workspace_id")], "group_by"),
        ([("start_time", T0), ("group_by[]", "model")], "group_by[]"),  # bracket form unknown
        ([("start_time", T0), ("batch", "maybe")], "batch"),
        ([("start_time", T0), ("page", "page_bm90LWEtY3Vyc29y")], "page"),
    ],
)
def test_openai_usage_errors(oa, params, param):
    _oa_400(oa, OA_USAGE, params, param)


@pytest.mark.parametrize(
    ("width", "default", "maximum"), [("1d", 7, 31), ("1h", 24, 168), ("1m", 60, 1440)]
)
def test_openai_usage_limits_per_width(oa, width, default, maximum):
    base = [("start_time", T0), ("bucket_width", width)]
    assert len(get_ok(oa, OA_USAGE, base)["data"]) == default
    assert len(get_ok(oa, OA_USAGE, [*base, ("limit", maximum)])["data"]) == maximum
    _oa_400(oa, OA_USAGE, [*base, ("limit", maximum + 1)], "limit")


def test_openai_costs_params(oa):
    base = [("start_time", T0)]
    assert len(get_ok(oa, OA_COSTS, base)["data"]) == 7
    assert len(get_ok(oa, OA_COSTS, [("start_time", 1764547200), ("limit", 180)])["data"]) == 171
    _oa_400(oa, OA_COSTS, [*base, ("limit", 181)], "limit")
    _oa_400(oa, OA_COSTS, [*base, ("bucket_width", "1h")], "bucket_width")
    _oa_400(oa, OA_COSTS, [*base, ("group_by", "model")], "group_by")
    _oa_400(oa, OA_COSTS, [*base, ("models", "gpt-5.5")], "models")
    get_ok(
        oa,
        OA_COSTS,
        [
            *base,
            ("group_by", "project_id"),
            ("group_by", "line_item"),
            ("group_by", "api_key_id"),
            ("bucket_width", "1d"),
        ],
    )


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("starting_at", "not a date")],
        [("starting_at", "2026-05-01T00:00:00Z"), ("bucket_width", "1w")],
        [("starting_at", "2026-05-01T00:00:00Z"), ("group_by[]", "project_id")],
        [("starting_at", "2026-05-01T00:00:00Z"), ("group_by", "model")],  # not bracket form
        [("starting_at", "2026-05-01T00:00:00Z"), ("limit", 32)],
        [("starting_at", "2026-05-01T00:00:00Z"), ("service_tiers[]", "gold")],
        [("starting_at", "2026-05-01T00:00:00Z"), ("group_by[]", "speed")],  # beta header needed
        [("starting_at", "2026-05-01T00:00:00Z"), ("page", "garbage")],
    ],
)
def test_anthropic_usage_errors(an, params):
    _an_400(an, AN_USAGE, params)


@pytest.mark.parametrize(
    ("width", "default", "maximum"), [("1d", 7, 31), ("1h", 24, 168), ("1m", 60, 1440)]
)
def test_anthropic_usage_limits_per_width(an, width, default, maximum):
    base = [("starting_at", "2026-04-01T00:00:00Z"), ("bucket_width", width)]
    assert len(get_ok(an, AN_USAGE, base)["data"]) == default
    assert len(get_ok(an, AN_USAGE, [*base, ("limit", maximum)])["data"]) == maximum
    _an_400(an, AN_USAGE, [*base, ("limit", maximum + 1)])


def test_anthropic_cost_params(an):
    base = [("starting_at", "2026-04-01T00:00:00Z")]
    assert len(get_ok(an, AN_COSTS, base)["data"]) == 7
    assert len(get_ok(an, AN_COSTS, [*base, ("limit", 31)])["data"]) == 31
    _an_400(an, AN_COSTS, [*base, ("limit", 32)])
    _an_400(an, AN_COSTS, [*base, ("bucket_width", "1h")])
    _an_400(an, AN_COSTS, [*base, ("group_by[]", "model")])
    get_ok(an, AN_COSTS, [*base, ("group_by[]", "workspace_id"), ("group_by[]", "description")])


def test_anthropic_speed_with_beta_header(an):
    r = an.get(
        AN_USAGE,
        params=[("starting_at", "2026-05-01T00:00:00Z"), ("group_by[]", "speed")],
        headers={"anthropic-beta": "fast-mode-2026-02-01"},
    )
    assert r.status_code == 200
    results = [x for b in r.json()["data"] for x in b["results"]]
    assert results
    assert {x["speed"] for x in results} == {"standard"}
