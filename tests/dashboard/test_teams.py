"""Teams and cost centres in the explorer, `manage.py spend` and the CSV: the allocated
rollup, where unallocated spend is its own series and everything adds up to the total."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from spendapp.allocation.engine import recompute_allocation
from spendapp.allocation.models import AllocationRule, Team
from spendapp.usage.queries import NO_COST_CENTRE, SpendQuery, spend_rows
from tests.dashboard.conftest import HISTORY_DAYS, TODAY, chart_json

FROM = TODAY - timedelta(days=29)
PARAMS = {"from": FROM.isoformat(), "to": TODAY.isoformat()}


@pytest.fixture
def allocated(spend_data):
    """Acme > Engineering (department) > Support; Acme > Research (no department).
    proj_support -> Support, wrkspc_research -> Research; proj_rag stays unallocated."""
    acme = Team.objects.create(name="Acme", kind="company")
    eng = Team.objects.create(name="Engineering", kind="department", parent=acme)
    support = Team.objects.create(name="Support", parent=eng)
    research = Team.objects.create(name="Research", parent=acme)
    first = TODAY - timedelta(days=HISTORY_DAYS - 1)
    for project, team in (("proj_support", support), ("wrkspc_research", research)):
        AllocationRule.objects.create(
            dimension="project", value=project, team=team, valid_from=first
        )
    recompute_allocation(first, TODAY)
    return {"support": support, "research": research, "eng": eng}


def _sum(rows, field="estimated_cost") -> Decimal:
    return sum((Decimal(r[field]) for r in rows if r[field] is not None), Decimal(0))


def _spend_json(*args) -> list[dict]:
    out = io.StringIO()
    call_command("spend", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_team_grouping_sums_to_the_total_with_unallocated(finance_client, allocated):
    response = finance_client.get("/explorer/", {**PARAMS, "by": "team"})
    assert response.status_code == 200
    series = {s.label: s.parts for s in response.context["series"]}
    assert set(series) == {"Support", "Research", "Unallocated"}
    total = spend_rows(SpendQuery(FROM, TODAY))
    assert sum(p.estimated for p in series.values()) == _sum(total)
    assert sum(p.billed for p in series.values()) == _sum(total, "billed_cost")
    assert sum(p.tokens for p in series.values()) == sum(
        r["input_tokens"] + r["output_tokens"] for r in total
    )
    # Unallocated is exactly the project no rule maps.
    rag = spend_rows(SpendQuery(FROM, TODAY, filters={"project": ("proj_rag",)}))
    assert series["Unallocated"].estimated == _sum(rag)
    names = [t["name"] for t in chart_json(response, "chart-spend")["data"]]
    assert "Unallocated" in names


def test_team_filters_and_cost_centres(finance_client, allocated):
    unallocated = finance_client.get("/explorer/", {**PARAMS, "by": "project", "team": "(none)"})
    assert {s.key for s in unallocated.context["series"]} == {"proj_rag"}
    # A department selects the teams below it.
    eng = finance_client.get("/explorer/", {**PARAMS, "by": "team", "team": "Engineering"})
    assert {s.label for s in eng.context["series"]} == {"Support"}

    by_cc = finance_client.get("/explorer/", {**PARAMS, "by": "cost_centre"})
    parts = {s.label: s.parts.estimated for s in by_cc.context["series"]}
    assert set(parts) == {"Engineering", NO_COST_CENTRE, "Unallocated"}
    assert sum(parts.values()) == _sum(spend_rows(SpendQuery(FROM, TODAY)))
    drill = next(s for s in by_cc.context["series"] if s.label == "Engineering").drill
    assert "cost_centre=Engineering" in drill and "by=team" in drill


def test_team_csv_equals_spend_json(finance_client, allocated):
    params = {**PARAMS, "by": "team", "granularity": "week", "provider": "openai"}
    response = finance_client.get("/explorer/export.csv", params)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    expected = _spend_json(
        "--from", PARAMS["from"], "--to", PARAMS["to"], "--by", "team", "--granularity", "week",
        "--filter", "provider=openai",
    )  # fmt: skip
    assert rows == [{k: "" if v is None else str(v) for k, v in r.items()} for r in expected]
    assert {r["team"] for r in rows} == {"Support", ""}  # "": unallocated (proj_rag)


def test_spend_command_by_team(allocated):
    rows = _spend_json("--from", PARAMS["from"], "--to", PARAMS["to"], "--by", "team")
    assert {r["team"] for r in rows} == {"Support", "Research", None}
    only = _spend_json("--from", PARAMS["from"], "--to", PARAMS["to"], "--filter", "team=")
    assert _sum(only) == _sum([r for r in rows if r["team"] is None])
    with pytest.raises(CommandError, match="team: no team named 'Nobody'"):
        _spend_json("--filter", "team=Nobody")
    with pytest.raises(CommandError, match="granularity: team"):
        _spend_json("--by", "team", "--granularity", "hour", "--from", TODAY.isoformat())


@pytest.mark.parametrize(
    "params",
    [{"by": "team", "granularity": "hour", "from": "2026-09-09"}, {"team": "Nobody"}],
)
def test_the_explorer_refuses_teams_it_cannot_show(finance_client, allocated, params):
    response = finance_client.get("/explorer/", params)
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.content.decode()


def test_data_health_lists_the_biggest_unallocated_spend(finance_client, allocated):
    response = finance_client.get("/data-health/")
    html = response.content.decode()
    assert 'id="unallocated"' in html and 'href="/allocation/"' in html
    rows = response.context["unallocated"]
    assert {(r["project_id"], r["project_name"]) for r in rows} == {("proj_rag", "Search & RAG")}
    assert "Search &amp; RAG" in html
