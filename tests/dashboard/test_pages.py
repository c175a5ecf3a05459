"""Every dashboard page: renders for each role with data and empty, refuses the wrong users,
and reads a pinned number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.dashboard.conftest import TODAY, chart_json

PAGES = ["/", "/explorer/", "/forecast/", "/scenarios/", "/data-health/"]
NAV = {
    "/": "Overview",
    "/explorer/": "Explorer",
    "/forecast/": "Forecast",
    "/scenarios/": "Scenarios",
    "/data-health/": "Data health",
}
# Per page: session, user and groups (3), then the page's own reads:
# overview (17): running syncs, spend per day and provider, newest day per account,
#   accounts, muted budgets, alerts, budgets, movers, accounts with prepaid credits (none);
#   the month projection (last data day, first syncs still running, month-to-date spend,
#   stored total, its points), whose forecast the chart draws (no second read).
# explorer (12): entity names, the TierBook (price overrides, tier bands, tier overrides),
#   usage combinations, the usage-detail values (service tier, API source, inference geo,
#   speed, service account: issue #15), allocated teams / cost centres, the spend query's
#   totals per series (to rank them) and its rows per period (beyond 12 series, the rest
#   folded by SQL).
# forecast (10): series values, entity names, last data day, today's stored total (with its
#   run), its points, earlier checked totals (no points query when there are none), spend
#   history (the spend basis: groups and billed account-days in one statement).
# scenarios (19, was 26: one price table per page instead of three): the month projection
#   (last data day, first syncs running, month-to-date spend, stored total, its points: 5),
#   the scenario inputs: last data day, the stored demand baseline (its arrays are read once
#   per process), the price table once (price overrides, tier bands, tier overrides, models
#   seen, calibration ratios: 5), the stored total and its points the baseline is reconciled
#   to (2), this month's spend by model (1); saved scenarios (1).
# data health (14): running syncs, reconciliation, runs, freshness (2), price audit
#   (overrides, accounts, cost lines; + usage when anything is billed per model), unpriced,
#   deliveries, top unallocated (+ entity names when there is any).
# CSV (10): usage combinations, usage-detail values, the TierBook (3), allocated teams (the
#   filter check), spend.
QUERIES = {
    "/": 17,
    "/explorer/": 12,
    "/forecast/": 10,
    "/scenarios/": 19,
    "/data-health/": 14,
    "/explorer/export.csv": 10,
}
EMPTY_IDS = {
    "/": "first-run",  # no provider account yet: the steps to add one
    "/explorer/": "explorer-empty",
    "/forecast/": "forecast-empty",
    "/scenarios/": "scenarios-empty",
    "/data-health/": "health-empty",
}
CHARTS = {
    "/": ["chart-spend"],
    "/explorer/": ["chart-spend"],
    "/forecast/": ["chart-forecast"],  # forecast vs actual needs earlier stored runs
    "/scenarios/": ["chart-scenarios"],
    "/data-health/": ["chart-recon"],
}


@pytest.mark.parametrize("url", PAGES)
def test_each_page_renders_with_data_for_each_role(role_client, stored_forecasts, url):
    response = role_client.get(url)
    assert response.status_code == 200, response.content[:2000]
    html = response.content.decode()
    assert f'aria-current="page">{NAV[url]}</a>' in html
    assert "plotly-basic.min" in html and "js/charts" in html
    for chart_id in CHARTS[url]:
        figure = chart_json(response, chart_id)
        assert figure["data"], chart_id
        assert {trace["type"] for trace in figure["data"]} <= {"scatter", "bar"}


@pytest.mark.parametrize("url", PAGES)
def test_each_page_has_an_empty_state(role_client, frozen_now, url):
    response = role_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="{EMPTY_IDS[url]}"' in html
    assert (
        "chart-" not in html.split("<main", 1)[1].split("</main>")[0].replace("chartsReady", "")
        or url == "/data-health/"
    )


@pytest.mark.parametrize("url", PAGES)
def test_a_user_without_a_role_gets_403(client, charlie, url):
    client.force_login(charlie)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [*PAGES, "/explorer/export.csv"])
def test_anonymous_users_are_sent_to_the_login_page(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", list(QUERIES))
def test_query_count_is_pinned(finance_client, stored_forecasts, django_assert_num_queries, url):
    finance_client.get(url)  # warm the scenario baseline cache: the pin is about the database
    with django_assert_num_queries(QUERIES[url]):
        response = finance_client.get(url)
    assert response.status_code == 200


def test_the_overview_shows_month_to_date_projection_and_movers(finance_client, stored_forecasts):
    response = finance_client.get("/")
    html = response.content.decode()
    assert 'id="kpi-mtd"' in html and "billed" in html and "estimated" in html
    assert 'id="kpi-projection"' in html and "80% range" in html  # the projection's interval
    assert 'id="mtd-comparison"' in html  # complete days against the same days last month
    assert 'id="movers"' in html
    assert "openai-main" in html and "anthropic-main" in html  # freshness per account
    figure = chart_json(response, "chart-spend")
    names = [trace.get("name") for trace in figure["data"]]
    assert "openai" in names and "anthropic" in names and "Forecast" in names
    bars = [t for t in figure["data"] if t["type"] == "bar"]
    assert len(bars[0]["x"]) == 90
    band = next(t for t in figure["data"] if t.get("fill") == "tonexty")
    assert band["name"] == "Forecast 80%"


def test_the_data_health_page_shows_failures_and_reconciliation(finance_client, spend_data):
    response = finance_client.get("/data-health/")
    html = response.content.decode()
    assert "HTTP 529 overloaded_error after 6 attempts" in html
    # A successful run's note (a source it could not use) is shown with the run.
    assert "a note of the sync: one source was not used (HTTP 403)" in html
    assert 'id="recon-table"' in html and "not billed yet" in html
    figure = chart_json(response, "chart-recon")
    assert [t["name"] for t in figure["data"]] == [
        "List estimate (usage x price catalog)",
        "Calibrated estimate (list x learned bill ratio)",
        "Billed (provider cost reports)",
    ]
    # Today is still arriving: the table lists it, the chart stops the day before.
    assert figure["data"][0]["x"][-1] == (TODAY - timedelta(days=1)).isoformat()
    assert "the chart leaves out today" in html


def test_the_forecast_page_shows_the_model_and_its_backtest(finance_client, stored_forecasts):
    response = finance_client.get("/forecast/?series=model:gpt-5.5&horizon=30")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="forecast-model"' in html and "MASE" in html
    figure = chart_json(response, "chart-forecast")
    names = [t["name"] for t in figure["data"]]
    assert "Actual" in names and "80% interval" in names and "95% interval" in names
    forecast = next(t for t in figure["data"] if t["name"].startswith("Forecast ("))
    assert len(forecast["x"]) == 30
    assert 'id="backtest-scores"' in html and "(chosen)" in html


def test_scenarios_compare_presets_with_the_baseline(finance_client, scenario_baseline):
    response = finance_client.get("/scenarios/?compare=preset:80/20,preset:gpt-5.5-to-gpt-5.4-mini")
    assert response.status_code == 200, response.content.decode()[:3000]
    figure = chart_json(response, "chart-scenarios")
    lines = [t["name"] for t in figure["data"] if t.get("hovertemplate")]
    assert lines == ["Baseline", "80/20", "Swap gpt-5.5 for gpt-5.4-mini"]
    bands = [t for t in figure["data"] if t.get("fill") == "tonexty"]
    assert len(bands) == 3
    assert len(figure["data"][1]["x"]) == 18  # whole months only
    html = response.content.decode()
    assert 'id="savings"' in html
    assert 'href="/scenarios/?compare=preset:80/20,preset:gpt-5.5-to-gpt-5.4-mini"' in html


def test_old_scenario_links_redirect_to_the_share_url(finance_client, spend_data):
    response = finance_client.get("/scenarios/?s=preset:80/20&s=saved:q4-plan-1a2b3c4d")
    assert response.status_code == 301
    assert response["Location"] == "/scenarios/?compare=preset:80/20,q4-plan-1a2b3c4d"
