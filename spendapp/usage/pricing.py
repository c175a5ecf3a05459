"""Estimated cost: the price catalog (``genai-prices``) plus admin overrides, which win.

Prices are resolved per model for the bucket's time (some prices change with the date or the
time of day) and per price context (batch, service tier). Usage comes in hourly *totals*, so
prices that depend on one request's size (long-context tiers) cannot be known: we always take
the base tier. Handing the catalog an hourly total as if it were one request would pick the
top tier for all of it (for GPT-5.5 that nearly doubles the estimate). The billed cost from
the cost endpoints settles the difference, and the reconciliation shows it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from genai_prices import data as catalog
from genai_prices.types import TieredPrices, TimeOfDateConstraint

MILLION = Decimal(1_000_000)
# Our provider ids -> the catalog's provider ids.
CATALOG_PROVIDERS = {"openai": "openai", "anthropic": "anthropic"}


@dataclass(frozen=True, slots=True)
class TokenPrices:
    """Dollars per million tokens of each type, and where the prices came from."""

    input: Decimal
    cached_input: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    output: Decimal
    source: str
    tiered: bool = False  # the catalog has long-context tiers we priced at the base tier

    def cost(self, uncached: int, cached: int, write: int, write_1h: int, output: int) -> Decimal:
        total = (
            uncached * self.input
            + cached * self.cached_input
            + write * self.cache_write
            + write_1h * self.cache_write_1h
            + output * self.output
        )
        return total / MILLION


def _base(value) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, TieredPrices):
        return value.base
    return Decimal(value)


def _price_context(service_tier: str, batch: str) -> dict[str, str] | None:
    if batch == "true" or service_tier == "batch":
        return {"processing": "batch"}
    if service_tier:
        return {"service_tier": service_tier}
    return None


def _has_time_of_day(model_info) -> bool:
    prices = model_info.prices
    return isinstance(prices, list) and any(
        isinstance(p.constraint, TimeOfDateConstraint) for p in prices
    )


class PriceBook:
    """Resolves and caches prices for one ingestion run.

    ``overrides`` are PriceOverride rows (loaded once by the caller). The cache key uses the
    day, or the hour for models whose catalog price depends on the time of day.
    """

    def __init__(self, overrides=()):
        self._overrides = list(overrides)
        self._cache: dict[tuple, TokenPrices | None] = {}
        self._models: dict[tuple[str, str], object] = {}

    def lookup(
        self, provider: str, model: str, at: datetime, service_tier: str = "", batch: str = ""
    ) -> TokenPrices | None:
        if not model:
            return None
        info = self._model_info(provider, model)
        hourly = info is not None and _has_time_of_day(info)
        when = at.replace(minute=0, second=0, microsecond=0) if hourly else at.date()
        key = (provider, model, when, service_tier, batch)
        if key not in self._cache:
            self._cache[key] = self._resolve(provider, model, info, at, service_tier, batch)
        return self._cache[key]

    def _model_info(self, provider: str, model: str):
        key = (provider, model)
        if key not in self._models:
            catalog_id = CATALOG_PROVIDERS.get(provider, provider)
            found = next((p for p in catalog.providers if p.id == catalog_id), None)
            self._models[key] = found.find_model(model) if found else None
        return self._models[key]

    def _resolve(self, provider, model, info, at, service_tier, batch) -> TokenPrices | None:
        catalog_prices = self._catalog(info, at, service_tier, batch) if info else None
        override = self._override(provider, model, at)
        if override is None:
            return catalog_prices
        return _apply_override(override, catalog_prices)

    def _catalog(self, info, at, service_tier, batch) -> TokenPrices | None:
        prices = info.get_prices(at, _price_context(service_tier, batch))
        raw = {k: getattr(prices, k, None) for k in _CATALOG_FIELDS}
        input_price = _base(raw["input_mtok"])
        if input_price is None:
            return None
        cached = _base(raw["cache_read_mtok"])
        write = _base(raw["cache_write_mtok"])
        write_1h = _base(raw["cache_write_1h_mtok"])
        return TokenPrices(
            input=input_price,
            # Without a cached rate the provider bills cached reads as input: no discount.
            cached_input=cached if cached is not None else input_price,
            # Without a cache-write rate writes are billed as input (OpenAI's documented rule).
            cache_write=write if write is not None else input_price,
            cache_write_1h=write_1h if write_1h is not None else (write or input_price),
            output=_base(raw["output_mtok"]) or Decimal(0),
            source=f"catalog:{info.id}",
            tiered=any(isinstance(v, TieredPrices) for v in raw.values()),
        )

    def _override(self, provider, model, at):
        day = at.date()
        for row in self._overrides:
            if row.provider != provider or not fnmatch.fnmatch(
                model.lower(), row.model_pattern.lower()
            ):
                continue
            if row.valid_from <= day and (row.valid_until is None or day < row.valid_until):
                return row
        return None


_CATALOG_FIELDS = (
    "input_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "output_mtok",
)


def _apply_override(row, base: TokenPrices | None) -> TokenPrices | None:
    """An override's empty fields fall back to the catalog; with no catalog price, to input."""
    input_price = row.input_per_mtok if row.input_per_mtok is not None else (base and base.input)
    if input_price is None:
        return None

    def pick(value, fallback):
        if value is not None:
            return value
        return fallback if fallback is not None else input_price

    return TokenPrices(
        input=input_price,
        cached_input=pick(row.cached_input_per_mtok, base and base.cached_input),
        cache_write=pick(row.cache_write_per_mtok, base and base.cache_write),
        cache_write_1h=pick(row.cache_write_1h_per_mtok, base and base.cache_write_1h),
        output=pick(row.output_per_mtok, base and base.output),
        source=f"override:{row.pk}",
        tiered=False,
    )
