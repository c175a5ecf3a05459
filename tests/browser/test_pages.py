"""Every page in Debian's chromium: logged in through the form, charts drawn by Plotly with the
traces the data calls for, no console errors; users without the right role are refused.

Each test costs a database restore and a login (a few seconds), so one test walks through
several related pages.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from spendapp.allocation.chargeback import previous_month
from tests.browser.conftest import FORBIDDEN, assert_drawn

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROVIDERS = ["anthropic", "openai"]
OUTLOOK = ["Forecast 80% (lower)", "Forecast 80%", "Forecast"]
FORECAST = [
    "Actual",
    "95% interval (lower)",
    "95% interval",
    "80% interval (lower)",
    "80% interval",
]
RECON = [
    "List estimate (usage x price catalog)",
    "Calibrated estimate (list x learned bill ratio)",
    "Billed (provider cost reports)",
]


def test_overview_and_data_health_draw_their_charts(session):
    session.login("erin")  # lands on the overview
    assert session.page.url == session.url("/")
    session.wait_for_charts()
    assert session.page_charts() == ["chart-spend"]
    chart = session.chart("chart-spend")
    assert_drawn(chart)
    assert chart["names"] == PROVIDERS + OUTLOOK  # stacked bars per provider, then the outlook
    assert chart["types"] == ["bar", "bar", "scatter", "scatter", "scatter"]
    assert len(chart["x"][0]) == 90 and chart["x"][0][-1] == session.data.today.isoformat()
    page = session.page
    assert page.locator("#kpi-mtd").is_visible()
    assert "AI spend, whole organisation" in page.locator("#kpi-budgets").inner_text()
    assert page.locator("#freshness").get_by_text("openai-prod").count() >= 1

    with page.expect_navigation():
        page.get_by_role("link", name="Data health").click()
    session.wait_for_charts()
    assert session.page_charts() == ["chart-recon"]
    chart = session.chart("chart-recon")
    assert_drawn(chart)
    assert chart["names"] == RECON
    assert len(chart["x"][0]) == 29  # the default window, one point per day but today
    assert page.locator("#sync-status").get_by_text("anthropic-prod").count() >= 1


def test_forecast_draws_history_and_intervals_and_follows_the_form(session):
    session.login("bob")
    session.open("/forecast/")
    page = session.page
    chart = session.chart("chart-forecast")
    assert_drawn(chart)
    model = chart["names"][-1]
    assert chart["names"][:5] == FORECAST and model.startswith("Forecast ("), chart["names"]
    assert len(chart["names"]) == 6
    assert len(chart["x"][-1]) == 90  # the default horizon
    if page.locator("#chart-backtest").count():  # only once nightly runs have been checked
        past = session.chart("chart-backtest")
        assert_drawn(past)
        assert past["names"][0] == "Actual" and len(past["names"]) > 1
    else:
        assert "No earlier forecast" in page.locator("#past-forecasts").inner_text()

    # Another series and horizon: the choice reaches the URL and the chart.
    page.select_option("#fc-series", "provider:anthropic")
    page.select_option("#fc-horizon", "30")
    with page.expect_navigation():
        page.locator("#forecast-form [type=submit]").click()
    assert "series=provider%3Aanthropic" in page.url and "horizon=30" in page.url
    # No stored forecast of that series yet: the page offers to make one (a GET never fits).
    with page.expect_navigation():
        page.locator("#forecast-compute").click()
    assert "series=provider%3Aanthropic" in page.url and "horizon=30" in page.url
    session.wait_for_charts()
    chart = session.chart("chart-forecast")
    assert_drawn(chart)
    assert chart["names"][:5] == FORECAST
    assert len(chart["x"][-1]) == 30


def test_scenarios_draw_the_baseline_and_a_compared_preset(session):
    session.login("bob")
    session.open("/scenarios/")
    page = session.page
    chart = session.chart("chart-scenarios")
    assert_drawn(chart)
    assert chart["names"] == ["Baseline 80% (lower)", "Baseline 80%", "Baseline"]
    assert len(chart["x"][-1]) == 18  # months

    preset = page.locator("#scenario-picker input[type=checkbox]:not([disabled])").first
    key = preset.get_attribute("value")
    preset.check()
    with page.expect_navigation():
        page.click("#compare")
    assert key in unquote(page.url)
    session.wait_for_charts()
    compared = session.chart("chart-scenarios")
    assert_drawn(compared)
    names = compared["names"]
    assert names[:3] == chart["names"] and len(names) == 6, names
    assert names[3:5] == [f"{names[5]} 80% (lower)", f"{names[5]} 80%"]
    assert page.locator("#savings tbody tr").count() == 2  # baseline and the preset


def test_budgets_allocation_and_chargeback_open_cleanly(session):
    session.login("bob")
    page = session.page
    session.open("/budgets/")
    row = page.locator(f"#budget-{session.data.budget_id}")
    assert "AI spend, whole organisation" in row.inner_text()
    session.open("/allocation/")
    assert page.locator("#unallocated tbody tr").count() > 0
    assert page.locator("#team-form").count() == 1  # Finance may change the allocation
    month = f"{previous_month(session.data.today):%Y-%m}"
    with page.expect_navigation():
        page.get_by_role("link", name=month).click()
    session.wait_for_charts()
    assert page.url == session.url(f"/allocation/chargeback/?month={month}")
    # No team yet: everything of the month is unallocated.
    assert page.locator("#by-team tbody tr").all_inner_texts()[0].startswith("Unallocated")


REFUSED_PAGES = [
    "/",
    "/explorer/",
    "/explorer/export.csv",
    "/explorer/claude-code/",
    "/forecast/",
    "/scenarios/",
    "/budgets/",
    "/data-health/",
    "/allocation/",
    "/allocation/chargeback/",
]


def test_a_user_without_a_role_is_refused_everywhere(session):
    session.login("charlie")  # lands on the overview, which refuses
    page = session.page
    for path in REFUSED_PAGES:
        response = page.goto(session.url(path))
        assert response.status == 403, path
        assert page.locator("h1").inner_text() == "Not allowed", path
        assert page.locator("[data-figure]").count() == 0
    assert page.locator("nav.mainnav a").count() == 0  # no links to pages charlie can't open
    # The only console errors are chromium's notes about the 403 responses themselves.
    errors = session.console.take()
    assert errors and all(FORBIDDEN.search(e) for e in errors), errors


def test_engineering_reads_but_cannot_change_budgets_or_allocation(session):
    session.login("erin")
    page = session.page
    session.open("/allocation/")
    assert page.locator("#team-form, #rule-form, #shared-form").count() == 0
    session.open("/budgets/")
    assert page.get_by_role("link", name="New budget").count() == 0
    for path in ("/budgets/new/", "/allocation/teams/new/", "/allocation/rules/new/"):
        response = page.goto(session.url(path))
        assert response.status == 403, path
        assert page.locator("h1").inner_text() == "Not allowed"
    errors = session.console.take()
    assert len(errors) == 3 and all(FORBIDDEN.search(e) for e in errors), errors
