"""The endpoints answer what the pages and commands answer, page through big results, and
refuse bad input with JSON naming the field."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from forecasting.runs.models import Scenario
from spendapp.allocation.models import AllocationRule, Team
from spendapp.budgets.models import Budget

pytestmark = pytest.mark.django_db


def _spend_json(*args) -> list[dict]:
    out = io.StringIO()
    call_command("spend", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


# (API query, `manage.py spend` arguments): the same options.
CASES = [
    ({"from": "2026-08-01", "to": "2026-09-10", "by": "model"}, ["--by", "model"]),
    (
        {
            "from": "2026-08-01",
            "to": "2026-09-10",
            "by": "project,model",
            "granularity": "week",
            "filter": ["provider=openai"],
        },
        ["--by", "project,model", "--granularity", "week", "--filter", "provider=openai"],
    ),
    (
        {
            "from": "2026-06-01",
            "to": "2026-09-10",
            "by": "tier",
            "granularity": "month",
            "filter": ["model=gpt-5.5,claude-opus-4-7"],
        },
        ["--by", "tier", "--granularity", "month", "--filter", "model=gpt-5.5,claude-opus-4-7"],
    ),
    (
        {
            "from": "2026-09-09",
            "to": "2026-09-10",
            "by": "user",
            "granularity": "hour",
            "filter": ["user="],
        },
        ["--by", "user", "--granularity", "hour", "--filter", "user="],
    ),
    ({"from": "2026-09-01", "to": "2026-09-10"}, []),
]


def _all_pages(api, params: dict, limit: int) -> list[dict]:
    rows, offset = [], 0
    while offset is not None:
        response = api.get("/api/v1/spend", {**params, "limit": limit, "offset": offset})
        assert response.status_code == 200, response.content[:300]
        page = response.json()
        assert page["limit"] == limit and page["offset"] == offset
        assert len(page["rows"]) <= limit
        rows += page["rows"]
        offset = page["next_offset"]
    return rows


@pytest.mark.parametrize(("params", "args"), CASES, ids=[c[0].get("by") or "total" for c in CASES])
def test_spend_equals_manage_py_spend_json(finance_api, spend_data, params, args):
    expected = _spend_json("--from", params["from"], "--to", params["to"], *args)
    assert expected, "the case should have data"
    response = finance_api.get("/api/v1/spend", params)
    assert response.status_code == 200
    assert response.json()["rows"] == expected
    # Page by page, the same rows in the same order.
    assert _all_pages(finance_api, params, limit=7) == expected


def test_spend_pages_a_large_result(engineering_api, spend_data):
    params = {"from": "2026-05-13", "to": "2026-09-10", "by": "model,project,api_key"}
    first = engineering_api.get("/api/v1/spend", {**params, "limit": 100}).json()
    assert len(first["rows"]) == 100 and first["next_offset"] == 100
    rows = _all_pages(engineering_api, params, limit=250)
    assert rows == _spend_json(
        "--from", params["from"], "--to", params["to"], "--by", "model,project,api_key"
    )
    assert len(rows) > 500


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-09-10", "to": "2026-09-01"}, "to"),
        ({"by": "colour"}, "by"),
        ({"by": "model,model"}, "by"),
        ({"granularity": "year"}, "granularity"),
        ({"granularity": "hour", "from": "2026-01-01", "to": "2026-09-01"}, "granularity"),
        ({"granularity": "hour", "by": "team"}, "granularity"),
        ({"filter": "openai"}, "filter"),
        ({"filter": "colour=red"}, "filter"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "many"}, "limit"),
        ({"from": "2020-01-01", "to": "2026-09-01"}, "from"),
        ({"by": "model\x00"}, "by"),
    ],
)
def test_bad_spend_options_are_400_naming_the_field(finance_api, spend_data, params, field):
    response = finance_api.get("/api/v1/spend", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"][0]["field"] == field
    assert body["detail"]


def test_spend_messages_are_the_commands(finance_api, spend_data):
    from django.core.management.base import CommandError

    response = finance_api.get("/api/v1/spend", {"granularity": "fortnight"})
    with pytest.raises(CommandError) as raised:
        _spend_json("--by", "colour")
    by = finance_api.get("/api/v1/spend", {"by": "colour"}).json()["detail"]
    assert f"--{by}" == str(raised.value)
    assert response.json()["errors"][0]["message"].startswith("expected one of hour")


def test_spend_csv_export_is_the_explorers(finance_api, finance_client, spend_data):
    params = {"from": "2026-08-20", "to": "2026-09-10", "by": "api_key"}
    ours = finance_api.get("/api/v1/exports/spend.csv", params)
    page = finance_client.get("/explorer/export.csv", {**params, "metric": "spend"})
    assert ours.status_code == 200 and ours["Content-Type"].startswith("text/csv")
    assert ours.content == page.content


def test_provider_accounts_never_show_a_key(finance_api, spend_data):
    body = finance_api.get("/api/v1/providers/accounts").content.decode()
    assert "sk-test-key" not in body and "encrypted" not in body
    accounts = json.loads(body)
    assert {a["key_last4"] for a in accounts} == {"0000"}
    fresh = finance_api.get("/api/v1/providers/freshness").json()
    assert {f["last_day"] for f in fresh} == {"2026-09-10"}
    runs = finance_api.get("/api/v1/providers/sync-runs", {"limit": 1}).json()
    assert len(runs["runs"]) == 1 and runs["next_offset"] == 1


def test_budgets_are_written_through_the_pages_form(finance_api, engineering_api):
    created = finance_api.post(
        "/api/v1/budgets",
        {
            "name": "OpenAI",
            "amount": "1000",
            "scope": "provider",
            "scope_value": "openai",
            "thresholds": [90, 50],
        },
    )
    assert created.status_code == 201, created.content
    budget = created.json()
    assert budget["thresholds"] == [50, 90] and budget["amount"] == "1000"
    # The form's own validation, named by field.
    for body, field in (
        ({"name": "OpenAI", "amount": "5"}, "name"),  # unique
        ({"name": "X", "amount": "-1"}, ""),  # the positive-amount constraint
        ({"name": "X", "amount": "lots"}, "amount"),
        ({"name": "X", "amount": "1", "scope": "galaxy"}, "scope"),
        ({"name": "X", "amount": "1", "extra_emails": "not an address"}, "extra_emails"),
        ({"name": "X"}, "amount"),
    ):
        response = finance_api.post("/api/v1/budgets", body)
        assert response.status_code == 400, (body, response.content)
        assert response.json()["errors"][0]["field"] in (field, "amount"), response.json()
    assert Budget.objects.count() == 1
    updated = finance_api.put(
        f"/api/v1/budgets/{budget['id']}", {"name": "OpenAI", "amount": "1200.50"}
    )
    assert updated.status_code == 200 and updated.json()["amount"] == "1200.5"
    assert engineering_api.get(f"/api/v1/budgets/{budget['id']}").json()["name"] == "OpenAI"
    assert (
        engineering_api.put(
            f"/api/v1/budgets/{budget['id']}", {"name": "x", "amount": "1"}
        ).status_code
        == 403
    )
    assert finance_api.get("/api/v1/budgets/999999").status_code == 404


def test_allocation_rules_and_chargeback(finance_api, engineering_api, spend_data):
    team = finance_api.post("/api/v1/allocation/teams", {"name": "Support", "code": "CC-1"})
    assert team.status_code == 201, team.content
    rule = finance_api.post(
        "/api/v1/allocation/rules",
        {
            "dimension": "project",
            "value": "proj_support",
            "team": team.json()["id"],
            "valid_from": "2026-01-01",
        },
    )
    assert rule.status_code == 201, rule.content
    bad = finance_api.post(
        "/api/v1/allocation/rules",
        {"dimension": "project", "value": "p", "team": 999, "valid_from": "2026-01-01"},
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "team"
    assert (
        engineering_api.post(
            "/api/v1/allocation/rules", {"dimension": "project", "value": "p", "valid_from": "x"}
        ).status_code
        == 403
    )
    assert [r["value"] for r in engineering_api.get("/api/v1/allocation/rules").json()] == [
        "proj_support"
    ]
    assert finance_api.delete(f"/api/v1/allocation/rules/{rule.json()['id']}").status_code == 204
    assert not AllocationRule.objects.exists() and Team.objects.count() == 1
    report = finance_api.get("/api/v1/allocation/chargeback", {"month": "2026-08"})
    assert report.status_code == 200 and report.json()["month"] == "2026-08"
    bad_month = finance_api.get("/api/v1/allocation/chargeback", {"month": "August"})
    assert bad_month.status_code == 400 and bad_month.json()["errors"][0]["field"] == "month"


def test_scenarios_save_list_delete_as_on_the_page(finance_api, engineering_api):
    spec = [{"type": "growth", "monthly": 0.05}]
    saved = engineering_api.post("/api/v1/scenarios", {"name": "Growth", "transforms": spec})
    assert saved.status_code == 201, saved.content
    slug = saved.json()["slug"]
    assert [s["slug"] for s in finance_api.get("/api/v1/scenarios").json()] == [slug]
    # Only the owner (or an admin) deletes it.
    assert finance_api.delete(f"/api/v1/scenarios/{slug}").status_code == 403
    bad = engineering_api.post(
        "/api/v1/scenarios", {"name": "Bad", "transforms": [{"type": "teleport"}]}
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"].startswith("transforms")
    assert engineering_api.delete(f"/api/v1/scenarios/{slug}").status_code == 204
    assert not Scenario.objects.exists()


def test_scenario_run_needs_one_source_and_history(finance_api):
    none = finance_api.post("/api/v1/scenarios/run", {})
    assert none.status_code == 400 and none.json()["errors"][0]["field"] == "spec"
    unknown = finance_api.post("/api/v1/scenarios/run", {"preset": "nope"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "preset"
    empty = finance_api.post("/api/v1/scenarios/run", {"spec": {"name": "x", "transforms": []}})
    assert empty.status_code == 409  # no history for a baseline yet


def test_month_projection_is_the_pages_one_number(finance_api, finance_client, spend_data):
    from forecasting.runs.projections import month_projection

    body = finance_api.get("/api/v1/forecasts/month").json()
    projection = month_projection()
    assert body["actual_to_date"] == str(projection.actual_to_date)
    assert body["projected_total"] == (None if projection.total is None else str(projection.total))
    assert finance_api.get("/api/v1/forecasts/runs").json()["runs"] == []
    assert finance_api.get("/api/v1/forecasts/runs/1").status_code == 404
