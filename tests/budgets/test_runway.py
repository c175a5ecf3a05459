"""Prepaid credit runway: balances (reported or entered), the runs-out date from the spend
forecast, the alert once per funding, and what the pages show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from forecasting.runs.runway import account_runway, runways
from spendapp.budgets.models import AlertEvent, Notification
from spendapp.budgets.runway import check_runways
from spendapp.providers.models import ProviderAccount
from spendapp.providers.records import BalanceRecord
from spendapp.usage import credits
from spendapp.usage.calendar import data_today
from spendapp.usage.models import CreditBalance, CreditEntry, ExchangeRate

TODAY = data_today()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def topped_up(account, spend):
    """$100 a day for 60 days; a $5,000 top-up 20 days ago: $3,000 left, ~30 days of it."""
    spend.daily(TODAY - timedelta(days=60), YESTERDAY, "100.00", billed="100.00")
    CreditEntry.objects.create(
        account=account, kind="top_up", day=TODAY - timedelta(days=20), amount=Decimal("5000")
    )
    return account


@pytest.fixture
def deepseek(db) -> ProviderAccount:
    acct = ProviderAccount(name="deepseek", provider="deepseek")
    acct.set_key("sk-test-deepseek-000000")
    acct.save()
    return acct


def _snapshots(account, first_balance: str, per_day: str, days: int, currency="CNY"):
    for i in range(days):
        day = TODAY - timedelta(days=days - i)
        when = datetime(day.year, day.month, day.day, 23, tzinfo=UTC)
        amount = Decimal(first_balance) - Decimal(per_day) * i
        credits.store_balances(account, [BalanceRecord(when, currency, amount)])


def test_an_entered_balance_is_the_top_up_minus_the_spend_since(topped_up):
    balance = credits.current_balance(topped_up, YESTERDAY)
    assert (balance.amount, balance.source) == (Decimal("3000.00"), "entered")
    CreditEntry.objects.create(
        account=topped_up, kind="statement", day=TODAY - timedelta(days=5), amount=Decimal("800")
    )
    assert credits.current_balance(topped_up, YESTERDAY).amount == Decimal("400.00")


def test_the_runway_ends_when_the_forecast_spend_reaches_the_balance(topped_up):
    page_view = account_runway(topped_up)
    assert page_view.not_ready and page_view.runs_out is None  # a GET never fits
    runway = account_runway(topped_up, compute=True)
    assert runway.note == ""
    # $3,000 at $100 a day: the 30th day after yesterday, give or take the forecast's noise.
    assert abs((runway.runs_out - (YESTERDAY + timedelta(days=30))).days) <= 2
    assert runway.runs_out_early <= runway.runs_out <= runway.runs_out_late
    assert Decimal("90") <= runway.daily_burn <= Decimal("110")
    assert account_runway(topped_up).runs_out == runway.runs_out  # stored: pages read it


def test_the_alert_fires_once_per_funding_and_again_after_the_next_top_up(
    topped_up, bob, alice, settings
):
    settings.CREDIT_RUNWAY_ALERT_DAYS = 14
    assert check_runways() == []  # ~30 days left: not yet
    settings.CREDIT_RUNWAY_ALERT_DAYS = 45
    [event] = check_runways()
    assert (event.kind, event.account) == (AlertEvent.Kind.CREDIT_RUNWAY, topped_up)
    assert event.crossing_date == account_runway(topped_up).runs_out
    recipients = set(Notification.objects.filter(event=event).values_list("recipient", flat=True))
    assert recipients == {bob.email, alice.email}  # Finance and the admins
    subject = Notification.objects.filter(event=event).first().subject
    assert f"run out around {event.crossing_date:%Y-%m-%d}" in subject
    assert check_runways() == []  # exactly once
    CreditEntry.objects.create(account=topped_up, kind="top_up", day=YESTERDAY, amount=100)
    assert [e.kind for e in check_runways()] == [AlertEvent.Kind.CREDIT_RUNWAY]


def test_a_balance_only_provider_burns_what_its_balance_falls_converted_at_finances_rate(
    deepseek,
):
    _snapshots(deepseek, "10000", "700", days=10)  # CNY, 700 a day
    runway = account_runway(deepseek, compute=True)
    assert "no exchange rate for CNY" in runway.note and runway.balance is None
    ExchangeRate.objects.create(
        currency="CNY", rate=Decimal("0.14"), valid_from=TODAY - timedelta(days=30)
    )
    runway = account_runway(deepseek, compute=True)
    # 10000 - 9 x 700 = 3700 CNY = $518 at 0.14; $98 a day: about 5 days.
    assert runway.balance.amount == Decimal("518.0000")
    assert runway.balance.parts == (("CNY", Decimal("3700.000000")),)
    assert Decimal("90") <= runway.daily_burn <= Decimal("106")
    assert 3 <= (runway.runs_out - runway.as_of).days <= 7


def test_a_top_up_is_a_rise_not_negative_spend(deepseek):
    ExchangeRate.objects.create(currency="CNY", rate=1, valid_from=TODAY - timedelta(days=30))
    _snapshots(deepseek, "1000", "100", days=4)
    when = datetime.combine(YESTERDAY, datetime.min.time(), UTC) + timedelta(hours=23, minutes=30)
    credits.store_balances(deepseek, [BalanceRecord(when, "CNY", Decimal("5000"))])
    burn = credits.balance_burn(deepseek, YESTERDAY)
    assert list(burn) == [100.0, 100.0, 0.0]
    assert credits.funding_episode(deepseek) == f"funded:{when.isoformat()}"


def test_a_second_sync_snapshot_at_the_same_moment_is_not_stored_twice(deepseek):
    record = BalanceRecord(datetime(2026, 1, 1, tzinfo=UTC), "USD", Decimal("5"))
    assert credits.store_balances(deepseek, [record]) == 1
    credits.store_balances(deepseek, [record])
    assert CreditBalance.objects.count() == 1


def test_the_budgets_page_and_the_overview_show_the_runway(topped_up, finance_client):
    account_runway(topped_up, compute=True)
    [runway] = runways()
    for url in ("/budgets/", "/"):
        page = finance_client.get(url).content.decode()
        assert f'id="runway-{topped_up.pk}"' in page
        assert f"{runway.runs_out:%Y-%m-%d}" in page
        assert "$3,000.00" in page


def test_finance_records_a_top_up_and_a_bad_one_is_refused_with_the_field_named(
    account, finance_client
):
    url = "/budgets/credits/new/"
    bad = {"account": account.pk, "kind": "top_up", "day": "2026-11-30", "amount": "-5"}
    response = finance_client.post(url, {**bad, "currency": "usd"})
    assert response.status_code == 400
    assert "A top-up or grant is a positive amount" in response.content.decode()
    assert not CreditEntry.objects.exists()
    response = finance_client.post(url, {**bad, "amount": "250.00", "currency": "eur"})
    assert response.status_code == 302
    entry = CreditEntry.objects.get()
    assert (entry.amount, entry.currency, entry.created_by.username) == (
        Decimal("250.00"),
        "EUR",
        "bob",
    )
    rate = {"currency": "CN1", "rate": "0", "valid_from": "2026-11-01"}
    response = finance_client.post("/budgets/rates/new/", rate)
    assert response.status_code == 400
    body = response.content.decode()
    assert "three-letter ISO 4217 code" in body and "A rate above 0" in body
    response = finance_client.post(
        "/budgets/rates/new/", {**rate, "currency": "cny", "rate": "0.14"}
    )
    assert response.status_code == 302
    assert credits.rate("CNY", TODAY) == Decimal("0.14")
