"""The calibrated estimate: the list-price estimate scaled by what the bill has been saying.

A provider's bill differs from usage x list price for reasons the catalog cannot know: a
negotiated discount, a priority tier, a price the catalog lacks, bill lines no usage prices
(web search, code execution). For every account x model x day with usage we store
(`CalibrationRatio`) the ratio of billed to list-estimated cost over the *reconciled* days
before that day, and spend on days the bill does not cover yet is the estimate times it
(`spendapp.usage.spend.calibrated_sql`).

Choices
-------
* **Window**: the `WINDOW_DAYS` (28) days strictly before the day. Four whole weeks weigh
  every weekday alike (batch work runs on weekdays, chat every day, and the two are priced
  differently), and a month is short enough to follow a price or discount change within a
  few weeks. Only *earlier* bills count, so a bill for day d never changes the calibrated cost
  of day d or of any day before it.
* **Reconciled cell**: an account x model x day with both a bill and a list estimate > 0.
  A cell with usage but no bill line (e.g. billed under a snapshot name) or with a bill but no
  priceable usage is not one.
* **Minimum**: `MIN_DAYS` (7) reconciled days in the window, one whole week; fewer days let a
  single odd day (a batch job billed on another day than its usage) set the ratio.
* **Fallbacks** (the ``basis`` kept on every row): the model's own ratio ("model"); else the
  account's ratio over all its reconciled cells ("account"), e.g. for a model seen for the
  first time; else no row at all, and the list estimate stands (basis "list").
* **Unpriced bill lines**: bill lines without a model (web search, code execution) have no
  usage to price. They are spread over the account's models in proportion to their bills:
  both ratios are multiplied by ``1 + unpriced / reconciled billed`` over the same window, so
  the calibrated estimate of a whole day covers the whole bill.

Refreshed for one account from the first changed day on by the receiver of
`spendapp.usage.signals.spend_changed` (connected in `UsageConfig.ready`), inside the writer's
transaction; `manage.py calibrate` rebuilds every account (run it once after upgrading).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from spendapp.usage.models import CalibrationRatio, DailyModelSpend

WINDOW_DAYS = 28
MIN_DAYS = 7
MODEL, ACCOUNT, LIST = "model", "account", "list"

# Per target (account, day, model): the model's reconciled sums over the window, the
# account's, and the account's bill lines without a model. %(w)s = WINDOW_DAYS.
_RATIOS = """
WITH cells AS (
    SELECT day, model, billed_cost AS billed, estimated_cost AS est
    FROM usage_dailymodelspend
    WHERE account_id = %(account)s AND day >= %(w0)s AND day < %(d1)s
      AND model <> '' AND billed_cost IS NOT NULL AND estimated_cost > 0
),
unpriced AS (
    SELECT day, sum(billed_cost) AS billed FROM usage_dailymodelspend
    WHERE account_id = %(account)s AND day >= %(w0)s AND day < %(d1)s
      AND model = '' AND billed_cost IS NOT NULL
    GROUP BY day
),
targets AS (
    SELECT DISTINCT day, model FROM usage_dailymodelspend
    WHERE account_id = %(account)s AND day >= %(d0)s AND day <= %(d1)s
      AND model <> '' AND estimated_cost > 0
),
target_days AS (SELECT DISTINCT day FROM targets),
per_model AS (
    SELECT t.day, t.model, sum(c.billed) AS billed, sum(c.est) AS est,
        count(DISTINCT c.day) AS days
    FROM targets t JOIN cells c
      ON c.model = t.model AND c.day >= t.day - %(w)s AND c.day < t.day
    GROUP BY t.day, t.model
),
per_account AS (
    SELECT t.day, sum(c.billed) AS billed, sum(c.est) AS est, count(DISTINCT c.day) AS days
    FROM target_days t JOIN cells c ON c.day >= t.day - %(w)s AND c.day < t.day
    GROUP BY t.day
),
per_unpriced AS (
    SELECT t.day, sum(u.billed) AS billed
    FROM target_days t JOIN unpriced u ON u.day >= t.day - %(w)s AND u.day < t.day
    GROUP BY t.day
)
SELECT t.day, t.model, m.billed, m.est, m.days, a.billed, a.est, a.days, u.billed
FROM targets t
LEFT JOIN per_model m ON m.day = t.day AND m.model = t.model
LEFT JOIN per_account a ON a.day = t.day
LEFT JOIN per_unpriced u ON u.day = t.day
"""

_PLACES = Decimal("0.00000001")
_EPOCH = date(1970, 1, 1)


# Spend of one account's days from the stored ratios (the SQL of migration usage 0009): only
# rows that change are updated; their trigger refreshes the derived rollups.
_REFRESH_SPEND = """
SELECT usage_refresh_spend(array_agg(%(account)s::bigint), array_agg(day))
FROM (SELECT DISTINCT day FROM usage_dailymodelspend
      WHERE account_id = %(account)s AND day >= %(d0)s) k
"""


def _ratio(billed: Decimal, estimated: Decimal, uplift: Decimal) -> Decimal:
    return (billed / estimated * uplift).quantize(_PLACES)


def refresh(account_id: int, first_day: date) -> int:
    """Recompute the ratios of one account from ``first_day`` to its last day of usage, and
    the stored calibrated estimate and spend of those days. Returns the number of ratio rows
    written. Runs in the caller's transaction (atomic)."""
    return _refresh(account_id, first_day)[0]


def _refresh(account_id: int, first_day: date) -> tuple[int, date | None]:
    """`refresh`, returning (ratio rows written, the account's last day with usage)."""
    last = (
        DailyModelSpend.objects.filter(account_id=account_id, day__gte=first_day)
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )
    with transaction.atomic():
        CalibrationRatio.objects.filter(account_id=account_id, day__gte=first_day).delete()
        if last is None:
            return 0, None
        params = {
            "account": account_id,
            "w0": first_day - timedelta(days=WINDOW_DAYS),
            "d0": first_day,
            "d1": last,
            "w": WINDOW_DAYS,
        }
        with connection.cursor() as cursor:
            cursor.execute(_RATIOS, params)
            fetched = cursor.fetchall()
        rows = []
        for day, model, m_billed, m_est, m_days, a_billed, a_est, a_days, unpriced in fetched:
            if not a_days or a_days < MIN_DAYS or not a_billed:
                continue  # no history: the list estimate stands
            uplift = 1 + (unpriced or 0) / a_billed
            if m_days and m_days >= MIN_DAYS and m_billed:
                basis, billed, est, days = MODEL, m_billed, m_est, m_days
            else:
                basis, billed, est, days = ACCOUNT, a_billed, a_est, a_days
            rows.append(
                CalibrationRatio(
                    account_id=account_id,
                    model=model,
                    day=day,
                    ratio=_ratio(billed, est, uplift),
                    basis=basis,
                    days=days,
                    billed=billed,
                    estimated=est,
                )
            )
        CalibrationRatio.objects.bulk_create(rows, batch_size=2000)
        # The stored calibrated estimate and spend follow the new ratios.
        with connection.cursor() as cursor:
            cursor.execute(_REFRESH_SPEND, {"account": account_id, "d0": first_day})
    return len(rows), last


def refresh_spend(account_id: int, first_day: date) -> date | None:
    """Recompute the ratios of one account from ``first_day`` on, then the stored calibrated
    estimate and spend of those days; the last day whose spend may have changed (None: no
    data from ``first_day`` on). A bill of day d moves the ratios of the days after it, so
    spend can change up to the account's last day."""
    return _refresh(account_id, first_day)[1]


def rebuild() -> int:
    """Recompute every account's ratios (after an upgrade, or to repair). Rows written."""
    from spendapp.providers.models import ProviderAccount
    from spendapp.usage.signals import announce_spend_changed

    written = 0
    for account_id in ProviderAccount.objects.values_list("pk", flat=True):
        written += refresh(account_id, _EPOCH)
        days = DailyModelSpend.objects.filter(account_id=account_id).values_list("day", flat=True)
        # Stored spend, and what follows changed spend (allocation, budgets) for every day.
        with transaction.atomic():
            announce_spend_changed(__name__, account_id, set(days))
    return written


@dataclass(frozen=True, slots=True)
class CurrentRatio:
    ratio: Decimal
    basis: str  # "model" or "account"
    day: date  # the day the ratio was learned for (the latest with usage)


@dataclass(frozen=True)
class CurrentRatios:
    """The latest learned ratios, for prices of days not billed yet (forecasts, scenarios)."""

    by_account_model: dict[tuple[int, str], CurrentRatio]
    by_provider: dict[str, Decimal]  # estimate-weighted over the provider's latest ratios

    def ratio(self, account_id: int, model: str, provider: str = "") -> tuple[Decimal, str]:
        """(ratio, basis) of an account x model; else the provider's ("provider"); else
        (1, "list"): no history, the list estimate stands."""
        found = self.by_account_model.get((account_id, model))
        if found is not None:
            return found.ratio, found.basis
        if provider in self.by_provider:
            return self.by_provider[provider], "provider"
        return Decimal(1), LIST


def current_ratios() -> CurrentRatios:
    """The latest ratio of every account x model, and per provider the mean of its accounts'
    latest ratios weighted by the list estimate behind them. One query."""
    latest = (
        CalibrationRatio.objects.order_by("account_id", "model", "-day")
        .distinct("account_id", "model")
        .values_list(
            "account_id", "model", "day", "ratio", "basis", "estimated", "account__provider"
        )
    )
    by_key: dict[tuple[int, str], CurrentRatio] = {}
    weights: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for account_id, model, day, ratio, basis, estimated, provider in latest:
        by_key[account_id, model] = CurrentRatio(ratio, basis, day)
        if basis == MODEL and estimated:
            weights[provider][0] += ratio * estimated
            weights[provider][1] += estimated
    by_provider = {
        provider: (num / den).quantize(_PLACES) for provider, (num, den) in weights.items() if den
    }
    return CurrentRatios(by_key, by_provider)
