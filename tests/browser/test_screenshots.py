"""1440x900 screenshots of every page, with data, for docs/screenshots/<page>.png.

Skipped in normal runs (it would rewrite the PNGs every time); make them with
``DATABASE_URL=... DEBUG=1 python -m tests.browser.make_screenshots``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spendapp.allocation.chargeback import previous_month
from spendapp.allocation.engine import recompute_allocation
from spendapp.allocation.models import AllocationRule, Team
from spendapp.allocation.rules import data_range
from spendapp.usage.models import DailySpend

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("SPENDAPP_SCREENSHOTS"),
        reason="writes docs/screenshots; run python -m tests.browser.make_screenshots",
    ),
]

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = {
    "overview": "/",
    "explorer": "/explorer/",
    "forecast": "/forecast/",
    "scenarios": "/scenarios/",
    "budgets": "/budgets/",
    "data-health": "/data-health/",
    "allocation": "/allocation/",
}


def _example_allocation() -> None:
    """Two teams under a department, each owning the API keys of one project, so the
    allocation page and the chargeback have something to show (the engine runs here, as
    there is no worker; the Celery task the rules queued was only recorded)."""
    eng = Team.objects.create(name="Engineering", kind="department", code="CC-100")
    first = data_range()[0]
    projects = (
        DailySpend.objects.exclude(project_id="")
        .values_list("project_id", flat=True)
        .distinct()
        .order_by("project_id")
    )
    for i, (name, project) in enumerate(zip(("Search", "Support bots"), projects, strict=False)):
        team = Team.objects.create(
            name=name, parent=eng, code=f"T-{i + 1}", owner_email=f"team{i + 1}@example.com"
        )
        AllocationRule.objects.create(
            dimension="project", value=project, team=team, valid_from=first
        )
    recompute_allocation(*data_range())


def test_screenshots(session):
    OUT.mkdir(parents=True, exist_ok=True)
    _example_allocation()
    session.login("alice")
    page = session.page
    for name, path in PAGES.items():
        session.open(path)
        if name == "scenarios":  # compare the first preset with the baseline
            page.locator("#scenario-picker input[type=checkbox]:not([disabled])").first.check()
            with page.expect_navigation():
                page.click("#compare")
            session.wait_for_charts()
        page.mouse.move(0, 0)  # no hover labels
        page.screenshot(path=OUT / f"{name}.png")
    month = f"{previous_month(session.data.today):%Y-%m}"
    session.open(f"/allocation/chargeback/?month={month}")
    page.screenshot(path=OUT / "chargeback.png")
