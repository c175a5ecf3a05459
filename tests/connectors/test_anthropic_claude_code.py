"""Anthropic's Claude Code usage report: parsed from a payload in the documented shape,
synced from the fake provider over loopback (a re-sync changes nothing), shown in the
explorer's Claude Code view, and never counted as spend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from spendapp.providers.connectors import AnthropicConnector
from spendapp.providers.errors import MalformedResponse
from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.claude_code import claude_code_rows
from spendapp.usage.models import ClaudeCodeUsage, DailySpend
from spendapp.usage.sync import sync_account

from .conftest import ANTHROPIC_KEY, load_example

END = datetime(2026, 9, 10, 12, tzinfo=UTC)


@pytest.fixture
def anthropic() -> AnthropicConnector:
    return AnthropicConnector("", ANTHROPIC_KEY)


def _parse(anthropic, body):
    return anthropic.parse_page(anthropic.endpoint("anthropic.claude_code"), body).records


def test_the_documented_record_sums_its_models_and_turns_cents_into_dollars(anthropic):
    user, bot = _parse(
        anthropic, load_example("anthropic", "claude_code_usage_report_example.json")
    )
    assert (user.day, user.actor_type, user.actor) == (
        date(2025, 8, 8),
        "user_actor",
        "user@example.com",
    )
    assert (user.terminal_type, user.is_remote, user.customer_type) == ("vscode", False, "api")
    assert (user.sessions, user.lines_added, user.lines_removed) == (5, 1543, 892)
    assert (user.commits, user.pull_requests) == (12, 2)
    assert (user.input_tokens, user.output_tokens) == (150_000, 45_000)
    assert (user.cache_read_tokens, user.cache_creation_tokens) == (10_000, 5_000)
    assert user.estimated_cost == Decimal("11.055")  # (1025 + 80.5) cents
    assert user.models["claude-3-5-haiku-20241022"]["estimated_cost"] == "0.805"
    assert user.tool_actions["edit_tool"] == {"accepted": 45, "rejected": 5}
    assert (bot.actor_type, bot.actor, bot.is_remote) == ("api_actor", "ci-review-bot", True)
    assert bot.estimated_cost == 0 and bot.models == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"actor": {"type": "robot"}}, "data[0].actor.type"),
        ({"actor": {"type": "user_actor"}}, "data[0].actor.email_address"),
        ({"date": None}, "data[0].date"),
        ({"model_breakdown": {"m": 1}}, "data[0].model_breakdown"),
    ],
)
def test_a_malformed_record_is_named_by_its_field(anthropic, change, field):
    body = load_example("anthropic", "claude_code_usage_report_example.json")
    body["data"][0].update(change)
    with pytest.raises(MalformedResponse) as caught:
        _parse(anthropic, body)
    assert caught.value.field == field


def test_the_report_is_asked_one_day_at_a_time(anthropic):
    spec = anthropic.endpoint("anthropic.claude_code")
    day = datetime(2026, 9, 3, tzinfo=UTC)
    params = anthropic._window_params(spec, day, day + timedelta(days=1))
    assert params == [("starting_at", "2026-09-03"), ("limit", "1000")]
    assert (spec.kind, spec.max_window) == ("activity", timedelta(days=1))


@pytest.fixture
def viewer(bob):
    # This package's ``client`` fixture is the HTTP client of the connectors: a Django one here.
    browser = Client()
    browser.force_login(bob)
    return browser


@pytest.fixture
def synced(db):
    with FakeProviderServer(seed=5, days=10, end=END) as fake:
        account = ProviderAccount(
            name="anthropic-acct",
            provider="anthropic",
            base_url=fake.anthropic_base_url,
            backfill_days=10,
        )
        account.set_key(fake.anthropic_key)
        account.save()
        first = sync_account(account.pk, now=END)
        again = sync_account(account.pk, now=END)
        yield account, first, again


def test_a_sync_stores_the_report_and_a_second_sync_changes_nothing(synced):
    account, first, again = synced
    assert first.outcome == "success", first.error
    assert again.outcome == "success", again.error
    assert ClaudeCodeUsage.objects.filter(account=account).count() > 0
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0)


def test_claude_code_estimates_never_enter_spend(synced):
    # The fake's Claude Code models include claude-opus-4-6 by one user; spend rows come from
    # the usage and cost reports only, whose totals the truth tests pin.
    rows = claude_code_rows(END.date() - timedelta(days=10), END.date(), "actor")
    assert sum(r.estimated_cost for r in rows) > 0
    spend_days = set(DailySpend.objects.values_list("day", flat=True))
    assert spend_days  # the usage and cost reports were synced alongside
    assert not DailySpend.objects.filter(user_id__contains="@").exists()


def test_the_view_lists_people_and_terminals(synced, viewer):
    params = {"from": "2026-09-01", "to": "2026-09-10", "by": "actor_terminal"}
    response = viewer.get("/explorer/claude-code/", params)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="claude-code-usage"' in html
    assert "bo@example.com" in html and "iTerm.app" in html and "ci-review-bot" in html
    by_actor = {r.actor for r in response.context["rows"]}
    assert by_actor == {"ann@example.com", "bo@example.com", "ci-review-bot"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-13-01"}, "from: expected a date"),
        ({"by": "model"}, "by: expected one of"),
        ({"from": "2026-09-10", "to": "2026-09-01"}, "to: must not be before from"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(viewer, db, params, message):
    response = viewer.get("/explorer/claude-code/", params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_empty_range_says_so(viewer, db):
    response = viewer.get("/explorer/claude-code/")
    assert response.status_code == 200 and 'id="claude-code-empty"' in response.content.decode()
