"""Spend: the one number for money, at any grain. Every page, budget, alert, digest, export,
forecast and scenario reads spend through this module.

The rule
--------
*Spend* is billed cost where the provider has billed that day, otherwise the *calibrated
estimate*:

* A day of an account is **billed** when any of its rows carries billed cost (costs settle a
  day or two after usage). On a billed day each billing group (day x account x project x
  model, the grain providers bill at or coarser) counts its billed cost, and a group with
  usage but no billed line counts nothing: its tokens are already in the account's bill
  (e.g. under a snapshot model name), and adding their estimate would count them twice.
* On a day not billed yet, each group counts its **calibrated estimate**: the list-price
  estimate (usage x the price catalog, `spendapp.usage.pricing`) times the account x model
  ratio of billed to list-estimated cost over the recent reconciled days before it
  (`spendapp.usage.calibration`); where no history exists the list estimate stands.

Both are *stored* on DailySpend (``calibrated_cost``, ``spend``) and summed into every
derived rollup and the allocated one: PostgreSQL keeps them in the DailySpend statement
trigger (``usage_refresh_spend``, migration usage 0009) for whatever a statement touches,
and `spendapp.usage.calibration.refresh_spend` re-applies them after ratios change. A query
sums ``spend`` from the smallest rollup that answers it, as it sums any other measure.
Hourly rows are not billed: their calibrated estimate is joined at query time
(`calibrated_sql`), over at most a month.

Whether the day is billed is decided on the whole account-day, never inside a filter, so the
spend of a partition (providers, projects, teams) adds up to the spend of the whole.

Grains finer than the billing group (API key, user) are not billed by every provider: their
share of a billed group is the group's bill split in proportion to their estimates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from spendapp.usage.cubes import rollup_for

ZERO = Decimal(0)

# Filter names -> rollup columns (``tier`` becomes a model filter via `spendapp.usage.tiers`).
FILTER_COLUMNS = {
    "provider": "provider",
    "account": "account__name",
    "account_id": "account_id",
    "project": "project_id",
    "model": "model",
    "api_key": "api_key_id",
}
# Spend basis of a group or a sum of groups.
BILLED, ESTIMATED, MIXED = "billed", "estimated", "mixed"

# Account-days with any billed cost, from the smallest rollup that has them.
_BILLED_DAYS = """
    SELECT DISTINCT day, account_id FROM usage_dailymodelspend
    WHERE billed_cost IS NOT NULL AND day >= %s AND day <= %s
"""


def calibrated_sql(estimated: str, day: str, account: str, model: str) -> tuple[str, str]:
    """(SQL expression of the calibrated estimate, the join clause it needs) for a row whose
    list-price estimate, day, account id and model are the given SQL expressions.

    The ratio comes from `spendapp.usage.calibration` (billed / list estimate per account x
    model over the reconciled days before ``day``, stored per day in
    ``usage_calibrationratio``, joined as ``cal``); without one the list estimate stands.
    `calibration_basis_sql` names the basis of the same row.
    """
    join = (
        f"LEFT JOIN usage_calibrationratio cal ON cal.account_id = {account} "
        f"AND cal.model = {model} AND cal.day = {day}"
    )
    return f"({estimated} * coalesce(cal.ratio, 1))", join


def calibration_basis_sql() -> str:
    """SQL of the calibration basis of a row joined by `calibrated_sql`: "model",
    "account" or "list" (no ratio: the list estimate stands)."""
    return "coalesce(cal.basis, 'list')"


@dataclass(frozen=True, slots=True)
class SpendGroup:
    """Spend of one billing group: a day, an account, a project and a model."""

    day: date
    account_id: int
    provider: str
    project_id: str
    model: str
    billed: Decimal | None  # None: no billed line for this group
    estimated: Decimal | None  # list-price estimate; None: nothing could be priced
    calibrated: Decimal | None  # estimate x the account x model ratio
    spend: Decimal  # the one number
    billed_day: bool  # the account's day is billed (spend is the bill, not an estimate)

    @property
    def basis(self) -> str:
        return BILLED if self.billed_day else ESTIMATED


def billing_rows(
    date_from: date,
    date_to: date,
    filters: Mapping[str, Iterable[str]] | None,
    *,
    keys: Iterable[str] = ("project", "model"),
):
    """Rows of the smallest rollup that keeps ``keys`` (default: the billing grain) and every
    filtered field."""
    filters = dict(filters or {})
    tiers = filters.pop("tier", None)
    bad = [key for key in filters if key not in FILTER_COLUMNS]
    if bad:
        raise ValueError(
            f"filters: unknown field {', '.join(bad)} (use {', '.join(FILTER_COLUMNS)})"
        )
    rollup = rollup_for((*keys, *filters))
    rows = rollup.objects.filter(day__gte=date_from, day__lte=date_to)
    for key, values in filters.items():
        rows = rows.filter(Q(**{f"{FILTER_COLUMNS[key]}__in": list(values)}))
    if tiers is not None:
        from spendapp.usage.tiers import models_in_tiers

        rows = rows.filter(models_in_tiers(rows, set(tiers), date_to))
    return rows


def _groups_sql(rows, date_from: date, date_to: date) -> tuple[str, list]:
    """SQL of the billing groups of ``rows`` with their stored spend, and its parameters."""
    grouped = (
        rows.values(
            g_day=F("day"),
            g_account=F("account_id"),
            g_provider=F("provider"),
            g_project=F("project_id"),
            g_model=F("model"),
        )
        .annotate(
            billed=Sum("billed_cost"),
            estimated=Sum("estimated_cost"),
            calibrated=Sum("calibrated_cost"),
            spend=Sum("spend"),
        )
        .order_by()
    )
    inner, params = grouped.query.sql_with_params()
    sql = f"""
        SELECT g.g_day, g.g_account, g.g_provider, g.g_project, g.g_model,
            g.billed, g.estimated, g.calibrated, coalesce(g.spend, 0) AS spend,
            b.account_id IS NOT NULL AS billed_day
        FROM ({inner}) g
        LEFT JOIN ({_BILLED_DAYS}) b ON b.day = g.g_day AND b.account_id = g.g_account
    """  # noqa: S608 (composed of constant fragments and Django's parameterised SQL)
    return sql, [*params, date_from, date_to]


def spend_groups(
    date_from: date,
    date_to: date,
    filters: Mapping[str, Iterable[str]] | None = None,
    *,
    rows=None,
) -> list[SpendGroup]:
    """Spend per billing group, ``date_from..date_to`` inclusive (UTC days), one query.

    ``filters``: ``{"provider"|"account"|"account_id"|"project"|"model"|"api_key"|"tier":
    [values]}``. ``rows``: a queryset of rollup-shaped rows to use instead (the allocated
    rollup of a team), already filtered to the range.
    """
    rows = rows if rows is not None else billing_rows(date_from, date_to, filters)
    sql, params = _groups_sql(rows, date_from, date_to)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    return [SpendGroup(*row) for row in fetched]


def daily_spend_sql(
    date_from: date,
    date_to: date,
    filters: Mapping[str, Iterable[str]] | None = None,
    by: tuple[str, ...] = (),
) -> tuple[str, list]:
    """SQL summing the stored spend per day and ``by`` columns (``provider``,
    ``account_id``, ``project_id``, ``model``): day, *by, spend, billed part, rows with a
    bill, rows. Ordered by day then ``by``. Reads the smallest rollup that holds ``by`` and the
    filters (a year of the overview's spend per provider: ~10k rows of day x account x model).

    The billed part is the billed cost itself: on a billed account-day spend is its bill, on
    other days nothing is billed.
    """
    filters = dict(filters or {})
    keys = (*by, *filters, *(("model",) if "tier" in filters else ()))
    rows = billing_rows(date_from, date_to, filters, keys=keys)
    grouped = (
        rows.values("day", *by)
        .annotate(
            s_spend=Coalesce(Sum("spend"), Value(ZERO)),
            s_billed=Sum("billed_cost"),
            n_billed=Count("billed_cost"),
            n=Count("*"),
        )
        .order_by("day", *by)
    )
    return grouped.query.sql_with_params()


def daily_spend(
    date_from: date,
    date_to: date,
    filters: Mapping[str, Iterable[str]] | None = None,
    by: tuple[str, ...] = (),
) -> list[tuple]:
    """Rows of `daily_spend_sql`: ``(day, *by, spend, billed_part, billed_groups, groups)``
    with money as Decimal (``billed_part`` None when nothing of the row is billed)."""
    sql, params = daily_spend_sql(date_from, date_to, filters, by)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def basis_of(billed_groups: int, groups: int) -> str:
    """ "billed", "estimated" or "mixed" for a sum of groups."""
    if groups and billed_groups == groups:
        return BILLED
    return ESTIMATED if not billed_groups else MIXED
