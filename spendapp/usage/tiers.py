"""Model tiers (small / mid / frontier) from price bands on the catalog prices.

A model's *blended* price is ``(3 * input + output) / 4`` dollars per million tokens: a 3:1
input:output token mix is the usual rule of thumb for chat and agent traffic (the same blend
the scenario presets use). Prices come from the ingestion `PriceBook` (catalog + admin price
overrides), so tiers follow negotiated prices too. An admin `ModelTierOverride` wins over
the bands. Models without a known price are ``"unknown"``.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, date, datetime
from decimal import Decimal

from spendapp.usage.models import ModelTier, ModelTierOverride, PriceOverride
from spendapp.usage.pricing import PriceBook, TokenPrices

UNKNOWN = "unknown"


def blended_per_mtok(prices: TokenPrices) -> Decimal:
    """Blended $ per million tokens (3 input : 1 output)."""
    return (3 * prices.input + prices.output) / 4


def _moment(at: date | datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


class TierBook:
    """Tiers with the bands, overrides and prices loaded once (for loops over many models)."""

    def __init__(self, book: PriceBook | None = None):
        self.book = book or PriceBook(PriceOverride.objects.all())
        self.bands = [(b.name, b.max_blended_per_mtok) for b in ModelTier.objects.all()]
        self.overrides = list(ModelTierOverride.objects.all())

    def tier(self, provider: str, model: str, at: date | datetime | None = None) -> str:
        for row in self.overrides:
            if row.provider == provider and fnmatch.fnmatch(
                model.lower(), row.model_pattern.lower()
            ):
                return row.tier
        prices = self.book.lookup(provider, model, _moment(at))
        if prices is None or not self.bands:
            return UNKNOWN
        return self.band(blended_per_mtok(prices))

    def band(self, blended: Decimal) -> str:
        for name, bound in self.bands:  # ordered by bound, open band last
            if bound is None or blended < bound:
                return name
        return self.bands[-1][0]


def tier_for(provider: str, model: str, at: date | datetime | None = None) -> str:
    """Tier name of ``model`` at ``at`` (a date or datetime; default now).

    Returns ``"small"``, ``"mid"``, ``"frontier"`` (or another configured band name), or
    ``"unknown"`` when the model has no price.
    """
    return TierBook().tier(provider, model, at)


def models_in_tiers(rows, tiers: set[str], at: date, book: TierBook | None = None):
    """A Q selecting the rows of ``rows`` (a rollup queryset) whose (provider, model) is in one
    of ``tiers`` at ``at`` (one query for the range's pairs, plus the `TierBook`'s)."""
    from django.db.models import Q

    book = book or TierBook()
    pairs = rows.values_list("provider", "model").distinct().order_by()
    condition = Q(pk__in=[])
    for provider, model in pairs:
        tier = book.tier(provider, model, at) if model else UNKNOWN
        if tier in tiers:
            condition |= Q(provider=provider, model=model)
    return condition
