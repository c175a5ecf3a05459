"""Reconciliation: billed cost (the providers' cost endpoints) against the estimate (usage x
the price catalog), per day and account, read from the day x account x model rollup
(`DailyModelSpend`, derived from DailySpend) which holds both.

Statuses:

* ``compared``: both sides present; ``difference = billed - estimated`` and
  ``difference_pct = difference / estimated x 100`` (None when nothing could be priced).
* ``pending``: usage but no billed cost yet. Costs settle later than usage (hours to a day or
  more), so such a day is not a -100 % gap; difference and percentage are None.
* ``billed_only``: billed cost without token usage (FOCUS imports, non-token charges such as
  web search billed on a day without token usage); difference and percentage are None.

``calibrated`` is the calibrated estimate of the same rows (`spendapp.usage.calibration`):
billed vs list estimate checks the catalog, billed vs calibrated checks what spend shows for
days not billed yet.

``unpriced_tokens`` counts tokens of models the catalog does not know: where it is non-zero
the estimate is a lower bound and a positive difference is expected. Money is Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Count, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from spendapp.usage.models import TOKEN_FIELDS, CalibrationRatio, DailyModelSpend

COMPARED = "compared"
PENDING = "pending"
BILLED_ONLY = "billed_only"
_PCT_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class ReconRow:
    day: date
    account_id: int
    account: str
    provider: str
    billed: Decimal | None  # None: nothing billed yet
    estimated: Decimal | None  # None: nothing could be priced (or no usage)
    difference: Decimal | None  # billed - estimated, when status is "compared"
    difference_pct: Decimal | None  # difference / estimated x 100, 2 places
    tokens: int
    unpriced_tokens: int
    status: str
    calibrated: Decimal | None = None  # list estimate x the calibration ratios

    @property
    def pending(self) -> bool:
        return self.status == PENDING


def _account_id(account) -> int | None:
    if account is None:
        return None
    return account if isinstance(account, int) else account.pk


def _row(values: dict) -> ReconRow:
    billed = values["billed"] if values["billed_rows"] else None
    estimated = values["estimated"]
    tokens = int(values["tokens"] or 0)
    difference = pct = None
    if billed is None:
        status = PENDING
    elif tokens == 0 and estimated is None:
        status = BILLED_ONLY
    else:
        status = COMPARED
        difference = billed - (estimated or Decimal(0))
        if estimated:
            pct = (difference * 100 / estimated).quantize(_PCT_PLACES, ROUND_HALF_EVEN)
    return ReconRow(
        day=values["day"],
        account_id=values["account_id"],
        account=values["account__name"],
        provider=values["provider"],
        billed=billed,
        estimated=estimated,
        difference=difference,
        difference_pct=pct,
        tokens=tokens,
        unpriced_tokens=int(values["unpriced"] or 0),
        status=status,
        calibrated=values["calibrated"],
    )


def reconciliation(date_from: date, date_to: date, account=None) -> list[ReconRow]:
    """Per day (inclusive range) and account, oldest day first, then by account name.

    ``account``: a ProviderAccount, its id, or None for every account. Days on which an
    account has neither usage nor cost are left out.
    """
    rows = DailyModelSpend.objects.filter(day__gte=date_from, day__lte=date_to)
    account_id = _account_id(account)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    ratio = CalibrationRatio.objects.filter(
        account_id=OuterRef("account_id"), model=OuterRef("model"), day=OuterRef("day")
    ).values("ratio")[:1]
    rows = rows.annotate(ratio=Coalesce(Subquery(ratio), Value(Decimal(1))))
    token_sum = sum((F(name) for name in TOKEN_FIELDS[1:]), F(TOKEN_FIELDS[0]))
    grouped = (
        rows.values("day", "account_id", "account__name", "provider")
        .annotate(
            billed=Sum("billed_cost"),
            billed_rows=Count("billed_cost"),
            estimated=Sum("estimated_cost"),
            calibrated=Sum(F("estimated_cost") * F("ratio")),
            tokens=Sum(token_sum),
            unpriced=Sum("unpriced_tokens"),
        )
        .order_by("day", "account__name")
    )
    return [_row(values) for values in grouped]
