"""Saving scenarios: Finance and Engineering may save; owners edit and delete their own."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from forecasting.runs.models import Scenario
from spendapp.usage.models import DailySpend
from tests.dashboard.conftest import chart_json

SHIFT = [{"type": "shift", "from": {"tier": "frontier"}, "to": "gpt-5.4-mini", "share": 0.5}]
CUT = [{"type": "fewer_calls", "reduction": 0.3}]


@pytest.mark.parametrize("user", ["bob", "erin"])
def test_finance_and_engineering_can_save_a_scenario(client, scenario_baseline, request, user):
    client.force_login(request.getfixturevalue(user))
    response = client.post(
        "/scenarios/save/",
        {"name": "Half to mini", "notes": "Q4 plan", "transforms": json.dumps(SHIFT)},
    )
    scenario = Scenario.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/scenarios/?compare={scenario.slug}"
    assert scenario.owner.username == user and scenario.spec["transforms"][0]["share"] == 0.5
    page = client.get(response["Location"])
    figure = chart_json(page, "chart-scenarios")
    assert "Half to mini" in [t["name"] for t in figure["data"]]
    assert 'id="saved-scenarios"' in page.content.decode()


def test_preview_draws_a_draft_without_saving(finance_client, scenario_baseline):
    response = finance_client.post(
        "/scenarios/", {"name": "Draft A", "transforms": json.dumps(SHIFT), "action": "preview"}
    )
    assert response.status_code == 200
    assert "Draft A" in [t["name"] for t in chart_json(response, "chart-scenarios")["data"]]
    assert not Scenario.objects.exists()


@pytest.mark.parametrize(
    "transforms",
    ["not json", '[{"type": "teleport"}]', '[{"type": "shift", "share": 2}]', '{"a": 1}'],
)
def test_an_invalid_scenario_is_refused_with_the_reason(
    finance_client, scenario_baseline, transforms
):
    response = finance_client.post("/scenarios/save/", {"name": "Bad", "transforms": transforms})
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.content.decode()
    assert not Scenario.objects.exists()


def test_saved_scenarios_are_shared_by_slug_and_compared_with_presets(
    finance_client, scenario_baseline, bob
):
    one = Scenario.objects.create(name="Half to mini", owner=bob, spec={"transforms": SHIFT})
    two = Scenario.objects.create(name="Price cut", owner=bob, spec={"transforms": CUT})
    url = f"/scenarios/?compare={one.slug},{two.slug},preset:80/20"
    response = finance_client.get(url)
    assert response.status_code == 200, response.content.decode()[:2000]
    lines = [t["name"] for t in chart_json(response, "chart-scenarios")["data"]]
    assert [n for n in lines if "80%" not in n and "lower" not in n] == [
        "Baseline",
        "Half to mini",
        "Price cut",
        "80/20",
    ]
    assert f'href="{url}" id="share-link"' in response.content.decode()
    assert [r.name for r in response.context["compared"]] == ["Half to mini", "Price cut", "80/20"]
    cut = response.context["compared"][1]
    assert cut.total < response.context["baseline"].total


def test_only_the_owner_may_delete(client, spend_data, bob, erin):
    scenario = Scenario.objects.create(name="Bob's", owner=bob, spec={"transforms": SHIFT})
    client.force_login(erin)
    assert client.post(f"/scenarios/{scenario.slug}/delete/").status_code == 403
    client.force_login(bob)
    assert client.post(f"/scenarios/{scenario.slug}/delete/").status_code == 302
    assert not Scenario.objects.exists()


def test_a_user_without_a_role_cannot_save(client, charlie, db):
    client.force_login(charlie)
    response = client.post("/scenarios/save/", {"name": "x", "transforms": "[]"})
    assert response.status_code == 403


def test_traffic_moves_only_to_models_that_can_answer(finance_client, scenario_baseline, accounts):
    # The builder's "to" menus list generative models only; a draft typed by hand that moves
    # traffic to an embedding model is refused with the reason, and nothing is saved.
    DailySpend.objects.create(
        day=scenario_baseline[0].day,
        account=accounts["openai"],
        provider="openai",
        project_id="proj_support",
        model="text-embedding-3-small",
        input_uncached_tokens=10**6,
        estimated_cost=Decimal("0.02"),
    )
    page = finance_client.get("/scenarios/")
    html = page.content.decode()
    start = html.index('<script id="scenario-options" type="application/json">')
    options = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    by_name = {m["name"]: m for m in options["models"]}
    assert by_name["gpt-5.4-mini"]["generative"] is True
    embedding = by_name["text-embedding-3-small"]
    assert embedding["output"] == 0 and embedding["generative"] is False
    draft = [{"type": "shift", "from": {"tier": "frontier"}, "to": embedding["name"], "share": 1}]
    form = {"name": "To embeddings", "transforms": json.dumps(draft), "action": "preview"}
    response = finance_client.post("/scenarios/", form)
    assert response.status_code == 400
    assert "priced for input only" in response.content.decode()
    assert not Scenario.objects.exists()
    # Saving checks the form, not the prices (a model may be priced later, by an override):
    # the comparison then says why it cannot price the scenario.
    saved = finance_client.post("/scenarios/save/", form)
    page = finance_client.get(saved["Location"]).content.decode()
    assert "priced for input only" in page
