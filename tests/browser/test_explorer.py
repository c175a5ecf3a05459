"""The explorer in the browser: the form drives the URL, the chart follows the URL, and the
downloaded CSV is exactly `manage.py spend --json` for the same options."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from spendapp.usage.queries import SpendQuery, spend_rows
from tests.browser.conftest import assert_drawn
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAX_SERIES = 12  # spendapp.dashboard.series.MAX_SERIES: the rest is folded into "Other"


def _query(page_url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page_url).query, keep_blank_values=True)


def _spend_json(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("spend", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def _as_csv(rows: list[dict]) -> list[dict]:
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


def _expected_names(query: SpendQuery, key: str) -> set[str]:
    """Series of the chart: one per grouping value, by the same shared query."""
    values = {row[key] for row in spend_rows(query)}
    assert 0 < len(values) <= MAX_SERIES, "pick a view without an 'Other' series"
    return {v if v else f"(no {key})" for v in values}


def _download_csv(session) -> tuple[str, list[dict]]:
    with session.page.expect_download() as info:
        session.page.click("#export-csv")
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text)))


def test_the_form_drives_the_url_and_the_chart_follows(session):
    today = session.data.today
    start = today - timedelta(days=27)
    page = session.page
    # Logged out: the login form, then back to the very view that was asked for.
    page.goto(session.url(f"/explorer/?from={start}&to={today}"))
    assert urlsplit(page.url).path == "/accounts/login/"
    page.fill("#id_username", "erin")
    page.fill("#id_password", "not-the-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.locator("p.error[role=alert]").is_visible()
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.url == session.url(f"/explorer/?from={start}&to={today}")
    session.wait_for_charts()
    chart = session.chart("chart-spend")
    assert_drawn(chart)
    assert sorted(chart["names"]) == ["anthropic", "openai"]  # by provider, the default
    assert chart["types"] == ["bar", "bar"]  # stacked
    assert chart["x"][0][0] == start.isoformat() and chart["x"][0][-1] == today.isoformat()

    # Group by model, only OpenAI, as lines: submit the form.
    page.select_option("#f-by", "model")
    page.select_option("#f-provider", ["openai"])
    page.select_option("#f-chart", "lines")
    with page.expect_navigation():
        page.click("#apply")
    params = _query(page.url)
    assert params["by"] == ["model"] and params["provider"] == ["openai"]
    assert params["chart"] == ["lines"]
    assert params["from"] == [start.isoformat()] and params["to"] == [today.isoformat()]
    session.wait_for_charts()
    chart = session.chart("chart-spend")
    assert_drawn(chart)
    expected = _expected_names(
        SpendQuery(start, today, ("model",), "day", {"provider": ("openai",)}), "model"
    )
    assert set(chart["names"]) == expected
    assert set(chart["types"]) == {"scatter"}
    assert page.locator("#active-filters").inner_text().startswith("Provider: openai")
    assert page.locator("#totals tbody tr").count() == len(expected) + (len(expected) > 1)

    # Narrow the dates and go weekly: the x axis follows.
    narrow = today - timedelta(days=20)
    page.fill("#f-from", narrow.isoformat())
    page.select_option("#f-granularity", "week")
    with page.expect_navigation():
        page.click("#apply")
    params = _query(page.url)
    assert params["from"] == [narrow.isoformat()] and params["granularity"] == ["week"]
    assert params["provider"] == ["openai"]  # the filter stays
    session.wait_for_charts()
    chart = session.chart("chart-spend")
    assert_drawn(chart)
    monday = narrow - timedelta(days=narrow.weekday())
    weeks = [(monday + timedelta(weeks=w)).isoformat() for w in range(4)]
    assert chart["x"][0] == [w for w in weeks if w <= today.isoformat()]

    # Removing the filter chip drops it from the URL and brings Anthropic's models back.
    with page.expect_navigation():
        page.click("#active-filters a[aria-label='Remove Provider filter']")
    assert "provider" not in _query(page.url)
    session.wait_for_charts()
    chart = session.chart("chart-spend")
    assert_drawn(chart)
    assert set(chart["names"]) == _expected_names(
        SpendQuery(narrow, today, ("model",), "week"), "model"
    )

    # Back to the default view (stacked bars by provider): clicking a bar drills into its
    # provider, grouped by model.
    with page.expect_navigation():
        page.click("#reset")
    assert urlsplit(page.url).query == ""
    session.wait_for_charts()
    # The tallest bar: the last one may be today's, of zero height just after midnight UTC
    # (nothing to click: "outside of the viewport").
    bars = "#chart-spend .barlayer > .trace path"
    tallest = page.evaluate(
        """(selector) => {
            const heights = [...document.querySelectorAll(selector)].map(
                (path) => path.getBBox().height
            );
            return heights.indexOf(Math.max(...heights));
        }""",
        bars,
    )
    with page.expect_navigation():
        page.locator(bars).nth(tallest).click(force=True)
    params = _query(page.url)
    assert params["by"] == ["model"] and params["provider"][0] in ("anthropic", "openai")
    session.wait_for_charts()
    chart = session.chart("chart-spend")
    assert_drawn(chart)
    provider = params["provider"][0]
    first = today - timedelta(days=29)  # the default range: the last 30 days
    drilled = SpendQuery(first, today, ("model",), "day", {"provider": (provider,)})
    assert set(chart["names"]) == _expected_names(drilled, "model")
    assert page.locator("#active-filters").inner_text().startswith("Provider: ")


CSV_CASES = {
    "model-week-openai": (
        {"by": "model", "granularity": "week", "provider": ["openai"]},
        ["--by", "model", "--granularity", "week", "--filter", "provider=openai"],
    ),
    "api_key-two-models": (
        {"by": "api_key", "model": ["gpt-5.4-mini", "claude-haiku-4-5"]},
        ["--by", "api_key", "--filter", "model=gpt-5.4-mini,claude-haiku-4-5"],
    ),
    "user-hour-anthropic": (
        {"by": "user", "granularity": "hour", "provider": ["anthropic"], "days": 2},
        ["--by", "user", "--granularity", "hour", "--filter", "provider=anthropic"],
    ),
}


def test_the_csv_downloads_equal_spend_json(session):
    today = session.data.today
    session.login("bob")
    page = session.page
    for case, (form, args) in CSV_CASES.items():
        start = today - timedelta(days=form.get("days", 30) - 1)
        session.open(f"/explorer/?from={start}&to={today}")
        page.select_option("#f-by", form["by"])
        page.select_option("#f-granularity", form.get("granularity", "day"))
        for field in ("provider", "model"):
            if field in form:
                page.select_option(f"#f-{field}", form[field])
        with page.expect_navigation():
            page.click("#apply")
        session.wait_for_charts()
        assert_drawn(session.chart("chart-spend"))

        name, rows = _download_csv(session)
        assert name == f"spend-{start}-{today}.csv", case
        expected = _spend_json("--from", start.isoformat(), "--to", today.isoformat(), *args)
        assert expected, f"{case}: the case should have data"
        assert list(rows[0]) == list(expected[0]), case
        assert rows == _as_csv(expected), case
