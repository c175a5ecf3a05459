"""Prepaid credit balances: storing what providers report, converting, and the balance now.

An account's balance comes from one of two sources:

* **reported**: the provider's own balance (OpenRouter credits, DeepSeek per currency), the
  newest snapshot per currency, each converted with Finance's rate and summed;
* **entered**: for providers without one, Finance's entries: the newest balance statement
  (else zero before the first entry), plus the top-ups and grants after it, minus the
  account's spend (`spendapp.usage.spend`, billed where billed) of the days after it.

The daily *burn* feeding the runway forecast is the account's spend; where the provider
reports no usage (DeepSeek) it is the fall of the reported balance from one day to the next
(a rise is a top-up, not negative spend).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.db.models import Max, Q

from spendapp.providers.models import BALANCE_ONLY_PROVIDERS, ProviderAccount
from spendapp.providers.records import BalanceRecord
from spendapp.usage.calendar import data_today
from spendapp.usage.credit_models import CreditBalance, CreditEntry, ExchangeRate
from spendapp.usage.spend import daily_spend

HISTORY_DAYS = 365


class MissingRate(ValueError):
    """No exchange rate entered for a currency on a day."""

    def __init__(self, currency: str, day: date):
        super().__init__(
            f"no exchange rate for {currency} on {day:%Y-%m-%d}: Finance enters it under "
            f"Usage > Exchange rates (1 {currency} = ? {settings.ORG_CURRENCY})"
        )
        self.currency = currency


def store_balances(account: ProviderAccount, records: Iterable[BalanceRecord]) -> int:
    """Keep one snapshot per reported currency; returns how many were new."""
    rows = [
        CreditBalance(
            account=account,
            observed_at=r.observed_at,
            currency=r.currency,
            amount=r.amount,
            granted=r.granted,
            topped_up=r.topped_up,
            available=r.available,
            details={
                k: str(v)
                for k, v in (("total_credits", r.total_credits), ("total_usage", r.total_usage))
                if v is not None
            },
        )
        for r in records
    ]
    created = CreditBalance.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def rate(currency: str, day: date) -> Decimal:
    """Units of the organisation's currency per unit of ``currency`` on ``day``."""
    currency = currency.upper()
    if currency == settings.ORG_CURRENCY.upper():
        return Decimal(1)
    found = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if found is None:
        raise MissingRate(currency, day)
    return found


def convert(amount: Decimal, currency: str, day: date) -> Decimal:
    return amount * rate(currency, day)


@dataclass(frozen=True)
class Balance:
    """An account's balance in the organisation's currency, and where it comes from."""

    account: ProviderAccount
    amount: Decimal  # organisation currency
    as_of: date  # the day the amount holds at the end of
    source: str  # "reported" / "entered"
    parts: tuple[tuple[str, Decimal], ...] = ()  # reported: (currency, amount) as reported
    observed_at: datetime | None = None


def reported_balance(account: ProviderAccount) -> Balance | None:
    latest = (
        CreditBalance.objects.filter(account=account)
        .values("currency")
        .annotate(last=Max("observed_at"))
    )
    snaps = [
        CreditBalance.objects.get(
            account=account, currency=row["currency"], observed_at=row["last"]
        )
        for row in latest
    ]
    if not snaps:
        return None
    when = max(s.observed_at for s in snaps)
    day = when.date()
    total = sum((convert(s.amount, s.currency, day) for s in snaps), Decimal(0))
    parts = tuple(sorted((s.currency, s.amount) for s in snaps))
    return Balance(account, total, day, "reported", parts, when)


def entered_balance(account: ProviderAccount, as_of: date) -> Balance | None:
    entries = list(CreditEntry.objects.filter(account=account, day__lte=as_of).order_by("day"))
    if not entries:
        return None
    statements = [e for e in entries if e.kind == CreditEntry.Kind.STATEMENT]
    if statements:
        anchor = statements[-1]
        start_day = anchor.day
        amount = convert(anchor.amount, anchor.currency, anchor.day)
        added = [e for e in entries if e.kind != CreditEntry.Kind.STATEMENT and e.day > start_day]
    else:
        start_day = entries[0].day - timedelta(days=1)  # spend counts from the first entry's day
        amount = Decimal(0)
        added = entries
    amount += sum((convert(e.amount, e.currency, e.day) for e in added), Decimal(0))
    amount -= account_spend(account, start_day + timedelta(days=1), as_of)
    return Balance(account, amount, as_of, "entered")


def account_spend(account: ProviderAccount, date_from: date, date_to: date) -> Decimal:
    if date_to < date_from:
        return Decimal(0)
    rows = daily_spend(date_from, date_to, {"account": [account.name]})
    return sum((row[1] for row in rows), Decimal(0))


def current_balance(account: ProviderAccount, as_of: date | None = None) -> Balance | None:
    """The balance now: the provider's own where it reports one, else Finance's entries."""
    reported = reported_balance(account)
    if reported is not None:
        return reported
    return entered_balance(account, as_of or data_today() - timedelta(days=1))


def credit_accounts() -> list[ProviderAccount]:
    """Accounts with prepaid credits: a reported balance or an entry by Finance."""
    with_credits = Q(pk__in=CreditBalance.objects.values("account_id")) | Q(
        pk__in=CreditEntry.objects.values("account_id")
    )
    return list(ProviderAccount.objects.filter(with_credits, enabled=True).order_by("name"))


def balance_burn(account: ProviderAccount, date_to: date) -> pd.Series:
    """Daily fall of the reported balance (org currency) up to ``date_to``: the spend of a
    provider that reports a balance but no usage. Rises (top-ups) count as no spend."""
    since = date_to - timedelta(days=HISTORY_DAYS)
    rows = CreditBalance.objects.filter(
        account=account, observed_at__date__gte=since, observed_at__date__lte=date_to
    ).order_by("observed_at")
    closing: dict[date, Decimal] = {}
    by_day: dict[date, dict[str, Decimal]] = {}
    for snap in rows:
        day = snap.observed_at.date()
        by_day.setdefault(day, {})[snap.currency] = snap.amount
    held: dict[str, Decimal] = {}
    for day in sorted(by_day):
        held.update(by_day[day])
        closing[day] = sum((convert(a, c, day) for c, a in held.items()), Decimal(0))
    days = sorted(closing)
    burn = {
        pd.Timestamp(day): float(max(closing[prev] - closing[day], Decimal(0)))
        for prev, day in itertools.pairwise(days)
        if (day - prev).days == 1
    }
    return pd.Series(burn, dtype=float).sort_index()


def has_usage(account: ProviderAccount) -> bool:
    """False for providers that report a balance but no usage (their burn is the balance's
    fall, `balance_burn`)."""
    return account.provider not in BALANCE_ONLY_PROVIDERS


def funding_episode(account: ProviderAccount) -> str:
    """What the current balance was last funded by: a new top-up starts a new episode, so a
    "runs out soon" alert fires once per funding, and again after the next one runs low.

    Entered balances: the newest entry. Reported ones: the last snapshot where a currency's
    balance rose (a top-up or grant), else the first snapshot.
    """
    entry = CreditEntry.objects.filter(account=account).order_by("-created_at", "-pk").first()
    if not CreditBalance.objects.filter(account=account).exists():
        return f"entry:{entry.pk}" if entry else ""
    last_rise: dict[str, datetime] = {}
    previous: dict[str, Decimal] = {}
    rows = CreditBalance.objects.filter(account=account).order_by("observed_at")
    for currency, amount, observed in rows.values_list("currency", "amount", "observed_at"):
        if currency not in previous or amount > previous[currency]:
            last_rise[currency] = observed
        previous[currency] = amount
    return "funded:" + max(last_rise.values()).isoformat()
