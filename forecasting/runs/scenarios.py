"""Scenario pricing: the price table, the demand baseline and scenario results on it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd

from forecasting import (
    PRESETS,
    DemandForecast,
    ScenarioError,
    ScenarioResult,
    forecast_demand,
    run_scenario,
    validate_spec,
)
from forecasting.runs.candidates import BASELINE_CANDIDATES
from forecasting.runs.forecasts import _extend_to
from forecasting.runs.history import (
    DEMAND_MEASURES,
    _normal_filters,
    _window,
    default_as_of,
    demand_history,
)
from forecasting.runs.models import Scenario
from spendapp.usage.calendar import data_today
from spendapp.usage.calibration import current_ratios
from spendapp.usage.models import DailyModelSpend, PriceOverride
from spendapp.usage.pricing import MILLION, PriceBook
from spendapp.usage.tiers import TierBook

log = logging.getLogger(__name__)

MAX_COMPARED = 4
MTOK_PLACES = Decimal("0.000001")
# Models the preset scenarios name, with the catalog provider that prices them.
PRESET_MODELS = {
    "gpt-5.5": "openai",
    "gpt-5.4-mini": "openai",
    "claude-opus-4-7": "anthropic",
    "deepseek-v4-flash": "deepseek",
    "glm-5.1": "zai",
}


def _moment(day: date | None) -> datetime:
    day = day or data_today()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _models() -> dict[str, str]:
    """Every model seen in the rollup plus the models the presets name, with its provider."""
    providers: dict[str, str] = {}
    seen = DailyModelSpend.objects.exclude(model="").values_list("model", "provider").distinct()
    for model, provider in sorted(seen):
        providers.setdefault(model, provider)  # one price per model name (the core's key)
    for model, provider in PRESET_MODELS.items():
        providers.setdefault(model, provider)
    return providers


def effective_ratios(providers: dict[str, str]) -> dict[str, tuple[Decimal, str]]:
    """``model -> (ratio, basis)``: what the bill says a list dollar of the model costs the
    organisation (`spendapp.usage.calibration.current_ratios`): the model's own learned ratio
    (the mean over the accounts that use it), else its provider's, else 1 ("list": no billing
    history)."""
    ratios = current_ratios()
    per_model: dict[str, list[Decimal]] = {}
    for (_, model), found in ratios.by_account_model.items():
        per_model.setdefault(model, []).append(found.ratio)
    out = {}
    for model, provider in providers.items():
        if per_model.get(model):
            values = per_model[model]
            out[model] = (sum(values, Decimal(0)) / len(values), "model")
        elif provider in ratios.by_provider:
            out[model] = (ratios.by_provider[provider], "provider")
        else:
            out[model] = (Decimal(1), "list")
    return out


def price_table(as_of: date | None = None, *, effective: bool = True) -> dict:
    """Prices of every model seen in the rollup plus the models the presets name.

    Returns
    -------
    dict
        ``model -> {"input", "cached_input", "output", "request": Decimal per token,
        "tier": str}``, the format of `forecasting.price_demand` and `run_scenario`. Prices
        are the ingestion `PriceBook`'s (catalog + admin overrides) at ``as_of`` (default
        today) times the model's effective ratio (`effective_ratios`: what the bill says, so
        batch, flex and negotiated discounts count as they do in spend); ``effective=False``
        gives list prices. Tiers always come from list prices. Models without a known price
        are left out.
    """
    at = _moment(as_of)
    book = PriceBook(PriceOverride.objects.all())
    tiers = TierBook(book)
    providers = _models()
    ratios = effective_ratios(providers) if effective else {}
    table = {}
    for model, provider in sorted(providers.items()):
        prices = book.lookup(provider, model, at)
        if prices is None:
            continue
        ratio = ratios.get(model, (Decimal(1), "list"))[0]
        # $/Mtok to 6 places, as catalog prices are: the engine's sums stay exact.
        per_mtok = {
            name: (getattr(prices, name) * ratio).quantize(MTOK_PLACES)
            for name in ("input", "cached_input", "output")
        }
        table[model] = {
            "input": per_mtok["input"] / MILLION,
            "cached_input": per_mtok["cached_input"] / MILLION,
            "output": per_mtok["output"] / MILLION,
            "request": Decimal(0),
            "tier": tiers.tier(provider, model, at),
        }
    return table


def preset_specs() -> dict[str, dict]:
    """The preset scenarios built on the current price table, by preset name.

    A preset whose models have no price (or no model of the tier it needs) is left out.
    """
    prices = price_table()
    specs = {}
    for name, build in PRESETS.items():
        try:
            specs[name] = build(prices)
        except ScenarioError as exc:
            log.warning("preset %s unavailable: %s", name, exc)
    return specs


def _horizon_days(as_of: date, horizon_months: int) -> int:
    if not isinstance(horizon_months, int) or horizon_months < 1:
        raise ScenarioError(f"horizon_months: must be a positive integer, got {horizon_months!r}")
    first = pd.Timestamp(as_of + timedelta(days=1))
    last = (first.to_period("M") + (horizon_months - 1)).end_time.normalize()
    return (last.date() - as_of).days


_BASELINES: dict[tuple, DemandForecast] = {}


def demand_baseline(
    horizon_months: int = 18, filters: dict[str, list[str]] | None = None
) -> DemandForecast:
    """Token demand forecast per model x project for ``horizon_months`` months.

    The forecast runs from the day after the last complete day to the end of the
    ``horizon_months``-th month (the current month counts as the first). Only models of the
    price table are kept: a scenario cannot price the others. Cached in the process per day
    (the last complete day) and filters: an hourly sync does not change a month-scale
    baseline enough to pay for a refit on the next page view.
    """
    as_of = default_as_of()
    if as_of is None:
        raise ScenarioError("history: no usage data yet")
    horizon = _horizon_days(as_of, horizon_months)
    filters = _normal_filters(filters)
    key = (as_of, horizon, repr(filters))
    if key not in _BASELINES:
        history = demand_history(*_window(as_of), filters=filters, by=("model", "project"))
        history = history[history["model"].isin(price_table(as_of))]
        if history.empty:
            raise ScenarioError("history: no priced token usage in the last year")
        extended = _extend_to(history, ("model", "project"), DEMAND_MEASURES, as_of)
        _BASELINES.clear()  # one baseline per process is plenty; keeps memory bounded
        _BASELINES[key] = forecast_demand(
            extended,
            keys=("model", "project"),
            measures=DEMAND_MEASURES,
            horizon=horizon,
            levels=(80,),
            candidates=BASELINE_CANDIDATES,
        )
    return _BASELINES[key]


BASELINE_SPEC = {
    "name": "Baseline",
    "description": "Current workload mix at the organisation's effective prices (list price x "
    "what the bill says).",
    "transforms": [],
}


def scenario_results(
    specs: list[dict],
    horizon_months: int = 18,
    migration_cost: Decimal | None = None,
    *,
    filters: dict[str, list[str]] | None = None,
) -> list[ScenarioResult]:
    """The baseline and up to four scenarios on the same baseline demand and prices.

    Returns ``[baseline, *one result per spec]``. Raises `ScenarioError` naming the field of
    the first invalid spec (prefixed ``specs[i].`` when several are given).
    """
    if len(specs) > MAX_COMPARED:
        raise ScenarioError(f"specs: compare at most {MAX_COMPARED} scenarios, got {len(specs)}")
    validated = []
    for i, spec in enumerate(specs):
        try:
            validated.append(validate_spec(spec))
        except ScenarioError as exc:
            raise ScenarioError(f"specs[{i}].{exc}" if len(specs) > 1 else str(exc)) from None
    demand = demand_baseline(horizon_months, filters)
    prices = price_table()
    cost = None if migration_cost is None else float(migration_cost)
    results = [run_scenario(demand, prices, BASELINE_SPEC)]
    results += [run_scenario(demand, prices, s, migration_cost=cost) for s in validated]
    return results


def compare_saved(
    slugs: Sequence[str], horizon_months: int = 18, migration_cost: Decimal | None = None
) -> tuple[list[Scenario], list[ScenarioResult]]:
    """Saved scenarios by slug (the shareable URL part) and their results, baseline first."""
    if len(slugs) > MAX_COMPARED:
        raise ScenarioError(f"specs: compare at most {MAX_COMPARED} scenarios, got {len(slugs)}")
    found = {s.slug: s for s in Scenario.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise ScenarioError(f"scenario: no saved scenario {missing[0]!r}")
    scenarios = [found[slug] for slug in slugs]
    return scenarios, scenario_results([s.spec for s in scenarios], horizon_months, migration_cost)
