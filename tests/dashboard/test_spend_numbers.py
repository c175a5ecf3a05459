"""The four numbers of every spend row (billed, list estimate, calibrated estimate, spend) add
up at every grain, and spend follows the one rule: the bill where the day is billed, split by
estimate below the billing group, else the calibrated estimate."""

from datetime import timedelta
from decimal import Decimal

import pytest

from spendapp.allocation.engine import recompute_allocation
from spendapp.allocation.models import AllocationRule, Team
from spendapp.usage import calibration
from spendapp.usage.queries import SpendQuery, spend_rows
from tests.dashboard.conftest import TODAY

FIRST = TODAY - timedelta(days=59)
MONEY = ("estimated_cost", "calibrated_cost", "spend")


@pytest.fixture
def calibrated(spend_data):
    """The fixture's rows (billed at 1.02 x the estimate, the last two days not yet) with
    their calibration ratios, as a sync leaves them."""
    calibration.rebuild()
    return spend_data


def _totals(rows) -> dict[str, Decimal]:
    return {field: sum(Decimal(row[field]) for row in rows) for field in MONEY}


@pytest.mark.parametrize("by", ["provider", "project", "api_key", "user", "model", "tier"])
def test_every_partition_adds_up_to_the_total(calibrated, by):
    total = _totals(spend_rows(SpendQuery(FIRST, TODAY, granularity="month")))
    parts = _totals(spend_rows(SpendQuery(FIRST, TODAY, (by,), "month")))
    for field in MONEY:
        assert parts[field].quantize(Decimal("0.000001")) == total[field].quantize(
            Decimal("0.000001")
        ), field


@pytest.mark.parametrize("by", ["team", "cost_centre"])
def test_teams_and_cost_centres_add_up_to_the_total_by_the_same_rule(calibrated, by):
    eng = Team.objects.create(name="Engineering", kind="department")
    support = Team.objects.create(name="Support", parent=eng)
    AllocationRule.objects.create(
        dimension="project", value="proj_support", team=support, valid_from=FIRST
    )
    recompute_allocation(FIRST, TODAY)
    total = _totals(spend_rows(SpendQuery(FIRST, TODAY, granularity="month")))
    rows = spend_rows(SpendQuery(FIRST, TODAY, (by,), "month"))
    assert {row[by] for row in rows} >= {None}  # proj_rag and Anthropic stay unallocated
    parts = _totals(rows)
    for field in MONEY:
        assert parts[field].quantize(Decimal("0.000001")) == total[field].quantize(
            Decimal("0.000001")
        ), field


def test_spend_is_the_bill_on_billed_days_and_the_calibrated_estimate_after(calibrated):
    rows = {row["date"]: row for row in spend_rows(SpendQuery(FIRST, TODAY))}
    billed_day = rows[(TODAY - timedelta(days=2)).isoformat()]
    assert Decimal(billed_day["spend"]) == Decimal(billed_day["billed_cost"])
    assert Decimal(billed_day["billed_cost"]) == Decimal(billed_day["estimated_cost"]) * Decimal(
        "1.02"
    )
    today = rows[TODAY.isoformat()]
    assert today["billed_cost"] is None
    # Learned from the earlier bills: 1.02 x the list estimate.
    assert Decimal(today["calibrated_cost"]) == Decimal(today["estimated_cost"]) * Decimal("1.02")
    assert today["spend"] == today["calibrated_cost"]


def test_below_the_billing_group_a_bill_is_split_in_proportion_to_the_estimates(calibrated):
    day = TODAY - timedelta(days=5)
    rows = spend_rows(SpendQuery(day, day, ("api_key",), filters={"provider": ("openai",)}))
    by_key = {row["api_key"]: row for row in rows}
    # OpenAI bills per project x model: the bill rows carry no key, so the keys' spend is
    # their share of their groups' bills, and the key-less rows keep nothing of them.
    assert Decimal(by_key[None]["spend"]) == 0
    for key in ("key_support", "key_rag"):
        assert Decimal(by_key[key]["spend"]) == Decimal(by_key[key]["estimated_cost"]) * Decimal(
            "1.02"
        )


def test_hours_are_calibrated_estimates(calibrated):
    rows = spend_rows(SpendQuery(TODAY, TODAY, granularity="hour"))
    assert rows and all(row["billed_cost"] is None for row in rows)
    assert all(row["spend"] == row["calibrated_cost"] for row in rows)
    assert Decimal(rows[0]["calibrated_cost"]) == Decimal(rows[0]["estimated_cost"]) * Decimal(
        "1.02"
    )


def test_before_any_history_the_list_estimate_stands(spend_data):
    # No ratios computed (an upgraded install before `manage.py calibrate`).
    (row,) = spend_rows(SpendQuery(TODAY, TODAY))
    assert row["calibrated_cost"] == row["estimated_cost"] == row["spend"]
