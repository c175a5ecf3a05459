"""Prepaid credit runway: the day an account's balance runs out, from its spend forecast.

For each account with credits (`spendapp.usage.credits`): the balance now, in the
organisation's currency, and the stored total spend forecast of the account (made on the last
complete day, like every projection here) give the day the cumulative forecast spend reaches
the balance. `forecasting.project_period` draws it from the forecast's sample paths: the
median day, and the 80% range (10th to 90th percentile of the paths' crossing days), the same
way a budget's crossing date is drawn.

Spend is the account's own (billed where billed, else the calibrated estimate); for a provider
that reports a balance but no usage (DeepSeek) it is the balance's fall from day to day.
The forecast starts the day after the last complete day, so today's spend so far counts twice
when the balance was read today: the runway errs a few hours short, never long.

A page view never fits a forecast (``compute=False``): without a stored one the runway says
why and the page offers "Compute now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from forecasting import ForecastError, project_period
from forecasting.runs.forecasts import ForecastNotReady, stored_forecast, total_series
from forecasting.runs.history import default_as_of
from forecasting.runs.projections import cents
from spendapp.providers.models import ProviderAccount
from spendapp.usage import credits
from spendapp.usage.calendar import data_today

HORIZON = 180  # days looked ahead; a balance lasting longer "lasts beyond" that
MIN_BURN_DAYS = 7  # a balance-only account needs a week of balance history to forecast


@dataclass(frozen=True)
class Runway:
    account: ProviderAccount
    balance: credits.Balance | None
    as_of: date | None = None
    runs_out: date | None = None  # median day the balance reaches zero
    runs_out_early: date | None = None  # 10th percentile (the early end of the 80% range)
    runs_out_late: date | None = None  # 90th percentile; None: beyond the horizon
    probability: float | None = None  # that it runs out within the horizon
    daily_burn: Decimal | None = None  # mean forecast spend per day, first 30 days
    note: str = ""
    not_ready: bool = False  # no forecast stored for the day yet ("Compute now")

    @property
    def days_left(self) -> int | None:
        if self.runs_out is None:
            return None
        return (self.runs_out - data_today()).days

    @property
    def horizon_end(self) -> date | None:
        return None if self.as_of is None else self.as_of + timedelta(days=HORIZON)

    @property
    def exhausted(self) -> bool:
        return self.balance is not None and self.balance.amount <= 0


def account_runway(account: ProviderAccount, *, compute: bool = False) -> Runway:
    """The runway of one account (see the module docstring)."""
    try:
        balance = credits.current_balance(account, default_as_of())
    except credits.MissingRate as exc:
        return Runway(account, None, note=str(exc))
    if balance is None:
        return Runway(account, None, note="no balance reported or entered")
    if balance.amount <= 0:
        return Runway(account, balance, note="the balance is used up")
    try:
        scope, read, as_of = _spend_source(account)
        stored = total_series(scope, HORIZON, as_of, compute=compute, read_history=read)
        fc = stored_forecast(stored, HORIZON, (80, 95))
        start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
        result = project_period(
            pd.Series([], index=pd.DatetimeIndex([]), dtype=float),
            fc,
            start=start,
            end=start + pd.Timedelta(days=HORIZON - 1),
            budget=float(balance.amount),
        )
    except ForecastNotReady as exc:
        return Runway(account, balance, note=str(exc), not_ready=True)
    except (ForecastError, credits.MissingRate) as exc:
        return Runway(account, balance, note=str(exc).removeprefix("history: "))
    return Runway(
        account,
        balance,
        as_of=as_of,
        runs_out=_day(result.crossing_date),
        runs_out_early=_day(result.crossing_low),
        runs_out_late=_day(result.crossing_high),
        probability=result.prob_over_budget,
        daily_burn=cents(float(fc.mean.iloc[:30].mean())),
    )


def _spend_source(account: ProviderAccount):
    """The forecast's scope, its history reader (None: read by filters) and as-of day."""
    if credits.has_usage(account):
        as_of = default_as_of()
        if as_of is None:
            raise ForecastError("history: no spend data yet")
        return {"account": [account.name]}, None, as_of
    yesterday = data_today() - timedelta(days=1)
    burn = credits.balance_burn(account, yesterday)
    if len(burn) < MIN_BURN_DAYS:
        raise ForecastError(
            f"history: {len(burn)} days of balance history; the runway needs "
            f"{MIN_BURN_DAYS} (one balance a day is read by each sync)"
        )
    as_of = burn.index.max().date()
    return {"credit_burn": [str(account.pk)]}, (lambda: burn), as_of


def runways(*, compute: bool = False) -> list[Runway]:
    """Every account with prepaid credits, soonest to run out first."""
    out = [account_runway(a, compute=compute) for a in credits.credit_accounts()]
    return sorted(out, key=lambda r: (r.runs_out or date.max, r.account.name))


def _day(value) -> date | None:
    return None if value is None else value.date()
