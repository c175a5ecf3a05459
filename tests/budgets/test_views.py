"""The budgets page, its form, muting, the overview banners and the admin's test email."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from spendapp.budgets.hooks import active_alerts
from spendapp.budgets.models import AlertEvent, Budget, Notification

pytestmark = pytest.mark.django_db


def _form(**overrides) -> dict:
    data = {
        "name": "Copilot",
        "scope": "project",
        "scope_value": "proj_a",
        "period": "month",
        "amount": "500.00",
        "currency": "USD",
        "thresholds": "50, 80, 100",
        "forecast_alert": "on",
        "forecast_probability": "80",
        "anomaly_alert": "on",
        "anomaly_z": "3.5",
        "webhook_format": "json",
        "active": "on",
    }
    data.update(overrides)
    return data


def test_every_dashboard_role_sees_budgets_with_spend_status_and_history(
    client, erin, spend, make_budget
):
    today = timezone.now().date()
    spend.add(today, "90")
    budget = make_budget(name="Company AI", amount=Decimal("100"))
    AlertEvent.objects.create(
        budget=budget,
        kind="threshold",
        period_start=today.replace(day=1),
        threshold=80,
        spend=Decimal("85"),
        budget_amount=Decimal("100"),
    )
    client.force_login(erin)
    page = client.get("/budgets/").content.decode()
    assert "Company AI" in page and "$90.00" in page and "90.0%" in page
    # The alert found nobody to tell: the history says so instead of "sent".
    assert "not sent: no recipients" in page
    assert "status-warn" in page and "Alert history: Company AI" in page
    assert "New budget" not in page and "/edit/" not in page  # Engineering cannot edit


def test_no_role_no_page(client, charlie):
    client.force_login(charlie)
    assert client.get("/budgets/").status_code == 403


def test_the_page_query_count_is_fixed(
    finance_client, spend, make_budget, django_assert_num_queries
):
    make_budget(name="a")
    make_budget(name="b", scope="provider", scope_value="openai")
    # session, user, groups, muted, budgets, alerts, one spend query per budget, the accounts
    # with prepaid credits (none here: no runway queries follow)
    with django_assert_num_queries(9):
        finance_client.get("/budgets/")


def test_finance_creates_a_budget(finance_client, spend, bob, django_capture_on_commit_callbacks):
    spend.add(date(2026, 1, 1), "1")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = finance_client.post("/budgets/new/", _form())
    assert response.status_code == 302
    budget = Budget.objects.get()
    assert (budget.scope_value, budget.amount, budget.thresholds) == (
        "proj_a",
        Decimal("500.00"),
        [50, 80, 100],
    )
    assert budget.created_by == bob and len(queued) == 1  # an evaluation is queued


def test_engineering_cannot_create_or_edit(client, erin, make_budget):
    client.force_login(erin)
    assert client.post("/budgets/new/", _form()).status_code == 403
    assert client.get(f"/budgets/{make_budget().pk}/edit/").status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "0"}, "amount", "Enter an amount above zero."),
        ({"amount": "-5"}, "amount", "Enter an amount above zero."),
        ({"scope_value": "proj_nope"}, "scope_value", "Unknown project / workspace 'proj_nope'"),
        ({"scope": "provider", "scope_value": "mistral"}, "scope_value", "Unknown provider"),
        ({"scope_value": ""}, "scope_value", "Choose which project / workspace"),
        ({"currency": "EUR"}, "currency", "organisation's currency, USD; got EUR"),
        ({"thresholds": "50, lots"}, "thresholds", "whole percentages"),
        ({"thresholds": "0"}, "thresholds", "between 1 and 1000"),
        ({"extra_emails": "ops@example.com, nope"}, "extra_emails", "'nope' is not an email"),
        ({"scope": "tier", "scope_value": "huge"}, "scope_value", "Unknown model tier 'huge'"),
    ],
)
def test_a_bad_budget_gets_a_clear_form_error(finance_client, spend, overrides, field, message):
    spend.add(date(2026, 1, 1), "1")
    response = finance_client.post("/budgets/new/", _form(**overrides))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors[field]), errors
    assert message.split("'")[0] in response.content.decode().replace("&#x27;", "'")
    assert not Budget.objects.exists()


def test_finance_edits_a_budget(finance_client, spend, make_budget):
    spend.add(date(2026, 1, 1), "1")
    budget = make_budget(name="Old")
    response = finance_client.post(f"/budgets/{budget.pk}/edit/", _form(name="New"))
    assert response.status_code == 302
    budget.refresh_from_db()
    assert budget.name == "New"


def test_each_user_mutes_a_budget_for_themselves(client, erin, make_budget):
    budget = make_budget()
    client.force_login(erin)
    client.post(f"/budgets/{budget.pk}/mute/")
    assert list(budget.muted_by.all()) == [erin]
    assert "Unmute" in client.get("/budgets/").content.decode()
    client.post(f"/budgets/{budget.pk}/mute/")
    assert not budget.muted_by.exists()


def _alert(budget, **kw):
    fields = {
        "kind": "threshold",
        "period_start": date(2026, 6, 1),
        "threshold": 80,
        "spend": Decimal("850"),
        "budget_amount": Decimal("1000"),
    }
    fields.update(kw)
    return AlertEvent.objects.create(budget=budget, **fields)


def test_active_alerts_skip_muted_budgets_and_show_account_alerts_to_staff_only(
    make_budget, erin, alice, account
):
    loud, quiet = make_budget(name="loud"), make_budget(name="quiet")
    a1, a2 = _alert(loud), _alert(quiet)
    ops = AlertEvent.objects.create(account=account, kind="account_attention", episode="x")
    _alert(loud, threshold=50, notified=False)  # claimed with a higher one: no banner
    quiet.muted_by.add(erin)
    assert active_alerts(erin) == [a1]
    assert set(active_alerts(alice)) == {a1, a2, ops}


def test_the_banner_snippet_acknowledges_an_alert(client, bob, make_budget):
    alert = _alert(make_budget(name="Company AI"))
    request = RequestFactory().get("/")
    request.user = bob
    html = Template("{% load budget_alerts %}{% alert_banners %}").render(
        Context({"request": request, "csrf_token": "tok"})
    )
    assert "Company AI" in html and "80% reached" in html
    assert f"/budgets/alerts/{alert.pk}/acknowledge/" in html
    client.force_login(bob)
    response = client.post(f"/budgets/alerts/{alert.pk}/acknowledge/", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == bob and active_alerts(bob) == []


def test_acknowledge_does_not_redirect_off_site(client, bob, make_budget):
    alert = _alert(make_budget())
    client.force_login(bob)
    response = client.post(
        f"/budgets/alerts/{alert.pk}/acknowledge/", {"next": "https://evil.example.com/"}
    )
    assert response["Location"] == "/"


def test_the_admin_sends_a_test_email(
    admin_client_, make_budget, bob, mailoutbox, django_capture_on_commit_callbacks
):
    from spendapp.budgets.tasks import send_notification

    budget = make_budget(name="Company AI", users=[bob])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client_.post(
            "/admin/budgets/budget/",
            {"action": "send_test_email", "_selected_action": [budget.pk]},
        )
    assert response.status_code == 302 and len(queued) == 1
    notification = Notification.objects.get()
    send_notification.apply(args=(notification.pk,))  # what the queued task does
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.recipient == "bob@example.com"
    assert mailoutbox[0].subject == "[Spendapp] Test message for budget Company AI"


def test_the_admin_budget_form_validates_like_the_page(admin_client_):
    response = admin_client_.post("/admin/budgets/budget/add/", _form(amount="0", scope="org"))
    assert response.status_code == 200
    assert "Enter an amount above zero." in response.content.decode()
