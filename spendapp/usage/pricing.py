"""Estimated cost: the price catalog (``genai-prices``) plus admin overrides, which win.

Prices are resolved per model for the bucket's time (some prices change with the date or the
time of day) and per price context (batch, service tier). Usage comes in hourly *totals*, so
prices that depend on one request's size (long-context tiers) cannot be known: we always take
the base tier. Handing the catalog an hourly total as if it were one request would pick the
top tier for all of it (for GPT-5.5 that nearly doubles the estimate). The billed cost from
the cost endpoints settles the difference, and the reconciliation shows it.

Batch and flex: the catalog holds batch and flex prices as *variants* (``price_variants``,
selected by ``{"processing": "batch"}`` or ``{"service_tier": "flex"}``, often from a start
date). Where no active variant sets a price for the bucket's date, `ModelInfo.get_prices`
silently returns the list price; we then apply the provider's documented rule instead
(`PRICE_RULES`) and record it in `TokenPrices.rule`, so the price-catalog audit can say which
rows were priced by a rule rather than by the catalog:

* batch at 50 % of list, every token type (OpenAI: "50% discount compared to synchronous
  APIs", https://developers.openai.com/api/docs/guides/batch; Anthropic: "all usage is
  charged at 50% of the standard API prices", prompt-caching multipliers stacking on top,
  https://docs.anthropic.com/en/docs/build-with-claude/batch-processing#pricing);
* OpenAI flex at batch prices ("Tokens are priced at Batch API rates",
  https://developers.openai.com/api/docs/guides/flex-processing): the catalog's flex
  variant, else its batch variant, else 50 % of list.

Anthropic's newer price modifiers (issue #15), multiplied onto the resolved price and
stacking with batch and caching as Anthropic documents; each is a rule the audit shows:

* US-only inference (``inference_geo: us``) at 1.1x ("US-only inference is priced at 1.1x on
  Opus 4.6, Sonnet 4.6, and later models", https://platform.claude.com/docs/en/api/service-tiers;
  older models reject the parameter, so a ``us`` row is always on a 1.1x model);
* fast mode (``speed: fast``): the catalog's fast-mode variant where it has one (Opus 4.8,
  5, 5.5, Fable/Mythos 5.2), else the documented multiplier of the model (Opus 4.6: 6x for
  prompts up to 200k tokens, https://platform.claude.com/docs/en/build-with-claude/fast-mode;
  the 12x long-context rate is not applied, as no long-context tier is, see above). Models
  whose multiplier we have not found keep the list price, under a rule that says so;
* the Priority Tier and the ``flex`` / ``flex_discount`` tiers: no published per-token rate
  (Priority is committed capacity, and its costs are not in the cost report), so the list
  price, under a rule that says so. The billed cost settles these where it is reported.

Time-of-day prices (DeepSeek's off-peak window, a ``TimeOfDateConstraint``) are resolved per
hourly bucket: `PriceBook` keys such models by the hour, not the day.
"""

from __future__ import annotations

import fnmatch
from copy import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import MAX_PREC, Context, Decimal

from genai_prices import data as catalog
from genai_prices.types import ModelPrice, TieredPrices, TimeOfDateConstraint

MILLION = Decimal(1_000_000)
# Decimal places of a stored estimated cost: UsageBucket.estimated_cost is NUMERIC(24, 12).
COST_PLACES = 12
# Shifts the decimal point without rounding, whatever precision the thread's context has.
_EXACT = Context(prec=MAX_PREC)
# Our provider ids -> the catalog's provider ids.
CATALOG_PROVIDERS = {"openai": "openai", "anthropic": "anthropic"}
HALF = Decimal("0.5")
# Documented provider rules, applied where the catalog has no price for the context at that
# date (see the module docstring for the sources): rule name -> multiplier of the list price.
BATCH_RULE = "batch 50% of list"
FLEX_RULE = "flex at batch price (50% of list)"
US_GEO_RULE = "Anthropic US-only inference 1.1x"
FAST_RULE = "Anthropic fast mode at the model's documented multiplier"
FAST_UNKNOWN_RULE = "Anthropic fast mode: multiplier not documented for the model, list price"
TIER_AT_LIST_RULE = "no published rate for the service tier, list price"
US_GEO_MULTIPLIER = Decimal("1.1")
# Fast-mode multipliers of standard rates, per model (prompts up to 200k tokens).
FAST_MODE_MULTIPLIERS = {"claude-opus-4-6": Decimal(6)}
# Anthropic tiers without a published per-token rate (see the module docstring).
ANTHROPIC_TIERS_AT_LIST = frozenset({"priority", "priority_on_demand", "flex", "flex_discount"})
PRICE_RULES = {
    BATCH_RULE: HALF,
    FLEX_RULE: HALF,
    US_GEO_RULE: US_GEO_MULTIPLIER,
    TIER_AT_LIST_RULE: Decimal(1),
    FAST_UNKNOWN_RULE: Decimal(1),
}


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
    # A documented provider rule used instead of a catalog price (`PRICE_RULES`), or "".
    rule: str = ""
    # For cost(): the five prices as integers in units of 10**-scale dollars, and how to
    # bring a total in 10**-(scale + 6) dollars (prices are per million tokens) to
    # 10**-COST_PLACES dollars.
    _units: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _multiplier: int = field(init=False, repr=False, compare=False)
    _divisor: int = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        prices = (self.input, self.cached_input, self.cache_write, self.cache_write_1h, self.output)
        scale = max(0, *(-p.as_tuple().exponent for p in prices))
        shift = COST_PLACES - 6 - scale
        object.__setattr__(self, "_units", tuple(int(p.scaleb(scale, _EXACT)) for p in prices))
        object.__setattr__(self, "_multiplier", 10 ** max(shift, 0))
        object.__setattr__(self, "_divisor", 10 ** max(-shift, 0))

    def cost(self, uncached: int, cached: int, write: int, write_1h: int, output: int) -> Decimal:
        """The cost of these token counts as stored: exact, rounded half away from zero to
        COST_PLACES decimals (as PostgreSQL rounds into the NUMERIC(24, 12) column).

        Integer arithmetic: exact whatever the decimal context, and about twice as fast as
        Decimal, which counts when ingestion prices a million rows.
        """
        p_in, p_cached, p_write, p_write_1h, p_out = self._units
        total = (
            uncached * p_in
            + cached * p_cached
            + write * p_write
            + write_1h * p_write_1h
            + output * p_out
        )
        if self._divisor == 1:
            units = total * self._multiplier
        else:
            units = _divide_half_away_from_zero(total, self._divisor)
        return Decimal(units).scaleb(-COST_PLACES, _EXACT)


def _divide_half_away_from_zero(numerator: int, divisor: int) -> int:
    """numerator / divisor rounded as PostgreSQL rounds NUMERIC: halves away from zero."""
    quotient, remainder = divmod(abs(numerator), divisor)
    if 2 * remainder >= divisor:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


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
        # (provider, model) -> its catalog price depends on the time of day; filled with _models
        self._hourly: dict[tuple[str, str], bool] = {}

    def lookup(
        self,
        provider: str,
        model: str,
        at: datetime,
        service_tier: str = "",
        batch: str = "",
        *,
        speed: str = "",
        inference_geo: str = "",
    ) -> TokenPrices | None:
        if not model:
            return None
        info = self._model_info(provider, model)
        hourly = self._hourly[provider, model]
        when = at.replace(minute=0, second=0, microsecond=0) if hourly else at.date()
        key = (provider, model, when, service_tier, batch, speed, inference_geo)
        if key not in self._cache:
            self._cache[key] = self._resolve(
                provider, model, info, at, service_tier, batch, speed, inference_geo
            )
        return self._cache[key]

    def is_hourly(self, provider: str, model: str) -> bool:
        """Whether the catalog prices the model by the time of day (resolve it per hour)."""
        self._model_info(provider, model)
        return self._hourly[provider, model]

    def _model_info(self, provider: str, model: str):
        key = (provider, model)
        if key not in self._models:
            catalog_id = CATALOG_PROVIDERS.get(provider, provider)
            found = next((p for p in catalog.providers if p.id == catalog_id), None)
            info = found.find_model(model) if found else None
            self._models[key] = info
            self._hourly[key] = info is not None and _has_time_of_day(info)
        return self._models[key]

    def _resolve(
        self, provider, model, info, at, service_tier, batch, speed="", inference_geo=""
    ) -> TokenPrices | None:
        catalog_tier = service_tier
        if provider == "anthropic" and service_tier in ANTHROPIC_TIERS_AT_LIST:
            catalog_tier = ""  # not OpenAI's flex: list price, the rule in _anthropic_modifiers
        # The catalog's own fast-mode price wins over the multiplier table.
        fast_in_catalog = speed == "fast" and info and catalog_has_variant(info, at, _FAST)
        catalog_prices = None
        if info:
            context = _FAST if fast_in_catalog else None
            catalog_prices = self._catalog(info, at, catalog_tier, batch, context)
        override = self._override(provider, model, at)
        if override is not None:
            return _apply_override(override, catalog_prices)  # negotiated: taken as it is
        if catalog_prices is None or provider != "anthropic":
            return catalog_prices
        rule_speed = "" if fast_in_catalog else speed
        return _anthropic_modifiers(catalog_prices, model, service_tier, rule_speed, inference_geo)

    def _catalog(self, info, at, service_tier, batch, context=None) -> TokenPrices | None:
        context = context or _price_context(service_tier, batch)
        prices, rule = _catalog_prices(info, at, context)
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
            rule=rule,
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
_BATCH = {"processing": "batch"}
_FAST = {"speed": "fast"}


def catalog_has_variant(info, at: datetime, context) -> bool:
    """Whether the catalog prices this context itself at ``at``: an active price variant
    whose ``when`` matches ``context`` sets the input price. `ModelInfo.get_prices` cannot
    say: without such a variant it returns the list price unchanged."""
    for variant in info.price_variants or ():
        if variant.constraint is not None and not variant.constraint.active(at):
            continue
        if not all(context.get(key) == value for key, value in variant.when.items()):
            continue
        if variant.prices.input_mtok is not None:
            return True
    return False


def _catalog_prices(info, at: datetime, context) -> tuple[ModelPrice, str]:
    """The catalog's prices for ``context`` at ``at`` and the rule used instead of a missing
    catalog price ("" when the catalog has one, or when no rule applies)."""
    if not context:
        return info.get_prices(at), ""
    if catalog_has_variant(info, at, context):
        return info.get_prices(at, context), ""
    if context == _BATCH:
        return _halved(info.get_prices(at)), BATCH_RULE
    if context.get("service_tier") == "flex":
        if catalog_has_variant(info, at, _BATCH):  # flex is priced at batch rates
            return info.get_prices(at, _BATCH), FLEX_RULE
        return _halved(info.get_prices(at)), FLEX_RULE
    return info.get_prices(at, context), ""  # e.g. priority: no documented rule, list price


def _halved(prices: ModelPrice) -> ModelPrice:
    """List prices x 50 % (base tier; tiers are not used for hourly totals, see above)."""
    out = copy(prices)
    for name in _CATALOG_FIELDS:
        value = _base(getattr(prices, name, None))
        if value is not None:
            setattr(out, name, value * HALF)
    return out


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


def _anthropic_modifiers(
    prices: TokenPrices, model: str, service_tier: str, speed: str, inference_geo: str
) -> TokenPrices:
    """Anthropic's US-only, fast-mode and tier rules on top of a catalog price (see the
    module docstring)."""
    multiplier, rules = Decimal(1), [prices.rule] if prices.rule else []
    if inference_geo == "us":
        multiplier *= US_GEO_MULTIPLIER
        rules.append(US_GEO_RULE)
    if speed == "fast":
        fast = next(
            (m for name, m in FAST_MODE_MULTIPLIERS.items() if model.startswith(name)), None
        )
        if fast is None:
            rules.append(FAST_UNKNOWN_RULE)
        else:
            multiplier *= fast
            rules.append(FAST_RULE)
    if service_tier in ANTHROPIC_TIERS_AT_LIST:
        rules.append(TIER_AT_LIST_RULE)
    if multiplier == 1 and len(rules) == (1 if prices.rule else 0):
        return prices
    return TokenPrices(
        input=prices.input * multiplier,
        cached_input=prices.cached_input * multiplier,
        cache_write=prices.cache_write * multiplier,
        cache_write_1h=prices.cache_write_1h * multiplier,
        output=prices.output * multiplier,
        source=prices.source,
        tiered=prices.tiered,
        rule="; ".join(rules),
    )
