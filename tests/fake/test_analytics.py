"""The fake's Anthropic Usage and Cost Analytics API: who may read it, its parameters, its row
paging, and numbers equal to the legacy reports' (to the 1e-5 cent)."""

from __future__ import annotations

import argparse
from decimal import Decimal

import httpx
import pytest

from spendapp.providers.fake import DEFAULT_ANTHROPIC_ANALYTICS_KEY, FakeProviderServer
from spendapp.providers.fake.analytics import ANALYTICS_BETA
from spendapp.providers.fake.cli import add_arguments

from .conftest import AN_VERSION, END, SEED, all_pages

USAGE = "/v1/organizations/analytics/usage"
COST = "/v1/organizations/analytics/cost"
WEEK = [("starting_at", "2026-05-10T00:00:00Z"), ("ending_at", "2026-05-17T00:00:00Z")]


def _client(fake, key: str, beta: bool = True) -> httpx.Client:
    headers = {"x-api-key": key, "anthropic-version": AN_VERSION}
    if beta:
        headers["anthropic-beta"] = ANALYTICS_BETA
    return httpx.Client(base_url=fake.anthropic_base_url, headers=headers, timeout=20)


@pytest.fixture(scope="module")
def ana(fake):
    with _client(fake, DEFAULT_ANTHROPIC_ANALYTICS_KEY) as client:
        yield client


def _rows(client, path: str, params: list[tuple]) -> list[dict]:
    rows, page = [], None
    for _ in range(1000):
        query = [*params, ("page", page)] if page else params
        r = client.get(path, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["data"]
        if not body["has_more"]:
            return rows
        page = body["next_page"]
    raise AssertionError("too many pages")


def test_the_ordinary_admin_key_gets_403_and_refuse_analytics_404(fake, an):
    r = an.get(USAGE, params=WEEK, headers={"anthropic-beta": ANALYTICS_BETA})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    assert an.get("/v1/organizations/cost_report", params=WEEK).status_code == 200
    refusing = FakeProviderServer(seed=SEED, days=5, end=END, refuse_analytics=True)
    with refusing, _client(refusing, DEFAULT_ANTHROPIC_ANALYTICS_KEY) as client:
        r = client.get(COST, params=WEEK)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


def test_the_beta_header_is_required(fake):
    with _client(fake, DEFAULT_ANTHROPIC_ANALYTICS_KEY, beta=False) as client:
        r = client.get(USAGE, params=WEEK)
    assert r.status_code == 400 and ANALYTICS_BETA in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("group_by[]", "description")], "group_by.0"),
        ([("time_bucket_width", "1w")], "time_bucket_width"),
        ([("limit", "1001")], "limit"),
        ([("page", "not-a-cursor")], "Invalid page cursor"),
        ([("bucket_width", "1h")], "Unrecognized request argument"),
    ],
)
def test_bad_parameters_are_400(ana, params, message):
    r = ana.get(USAGE, params=[*WEEK, ("time_bucket_width", "1h"), *params])
    assert r.status_code == 400 and message in r.json()["error"]["message"]


def test_rows_are_paged_by_limit_and_a_cursor_belongs_to_its_query(ana):
    params = [*WEEK, ("time_bucket_width", "1d"), ("group_by[]", "model"), ("limit", "3")]
    first = ana.get(USAGE, params=params).json()
    assert len(first["data"]) == 3 and first["has_more"]
    other = [*WEEK, ("time_bucket_width", "1d"), ("limit", "3"), ("page", first["next_page"])]
    assert ana.get(USAGE, params=other).status_code == 400
    everything = _rows(ana, USAGE, params)
    at_once = _rows(ana, USAGE, [*params[:-1], ("limit", "1000")])
    assert everything == at_once


def test_usage_equals_the_legacy_report_and_names_the_actors(ana, an):
    rows = _rows(
        ana,
        USAGE,
        [*WEEK, ("time_bucket_width", "1d"), ("group_by[]", "actor_type"), ("group_by[]", "actor")],
    )
    legacy = all_pages(
        an,
        "/v1/organizations/usage_report/messages",
        [*WEEK, ("bucket_width", "1d"), ("limit", "31")],
    )
    legacy_out = sum(r["output_tokens"] for p in legacy for b in p["data"] for r in b["results"])
    assert sum(r["usage"]["output_tokens"] for r in rows) == legacy_out
    kinds = {(r["group"]["actor_type"], (r["group"]["actor"] or "")[:5]) for r in rows}
    assert ("service_account", "svac_") in kinds and ("user", "user_") in kinds


def test_costs_equal_the_legacy_report_to_the_smallest_unit(ana, an):
    rows = _rows(ana, COST, [*WEEK, ("time_bucket_width", "1d"), ("group_by[]", "workspace_id")])
    legacy = all_pages(an, "/v1/organizations/cost_report", [*WEEK, ("limit", "31")])
    ours = sum(Decimal(r["cost"]["amount"]) for r in rows)
    theirs = sum(Decimal(x["amount"]) for p in legacy for b in p["data"] for x in b["results"])
    assert ours == theirs and ours > 0
    assert all(r["cost"]["currency"] == "USD" for r in rows)
    assert all(Decimal(r["cost"]["list_amount"]) >= Decimal(r["cost"]["amount"]) for r in rows)


def test_the_cli_has_the_refuse_option():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = parser.parse_args(["--refuse-analytics"])
    assert options.refuse_analytics is True
    assert options.anthropic_analytics_key == DEFAULT_ANTHROPIC_ANALYTICS_KEY
