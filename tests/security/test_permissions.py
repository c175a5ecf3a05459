"""Findings 5, 7, 10 and Cache-Control of 12: roles come from groups and model permissions,
never from being staff; recipients are capped; acknowledging is for those who may."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile

from forecasting.runs.models import Scenario
from spendapp.budgets.models import AlertEvent, Budget
from spendapp.budgets.notify import admin_recipients, budget_recipients
from spendapp.budgets.validation import MAX_EXTRA_EMAILS, MAX_RECIPIENTS
from spendapp.core import roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db) -> User:
    """Staff without any permission or group: may log into the admin, nothing more."""
    return User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)


def test_staff_alone_has_no_role(staff):
    assert not roles.can_view_dashboards(staff)
    assert not roles.can_edit_budgets(staff)
    assert not roles.can_save_scenarios(staff)


def test_superusers_have_every_role(alice):
    assert roles.can_view_dashboards(alice) and roles.can_edit_budgets(alice)


@pytest.mark.parametrize("url", ["/", "/budgets/new/", "/allocation/", "/scenarios/"])
def test_staff_without_a_group_gets_403_on_every_role_page(client, staff, url):
    client.force_login(staff)
    assert client.get(url).status_code == 403


def test_staff_cannot_import_costs_without_the_permission(client, staff):
    client.force_login(staff)
    upload = SimpleUploadedFile("x.csv", b"BilledCost\n1\n")
    response = client.post("/admin/usage/syncrun/import-costs/", {"file": upload})
    assert response.status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="add_costlineitem"))
    staff = User.objects.get(pk=staff.pk)  # fresh permission cache
    client.force_login(staff)
    assert client.get("/admin/usage/syncrun/import-costs/").status_code == 200


def _scenario(owner) -> Scenario:
    scenario = Scenario(owner=owner, name="Mine", spec={"transforms": []})
    scenario.save()
    return scenario


def test_other_users_scenarios_need_the_change_permission(client, bob, erin):
    scenario = _scenario(bob)
    client.force_login(erin)
    assert client.post(f"/scenarios/{scenario.slug}/delete/").status_code == 403
    erin.user_permissions.add(Permission.objects.get(codename="change_scenario"))
    User.objects.filter(pk=erin.pk).update(is_staff=True)  # permissions are given to staff
    erin = User.objects.get(pk=erin.pk)
    assert roles.can_manage_scenario(erin, scenario)


def test_staff_cannot_delete_other_users_scenarios(client, bob, staff):
    scenario = _scenario(bob)
    staff.groups.add(Group.objects.get_or_create(name="Engineering")[0])
    client.force_login(staff)
    assert client.post(f"/scenarios/{scenario.slug}/delete/").status_code == 403
    assert Scenario.objects.filter(pk=scenario.pk).exists()


def _alert(**kw) -> AlertEvent:
    budget = Budget.objects.create(name="AI", amount=Decimal(100))
    return AlertEvent.objects.create(
        budget=budget, kind="threshold", period_start=date(2026, 6, 1), threshold=80, **kw
    )


def test_engineering_cannot_acknowledge_an_alert_for_everyone(client, erin):
    alert = _alert()
    client.force_login(erin)
    response = client.post(f"/budgets/alerts/{alert.pk}/acknowledge/", {"next": "/"})
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_finance_can_acknowledge(client, bob):
    alert = _alert()
    client.force_login(bob)
    client.post(f"/budgets/alerts/{alert.pk}/acknowledge/", {"next": "/"})
    alert.refresh_from_db()
    assert alert.acknowledged_by == bob


def test_account_alert_emails_go_to_account_admins_not_to_all_staff(alice, staff):
    assert admin_recipients() == ["alice@example.com"]


def _budget_form(**overrides) -> dict:
    return {
        "name": "b",
        "scope": "org",
        "period": "month",
        "amount": "100",
        "currency": "USD",
        "thresholds": "50",
        "forecast_probability": "80",
        "anomaly_z": "3.5",
        "webhook_format": "json",
        **overrides,
    }


def test_a_budget_with_20000_extra_addresses_is_refused(client, bob):
    client.force_login(bob)
    addresses = ", ".join(f"user{i}@example.com" for i in range(20_000))
    response = client.post("/budgets/new/", _budget_form(extra_emails=addresses))
    assert response.status_code == 400
    assert f"At most {MAX_EXTRA_EMAILS} addresses; got 20000." in response.content.decode()
    assert not Budget.objects.exists()


def test_a_group_that_would_take_the_recipients_over_the_cap_is_refused(client, bob):
    group = Group.objects.create(name="Everyone")
    users = [User(username=f"u{i}", email=f"u{i}@example.com") for i in range(MAX_RECIPIENTS)]
    group.user_set.add(*User.objects.bulk_create(users))
    client.force_login(bob)
    form = _budget_form(notify_groups=[group.pk], extra_emails="one@example.com")
    response = client.post("/budgets/new/", form)
    assert response.status_code == 400
    assert f"at most {MAX_RECIPIENTS} recipients" in response.content.decode()


def test_an_alert_never_fans_out_past_the_cap():
    group = Group.objects.create(name="Everyone")
    users = [User(username=f"u{i}", email=f"u{i}@example.com") for i in range(MAX_RECIPIENTS + 50)]
    group.user_set.add(*User.objects.bulk_create(users))
    budget = Budget.objects.create(name="AI", amount=Decimal(100))
    budget.notify_groups.add(group)
    assert len(budget_recipients(budget)) == MAX_RECIPIENTS


@pytest.mark.parametrize(
    "url", ["/", "/explorer/", "/explorer/export.csv", "/allocation/chargeback/?format=csv"]
)
def test_authenticated_pages_and_exports_are_never_cached(client, bob, url):
    client.force_login(bob)
    response = client.get(url)
    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
