"""Finance in the browser: create a team, map two API keys to it, then find the team in the
chargeback report and in the explorer's team grouping.

Saving a rule queues ``recompute_allocation`` as a Celery task after commit. There is no
worker in these tests (and nothing may reach the shared filesystem broker), so the session
fixture records the queued task instead and the test runs the same recompute synchronously
with the recorded dates, as a worker would.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db.models import Sum

from spendapp.allocation.chargeback import previous_month
from spendapp.allocation.engine import recompute_allocation
from spendapp.allocation.models import AllocationRule
from spendapp.core import money
from spendapp.providers.models import ProviderEntity
from spendapp.usage.models import DailySpend
from tests.browser.conftest import assert_drawn

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEAM = "Platform Search"
RECOMPUTE = "spendapp.allocation.tasks.recompute_allocation"


def _two_keys(month: date) -> list[str]:
    """The two OpenAI keys with the most spend in ``month``: what Finance would map first."""
    end = (month + timedelta(days=32)).replace(day=1)
    rows = (
        DailySpend.objects.filter(day__gte=month, day__lt=end, provider="openai")
        .exclude(api_key_id="")
        .values("api_key_id")
        .annotate(cost=Sum("estimated_cost"))
        .order_by("-cost", "api_key_id")
    )
    keys = [row["api_key_id"] for row in rows[:2]]
    assert len(keys) == 2
    return keys


def _keys_spend(keys: list[str], month: date) -> Decimal:
    end = (month + timedelta(days=32)).replace(day=1)
    return DailySpend.objects.filter(day__gte=month, day__lt=end, api_key_id__in=keys).aggregate(
        total=Sum("estimated_cost")
    )["total"]


def _key_label(key: str) -> str:
    """How the allocation page names an API key: its provider-reported name, else its id."""
    entity = ProviderEntity.objects.filter(kind="api_key", external_id=key).first()
    return entity.name if entity and entity.name else key


def _run_queued_recomputes(session) -> None:
    """What the worker would do with the tasks the saves queued (see the module docstring)."""
    queued = session.queued.named(RECOMPUTE)
    assert queued, "saving a rule should queue an allocation recompute"
    for date_from, date_to in queued:
        recompute_allocation(date.fromisoformat(date_from), date.fromisoformat(date_to))
    session.queued.clear()


def _create_team_and_rules(session) -> tuple[list[str], date]:
    """In the browser, as Finance: a new team, then one API-key rule per key, saved."""
    month = previous_month(session.data.today)
    keys = _two_keys(month)
    session.login("bob")
    session.open("/allocation/")
    page = session.page

    page.locator("#new-team summary").click()  # the form opens on demand
    form = page.locator("#team-form")
    form.locator("[name=name]").fill(TEAM)
    form.locator("[name=kind]").select_option("team")
    form.locator("[name=code]").fill("T-PSEARCH")
    form.locator("[name=owner_email]").fill("search-lead@example.com")
    with page.expect_navigation():
        form.get_by_role("button", name="Create team").click()
    session.wait_for_charts()
    assert f"Team “{TEAM}” saved." in page.locator(".messages").inner_text()
    assert page.locator(f"#teams tr[data-team='{TEAM}']").count() == 1

    for i, key in enumerate(keys):
        page.locator("#new-rule summary").click()
        rule = page.locator("#rule-form")
        rule.locator("[name=dimension]").select_option("api_key")
        rule.locator("[name=value]").fill(key)
        rule.locator("[name=team]").select_option(label=TEAM)
        rule.locator("[name=note]").fill(f"browser test key {i + 1}")
        # valid_from is prefilled with the first day of data: the rule covers all history.
        assert rule.locator("[name=valid_from]").input_value() <= month.isoformat()
        with page.expect_navigation():
            rule.get_by_role("button", name="Save rule").click()
        session.wait_for_charts()
        assert "Rule saved" in page.locator(".messages").inner_text()
    rows = page.locator("#rules tbody tr")
    assert rows.count() == 2
    assert sorted(rows.locator("code").all_inner_texts()) == sorted(keys)
    assert all(TEAM in text for text in rows.all_inner_texts())
    assert AllocationRule.objects.filter(team__name=TEAM).count() == 2

    # No Celery worker here: run the recompute the saves queued, synchronously (see above).
    _run_queued_recomputes(session)
    return keys, month


def test_finance_maps_two_keys_to_a_new_team_and_finds_it_in_chargeback_and_explorer(session):
    keys, month = _create_team_and_rules(session)
    page = session.page
    session.open(f"/allocation/chargeback/?month={month:%Y-%m}")
    assert page.locator("h1").inner_text() == f"Chargeback {month:%B %Y}"
    line = page.locator(f"#by-team tr[data-line='{TEAM}']")
    assert line.count() == 1
    cells = line.locator("td").all_inner_texts()
    assert cells[1] == "T-PSEARCH"
    # The list-estimate column (after Spend and Billed) is exactly the two keys' estimate.
    assert cells[5] == money.exact(_keys_spend(keys, month))
    assert page.locator("#by-team tr[data-line='Unallocated']").count() == 1

    # The allocation page's unallocated list (keys shown by name) no longer has the keys.
    session.open("/allocation/")
    unallocated = page.locator("#unallocated tbody td:nth-child(3)").all_inner_texts()
    assert unallocated
    assert not set(unallocated) & {_key_label(key) for key in keys}, unallocated

    # The explorer's team grouping (`by=team`, spendapp.usage.queries.GROUPINGS) has a series
    # for the team; the rest of the spend is the unallocated series.
    today = session.data.today
    session.open(f"/explorer/?from={month}&to={today}")
    page.select_option("#f-by", "team")
    with page.expect_navigation():
        page.click("#apply")
    assert parse_qs(urlsplit(page.url).query)["by"] == ["team"]
    session.wait_for_charts()
    chart = session.chart("chart-spend")
    assert_drawn(chart)
    assert TEAM in chart["names"] and len(chart["names"]) == 2, chart["names"]
    team_row = page.locator("#totals tbody tr", has_text=TEAM)
    assert team_row.count() == 1
