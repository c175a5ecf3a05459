"""What a newcomer to budgets needs: recipients by default, a warning without any, an honest
"sent" column, names in the alert emails and a demo budget whose alerts reach the admin."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from spendapp.budgets.evaluate import evaluate_budget
from spendapp.budgets.forms import BudgetForm
from spendapp.budgets.management.commands.demo_budget import DEMO_BUDGET
from spendapp.budgets.models import AlertEvent, Budget, Notification
from spendapp.providers.models import ProviderEntity
from tests.budgets.test_views import _form

pytestmark = pytest.mark.django_db


def test_a_new_budget_tells_finance_unless_the_editor_chooses_otherwise(finance_client):
    finance = Group.objects.get(name="Finance")
    assert BudgetForm().initial["notify_groups"] == [finance.pk]
    page = finance_client.get("/budgets/new/").content.decode()
    assert f'<option value="{finance.pk}" selected>Finance</option>' in page
    assert 'id="no-recipients"' not in page


def test_saving_a_budget_nobody_hears_from_warns_on_the_form_and_after_saving(finance_client):
    response = finance_client.post(
        "/budgets/new/", _form(name="Silent", scope="org", scope_value=""), follow=True
    )
    assert Budget.objects.get(name="Silent").notify_groups.count() == 0
    messages = [str(m) for m in response.context["messages"]]
    assert any("has no recipients" in m for m in messages), messages

    budget = Budget.objects.get(name="Silent")
    edit = finance_client.get(f"/budgets/{budget.pk}/edit/").content.decode()
    assert 'id="no-recipients"' in edit and "nobody is emailed" in edit


def test_a_budget_with_only_a_webhook_is_not_called_silent(finance_client):
    data = _form(
        name="Hooked", scope="org", scope_value="", webhook_url="https://hooks.example.com/x"
    )
    response = finance_client.post("/budgets/new/", data, follow=True)
    assert not any("no recipients" in str(m) for m in response.context["messages"])


def test_the_pages_say_where_emails_land_without_a_mail_server(finance_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = settings.BASE_DIR / "var" / "mail"
    for path in ("/budgets/", "/budgets/new/"):
        page = finance_client.get(path).content.decode()
        assert "alert emails are written as files to var/mail/" in page, path


def test_the_alert_history_says_how_many_were_told(finance_client, make_budget):
    budget = make_budget(name="Told")
    event = AlertEvent.objects.create(
        budget=budget, kind="threshold", period_start=date(2026, 6, 1), threshold=50
    )
    for address, status in (("a@example.com", "sent"), ("b@example.com", "failed")):
        Notification.objects.create(event=event, recipient=address, subject="s", status=status)
    page = finance_client.get("/budgets/").content.decode()
    assert "1 of 2 delivered" in page
    Notification.objects.filter(event=event).update(status="sent")
    assert "sent to 2" in finance_client.get("/budgets/").content.decode()


def test_what_drove_an_alert_names_projects_as_the_dashboard_does(spend, make_budget, bob):
    ProviderEntity.objects.create(
        account=spend.account, kind="project", external_id="wrkspc_015znp", name="Search"
    )
    spend.daily(date(2026, 6, 1), date(2026, 6, 10), "60", project="wrkspc_015znp")
    budget = make_budget(
        amount=Decimal("1000"), users=[bob], forecast_alert=False, anomaly_alert=False
    )
    evaluate_budget(budget, datetime(2026, 6, 11, 12, tzinfo=UTC))
    message = Notification.objects.get(event__budget=budget, event__notified=True)
    assert "project Search: $600.00" in message.body_text
    assert "<td>Search</td>" in message.body_html
    assert "wrkspc_015znp" not in message.body_text.split("What drove it")[1]


def test_the_demo_budget_alerts_the_admin_once_created(alice, bob):
    call_command("demo_budget")
    budget = Budget.objects.get(name=DEMO_BUDGET)
    assert list(budget.notify_users.values_list("email", flat=True)) == ["alice@example.com"]
    assert list(budget.notify_groups.values_list("name", flat=True)) == ["Finance"]
    # Running the demo again (every `make run`) leaves an edited budget alone.
    budget.notify_users.clear()
    call_command("demo_budget")
    assert Budget.objects.filter(name=DEMO_BUDGET).count() == 1
    assert budget.notify_users.count() == 0
