"""The weekly Finance digest and the operational alerts to admins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from spendapp.budgets.digest import digest_due, send_if_due
from spendapp.budgets.evaluate import evaluate_budget
from spendapp.budgets.models import AlertEvent, Notification
from spendapp.budgets.ops import check_accounts

pytestmark = pytest.mark.django_db
MONDAY_8_PARIS = datetime(2026, 6, 22, 6, tzinfo=UTC)  # 08:00 CEST


@pytest.fixture
def paris(settings):
    settings.ORG_TIME_ZONE = "Europe/Paris"


def test_the_digest_is_due_on_monday_morning_in_the_org_zone(paris):
    assert digest_due(datetime(2026, 6, 22, 4, 59, tzinfo=UTC)) is None  # 06:59 in Paris
    assert digest_due(datetime(2026, 6, 22, 5, 0, tzinfo=UTC)) == date(2026, 6, 22)
    assert digest_due(datetime(2026, 6, 21, 23, tzinfo=UTC)) is None  # Monday 01:00
    assert digest_due(datetime(2026, 6, 23, 6, tzinfo=UTC)) is None  # Tuesday
    # In winter (CET) 07:00 local is 06:00 UTC.
    assert digest_due(datetime(2026, 11, 23, 5, 59, tzinfo=UTC)) is None
    assert digest_due(datetime(2026, 11, 23, 6, 0, tzinfo=UTC)) == date(2026, 11, 23)


def test_the_digest_tells_finance_last_week_month_to_date_projection_movers_budgets(
    paris, spend, make_budget, bob, erin
):
    spend.daily(date(2026, 2, 1), date(2026, 6, 7), "10")
    spend.daily(date(2026, 6, 8), date(2026, 6, 14), "10")  # the week before: 70
    spend.daily(date(2026, 6, 15), date(2026, 6, 21), "10")
    spend.daily(date(2026, 6, 15), date(2026, 6, 21), "5", project="proj_new", model="o9")
    budget = make_budget(name="Company AI", amount=Decimal("2000"), forecast_alert=False)
    with time_machine.travel(MONDAY_8_PARIS, tick=False):
        evaluate_budget(budget)
        event = send_if_due()
        assert send_if_due() is None  # the next hourly run: already sent
    assert event.kind == "digest" and event.period_start == date(2026, 6, 22)
    assert event.spend == Decimal("105")
    messages = Notification.objects.filter(event=event)
    assert [m.recipient for m in messages] == ["bob@example.com"]  # Finance only
    text = messages[0].body_text
    assert (
        "Last week (2026-06-15 to 2026-06-21): $105.00 (+50.0% on the week before, $70.00)"
    ) in text
    assert "June 2026 to date: $245.00" in text  # June 1..21 at 10, plus 35
    assert "June 2026 projected:" in text and "no forecast yet" not in text
    assert "project proj_new: $0.00 -> $35.00" in text
    assert "model o9: $0.00 -> $35.00" in text
    assert "Company AI (June 2026): $245.00 of $2,000.00" in text
    assert "[on track]" in text
    assert "Weekly spend digest" in messages[0].subject
    assert "proj_new" in messages[0].body_html


def test_no_digest_outside_monday_morning(paris):
    with time_machine.travel(datetime(2026, 6, 23, 6, tzinfo=UTC), tick=False):
        assert send_if_due() is None
    assert not AlertEvent.objects.exists()


def test_a_rejected_key_alerts_the_admins_once_per_incident(account, alice, bob):
    account.status = "needs_attention"
    account.status_message = "credentials rejected: 401"
    account.save()
    [event] = check_accounts()
    assert event.kind == "account_attention"
    assert check_accounts() == []
    message = Notification.objects.get(event=event)
    assert message.recipient == "alice@example.com"  # staff, not Finance
    assert "rejected the admin key" in message.subject and "401" in message.body_text
    # A new key that is rejected again is a new incident.
    account.set_key("sk-admin-new-111111111111")
    account.status = "needs_attention"
    account.save()
    assert [e.kind for e in check_accounts()] == ["account_attention"]


def test_an_account_that_has_not_synced_for_hours_alerts_the_admins(account, alice, settings):
    settings.ALERT_STALE_SYNC_HOURS = 6
    now = datetime(2026, 6, 22, 12, tzinfo=UTC)
    account.status = "ok"
    account.last_success_at = now - timedelta(hours=5)
    account.save()
    assert check_accounts(now) == []
    [event] = check_accounts(now + timedelta(hours=2))
    assert event.kind == "account_stale"
    assert check_accounts(now + timedelta(hours=3)) == []
    assert "has not synced for 7 hours" in Notification.objects.get(event=event).subject
