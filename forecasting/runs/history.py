"""Spend and token history for forecasts: daily series read through the one spend basis
(`spendapp.usage.spend`) and the org calendar (`spendapp.usage.calendar`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

import pandas as pd
from django.db.models import Max, Sum

from spendapp.providers.models import ProviderAccount
from spendapp.usage.calendar import data_today, last_complete_day
from spendapp.usage.models import DailyModelSpend
from spendapp.usage.queries import QueryError
from spendapp.usage.spend import FILTER_COLUMNS as SPEND_FILTERS
from spendapp.usage.spend import basis_of, billing_rows, daily_spend

HISTORY_DAYS = 365  # the core uses at most a year; older data rarely helps
DEMAND_MEASURES = ("input_tokens", "cached_input_tokens", "output_tokens", "requests")
SERIES_KEYS = ("provider", "model", "project")
BY_KEYS = ("provider", "account", "project", "model")
# Filters a forecast may carry (stored with its run): the spend basis' fields and tiers.
FILTER_FIELDS = ("provider", "account", "project", "model", "api_key", "tier")
FILTER_COLUMNS = {key: SPEND_FILTERS[key] for key in FILTER_FIELDS if key in SPEND_FILTERS}
# Grouping keys -> the columns `spendapp.usage.spend.daily_spend` groups by.
_SPEND_COLUMNS = {
    "provider": "provider",
    "account": "account_id",
    "project": "project_id",
    "model": "model",
}


def _normal_filters(filters: Mapping[str, Iterable[str]] | None) -> dict[str, list[str]]:
    filters = filters or {}
    bad = [key for key in filters if key not in FILTER_FIELDS]
    if bad:
        known = ", ".join(FILTER_FIELDS)
        raise QueryError(f"filters: unknown field {', '.join(bad)} (use {known})")
    return {key: sorted(str(v) for v in filters[key]) for key in sorted(filters)}


def _rows(date_from: date, date_to: date, filters: Mapping | None):
    """Rollup rows of the range and filters, from the smallest rollup that keeps projects and
    models (the billing grain) and every filtered field."""
    return billing_rows(date_from, date_to, _normal_filters(filters))


def _check_by(by: Sequence[str]) -> tuple[str, ...]:
    by = tuple(by)
    bad = [key for key in by if key not in BY_KEYS]
    if bad:
        raise QueryError(f"by: unsupported grouping {', '.join(bad)} (use {', '.join(BY_KEYS)})")
    return by


def spend_history(
    date_from: date,
    date_to: date,
    filters: dict[str, list[str]] | None = None,
    by: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Daily spend (`spendapp.usage.spend`'s one number), ``date_from..date_to`` inclusive
    (UTC days).

    Parameters
    ----------
    filters : dict, optional
        ``{"provider"|"account"|"project"|"model"|"api_key"|"tier": [values]}``.
    by : tuple of str
        Grouping keys among ``provider, account, project, model`` (billed cost has no API
        key grain, so ``api_key`` can filter but not group).

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64, midnight), the ``by`` keys, ``spend`` (float dollars)
        and ``basis``: ``"billed"``, ``"estimated"`` or ``"mixed"`` (some of the row's
        billing groups on billed days, others estimated). Days without any usage row are
        absent (they mean zero spend).
    """
    by = _check_by(by)
    columns = ["date", *by, "spend", "basis"]
    # The basis is chosen per billing group and account-day, then the groups are summed per
    # day and ``by`` keys, all in PostgreSQL: a month of a busy organisation is thousands of
    # groups but only a few dozen result rows.
    spend_by = tuple(_SPEND_COLUMNS[key] for key in by)
    rows = daily_spend(date_from, date_to, _normal_filters(filters), spend_by)
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame.from_records(
        rows, columns=["date", *by, "spend", "billed_part", "billed", "n"]
    )
    if "account" in by:
        names = dict(ProviderAccount.objects.values_list("pk", "name"))
        out["account"] = out["account"].map(names)
    out["date"] = pd.to_datetime(out["date"])
    out["spend"] = out["spend"].astype(float)
    out["basis"] = [basis_of(b, n) for b, n in zip(out["billed"], out["n"], strict=True)]
    return out[columns]


def demand_history(
    date_from: date,
    date_to: date,
    filters: dict[str, list[str]] | None = None,
    by: tuple[str, ...] = ("model", "project"),
) -> pd.DataFrame:
    """Daily token demand: ``date``, the ``by`` keys and `DEMAND_MEASURES` (floats).

    ``input_tokens`` counts every input token (uncached, cached, cache writes), the
    convention of the forecasting core and of OpenAI; ``cached_input_tokens`` is the cached
    part. Rows without a model (cost-only lines) carry no tokens and are left out.
    """
    by = _check_by(by)
    names = {"provider": "provider", "account": "account__name"}
    names.update({"project": "project_id", "model": "model"})
    grouped = (
        _rows(date_from, date_to, filters)
        .exclude(model="")
        .values("day", *(names[k] for k in by))
        .annotate(
            uncached=Sum("input_uncached_tokens"),
            cached_input_tokens=Sum("input_cached_tokens"),
            writes=Sum("cache_write_tokens"),
            writes_1h=Sum("cache_write_1h_tokens"),
            output_tokens=Sum("output_tokens"),
            requests=Sum("requests"),
        )
        .order_by()
    )
    columns = ["date", *by, *DEMAND_MEASURES]
    records = list(grouped)
    if not records:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame.from_records(records).rename(
        columns={"day": "date", "account__name": "account", "project_id": "project"}
    )
    frame["input_tokens"] = (
        frame["uncached"] + frame["cached_input_tokens"] + frame["writes"] + frame["writes_1h"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame[list(DEMAND_MEASURES)] = frame[list(DEMAND_MEASURES)].astype(float)
    return frame[columns].sort_values(["date", *by], kind="stable").reset_index(drop=True)


def default_as_of() -> date | None:
    """Last complete day of actuals (`spendapp.usage.calendar.last_complete_day`): yesterday,
    or the day before the last day with data when that is older. None without data."""
    today = data_today()
    last = DailyModelSpend.objects.filter(day__lte=today).aggregate(last=Max("day"))["last"]
    return last_complete_day(last)


def _daily(values: pd.Series, as_of: date) -> pd.Series:
    """A daily series ending at ``as_of`` (missing days = 0: no rows means no usage)."""
    values = values.groupby(level=0).sum()
    if values.empty:
        return values
    index = pd.date_range(values.index.min(), pd.Timestamp(as_of), freq="D")
    return values.reindex(index, fill_value=0.0).astype(float)


def _window(as_of: date) -> tuple[date, date]:
    return as_of - timedelta(days=HISTORY_DAYS - 1), as_of
