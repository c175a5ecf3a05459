"""Anthropic's Usage and Cost Analytics API: the documented-shape examples parse exactly; the
connector probes it once per sync, uses it when the key can read it and falls back to the
legacy reports (with a warning that never holds the key) on 401/403/404; a malformed analytics
page is a clear error that writes nothing; a sync from it equals a sync from the legacy
reports to the cent, with the user / service-account split kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from spendapp.providers.connectors import AnthropicConnector
from spendapp.providers.connectors.anthropic import ANALYTICS_BETA
from spendapp.providers.errors import MalformedResponse
from spendapp.providers.fake import (
    DEFAULT_ANTHROPIC_ANALYTICS_KEY,
    DEFAULT_ANTHROPIC_KEY,
    FakeProviderServer,
)
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import CostLineItem, DailySpend, SyncRun, UsageBucket
from spendapp.usage.sync import sync_account

from .conftest import ANTHROPIC_KEY, Reply, expected, load_example

END = datetime(2026, 11, 20, 12, tzinfo=UTC)
USAGE = "analytics_usage_example_response.json"
COST = "analytics_cost_example_response.json"


@pytest.fixture
def analytics() -> AnthropicConnector:
    conn = AnthropicConnector("", ANTHROPIC_KEY)
    conn.analytics = True  # as after a successful probe
    return conn


def _check(expect: dict, got: dict) -> None:
    missing = sorted(set(expect) - set(got) - {"_source"})
    assert not missing, f"expected_parse.json keys not checked: {missing}"
    for key, want in got.items():
        assert want == expect[key], f"{key}: got {want!r}, expected {expect[key]!r}"


def test_the_usage_example_parses_to_the_expected_records(analytics):
    page = analytics.parse_page(
        analytics.endpoint("anthropic.messages"), load_example("anthropic", USAGE)
    )
    user, bot = page.records
    expect = expected("anthropic")[USAGE]
    _check(
        expect,
        {
            "rows": len(page.records),
            "bucket_start_utc": user.bucket_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bucket_end_utc": user.bucket_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "user_id": [user.user_id, bot.user_id],
            "service_account_id": [user.service_account_id, bot.service_account_id],
            "project_id": [user.project_id, bot.project_id],
            "model": [user.model, bot.model],
            "total_input_tokens_all_kinds": [user.input_tokens, bot.input_tokens],
            "cache_creation_5m_input_tokens": [user.cache_write_tokens, bot.cache_write_tokens],
            "cache_creation_1h_input_tokens": [
                user.cache_write_1h_tokens,
                bot.cache_write_1h_tokens,
            ],
            "output_tokens": [user.output_tokens, bot.output_tokens],
            "requests": [user.requests, bot.requests],
            "inference_geo": [user.inference_geo, bot.inference_geo],
            "has_more": page.has_more,
            "next_page_token": page.next_page,
        },
    )
    assert user.api_key_id == "apikey_01Rj2N8SVvo6BePZj99NhmiT"
    assert (bot.service_tier, user.speed) == ("batch", "standard")
    assert user.extra == {"web_search_requests": 10}


def test_the_cost_example_parses_to_exact_dollars(analytics):
    page = analytics.parse_page(
        analytics.endpoint("anthropic.cost_report"), load_example("anthropic", COST)
    )
    tokens, search = page.records
    expect = expected("anthropic")[COST]
    _check(
        expect,
        {
            "rows": len(page.records),
            "amount_usd": [str(tokens.amount), str(search.amount)],
            "token_type": [tokens.token_type, search.token_type],
            "cost_type": [tokens.cost_type, search.cost_type],
            "project_id": [tokens.project_id, search.project_id],
            "line_item": [tokens.line_item, search.line_item],
            "currency": [tokens.currency, search.currency],
        },
    )
    # 123.78912 cents is $1.2378912 exactly, a Decimal, never a float.
    assert isinstance(tokens.amount, Decimal) and tokens.amount == Decimal("1.2378912")
    assert search.amount == Decimal(10)
    assert (page.has_more, page.next_page) == (False, None)


@pytest.mark.parametrize(
    ("endpoint", "example", "change", "field"),
    [
        ("anthropic.messages", USAGE, lambda r: r.pop("usage"), "data[0].usage"),
        ("anthropic.messages", USAGE, lambda r: r.pop("starting_at"), "data[0].starting_at"),
        (
            "anthropic.messages",
            USAGE,
            lambda r: r["usage"].update(output_tokens=-1),
            "data[0].usage.output_tokens",
        ),
        (
            "anthropic.messages",
            USAGE,
            lambda r: r["group"].update(actor_type=None),
            "data[0].group.actor_type",
        ),
        (
            "anthropic.messages",
            USAGE,
            lambda r: r["group"].update(actor=["x"]),
            "data[0].group.actor",
        ),
        ("anthropic.cost_report", COST, lambda r: r["cost"].pop("amount"), "data[0].cost.amount"),
        (
            "anthropic.cost_report",
            COST,
            lambda r: r["cost"].update(amount="12,5"),
            "data[0].cost.amount",
        ),
    ],
)
def test_a_malformed_row_names_its_field(analytics, endpoint, example, change, field):
    body = load_example("anthropic", example)
    change(body["data"][0])
    with pytest.raises(MalformedResponse) as caught:
        analytics.parse_page(analytics.endpoint(endpoint), body)
    assert caught.value.field == field


def test_an_actor_object_and_an_unknown_actor_type(analytics):
    body = load_example("anthropic", USAGE)
    body["data"][0]["group"]["actor"] = {"id": "user_01X", "type": "user"}
    body["data"][1]["group"].update(actor="agent_01Y", actor_type="agent")
    user, other = analytics.parse_page(analytics.endpoint("anthropic.messages"), body).records
    assert (user.user_id, user.service_account_id) == ("user_01X", "")
    # Usage and spend stay; only the split is not kept.
    assert (other.user_id, other.service_account_id, other.output_tokens) == ("", "", 9000)


# -- the probe, over HTTP ---------------------------------------------------------------------


def _empty() -> dict:
    return {"data": [], "has_more": False, "next_page": None}


def test_the_probe_chooses_analytics_and_every_request_sends_the_beta(server, client):
    server.add(Reply(200, _empty()), Reply(200, load_example("anthropic", USAGE)))
    server.add(Reply(200, _empty()))
    conn = AnthropicConnector(server.base_url, ANTHROPIC_KEY, client=client)
    assert conn.prepare() == []
    assert conn.analytics
    start = datetime(2026, 11, 2, tzinfo=UTC)
    pages = list(conn.fetch_pages("anthropic.messages", start, start + timedelta(days=7)))
    assert sum(len(p.records) for p in pages) == 2
    probe, first, second = server.requests
    assert probe.path == "/v1/organizations/analytics/usage"
    assert (probe.param("limit"), probe.param("time_bucket_width")) == ("1", "1h")
    assert first.path == "/v1/organizations/analytics/usage"
    assert first.params("group_by[]")[:4] == ["workspace_id", "api_key_id", "actor_type", "actor"]
    assert (first.param("time_bucket_width"), first.param("limit")) == ("1h", "1000")
    assert second.param("page") == "page_MjAyNi0xMS0wMlQxMDowMDowMFo="
    for seen in server.requests:
        assert ANALYTICS_BETA in seen.headers["anthropic-beta"]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refused_probe_falls_back_with_a_warning_without_the_key(server, client, status):
    body = {"type": "error", "error": {"type": "permission_error", "message": ANTHROPIC_KEY}}
    server.add(Reply(status, body), Reply(200, _empty()))
    conn = AnthropicConnector(server.base_url, ANTHROPIC_KEY, client=client)
    (warning,) = conn.prepare()
    assert not conn.analytics
    assert f"HTTP {status}" in warning and "legacy" in warning
    assert ANTHROPIC_KEY not in warning and "TESTkey" not in warning
    start = datetime(2026, 11, 2, tzinfo=UTC)
    list(conn.fetch_pages("anthropic.cost_report", start, start + timedelta(days=1)))
    assert server.requests[-1].path == "/v1/organizations/cost_report"
    assert ANALYTICS_BETA not in server.requests[-1].headers.get("anthropic-beta", "")


def test_a_probe_that_keeps_failing_falls_back_for_this_sync(server, client):
    server.add(*[Reply(500, {"error": {"message": "boom"}})] * 4)
    conn = AnthropicConnector(server.base_url, ANTHROPIC_KEY, client=client)
    (warning,) = conn.prepare()
    assert not conn.analytics and "probe failed" in warning and ANTHROPIC_KEY not in warning


def test_a_malformed_probe_answer_falls_back(server, client):
    server.add(Reply(200, {"data": [{"starting_at": "x"}], "has_more": False, "next_page": None}))
    conn = AnthropicConnector(server.base_url, ANTHROPIC_KEY, client=client)
    (warning,) = conn.prepare()
    assert not conn.analytics and "data[0]" in warning


# -- syncs from the fake provider ---------------------------------------------------------------


def _account(fake, key: str, name: str) -> ProviderAccount:
    account = ProviderAccount(
        name=name, provider="anthropic", base_url=fake.anthropic_base_url, backfill_days=10
    )
    account.set_key(key)
    account.save()
    return account


def _totals(account) -> tuple:
    usage = UsageBucket.objects.filter(account=account).aggregate(
        i=Sum("input_uncached_tokens"),
        c=Sum("input_cached_tokens"),
        w=Sum("cache_write_tokens"),
        h=Sum("cache_write_1h_tokens"),
        o=Sum("output_tokens"),
    )
    cost = CostLineItem.objects.filter(account=account).aggregate(a=Sum("amount"))["a"]
    daily = sorted(
        DailySpend.objects.filter(account=account)
        .values("day", "model", "project_id")
        .annotate(b=Sum("billed_cost"), o=Sum("output_tokens"))
        .values_list("day", "model", "project_id", "b", "o")
    )
    return tuple(usage.values()), cost, daily


def test_analytics_and_legacy_syncs_agree_to_the_cent_and_keep_the_actors(db):
    with FakeProviderServer(seed=5, days=10, end=END) as fake:
        legacy = _account(fake, DEFAULT_ANTHROPIC_KEY, "legacy")
        modern = _account(fake, DEFAULT_ANTHROPIC_ANALYTICS_KEY, "analytics")
        runs = [sync_account(a.pk, now=END) for a in (legacy, modern)]
        log = fake.request_log
        again = sync_account(modern.pk, now=END)
    assert [r.outcome for r in runs] == ["success", "success"], [r.error for r in runs]
    assert "HTTP 403" in runs[0].warnings and runs[1].warnings == ""
    assert DEFAULT_ANTHROPIC_KEY not in runs[0].warnings
    assert log["anthropic.analytics.cost"] > 0 and log["anthropic.cost_report"] > 0
    assert _totals(legacy) == _totals(modern)
    assert _totals(modern)[1] > 0
    rows = UsageBucket.objects.filter(account=modern)
    assert set(rows.exclude(service_account_id="").values_list("service_account_id", flat=True))
    users = set(rows.exclude(user_id="").values_list("user_id", flat=True))
    assert users and all(u.startswith("user_") for u in users)
    assert not UsageBucket.objects.filter(account=legacy).exclude(user_id="").exists()
    assert (again.outcome, again.rows_inserted, again.rows_updated, again.rows_deleted) == (
        "success",
        0,
        0,
        0,
    )


def test_refuse_analytics_is_a_404_even_for_the_analytics_key(db):
    with FakeProviderServer(seed=5, days=10, end=END, refuse_analytics=True) as fake:
        account = _account(fake, DEFAULT_ANTHROPIC_ANALYTICS_KEY, "refused")
        run = sync_account(account.pk, now=END)
        log = fake.request_log
    assert run.outcome == "success", run.error
    assert "HTTP 404" in run.warnings
    assert log["anthropic.analytics.usage"] == 1 and "anthropic.analytics.cost" not in log


def test_a_malformed_analytics_page_fails_its_window_and_writes_nothing(db):
    faults = "malformed@anthropic.analytics.cost#1,truncated@anthropic.analytics.usage#2"
    with FakeProviderServer(seed=5, days=10, end=END, faults=faults) as fake:
        account = _account(fake, DEFAULT_ANTHROPIC_ANALYTICS_KEY, "faulty")
        run = sync_account(account.pk, now=END)
        assert run.outcome == "partial"
        assert "anthropic.cost_report" in run.error and "not valid JSON" in run.error
        assert "anthropic.messages" in run.error and "has_more" in run.error
        assert not CostLineItem.objects.filter(account=account).exists()
        assert not UsageBucket.objects.filter(account=account).exists()
        fake.set_faults(None)
        second = sync_account(account.pk, now=END)
        assert second.outcome == "success", second.error
        assert SyncRun.objects.filter(account=account).count() == 2
        assert CostLineItem.objects.filter(account=account).exists()
