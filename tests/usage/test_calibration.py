"""The calibrated estimate learns billed / list estimate per account x model from earlier
days only, falls back to the account's ratio and then to the list estimate, and follows
`spend_changed`."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from spendapp.providers.models import ProviderAccount
from spendapp.usage import calibration
from spendapp.usage.calibration import MIN_DAYS, WINDOW_DAYS, current_ratios
from spendapp.usage.models import CalibrationRatio, DailySpend
from spendapp.usage.queries import SpendQuery, spend_rows
from spendapp.usage.signals import announce_spend_changed

pytestmark = pytest.mark.django_db
DAY0 = date(2026, 9, 1)
DAYS = 40
EST = Decimal("10.000000")  # list estimate of each model per day


def _account(name="acme openai", provider="openai") -> ProviderAccount:
    account = ProviderAccount(name=name, provider=provider)
    account.set_key("sk-test-0000000000")
    account.save()
    return account


def _day(account, day, model, estimated=EST, billed=None):
    rows = [
        DailySpend(
            day=day,
            account=account,
            provider=account.provider,
            model=model,
            api_key_id="key_a",
            input_uncached_tokens=1000,
            estimated_cost=estimated,
        )
    ]
    if billed is not None:  # billed at the project x model grain, as OpenAI bills
        rows.append(
            DailySpend(
                day=day, account=account, provider=account.provider, model=model, billed_cost=billed
            )
        )
    return rows


@pytest.fixture
def account():
    """gpt-5.4 billed at 90 % of list for 38 days, the last two days not billed yet."""
    account = _account()
    rows = []
    for offset in range(DAYS):
        day = DAY0 + timedelta(days=offset)
        billed = EST * Decimal("0.9") if offset < DAYS - 2 else None
        rows += _day(account, day, "gpt-5.4", billed=billed)
    DailySpend.objects.bulk_create(rows)
    calibration.refresh(account.pk, DAY0)
    return account


def _calibrated_by_day(**filters) -> dict[str, Decimal]:
    query = SpendQuery(DAY0, DAY0 + timedelta(days=DAYS + 5), filters=filters)
    return {row["date"]: Decimal(row["calibrated_cost"]) for row in spend_rows(query)}


def test_days_not_billed_yet_are_estimated_at_the_learned_ratio(account):
    last = DAY0 + timedelta(days=DAYS - 1)
    ratio = CalibrationRatio.objects.get(account=account, model="gpt-5.4", day=last)
    # 28 days before it, the last of them not billed yet: 27 reconciled days.
    assert (ratio.ratio, ratio.basis, ratio.days) == (Decimal("0.9"), "model", WINDOW_DAYS - 1)
    (row,) = spend_rows(SpendQuery(last, last))
    assert Decimal(row["estimated_cost"]) == EST
    assert Decimal(row["calibrated_cost"]) == Decimal("9")
    assert row["billed_cost"] is None and Decimal(row["spend"]) == Decimal("9")


def test_without_a_week_of_bills_the_list_estimate_stands(account):
    # The first MIN_DAYS days have fewer than MIN_DAYS reconciled days before them.
    assert not CalibrationRatio.objects.filter(day__lte=DAY0 + timedelta(days=MIN_DAYS - 1))
    assert CalibrationRatio.objects.filter(day=DAY0 + timedelta(days=MIN_DAYS)).exists()
    calibrated = _calibrated_by_day()
    assert calibrated[DAY0.isoformat()] == EST


def test_a_bill_never_changes_the_calibrated_cost_of_its_own_day_or_earlier(account):
    before = _calibrated_by_day()
    bill_day = DAY0 + timedelta(days=20)
    DailySpend.objects.filter(day=bill_day, billed_cost__isnull=False).update(
        billed_cost=Decimal("30")
    )  # a late correction of one day's bill
    calibration.refresh(account.pk, bill_day)
    after = _calibrated_by_day()
    for day, value in before.items():
        if date.fromisoformat(day) <= bill_day:
            assert after[day] == value, day
    assert (
        after[(bill_day + timedelta(days=1)).isoformat()]
        > before[(bill_day + timedelta(days=1)).isoformat()]
    )


def test_a_new_model_uses_the_accounts_ratio_until_it_has_a_week_of_its_own(account):
    last = DAY0 + timedelta(days=DAYS - 1)
    DailySpend.objects.bulk_create(_day(account, last, "gpt-5.5"))
    calibration.refresh(account.pk, last)
    ratio = CalibrationRatio.objects.get(model="gpt-5.5", day=last)
    assert (ratio.ratio, ratio.basis) == (Decimal("0.9"), "account")


def test_bill_lines_without_a_model_are_spread_over_the_models(account):
    # Web searches billed 1.00 a day on every billed day: 10 % on top of the 9.00 of tokens.
    rows = [
        DailySpend(
            day=DAY0 + timedelta(days=offset),
            account=account,
            provider="openai",
            billed_cost=Decimal("0.9"),
        )
        for offset in range(DAYS - 2)
    ]
    DailySpend.objects.bulk_create(rows)
    calibration.refresh(account.pk, DAY0)
    last = DAY0 + timedelta(days=DAYS - 1)
    assert CalibrationRatio.objects.get(day=last).ratio == Decimal("0.99")


def test_another_accounts_bills_do_not_leak_in(account):
    other = _account("acme anthropic", "anthropic")
    rows = []
    for offset in range(DAYS):
        rows += _day(other, DAY0 + timedelta(days=offset), "claude-haiku-4-5")  # never billed
    DailySpend.objects.bulk_create(rows)
    calibration.refresh(other.pk, DAY0)
    assert not CalibrationRatio.objects.filter(account=other).exists()
    calibrated = _calibrated_by_day(provider=("anthropic",))
    assert set(calibrated.values()) == {EST}  # basis "list": the estimate stands


def test_spend_changed_refreshes_the_ratios_from_the_first_changed_day(account):
    day = DAY0 + timedelta(days=DAYS)  # a new day of usage arrives
    with transaction.atomic():
        DailySpend.objects.bulk_create(_day(account, day, "gpt-5.4"))
        assert not CalibrationRatio.objects.filter(day=day).exists()
        announce_spend_changed("test", account.pk, [day])
        assert CalibrationRatio.objects.get(day=day).ratio == Decimal("0.9")


def test_current_ratios_are_the_latest_per_account_model_and_provider(account):
    current = current_ratios()
    latest = current.by_account_model[account.pk, "gpt-5.4"]
    assert (latest.ratio, latest.basis, latest.day) == (
        Decimal("0.9"),
        "model",
        DAY0 + timedelta(days=DAYS - 1),
    )
    assert current.by_provider == {"openai": Decimal("0.9")}
    assert current.ratio(account.pk, "gpt-9", "openai") == (Decimal("0.9"), "provider")
    assert current.ratio(0, "claude-haiku-4-5", "anthropic") == (Decimal(1), "list")


def test_calibrate_rebuilds_every_account(account):
    from django.core.management import call_command

    CalibrationRatio.objects.all().delete()
    call_command("calibrate", verbosity=0)
    assert CalibrationRatio.objects.count() == DAYS - MIN_DAYS
