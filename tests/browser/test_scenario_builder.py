"""The scenario builder in chromium: a finance user builds the seed's 80/20 scenario with the
form alone (no JSON typed), watches the live preview, saves it, and another user opening its
share link sees the same numbers."""

from __future__ import annotations

import json
from decimal import Decimal

from forecasting.runs.scenarios import preset_specs, scenario_inputs, scenario_results
from tests.browser.conftest import VIEWPORT, ConsoleLog, Session


def _expected_80_20() -> tuple[dict, Decimal]:
    """The seed's 80/20 transform and its savings, priced by the engine directly."""
    inputs = scenario_inputs()
    spec = preset_specs(inputs.prices)["80/20"]
    return spec["transforms"][0], scenario_results([spec], inputs=inputs)[1].savings


def test_build_the_80_20_scenario_with_the_form_preview_save_and_share(
    session, browser, live_server
):
    transform, savings = _expected_80_20()
    session.login("bob")
    session.open("/scenarios/")
    page = session.page
    page.wait_for_selector("body[data-builder-ready='1']")
    assert page.locator("#json-mode").get_attribute("open") is None  # JSON stays folded

    page.fill("#sc-name", "80/20 by form")
    page.select_option("#add-type", "shift")
    page.click("#add-transform")
    page.select_option("#r1-from-kind", "tier")
    page.select_option("#r1-from", "frontier")
    page.fill("#r1-to", transform["to"])
    assert "per 1M" in page.locator("#row-1 .builder-price").inner_text()  # its prices shown
    page.fill("#r1-share", "80")
    assert page.input_value("#r1-share-slider") == "80"
    page.select_option("#r1-ramp", "s-curve")
    page.fill("#r1-months", "15")

    # The form wrote the JSON (the saved format) and the preview redrew the chart.
    written = json.loads(page.input_value("#sc-transforms"))
    assert written == [
        {
            "type": "shift",
            "from": {"tier": "frontier"},
            "to": transform["to"],
            "share": 0.8,
            "ramp": "s-curve",
            "months": 15,
        }
    ]
    page.wait_for_selector("body[data-preview-ready='1']", timeout=20_000)
    preview = Decimal(page.get_attribute("#preview-summary", "data-savings"))
    assert preview == savings  # the preset's own figure, to the cent
    names = page.evaluate(
        "Array.from(document.getElementById('chart-scenarios').data).map(t => t.name)"
    )
    assert "80/20 by form" in names

    # Goal seek on the page: the share for a 1.2x cut, with its interval.
    page.fill("#goal-cut", "1.2")
    page.click("#goal-run")
    page.wait_for_selector("#goal-result:not(:has-text('Searching'))", timeout=60_000)
    assert "80% interval" in page.inner_text("#goal-result"), page.inner_text("#goal-result")

    with page.expect_navigation():
        page.click("#save")
    session.wait_for_charts()
    row = page.locator("#savings-table tr[data-scenario='80/20 by form']")
    assert Decimal(row.locator(".scenario-savings").get_attribute("data-amount")) == savings
    share_url = page.get_attribute("#share-link", "href")
    assert share_url.startswith("/scenarios/?compare=8020-by-form-")

    # Another user opens the share link: the same numbers.
    context = browser.new_context(viewport=VIEWPORT)
    console = ConsoleLog()
    other = Session(context.new_page(), live_server.url, console, session.data, session.queued)
    other.page.on("console", console.on_console)
    other.login("erin")
    other.open(share_url)
    shared = other.page.locator("#savings-table tr[data-scenario='80/20 by form']")
    assert Decimal(shared.locator(".scenario-savings").get_attribute("data-amount")) == savings
    assert shared.locator(".scenario-total").get_attribute("data-amount") == row.locator(
        ".scenario-total"
    ).get_attribute("data-amount")
    # Its form, opened for editing by the owner, rebuilds the same row from the saved JSON.
    context.close()
    slug = share_url.split("compare=")[1]
    session.open(f"/scenarios/?edit={slug}")
    page.wait_for_selector("body[data-builder-ready='1']")
    assert page.locator(".builder-row").count() == 1
    assert page.input_value("#r1-share") == "80" and page.input_value("#r1-to") == transform["to"]
    assert page.input_value("#r1-ramp") == "s-curve" and page.input_value("#r1-months") == "15"
