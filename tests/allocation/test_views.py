"""The Finance page: roles, creating a team and key rules without the admin, the preview,
overlap errors, shared costs and the chargeback downloads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from spendapp.allocation.engine import recompute_allocation
from spendapp.allocation.models import AllocationRule, SharedCost, Team
from spendapp.allocation.queries import spend_by_team
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import DailySpend

pytestmark = pytest.mark.django_db
DAY = date(2026, 8, 12)


@pytest.fixture
def spend(db):
    account = ProviderAccount(name="acme", provider="openai")
    account.set_key("sk-admin-test-0000")
    account.save()
    for key, cost in (("key_a", "10.5"), ("key_b", "4.25"), ("key_c", "1")):
        DailySpend.objects.create(
            day=DAY,
            account=account,
            provider="openai",
            api_key_id=key,
            project_id="p1",
            estimated_cost=Decimal(cost),
            output_tokens=100,
        )
    return account


def test_roles(client, erin, charlie, bob):
    client.force_login(charlie)
    assert client.get("/allocation/").status_code == 403
    client.force_login(erin)
    page = client.get("/allocation/")
    assert page.status_code == 200 and b"New team" not in page.content
    assert client.post("/allocation/teams/new/", {"name": "X", "kind": "team"}).status_code == 403
    assert client.post("/allocation/recompute/").status_code == 403
    client.force_login(bob)
    assert b"New team" in client.get("/allocation/").content


@time_machine.travel(datetime(2026, 9, 15, 10, tzinfo=UTC), tick=False)  # "last month": August
def test_finance_creates_a_team_and_maps_two_keys_without_the_admin(
    finance_client, spend, django_capture_on_commit_callbacks, eager_recompute
):
    response = finance_client.post(
        "/allocation/teams/new/",
        {
            "name": "Search",
            "kind": "team",
            "parent": "",
            "code": "T-1",
            "owner_email": "s@example.com",
        },
    )
    assert response.status_code == 302, response.content
    team = Team.objects.get(name="Search")

    form = {
        "dimension": "api_key",
        "account": "",
        "value": "key_a",
        "team": team.pk,
        "shared_cost": "",
        "priority": "100",
        "valid_from": "2026-01-01",
        "valid_until": "",
        "note": "",
    }
    with django_capture_on_commit_callbacks(execute=True):
        preview = finance_client.post("/allocation/rules/new/", {**form, "action": "preview"})
    assert preview.status_code == 200 and not AllocationRule.objects.exists()
    assert preview.context["preview"].estimated_cost == Decimal("10.5")
    assert b'data-testid="preview-amount">$10.50<' in preview.content

    with django_capture_on_commit_callbacks(execute=True):
        for key in ("key_a", "key_b"):
            saved = finance_client.post(
                "/allocation/rules/new/", {**form, "value": key, "action": "save"}
            )
            assert saved.status_code == 302, saved.content
    assert AllocationRule.objects.count() == 2
    assert eager_recompute == [("2026-08-12", "2026-08-12")] * 2

    by_team = {r["name"]: r["estimated_cost"] for r in spend_by_team(DAY, DAY)}
    assert by_team == {"Search": Decimal("14.75"), "Unallocated": Decimal(1)}
    page = finance_client.get("/allocation/chargeback/?month=2026-08")
    assert page.status_code == 200
    assert b'data-line="Search"' in page.content and b"14.75" in page.content
    listing = finance_client.get("/allocation/")
    assert b"key_a" in listing.content and b'data-team="Search"' in listing.content


def test_an_overlapping_rule_is_shown_as_an_error_naming_both(finance_client, spend):
    team = Team.objects.create(name="Search")
    chat = Team.objects.create(name="Chat")
    first = AllocationRule.objects.create(
        dimension="api_key", value="key_a", team=team, valid_from=date(2026, 1, 1)
    )
    response = finance_client.post(
        "/allocation/rules/new/",
        {
            "dimension": "api_key",
            "value": "key_a",
            "team": chat.pk,
            "priority": "100",
            "valid_from": "2026-03-01",
            "action": "save",
        },
    )
    assert response.status_code == 200
    errors = " ".join(response.context["form"].non_field_errors())
    assert f"#{first.pk}" in errors and "Search" in errors and "Chat" in errors
    assert AllocationRule.objects.count() == 1


def test_a_shared_cost_is_created_with_percentages_that_add_up(finance_client, db):
    Team.objects.create(name="Search", code="T-S")
    Team.objects.create(name="Chat")
    bad = finance_client.post(
        "/allocation/shared/new/",
        {"name": "Platform", "method": "fixed", "shares": "Search = 60\nChat = 30"},
    )
    assert bad.status_code == 200 and "add up to 90" in str(bad.context["form"].errors)
    good = finance_client.post(
        "/allocation/shared/new/",
        {"name": "Platform", "method": "fixed", "shares": "T-S = 60\nChat: 40%"},
    )
    assert good.status_code == 302
    pool = SharedCost.objects.get()
    assert {(s.team.name, s.percent) for s in pool.shares.all()} == {
        ("Search", Decimal(60)),
        ("Chat", Decimal(40)),
    }
    unknown = finance_client.post(
        "/allocation/shared/new/", {"name": "P2", "method": "proportional", "shares": "Nope"}
    )
    assert "Unknown team" in str(unknown.context["form"].errors)


def test_chargeback_downloads(finance_client, spend):
    team = Team.objects.create(name="Search")
    AllocationRule.objects.create(
        dimension="api_key", value="key_a", team=team, valid_from=date(2026, 1, 1)
    )
    recompute_allocation(DAY, DAY)
    csv_response = finance_client.get("/allocation/chargeback/?month=2026-08&format=csv")
    assert csv_response["Content-Type"] == "text/csv"
    assert "chargeback-2026-08.csv" in csv_response["Content-Disposition"]
    assert "Search" in csv_response.content.decode()
    focus = finance_client.get("/allocation/chargeback/?month=2026-08&format=focus")
    text = b"".join(focus.streaming_content).decode()
    assert text.startswith("BillingAccountId,") and '""team"": ""Search""' in text
    assert finance_client.get("/allocation/chargeback/?month=2026-13").status_code == 400
    assert finance_client.get("/allocation/chargeback/?month=2026-08&format=x").status_code == 400


def test_a_team_with_rules_cannot_be_deleted(finance_client, db):
    team = Team.objects.create(name="Search")
    AllocationRule.objects.create(
        dimension="model", value="gpt-5.5", team=team, valid_from=date(2026, 1, 1)
    )
    finance_client.post(f"/allocation/teams/{team.pk}/delete/")
    assert Team.objects.filter(pk=team.pk).exists()


def test_edit_pages_and_admin_pages_render(admin_client_, spend):
    team = Team.objects.create(name="Search", kind="department")
    rule = AllocationRule.objects.create(
        dimension="api_key", value="key_a", team=team, valid_from=date(2026, 1, 1)
    )
    pool = SharedCost.objects.create(name="Platform", method="proportional")
    pool.shares.create(team=team)
    for url in (
        "/allocation/",
        f"/allocation/teams/{team.pk}/",
        f"/allocation/rules/{rule.pk}/",
        f"/allocation/shared/{pool.pk}/",
        "/allocation/chargeback/",
        "/admin/allocation/allocationrule/",
        f"/admin/allocation/allocationrule/{rule.pk}/change/",
        "/admin/allocation/sharedcost/add/",
        "/admin/allocation/team/",
        "/admin/allocation/chargebackemail/",
    ):
        assert admin_client_.get(url).status_code == 200, url
    edited = admin_client_.post(
        f"/allocation/rules/{rule.pk}/",
        {
            "dimension": "api_key",
            "value": "key_b",
            "team": team.pk,
            "priority": "100",
            "valid_from": "2026-01-01",
            "action": "save",
        },
    )
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert rule.value == "key_b"
